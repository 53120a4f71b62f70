#include "net/https_server.h"

#include <deque>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "net/beast_http.h"
#include "net/tls_util.h"

namespace drover::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr auto kHandshakeTimeout = std::chrono::seconds(15);
constexpr auto kIdleTimeout = std::chrono::seconds(120);

struct Shared {
  HttpsServerConfig config;
  HttpHandler http;
  WsHandlers ws;
  ssl::context ctx{ssl::context::tls_server};
};

class WsSession final : public WsConnection, public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(TlsStream stream, PeerIdentity peer, std::shared_ptr<Shared> shared)
      : ws_(std::move(stream)), peer_(std::move(peer)), shared_(std::move(shared)) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void Accept(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws_).expires_never();
    websocket::stream_base::timeout opt{kHandshakeTimeout, websocket::stream_base::none(), false};
    ws_.set_option(opt);
    ws_.read_message_max(64 * 1024 * 1024);
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->open_ = true;
      if (self->shared_->ws.on_open) self->shared_->ws.on_open(self);
      self->DoRead();
    });
  }

  void Send(std::string text) override {
    if (closed_) return;
    pending_bytes_ += text.size();
    queue_.push_back(std::move(text));
    if (!writing_) DoWrite();
  }

  void Close() override {
    if (closed_) return;
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  const PeerIdentity& peer() const override { return peer_; }
  std::string remote_address() const override { return remote_; }
  size_t pending_bytes() const override { return pending_bytes_; }

 private:
  void DoRead() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnClosed();
      std::string msg = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (self->shared_->ws.on_message) self->shared_->ws.on_message(self, std::move(msg));
      if (!self->closed_) self->DoRead();
    });
  }

  void DoWrite() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->pending_bytes_ -= self->queue_.front().size();
      self->queue_.pop_front();
      self->writing_ = false;
      if (ec) return self->OnClosed();
      if (!self->queue_.empty() && !self->closed_) self->DoWrite();
    });
  }

  void OnClosed() {
    if (closed_) return;
    closed_ = true;
    Close();
    if (open_ && shared_->ws.on_close) shared_->ws.on_close(shared_from_this());
  }

  websocket::stream<TlsStream> ws_;
  PeerIdentity peer_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  size_t pending_bytes_ = 0;
  bool writing_ = false;
  bool open_ = false;
  bool closed_ = false;
  std::string remote_;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket), shared->ctx), shared_(std::move(shared)) {}

  void Start() {
    beast::get_lowest_layer(stream_).expires_after(kHandshakeTimeout);
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        spdlog::debug("TLS handshake failed: {}", ec.message());
        return;
      }
      self->peer_ = ReadPeerIdentity(self->stream_.native_handle());
      self->DoRead();
    });
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(shared_->config.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnRead(ec);
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == ssl::error::stream_truncated) {
      return DoShutdown();
    }
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
        HttpResponse r = ErrorResponse(InvalidArgument("malformed HTTP request: " + ec.message()));
        keep_alive_ = false;
        return Write(std::move(r));
      }
      return;  // timeout or reset: drop the connection
    }
    auto req = parser_->release();
    if (websocket::is_upgrade(req)) return Upgrade(std::move(req));

    keep_alive_ = req.keep_alive();
    version_ = req.version();
    HttpRequest r = FromBeast(std::move(req), peer_);
    beast::get_lowest_layer(stream_).expires_never();  // a handler may answer later (long poll)
    auto self = shared_from_this();
    shared_->http(r, [self, answered = std::make_shared<bool>(false)](HttpResponse resp) {
      if (*answered) return;
      *answered = true;
      self->Write(std::move(resp));
    });
  }

  void Upgrade(http::request<http::string_body> req) {
    std::string path(req.target().substr(0, req.target().find('?')));
    if (path != shared_->config.websocket_path) {
      keep_alive_ = false;
      return Write(ErrorResponse(NotFound("no WebSocket endpoint at " + path)));
    }
    if (shared_->ws.authorize) {
      Status st = shared_->ws.authorize(peer_);
      if (!st.ok()) {
        keep_alive_ = false;
        return Write(ErrorResponse(st));
      }
    }
    std::make_shared<WsSession>(std::move(stream_), peer_, shared_)->Accept(std::move(req));
  }

  void Write(HttpResponse r) {
    auto res = ToBeast(std::move(r), version_, keep_alive_);
    beast::get_lowest_layer(stream_).expires_after(kIdleTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec) return;
      if (!self->keep_alive_) return self->DoShutdown();
      self->DoRead();
    });
  }

  void DoShutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  TlsStream stream_;
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  PeerIdentity peer_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

class Server final : public HttpsServer {
 public:
  Server(asio::io_context& io, std::shared_ptr<Shared> shared) : acceptor_(io), shared_(std::move(shared)) {}

  Status Listen() {
    beast::error_code ec;
    auto addr = asio::ip::make_address(shared_->config.bind_address, ec);
    if (ec) return InvalidArgument("invalid bind address '" + shared_->config.bind_address + "'");
    tcp::endpoint ep(addr, shared_->config.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable(fmt::format("cannot listen on {}:{}: {}", shared_->config.bind_address,
                                     shared_->config.port, ec.message()));
    }
    port_ = acceptor_.local_endpoint().port();
    DoAccept();
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }
  void Stop() override {
    stopped_ = true;
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void DoAccept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (stopped_) return;
      if (!ec) {
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<HttpSession>(std::move(socket), shared_)->Start();
      }
      DoAccept();
    });
  }

  tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
  uint16_t port_ = 0;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::Start(EventLoop& loop, const HttpsServerConfig& config,
                                                        HttpHandler http, WsHandlers ws) {
  auto shared = std::make_shared<Shared>();
  shared->config = config;
  shared->http = std::move(http);
  shared->ws = std::move(ws);
  RETURN_IF_ERROR(ConfigureServerContext(shared->ctx, config.tls));
  auto server = std::make_unique<Server>(*static_cast<asio::io_context*>(loop.native()), shared);
  RETURN_IF_ERROR(server->Listen());
  return std::unique_ptr<HttpsServer>(std::move(server));
}

}  // namespace drover::net
