#include "net/https_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "net/host_names.h"
#include "net/tls_util.h"

namespace drover::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

class Client final : public HttpsClient {
 public:
  Client(Url url, std::string base) : url_(std::move(url)), base_(std::move(base)) {}

  Status Init(const TlsIdentity& tls) { return ConfigureClientContext(ctx_, tls); }

  Result<HttpResponse> Request(const std::string& method, const std::string& target, const std::string& body,
                               int timeout_ms) override {
    // A kept-alive connection may have been closed by the server since the last request: retry once
    // on a fresh connection when the failure happened on a reused one.
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = stream_ != nullptr;
      auto r = RequestOnce(method, target, body, timeout_ms);
      if (r.ok() || !reused) return r;
      stream_.reset();
    }
    return Unavailable("unreachable");
  }

 private:
  Status Connect(int timeout_ms) {
    stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, ctx_);
    auto& tcp_stream = beast::get_lowest_layer(*stream_);
    tcp_stream.expires_after(std::chrono::milliseconds(timeout_ms));
    beast::error_code ec;
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(ResolveHostName(url_.host), std::to_string(url_.port), ec);
    if (ec) return Unavailable(fmt::format("cannot resolve head node {}: {}", url_.host, ec.message()));
    tcp_stream.connect(results, ec);
    if (ec) return Unavailable(fmt::format("cannot connect to the head node at {}: {}", base_, ec.message()));
    tcp_stream.socket().set_option(tcp::no_delay(true), ec);
    if (!SSL_set_tlsext_host_name(stream_->native_handle(), url_.host.c_str())) {
      return Internal("cannot set TLS server name");
    }
    stream_->set_verify_callback(ssl::host_name_verification(url_.host));
    stream_->handshake(ssl::stream_base::client, ec);
    if (ec) {
      stream_.reset();
      return Unavailable(fmt::format("TLS handshake with the head node at {} failed: {}", base_, ec.message()));
    }
    return Status::Ok();
  }

  Result<HttpResponse> RequestOnce(const std::string& method, const std::string& target, const std::string& body,
                                   int timeout_ms) {
    if (!stream_) {
      Status st = Connect(timeout_ms);
      if (!st.ok()) {
        stream_.reset();
        return st;
      }
    }
    auto& tcp_stream = beast::get_lowest_layer(*stream_);
    tcp_stream.expires_after(std::chrono::milliseconds(timeout_ms));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, url_.host);
    req.set(http::field::user_agent, "drover");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    beast::error_code ec;
    http::write(*stream_, req, ec);
    if (ec) {
      stream_.reset();
      return Unavailable(fmt::format("sending to the head node at {} failed: {}", base_, ec.message()));
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    http::read(*stream_, buffer, parser, ec);
    if (ec) {
      stream_.reset();
      if (ec == beast::error::timeout) {
        return Unavailable(fmt::format("the head node at {} did not answer within {} ms", base_, timeout_ms));
      }
      return Unavailable(fmt::format("reading from the head node at {} failed: {}", base_, ec.message()));
    }
    auto res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    if (!res.keep_alive()) stream_.reset();
    return out;
  }

  Url url_;
  std::string base_;
  asio::io_context io_;
  ssl::context ctx_{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
};

class LocalClient final : public HttpsClient {
 public:
  explicit LocalClient(std::string path) : path_(std::move(path)) {}

  Result<HttpResponse> Request(const std::string& method, const std::string& target, const std::string& body,
                               int timeout_ms) override {
    using local = asio::local::stream_protocol;
    beast::basic_stream<local, asio::any_io_executor, beast::unlimited_rate_policy> stream(io_);
    stream.expires_after(std::chrono::milliseconds(timeout_ms));
    beast::error_code ec;
    stream.connect(local::endpoint(path_), ec);
    if (ec) return Unavailable(fmt::format("cannot connect to the head node at {}: {}", path_, ec.message()));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, "application/json");
    req.keep_alive(false);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req, ec);
    if (ec) return Unavailable(fmt::format("sending to the head node at {} failed: {}", path_, ec.message()));
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    http::read(stream, buffer, parser, ec);
    if (ec) return Unavailable(fmt::format("reading from the head node at {} failed: {}", path_, ec.message()));
    auto res = parser.release();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    return out;
  }

 private:
  std::string path_;
  asio::io_context io_;
};

}  // namespace

Result<std::unique_ptr<HttpsClient>> HttpsClient::CreateLocal(const std::string& socket_path) {
  return std::unique_ptr<HttpsClient>(std::make_unique<LocalClient>(socket_path));
}

Result<std::unique_ptr<HttpsClient>> HttpsClient::Create(const std::string& base_url, const TlsIdentity& tls) {
  ASSIGN_OR_RETURN(Url url, ParseUrl(base_url));
  if (url.scheme != "https") return InvalidArgument(fmt::format("'{}' must be an https:// URL", base_url));
  auto client = std::make_unique<Client>(url, base_url);
  RETURN_IF_ERROR(client->Init(tls));
  return std::unique_ptr<HttpsClient>(std::move(client));
}

Status StatusFromErrorResponse(const HttpResponse& response) {
  boost::system::error_code ec;
  auto v = boost::json::parse(response.body, ec);
  std::string message = response.body;
  StatusCode code = StatusCode::kInternal;
  switch (response.status) {
    case 400: code = StatusCode::kInvalidArgument; break;
    case 401: code = StatusCode::kUnauthenticated; break;
    case 403: code = StatusCode::kPermissionDenied; break;
    case 404: code = StatusCode::kNotFound; break;
    case 409: code = StatusCode::kFailedPrecondition; break;
    case 503: code = StatusCode::kUnavailable; break;
    default: break;
  }
  if (!ec && v.is_object()) {
    if (auto* err = v.as_object().if_contains("error"); err && err->is_object()) {
      if (auto* m = err->as_object().if_contains("message"); m && m->is_string()) {
        message = std::string(m->as_string());
      }
    }
  }
  return Status(code, message);
}

}  // namespace drover::net
