// Plain-C++ view of HTTP requests and responses, shared by the HTTPS server, the client and the
// handlers. No Asio or Beast types appear here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"

namespace drover::net {

// Who is on the other end of a TLS connection, as established by the client certificate.
struct PeerIdentity {
  bool has_certificate = false;
  bool verified = false;         // the certificate chains to the cluster CA
  std::string verify_error;      // why it did not verify, when it did not
  std::string common_name;       // subject CN
  std::string unit;              // subject OU: "node", "member", "server"
  std::string serial_hex;
  // Set for callers on the head node's local socket: who they are comes from the kernel.
  bool local = false;
  uint32_t uid = 0;
  std::string unix_user;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path + query
  std::string path;    // decoded path without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  PeerIdentity peer;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Calls back exactly once with the response; may be called later, but only on the server's loop.
using Responder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, Responder)>;

// One accepted WebSocket connection. Send and Close are for the server's loop thread only.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
  virtual const PeerIdentity& peer() const = 0;
  virtual std::string remote_address() const = 0;
  // Bytes queued for sending and not yet written (back-pressure).
  virtual size_t pending_bytes() const = 0;
};

struct WsHandlers {
  // Decides whether a peer may open the socket; a non-OK status is sent as the HTTP error.
  std::function<Status(const PeerIdentity&)> authorize;
  std::function<void(std::shared_ptr<WsConnection>)> on_open;
  std::function<void(const std::shared_ptr<WsConnection>&, std::string)> on_message;
  std::function<void(const std::shared_ptr<WsConnection>&)> on_close;
};

// Splits "a=1&b=x%20y" into a map, percent-decoding names and values.
std::map<std::string, std::string> ParseQuery(std::string_view query);
std::string PercentDecode(std::string_view s);
std::string PercentEncode(std::string_view s);

// A JSON error body: {"error": {"code": ..., "message": ...}} with the HTTP status fitting `status`.
HttpResponse ErrorResponse(const Status& status);
int HttpStatusFor(StatusCode code);

struct Url {
  std::string scheme;
  std::string host;
  uint16_t port = 0;
  std::string path;
};
Result<Url> ParseUrl(std::string_view url);

}  // namespace drover::net
