// An asynchronous WebSocket client over mutual TLS, for a compute node's connection to its head node.
// All callbacks run on the given loop; Send/Close are for that loop's thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "net/event_loop.h"
#include "net/tls.h"

namespace drover::net {

struct WsClientHandlers {
  std::function<void()> on_open;
  std::function<void(std::string)> on_message;
  // Called once, when the connection fails to open or closes; says why.
  std::function<void(const Status&)> on_close;
};

class WsClient {
 public:
  // Starts connecting to wss://host:port/path (`url` is https://host:port, `path` the endpoint).
  static Result<std::shared_ptr<WsClient>> Connect(EventLoop& loop, const std::string& url, const std::string& path,
                                                   const TlsIdentity& tls, WsClientHandlers handlers);
  virtual ~WsClient() = default;
  virtual void Send(std::string text) = 0;
  virtual void Close() = 0;
};

}  // namespace drover::net
