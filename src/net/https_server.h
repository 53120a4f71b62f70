// The head node's HTTPS endpoint: REST requests and WebSocket upgrades on one port, over TLS.
// Client certificates are requested but not required at the TLS layer; the verified identity (or
// the reason it did not verify) is handed to the handlers, which decide what an unauthenticated
// peer may do. That lets a joining node without a certificate reach the join endpoint while every
// other endpoint demands a certificate from the cluster CA.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/event_loop.h"
#include "net/http.h"
#include "net/tls.h"

namespace drover::net {

struct HttpsServerConfig {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  TlsIdentity tls;
  std::string websocket_path;  // upgrades on this path go to the WebSocket handlers
  size_t max_body_bytes = 16 * 1024 * 1024;
};

class HttpsServer {
 public:
  // Binds and starts accepting on `loop`. Handlers run on the loop.
  static Result<std::unique_ptr<HttpsServer>> Start(EventLoop& loop, const HttpsServerConfig& config,
                                                    HttpHandler http, WsHandlers ws);
  virtual ~HttpsServer() = default;
  virtual uint16_t port() const = 0;
  // Stops accepting new connections.
  virtual void Stop() = 0;
};

}  // namespace drover::net
