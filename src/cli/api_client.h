// The CLI's calls to the REST API: JSON in, JSON out, HTTP errors turned into Status.
#pragma once

#include <memory>
#include <string>

#include <boost/json/value.hpp>

#include "net/cluster_context.h"
#include "common/status.h"
#include "net/https_client.h"

namespace drover::cli {

class ApiClient {
 public:
  static Result<ApiClient> FromContext();
  explicit ApiClient(std::unique_ptr<net::HttpsClient> http) : http_(std::move(http)) {}

  Result<boost::json::value> Get(const std::string& target, int timeout_ms = 30000);
  Result<boost::json::value> Post(const std::string& target, const boost::json::value& body,
                                  int timeout_ms = 30000);
  Result<boost::json::value> Delete(const std::string& target);

 private:
  Result<boost::json::value> Call(const std::string& method, const std::string& target, const std::string& body,
                                  int timeout_ms);
  std::unique_ptr<net::HttpsClient> http_;
};

}  // namespace drover::cli
