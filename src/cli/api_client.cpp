#include "cli/api_client.h"

#include <boost/json.hpp>

#include "common/codec.h"

namespace drover::cli {

Result<ApiClient> ApiClient::FromContext() {
  ASSIGN_OR_RETURN(auto ctx, net::LoadClusterContext());
  ASSIGN_OR_RETURN(auto http, net::ConnectToCluster(ctx));
  return ApiClient(std::move(http));
}

Result<boost::json::value> ApiClient::Get(const std::string& target, int timeout_ms) {
  return Call("GET", target, "", timeout_ms);
}

Result<boost::json::value> ApiClient::Post(const std::string& target, const boost::json::value& body,
                                           int timeout_ms) {
  return Call("POST", target, boost::json::serialize(body), timeout_ms);
}

Result<boost::json::value> ApiClient::Delete(const std::string& target) { return Call("DELETE", target, "", 30000); }

Result<boost::json::value> ApiClient::Call(const std::string& method, const std::string& target,
                                           const std::string& body, int timeout_ms) {
  ASSIGN_OR_RETURN(auto resp, http_->Request(method, target, body, timeout_ms));
  if (resp.status >= 400) return net::StatusFromErrorResponse(resp);
  if (resp.body.empty()) return boost::json::value();
  return ParseJson(resp.body);
}

}  // namespace drover::cli
