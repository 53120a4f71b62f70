#include "head/head_node.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/protocol.h"
#include "head/api.h"
#include "head/cluster.h"
#include "head/committer.h"
#include "head/credentials.h"
#include "head/members.h"
#include "net/event_loop.h"
#include "net/https_server.h"
#include "net/local_server.h"
#include "os/files.h"
#include "os/sysinfo.h"
#include "secrets/secret_store.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace drover::head {
namespace {

// The open agent connections, one per node.
class AgentConnections final : public AgentLink {
 public:
  bool Send(const std::string& node, const protocol::HeadMessage& message) override {
    auto it = conns_.find(node);
    if (it == conns_.end()) return false;
    it->second->Send(protocol::Encode(message));
    return true;
  }
  void Disconnect(const std::string& node) override {
    auto it = conns_.find(node);
    if (it != conns_.end()) it->second->Close();
  }
  // Makes `conn` the node's connection, closing an older one.
  void Open(const std::string& node, std::shared_ptr<net::WsConnection> conn) {
    auto& slot = conns_[node];
    if (slot && slot != conn) slot->Close();
    slot = std::move(conn);
  }
  bool IsCurrent(const std::string& node, const std::shared_ptr<net::WsConnection>& conn) const {
    auto it = conns_.find(node);
    return it != conns_.end() && it->second == conn;
  }
  // True when `conn` was the node's current connection.
  bool Close(const std::string& node, const std::shared_ptr<net::WsConnection>& conn) {
    if (!IsCurrent(node, conn)) return false;
    conns_.erase(node);
    return true;
  }

 private:
  std::unordered_map<std::string, std::shared_ptr<net::WsConnection>> conns_;
};

// The database named by the configuration: PostgreSQL when a URL is given, else SQLite in
// --database-dir (default: under the state directory).
Result<std::unique_ptr<Store>> OpenDatabase(const HeadNodeConfig& config, secrets::SecretStore& secrets) {
  if (config.database_url.empty()) {
    if (!config.database_password_file.empty() || !config.database_password_secret.empty()) {
      return InvalidArgument("a database password is given but no --database URL");
    }
    return OpenSqliteStore(config.database_dir.empty() ? os::JoinPath(config.state_dir, "db") : config.database_dir);
  }
  ASSIGN_OR_RETURN(PostgresOptions options, ParsePostgresUrl(config.database_url));
  if (!config.database_password_file.empty() && !config.database_password_secret.empty()) {
    return InvalidArgument("give the database password in a file or as a secret, not both");
  }
  if (!config.database_password_file.empty()) {
    const std::string& file = config.database_password_file;
    auto password = os::ReadFile(file == "-" ? "/dev/stdin" : file);
    if (!password.ok()) return password.status().WithContext("reading the database password");
    options.password = std::move(password).value();
  } else if (!config.database_password_secret.empty()) {
    auto password = secrets.Get(config.database_password_secret);
    if (!password.ok()) return password.status().WithContext("reading the database password from the secret store");
    options.password = std::move(password).value();
  }
  while (!options.password.empty() && (options.password.back() == '\n' || options.password.back() == '\r')) {
    options.password.pop_back();
  }
  // Short: a call waits this long on the event loop; the committer retries beyond it.
  options.reconnect_timeout_ms = 1000;
  return OpenPostgresStore(options);
}

// How often the head node checks that its state directory is still there.
constexpr int kStateDirCheckMs = 1000;

}  // namespace

