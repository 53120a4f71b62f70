#include "net/ws_client.h"

#include <deque>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include "net/http.h"
#include "net/https_client.h"
#include "net/host_names.h"
#include "net/tls_util.h"

namespace drover::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

class Client final : public WsClient, public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, Url url, std::string base, std::string path, WsClientHandlers handlers)
      : resolver_(io), ctx_(ssl::context::tls_client), url_(std::move(url)), base_(std::move(base)),
        path_(std::move(path)), handlers_(std::move(handlers)) {}

  Status Init(const TlsIdentity& tls, asio::io_context& io) {
    RETURN_IF_ERROR(ConfigureClientContext(ctx_, tls));
    ws_ = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(io, ctx_);
    return Status::Ok();
  }

  void Start() {
    auto self = shared_from_this();
    resolver_.async_resolve(ResolveHostName(url_.host), std::to_string(url_.port),
                            [self](beast::error_code ec, tcp::resolver::results_type results) {
                              if (ec) return self->Fail(Unavailable(fmt::format(
                                          "cannot resolve {}: {}", self->url_.host, ec.message())));
                              self->OnResolve(results);
                            });
  }

  void Send(std::string text) override {
    if (closed_ || !open_) return;
    queue_.push_back(std::move(text));
    if (!writing_) DoWrite();
  }

  void Close() override {
    if (closed_) return;
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(*ws_).socket().close(ec);
    Fail(Unavailable("connection closed"));
  }

 private:
  void OnResolve(const tcp::resolver::results_type& results) {
    auto self = shared_from_this();
    beast::get_lowest_layer(*ws_).expires_after(std::chrono::seconds(15));
    beast::get_lowest_layer(*ws_).async_connect(results, [self](beast::error_code ec, const tcp::endpoint&) {
      if (ec) {
        return self->Fail(Unavailable(
            fmt::format("cannot connect to the head node at {}: {}", self->base_, ec.message())));
      }
      beast::get_lowest_layer(*self->ws_).socket().set_option(tcp::no_delay(true), ec);
      auto& tls = self->ws_->next_layer();
      SSL_set_tlsext_host_name(tls.native_handle(), self->url_.host.c_str());
      tls.set_verify_callback(ssl::host_name_verification(self->url_.host));
      tls.async_handshake(ssl::stream_base::client, [self](beast::error_code ec) {
        if (ec) {
          return self->Fail(Unavailable(
              fmt::format("TLS handshake with the head node at {} failed: {}", self->base_, ec.message())));
        }
        self->OnTlsHandshake();
      });
    });
  }

  void OnTlsHandshake() {
    auto self = shared_from_this();
    beast::get_lowest_layer(*ws_).expires_never();
    ws_->set_option(websocket::stream_base::timeout{std::chrono::seconds(15), websocket::stream_base::none(), false});
    ws_->read_message_max(64 * 1024 * 1024);
    ws_->async_handshake(response_, url_.host, path_, [self](beast::error_code ec) {
      if (ec) {
        if (self->response_.result_int() >= 400) {
          HttpResponse r;
          r.status = static_cast<int>(self->response_.result_int());
          r.body = self->response_.body();
          Status why = StatusFromErrorResponse(r);
          return self->Fail(Status(why.code(), "the head node refused the connection: " + why.message()));
        }
        return self->Fail(Unavailable(fmt::format("WebSocket handshake with {} failed: {}", self->base_, ec.message())));
      }
      self->open_ = true;
      if (self->handlers_.on_open) self->handlers_.on_open();
      self->DoRead();
    });
  }

  void DoRead() {
    auto self = shared_from_this();
    ws_->async_read(buffer_, [self](beast::error_code ec, size_t) {
      if (ec) return self->Fail(Unavailable("connection to the head node lost: " + ec.message()));
      std::string msg = beast::buffers_to_string(self->buffer_.data());
      self->buffer_.consume(self->buffer_.size());
      if (self->handlers_.on_message) self->handlers_.on_message(std::move(msg));
      if (!self->closed_) self->DoRead();
    });
  }

  void DoWrite() {
    writing_ = true;
    ws_->text(true);
    auto self = shared_from_this();
    ws_->async_write(asio::buffer(queue_.front()), [self](beast::error_code ec, size_t) {
      self->queue_.pop_front();
      self->writing_ = false;
      if (ec) return self->Fail(Unavailable("connection to the head node lost: " + ec.message()));
      if (!self->queue_.empty() && !self->closed_) self->DoWrite();
    });
  }

  void Fail(const Status& why) {
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().close(ec);
    auto on_close = std::move(handlers_.on_close);
    handlers_ = {};
    if (on_close) on_close(why);
  }

  tcp::resolver resolver_;
  ssl::context ctx_;
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> ws_;
  Url url_;
  std::string base_;
  std::string path_;
  WsClientHandlers handlers_;
  websocket::response_type response_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool open_ = false;
  bool closed_ = false;
};

}  // namespace

Result<std::shared_ptr<WsClient>> WsClient::Connect(EventLoop& loop, const std::string& url, const std::string& path,
                                                    const TlsIdentity& tls, WsClientHandlers handlers) {
  ASSIGN_OR_RETURN(Url u, ParseUrl(url));
  auto& io = *static_cast<asio::io_context*>(loop.native());
  auto client = std::make_shared<Client>(io, u, url, path, std::move(handlers));
  RETURN_IF_ERROR(client->Init(tls, io));
  client->Start();
  return std::shared_ptr<WsClient>(client);
}

}  // namespace drover::net
