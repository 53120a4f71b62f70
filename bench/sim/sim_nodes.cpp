#include "sim_nodes.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <deque>
#include <queue>
#include <random>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include "common/protocol.h"

namespace drover::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Stream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

class Cluster;

class Node {
 public:
  Node(Cluster& cluster, uint32_t index, std::string name, X509* cert)
      : cluster_(cluster), index_(index), name_(std::move(name)), cert_(cert) {}
  ~Node() { X509_free(cert_); }

  void Connect();
  void SendText(std::string text);
  bool welcomed() const { return welcomed_; }
  int64_t next_heartbeat_ms = 0;

 private:
  void Fail(const std::string& why);
  void Read();
  void Write();
  void OnMessage(const std::string& text);

  Cluster& cluster_;
  uint32_t index_;
  std::string name_;
  X509* cert_;
  std::unique_ptr<Stream> ws_;
  std::vector<std::unique_ptr<Stream>> retired_;
  beast::flat_buffer buffer_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool open_ = false;
  bool welcomed_ = false;
  bool counted_handshake_ = false;
  uint64_t generation_ = 0;  // handlers of an abandoned connection see a newer one and stop
};

struct Due {
  int64_t end_ms;
  uint32_t node;
  protocol::TaskRef ref;
  int64_t start_wall_ms;
  bool operator>(const Due& o) const { return end_ms > o.end_ms; }
};

class Cluster final : public SimCluster {
 public:
  Cluster(const SimConfig& config) : config_(config), ctx_(ssl::context::tls_client), tick_(io_), beat_(io_) {}

  bool Init(std::vector<SimNodeIdentity> nodes, std::string* error) {
    ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    ctx_.add_certificate_authority(asio::buffer(config_.ca_pem), ec);
    if (ec) return *error = "cannot load the CA certificate: " + ec.message(), false;
    ctx_.use_private_key(asio::buffer(config_.key_pem), ssl::context::pem, ec);
    if (ec) return *error = "cannot load the nodes' key: " + ec.message(), false;
    ctx_.set_verify_mode(ssl::verify_peer);
    endpoint_ = tcp::endpoint(asio::ip::make_address(config_.host, ec), static_cast<uint16_t>(config_.port));
    if (ec) return *error = "bad head node address " + config_.host, false;
    nodes_.reserve(nodes.size());
    for (auto& n : nodes) {
      BIO* bio = BIO_new_mem_buf(n.cert_pem.data(), static_cast<int>(n.cert_pem.size()));
      X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
      if (!cert) return *error = "cannot read the certificate of node " + n.name, false;
      nodes_.push_back(std::make_unique<Node>(*this, static_cast<uint32_t>(nodes_.size()), n.name, cert));
    }
    return true;
  }

  void Run() override {
    auto guard = asio::make_work_guard(io_);
    for (int i = 0; i < config_.connect_in_flight; ++i) ConnectNext();
    Tick();
    Beat();
    io_.run();
  }
  void Stop() override { io_.stop(); }
  const SimCounters& counters() const override { return counters_; }

  // Called by nodes.
  asio::io_context& io() { return io_; }
  ssl::context& ctx() { return ctx_; }
  const tcp::endpoint& endpoint() const { return endpoint_; }
  const SimConfig& config() const { return config_; }
  SimCounters& mutable_counters() { return counters_; }

  // A handshake slot is free again; a failed node is retried after a pause.
  void HandshakeDone(bool ok) {
    if (ok) return ConnectNext();
    counters_.connect_failures++;
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(500));
    timer->async_wait([this, timer](beast::error_code) { ConnectNext(); });
  }
  void Retry(uint32_t node) { retry_queue_.push_back(node); }
  void Welcomed(Node& node) {
    counters_.online++;
    std::uniform_int_distribution<int64_t> spread(0, heartbeat_ms_);
    node.next_heartbeat_ms = SteadyMs() + spread(rng_);
  }
  void SetHeartbeat(int ms) { heartbeat_ms_ = std::max(50, ms); }

  void Started(uint32_t node, const protocol::StartTasks& m) {
    int64_t now = SteadyMs(), wall = WallMs();
    for (const auto& t : m.tasks) due_.push(Due{now + config_.task_ms, node, t.ref, wall});
    if (counters_.first_start_ms == 0) counters_.first_start_ms = now;
    counters_.last_start_ms = now;
    counters_.started += m.tasks.size();
  }

 private:
  static int64_t WallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void ConnectNext() {
    uint32_t idx;
    if (next_ < nodes_.size()) {
      idx = static_cast<uint32_t>(next_++);
    } else if (!retry_queue_.empty()) {
      idx = retry_queue_.front();
      retry_queue_.pop_front();
    } else {
      return;
    }
    nodes_[idx]->Connect();
  }

  // Reports the tasks whose simulated time is over, one results message per node.
  void Tick() {
    int64_t now = SteadyMs(), wall = WallMs();
    std::unordered_map<uint32_t, protocol::Results> out;
    while (!due_.empty() && due_.top().end_ms <= now) {
      const Due& d = due_.top();
      protocol::TaskResult r;
      r.ref = d.ref;
      r.start_time = d.start_wall_ms;
      r.end_time = wall;
      out[d.node].results.push_back(r);
      due_.pop();
    }
    for (auto& [idx, msg] : out) nodes_[idx]->SendText(protocol::Encode(protocol::AgentMessage(std::move(msg))));
    tick_.expires_after(std::chrono::milliseconds(config_.result_batch_ms));
    tick_.async_wait([this](beast::error_code ec) {
      if (!ec) Tick();
    });
  }

  void Beat() {
    int64_t now = SteadyMs();
    std::string hb = protocol::Encode(protocol::AgentMessage(protocol::Heartbeat{0.5, 1024, 0}));
    for (auto& n : nodes_) {
      if (!n->welcomed() || n->next_heartbeat_ms > now) continue;
      n->next_heartbeat_ms = now + heartbeat_ms_;
      n->SendText(hb);
    }
    beat_.expires_after(std::chrono::milliseconds(100));
    beat_.async_wait([this](beast::error_code ec) {
      if (!ec) Beat();
    });
  }

  SimConfig config_;
  asio::io_context io_{1};
  ssl::context ctx_;
  tcp::endpoint endpoint_;
  std::vector<std::unique_ptr<Node>> nodes_;
  size_t next_ = 0;
  std::deque<uint32_t> retry_queue_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
  asio::steady_timer tick_, beat_;
  int heartbeat_ms_ = 1000;
  std::mt19937_64 rng_{42};
  SimCounters counters_;
};

