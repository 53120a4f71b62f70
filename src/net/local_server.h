// The head node's local endpoint: HTTP over a Unix domain socket, for users on the head node's
// machine. There is no TLS; the kernel tells who is calling (SO_PEERCRED), and the handlers see
// that as a PeerIdentity with `local` set. The same HttpHandler serves it as the HTTPS endpoint.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "net/event_loop.h"
#include "net/http.h"

namespace drover::net {

class LocalServer {
 public:
  // Listens on `path` (an old socket file there is replaced) with mode 0666: anyone on the machine
  // may connect, and each request is authorized by the caller's uid.
  static Result<std::unique_ptr<LocalServer>> Start(EventLoop& loop, const std::string& path, HttpHandler handler);
  virtual ~LocalServer() = default;
  virtual void Stop() = 0;
};

}  // namespace drover::net
