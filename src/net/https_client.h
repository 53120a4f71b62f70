// A blocking HTTPS client for the CLI and for a compute node's join. Keeps one connection open
// and reconnects when it has been closed. Not thread-safe: one client per thread.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "net/http.h"
#include "net/tls.h"

namespace drover::net {

class HttpsClient {
 public:
  // `base_url` is https://host:port. The server must present a certificate issued by tls.ca_cert_pem
  // for `host`; tls.cert_pem/key_pem, when set, are presented as the client certificate.
  static Result<std::unique_ptr<HttpsClient>> Create(const std::string& base_url, const TlsIdentity& tls);
  // A client for the head node's local socket: plain HTTP, the caller known by its uid.
  static Result<std::unique_ptr<HttpsClient>> CreateLocal(const std::string& socket_path);
  virtual ~HttpsClient() = default;

  // Sends one request; a response with any HTTP status is OK here (callers read .status).
  // Transport failures (refused, TLS, timeout) are Unavailable with a message naming the server.
  virtual Result<HttpResponse> Request(const std::string& method, const std::string& target,
                                       const std::string& body = "", int timeout_ms = 30000) = 0;
};

// Reads an HTTP error body ({"error": {"code", "message"}}) into a Status; other bodies become the message.
Status StatusFromErrorResponse(const HttpResponse& response);

}  // namespace drover::net