void Node::Connect() {
  ++generation_;
  if (ws_) retired_.push_back(std::move(ws_));  // its handlers may still be pending
  ws_ = std::make_unique<Stream>(cluster_.io(), cluster_.ctx());
  open_ = welcomed_ = writing_ = counted_handshake_ = false;
  out_.clear();
  buffer_.clear();
  SSL* ssl = ws_->next_layer().native_handle();
  SSL_use_certificate(ssl, cert_);
  const std::string& host = cluster_.config().host;
  ws_->next_layer().set_verify_callback(ssl::host_name_verification(host));
  beast::get_lowest_layer(*ws_).expires_after(std::chrono::seconds(60));
  uint64_t gen = generation_;
  beast::get_lowest_layer(*ws_).async_connect(cluster_.endpoint(), [this, gen](beast::error_code ec) {
    if (gen != generation_) return;
    if (ec) return Fail("connect: " + ec.message());
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().set_option(tcp::no_delay(true), ignored);
    ws_->next_layer().async_handshake(ssl::stream_base::client, [this, gen](beast::error_code ec) {
      if (gen != generation_) return;
      if (ec) return Fail("TLS handshake: " + ec.message());
      beast::get_lowest_layer(*ws_).expires_never();
      ws_->set_option(websocket::stream_base::timeout{std::chrono::seconds(60), websocket::stream_base::none(), false});
      ws_->read_message_max(64 * 1024 * 1024);
      ws_->async_handshake(cluster_.config().host, "/api/v1/agent", [this, gen](beast::error_code ec) {
        if (gen != generation_) return;
        if (ec) return Fail("WebSocket handshake: " + ec.message());
        open_ = true;
        protocol::Hello hello;
        hello.hostname = name_;
        hello.cores = cluster_.config().cores;
        hello.memory_mb = cluster_.config().memory_mb;
        SendText(protocol::Encode(protocol::AgentMessage(std::move(hello))));
        Read();
      });
    });
  });
}

void Node::Fail(const std::string& why) {
  open_ = false;
  if (!ws_) return;
  beast::error_code ec;
  beast::get_lowest_layer(*ws_).socket().close(ec);
  if (welcomed_) {
    welcomed_ = false;
    cluster_.mutable_counters().disconnects++;
    cluster_.mutable_counters().online--;
    fmt::print(stderr, "sim: node {} lost its connection: {}\n", name_, why);
  } else if (!counted_handshake_) {
    counted_handshake_ = true;
    fmt::print(stderr, "sim: node {} could not connect ({}); retrying\n", name_, why);
    cluster_.Retry(index_);
    cluster_.HandshakeDone(false);
  }
}

void Node::Read() {
  ws_->async_read(buffer_, [this, gen = generation_](beast::error_code ec, size_t) {
    if (gen != generation_) return;
    if (ec) return Fail("read: " + ec.message());
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    OnMessage(text);
    if (open_) Read();
  });
}

void Node::SendText(std::string text) {
  if (!open_) return;
  out_.push_back(std::move(text));
  if (!writing_) Write();
}

void Node::Write() {
  writing_ = true;
  ws_->text(true);
  ws_->async_write(asio::buffer(out_.front()), [this, gen = generation_](beast::error_code ec, size_t) {
    if (gen != generation_) return;
    out_.pop_front();
    writing_ = false;
    if (ec) return Fail("write: " + ec.message());
    cluster_.mutable_counters().messages_out++;
    if (!out_.empty() && open_) Write();
  });
}

void Node::OnMessage(const std::string& text) {
  auto& c = cluster_.mutable_counters();
  c.messages_in++;
  auto msg = protocol::DecodeHeadMessage(text);
  if (!msg.ok()) {
    fmt::print(stderr, "sim: node {} got a message it cannot read: {}\n", name_, msg.status().message());
    return;
  }
  if (auto* w = std::get_if<protocol::Welcome>(&*msg)) {
    if (!welcomed_) {
      welcomed_ = true;
      cluster_.SetHeartbeat(w->heartbeat_ms);
      cluster_.Welcomed(*this);
      if (!counted_handshake_) {
        counted_handshake_ = true;
        cluster_.HandshakeDone(true);
      }
    }
  } else if (auto* s = std::get_if<protocol::StartTasks>(&*msg)) {
    cluster_.Started(index_, *s);
  } else if (auto* a = std::get_if<protocol::Ack>(&*msg)) {
    c.acknowledged += a->tasks.size();
  } else if (auto* k = std::get_if<protocol::KillTasks>(&*msg)) {
    c.killed += k->tasks.size();
  }
}

}  // namespace

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<SimCluster> SimCluster::Create(const SimConfig& config, std::vector<SimNodeIdentity> nodes,
                                               std::string* error) {
  auto c = std::make_unique<Cluster>(config);
  if (!c->Init(std::move(nodes), error)) return nullptr;
  return c;
}

}  // namespace drover::sim