int RunHeadNode(const HeadNodeConfig& config) {
  ::signal(SIGPIPE, SIG_IGN);
  if (Status st = os::MakeDirs(config.state_dir, 0700); !st.ok()) {
    spdlog::critical("{}", st.message());
    return 1;
  }
  // One head node per state directory: a second one (a replacement started while the first still
  // runs) would share its database and split the cluster's brain.
  std::string lock_path = os::JoinPath(config.state_dir, "headnode.lock");
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    spdlog::critical("another head node is running on {} (it holds {})", config.state_dir, lock_path);
    return 1;
  }
  auto home = os::DirectoryWatch::Start(config.state_dir);
  if (!home.ok()) {
    spdlog::critical("{}", home.status().message());
    return 1;
  }
  std::vector<std::string> dns = {"localhost", os::ReadMachineInfo().hostname};
  dns.insert(dns.end(), config.dns_names.begin(), config.dns_names.end());
  std::vector<std::string> ips = {"127.0.0.1"};
  if (config.bind_address != "127.0.0.1" && config.bind_address != "0.0.0.0") ips.push_back(config.bind_address);
  auto secrets = secrets::OpenWithKeyFile(
      config.secrets_dir.empty() ? os::JoinPath(config.state_dir, "secrets") : config.secrets_dir,
      config.secrets_key_file.empty() ? os::JoinPath(config.state_dir, "secrets.key") : config.secrets_key_file);
  if (!secrets.ok()) {
    spdlog::critical("cannot open the secret store: {}", secrets.status().message());
    return 1;
  }
  auto creds = PrepareCredentials(config.state_dir, config.cluster_name, dns, ips, **secrets, config.secret_prefix);
  if (!creds.ok()) {
    spdlog::critical("cannot prepare the cluster's certificates: {}", creds.status().message());
    return 1;
  }
  auto store = OpenDatabase(config, **secrets);
  if (!store.ok()) {
    spdlog::critical("cannot open the database: {}", store.status().message());
    return 1;
  }

  SystemClock clock;
  net::EventLoop loop;
  Committer committer(loop, **store);
  AgentConnections agents;
  ClusterConfig cc;
  cc.heartbeat_ms = config.heartbeat_ms;
  cc.heartbeat_timeout_ms = config.heartbeat_timeout_ms;
  Cluster cluster(cc, clock, committer, agents);
  if (Status st = cluster.Load(**store); !st.ok()) {
    spdlog::critical("cannot load the cluster from the database: {}", st.message());
    return 1;
  }
  cluster.EnsureDefaultTemplate(config.auto_approve);
  cluster.EnsureDefaultJobTemplate();
  Members members(clock, committer);
  if (Status st = members.Load(**store); !st.ok()) {
    spdlog::critical("cannot load the members from the database: {}", st.message());
    return 1;
  }
  // The credential created with the CA (pki/admin.crt) belongs to the first Administrator.
  if (auto admin = pki::ParseCertificate(creds->admin_cert_pem); !admin.ok()) {
    spdlog::critical("cannot read the administrator's certificate: {}", admin.status().message());
    return 1;
  } else {
    members.AddInitialAdministrator(admin->subject.common_name, admin->serial_hex);
  }
  PassTimes pass_times;
  auto schedule = [&] {
    auto start = std::chrono::steady_clock::now();
    cluster.Schedule();
    pass_times.Record(std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start)
                          .count());
  };
  // A requested pass runs on its own turn of the loop, or earlier, just before the next commit
  // (whichever comes first), so that its placements join the changes that freed the cores.
  bool schedule_wanted = false, schedule_posted = false;
  cluster.set_schedule_requester([&] {
    schedule_wanted = true;
    if (schedule_posted) return;
    schedule_posted = true;
    loop.Post([&] {
      schedule_posted = false;
      if (!schedule_wanted) return;
      schedule_wanted = false;
      schedule();
    });
  });
  committer.set_before_flush([&] {
    if (!schedule_wanted) return;
    schedule_wanted = false;
    schedule();
  });

  Api api(ApiContext{config.cluster_name, creds->ca, creds->join_token, &pass_times}, cluster, members, committer, **store, **secrets, loop);

  net::WsHandlers ws;
  ws.authorize = [&](const net::PeerIdentity& peer) -> Status {
    if (!peer.has_certificate) return Unauthenticated("a node certificate is required; join the cluster first");
    if (!peer.verified) {
      spdlog::warn("refused an agent connection: {}", peer.verify_error);
      return Unauthenticated(peer.verify_error);
    }
    if (peer.unit != "node") return PermissionDenied("only compute nodes may open the agent channel");
    // Only the certificate issued at the node's join is accepted: one from before a removal, or
    // from someone else's join under the same name, is not.
    const Node* node = cluster.FindNode(peer.common_name);
    if (!node) {
      return Unauthenticated(fmt::format("node '{}' is not part of this cluster; it must join again", peer.common_name));
    }
    if (!node->record.cert_serial.empty() && node->record.cert_serial != peer.serial_hex) {
      return Unauthenticated(fmt::format("this certificate of node '{}' is not the one issued at its join",
                                         peer.common_name));
    }
    return Status::Ok();
  };
  // A connection becomes the node's connection with its hello, not at the upgrade: messages sent
  // before the hello is reconciled (a start committed meanwhile) would reach an agent whose hello
  // did not list them, and the head node would requeue tasks that the agent then runs.
  ws.on_open = [&](std::shared_ptr<net::WsConnection>) {};
  ws.on_message = [&](const std::shared_ptr<net::WsConnection>& conn, std::string text) {
    const std::string& node = conn->peer().common_name;
    auto msg = protocol::DecodeAgentMessage(text);
    if (!agents.IsCurrent(node, conn) && !(msg.ok() && std::holds_alternative<protocol::Hello>(*msg))) return;
    if (!msg.ok()) {
      spdlog::warn("closing the connection of node {}: {}", node, msg.status().message());
      conn->Close();
      return;
    }
    std::visit(
        [&](auto&& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, protocol::Hello>) {
            if (m.version != protocol::kVersion) {
              spdlog::warn("node {} speaks protocol version {}, this head node {}", node, m.version,
                           protocol::kVersion);
              conn->Close();
              return;
            }
            agents.Open(node, conn);
            cluster.OnAgentHello(node, m);
          } else if constexpr (std::is_same_v<T, protocol::Heartbeat>) {
            cluster.OnAgentHeartbeat(node, m);
          } else {
            cluster.OnAgentResults(node, m.results);
          }
        },
        *msg);
  };
  ws.on_close = [&](const std::shared_ptr<net::WsConnection>& conn) {
    const std::string& node = conn->peer().common_name;
    if (agents.Close(node, conn)) cluster.OnAgentDisconnected(node);
  };

  net::HttpsServerConfig sc;
  sc.bind_address = config.bind_address;
  sc.port = config.port;
  sc.tls = creds->server;
  sc.websocket_path = "/api/v1/agent";
  auto server = net::HttpsServer::Start(
      loop, sc, [&](const net::HttpRequest& r, net::Responder respond) { api.Handle(r, std::move(respond)); }, ws);
  if (!server.ok()) {
    spdlog::critical("{}", server.status().message());
    return 1;
  }
  std::string socket_path =
      config.socket_path.empty() ? os::JoinPath(config.state_dir, "headnode.sock") : config.socket_path;
  auto local = net::LocalServer::Start(
      loop, socket_path, [&](const net::HttpRequest& r, net::Responder respond) { api.Handle(r, std::move(respond)); });
  if (!local.ok()) {
    spdlog::critical("{}", local.status().message());
    return 1;
  }
  std::string host = config.bind_address == "0.0.0.0" ? "127.0.0.1" : config.bind_address;
  std::string url = fmt::format("https://{}:{}", host, (*server)->port());
  if (Status st = os::WriteFileAtomic(os::JoinPath(config.state_dir, "headnode.url"), url + "\n"); !st.ok()) {
    spdlog::critical("{}", st.message());
    return 1;
  }
  spdlog::info("head node of cluster '{}' listening on {} (pid {})", config.cluster_name, url, ::getpid());
  cluster.set_task_contact(url, creds->ca.cert_pem);

  int check_ms = std::max(50, std::min(1000, config.heartbeat_timeout_ms / 4));
  auto heartbeat_timer = loop.RunEvery(check_ms, [&] {
    cluster.CheckHeartbeats();
    cluster.CheckBeginTimes();
    cluster.EvictEndedJobs();
  });
  auto stop = [&] {
    spdlog::info("head node stopping");
    (*server)->Stop();
    (*local)->Stop();
    committer.set_before_flush(nullptr);  // no new placements while stopping
    committer.Flush();
    loop.Stop();
  };
  loop.OnSignal(SIGTERM, stop);
  loop.OnSignal(SIGINT, stop);
  // A head node whose state directory is gone (its stack purged, its home deleted) has nothing left
  // to serve and would hold its port and name: it stops. Made again at the same path, the directory
  // is another head node's.
  int exit_code = 0;
  auto home_timer = loop.RunEvery(kStateDirCheckMs, [&] {
    std::string changed = home->Changed();
    if (changed.empty() || exit_code != 0) return;
    spdlog::critical("the state directory {}; stopping", changed);
    exit_code = 1;
    stop();
  });
  schedule();
  loop.Run();
  return exit_code;
}

}  // namespace drover::head
