#include "net/local_server.h"

#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "net/beast_http.h"

namespace drover::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using local = asio::local::stream_protocol;

PeerIdentity PeerOf(local::socket& socket) {
  PeerIdentity id;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return id;
  id.local = true;
  id.uid = cred.uid;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(cred.uid, &pw, buf.data(), buf.size(), &found) == 0 && found) id.unix_user = found->pw_name;
  return id;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(local::socket socket, std::shared_ptr<HttpHandler> handler)
      : socket_(std::move(socket)), handler_(std::move(handler)) {}

  void Start() {
    peer_ = PeerOf(socket_);
    DoRead();
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(16 * 1024 * 1024);
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != asio::error::connection_reset) {
          self->keep_alive_ = false;
          return self->Write(ErrorResponse(InvalidArgument("malformed HTTP request: " + ec.message())));
        }
        return;
      }
      self->OnRequest(self->parser_->release());
    });
  }

  void OnRequest(http::request<http::string_body> req) {
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    HttpRequest r = FromBeast(std::move(req), peer_);
    (*handler_)(r, [self = shared_from_this(), answered = std::make_shared<bool>(false)](HttpResponse resp) {
      if (*answered) return;
      *answered = true;
      self->Write(std::move(resp));
    });
  }

  void Write(HttpResponse r) {
    auto res = ToBeast(std::move(r), version_, keep_alive_);
    http::async_write(socket_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !self->keep_alive_) {
        beast::error_code ignored;
        self->socket_.shutdown(local::socket::shutdown_both, ignored);
        return;
      }
      self->DoRead();
    });
  }

  local::socket socket_;
  std::shared_ptr<HttpHandler> handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  PeerIdentity peer_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

class Server final : public LocalServer {
 public:
  Server(asio::io_context& io, std::string path, HttpHandler handler)
      : acceptor_(io), path_(std::move(path)), handler_(std::make_shared<HttpHandler>(std::move(handler))) {}
  ~Server() override { Stop(); }

  Status Listen() {
    ::unlink(path_.c_str());
    beast::error_code ec;
    acceptor_.open(local(), ec);
    if (!ec) {
      // The socket file is created 0666 by bind itself (no chmod that a planted link could redirect).
      mode_t old = ::umask(0111);
      acceptor_.bind(local::endpoint(path_), ec);
      ::umask(old);
    }
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Unavailable(fmt::format("cannot listen on {}: {}", path_, ec.message()));
    DoAccept();
    return Status::Ok();
  }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    beast::error_code ec;
    acceptor_.close(ec);
    ::unlink(path_.c_str());
  }

 private:
  void DoAccept() {
    acceptor_.async_accept([this](beast::error_code ec, local::socket socket) {
      if (stopped_) return;
      if (!ec) std::make_shared<Session>(std::move(socket), handler_)->Start();
      DoAccept();
    });
  }

  local::acceptor acceptor_;
  std::string path_;
  std::shared_ptr<HttpHandler> handler_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<LocalServer>> LocalServer::Start(EventLoop& loop, const std::string& path,
                                                        HttpHandler handler) {
  auto server = std::make_unique<Server>(*static_cast<asio::io_context*>(loop.native()), path, std::move(handler));
  RETURN_IF_ERROR(server->Listen());
  return std::unique_ptr<LocalServer>(std::move(server));
}

}  // namespace drover::net
