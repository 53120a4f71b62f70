#include "net/beast_http.h"

namespace drover::net {

namespace http = boost::beast::http;

HttpRequest FromBeast(BeastRequest&& req, const PeerIdentity& peer) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  auto q = r.target.find('?');
  r.path = PercentDecode(std::string_view(r.target).substr(0, q));
  if (q != std::string::npos) r.query = ParseQuery(std::string_view(r.target).substr(q + 1));
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(field.value());
  }
  r.body = std::move(req.body());
  r.peer = peer;
  return r;
}

std::shared_ptr<BeastResponse> ToBeast(HttpResponse&& r, unsigned version, bool keep_alive) {
  auto res = std::make_shared<BeastResponse>();
  res->version(version);
  res->result(static_cast<http::status>(r.status));
  res->set(http::field::server, "drover");
  res->set(http::field::content_type, r.content_type);
  res->keep_alive(keep_alive);
  res->body() = std::move(r.body);
  res->prepare_payload();
  return res;
}

}  // namespace drover::net
