#include "agent/compute_node.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agent/gpu_detector.h"
#include "agent/task_runner.h"
#include "common/codec.h"
#include "common/protocol.h"
#include "net/event_loop.h"
#include "net/https_client.h"
#include "net/pki.h"
#include "net/ws_client.h"
#include "os/files.h"
#include "os/process.h"
#include "os/sysinfo.h"

namespace drover::agent {
namespace {

// How often a compute node checks that its state directory is still there.
constexpr int kStateDirCheckMs = 1000;

namespace json = boost::json;

struct Credentials {
  net::TlsIdentity tls;
  std::string name;
};

// Joins with the token: sends a CSR, receives the node certificate. Done once per state directory.
Result<Credentials> JoinOrLoad(const ComputeNodeConfig& c) {
  std::string crt = os::JoinPath(c.state_dir, "node.crt"), key = os::JoinPath(c.state_dir, "node.key");
  std::string ca = os::JoinPath(c.state_dir, "ca.crt"), name_file = os::JoinPath(c.state_dir, "name");
  Credentials out;
  if (!os::Exists(crt)) {
    if (c.token.empty()) return InvalidArgument("this node has not joined a cluster yet: give --token");
    if (c.ca_file.empty()) return InvalidArgument("this node has not joined a cluster yet: give --ca-file");
    ASSIGN_OR_RETURN(std::string ca_pem, os::ReadFile(c.ca_file));
    ASSIGN_OR_RETURN(std::string key_pem, pki::GenerateKey());
    std::string name = c.name.empty() ? os::ReadMachineInfo().hostname : c.name;
    ASSIGN_OR_RETURN(std::string csr, pki::CreateCsr(key_pem, {name, "node"}));
    ASSIGN_OR_RETURN(auto client, net::HttpsClient::Create(c.head_url, net::TlsIdentity{ca_pem, "", ""}));
    json::object body{{"token", c.token}, {"name", name}, {"hostname", os::ReadMachineInfo().hostname}, {"csr", csr}};
    if (!c.node_template.empty()) body["template"] = c.node_template;
    ASSIGN_OR_RETURN(auto resp, client->Request("POST", "/api/v1/join", json::serialize(body)));
    if (resp.status != 200) {
      Status why = net::StatusFromErrorResponse(resp);
      return Status(why.code(), "the head node refused the join: " + why.message());
    }
    ASSIGN_OR_RETURN(auto v, ParseJson(resp.body));
    auto* cert = v.is_object() ? v.as_object().if_contains("certificate") : nullptr;
    if (!cert || !cert->is_string()) return DataLoss("the head node's join answer has no certificate");
    RETURN_IF_ERROR(os::WriteFileAtomic(key, key_pem, 0600));
    RETURN_IF_ERROR(os::WriteFileAtomic(ca, ca_pem));
    RETURN_IF_ERROR(os::WriteFileAtomic(name_file, name + "\n"));
    RETURN_IF_ERROR(os::WriteFileAtomic(crt, std::string(cert->as_string())));
    spdlog::info("joined the cluster at {} as {}", c.head_url, name);
  }
  ASSIGN_OR_RETURN(out.tls.cert_pem, os::ReadFile(crt));
  ASSIGN_OR_RETURN(out.tls.key_pem, os::ReadFile(key));
  ASSIGN_OR_RETURN(out.tls.ca_cert_pem, os::ReadFile(ca));
  ASSIGN_OR_RETURN(out.name, os::ReadFile(name_file));
  while (!out.name.empty() && std::isspace(static_cast<unsigned char>(out.name.back()))) out.name.pop_back();
  if (Status st = pki::VerifyCertificate(out.tls.ca_cert_pem, out.tls.cert_pem); !st.ok()) {
    return Status(st.code(), fmt::format("the node certificate in {} is not usable: {}", crt, st.message()));
  }
  return out;
}

// The agent's cgroup parent is drover/<node>-<hash of its state directory>: several agents on one
// machine (local clusters, tests) each own theirs, and one never kills another's leftovers.
std::string CgroupParentName(const ComputeNodeConfig& c, const std::string& node) {
  uint32_t h = 2166136261u;  // FNV-1a: stable across builds
  for (unsigned char ch : os::AbsolutePath(c.state_dir)) h = (h ^ ch) * 16777619u;
  return fmt::format("{}-{:08x}", node, h);
}

std::unique_ptr<os::CgroupSystem> SetUpCgroups(const ComputeNodeConfig& c, const std::string& node) {
  auto cgroups = os::DetectCgroups(c.cgroup_root.empty() ? "/nonexistent" : c.cgroup_root, CgroupParentName(c, node));
  if (cgroups->available()) {
    spdlog::info("task limits are enforced with {}", cgroups->Describe());
  } else {
    spdlog::warn("task limits (memory, cores) are not enforced on this node: {}", cgroups->Describe());
  }
  return cgroups;
}

std::vector<protocol::GpuInfo> FindGpus(const ComputeNodeConfig& c) {
  auto detector = c.fake_gpus >= 0 ? MakeFakeGpuDetector(c.fake_gpus) : MakeNvidiaSmiDetector();
  auto gpus = detector->Detect();
  if (!gpus.ok()) {
    spdlog::warn("no GPUs offered: {}", gpus.status().message());
    return {};
  }
  if (!gpus->empty()) spdlog::info("{} GPU(s) found with {}", gpus->size(), detector->Describe());
  return *gpus;
}

TaskRunnerOptions RunnerOptions(const ComputeNodeConfig& c, os::CgroupSystem& cgroups, bool has_gpus) {
  TaskRunnerOptions o;
  o.cgroups = &cgroups;
  o.kill_grace_ms = c.kill_grace_ms;
  o.task_pids_max = c.task_pids_max;
  o.node_has_gpus = has_gpus;
  return o;
}

class ComputeNode {
 public:
  ComputeNode(const ComputeNodeConfig& config, Credentials creds)
      : config_(config), creds_(std::move(creds)), launcher_(os::MakeSystemLauncher()),
        cgroups_(SetUpCgroups(config, creds_.name)), gpus_(FindGpus(config)),
        runner_(*launcher_, clock_, config.state_dir, creds_.name, RunnerOptions(config, *cgroups_, !gpus_.empty())) {
    auto info = os::ReadMachineInfo();
    hostname_ = info.hostname;
    cores_ = config.cores > 0 ? config.cores : info.cores;
    memory_mb_ = config.memory_mb > 0 ? config.memory_mb : info.memory_mb;
  }

  int Run() {
    if (Status st = runner_.Recover(); !st.ok()) {
      spdlog::critical("{}", st.message());
      return 1;
    }
    loop_.OnSignal(SIGCHLD, [this] { ReapAndReport(); });
    reap_timer_ = loop_.RunEvery(500, [this] {
      runner_.Tick();
      ReapAndReport();
    });
    auto stop = [this] {
      spdlog::info("compute node {} stopping; killing its tasks", creds_.name);
      runner_.KillAll();
      loop_.Stop();
    };
    loop_.OnSignal(SIGTERM, stop);
    loop_.OnSignal(SIGINT, stop);
    // Without its state directory (its stack purged, its home deleted) the node can keep no result
    // and no credential: it stops, killing its tasks, instead of running on as an orphan.
    auto home = os::DirectoryWatch::Start(config_.state_dir);
    if (!home.ok()) {
      spdlog::critical("{}", home.status().message());
      return 1;
    }
    home_timer_ = loop_.RunEvery(kStateDirCheckMs, [this, watch = *home, stop] {
      std::string changed = watch.Changed();
      if (changed.empty() || exit_code_ != 0) return;
      spdlog::critical("the state directory {}; stopping", changed);
      exit_code_ = 1;
      stop();
    });
    Connect();
    loop_.Run();
    CleanUp();
    return exit_code_;
  }

 private:
  // After a stop: the killed tasks' results are kept for the next start; their cgroups, and this
  // agent's cgroup parent, are removed once the processes are gone (a few seconds at most).
  void CleanUp() {
    runner_.KillAll();
    for (int i = 0; i < 150 && !runner_.Running().empty(); ++i) {
      (void)runner_.Reap();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int i = 0; i < 10; ++i) {
      runner_.Tick();
      if (cgroups_->Leftovers().empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    cgroups_->RemoveParent();
  }

  void Connect() {
    net::WsClientHandlers h;
    h.on_open = [this] { OnOpen(); };
    h.on_message = [this](std::string text) { OnMessage(text); };
    h.on_close = [this](const Status& why) { OnClose(why); };
    auto ws = net::WsClient::Connect(loop_, config_.head_url, "/api/v1/agent", creds_.tls, std::move(h));
    if (!ws.ok()) {
      spdlog::critical("{}", ws.status().message());
      exit_code_ = 1;
      loop_.Stop();
      return;
    }
    ws_ = *ws;
  }

  void OnOpen() {
    connected_ = true;
    backoff_ms_ = 100;
    last_from_head_ = clock_.Now();
    protocol::Hello hello;
    hello.hostname = hostname_;
    hello.cores = cores_;
    hello.memory_mb = memory_mb_;
    hello.gpus = gpus_;
    hello.limits = cgroups_->available() ? cgroups_->Describe() : "not enforced: " + cgroups_->Describe();
    hello.running = runner_.Running();
    hello.finished = runner_.Unacknowledged();
    ws_->Send(protocol::Encode(protocol::AgentMessage(std::move(hello))));
  }

  void OnClose(const Status& why) {
    bool was_connected = connected_;
    connected_ = false;
    heartbeat_timer_.reset();
    ws_.reset();
    if (why.code() == StatusCode::kUnauthenticated || why.code() == StatusCode::kPermissionDenied) {
      spdlog::critical("{}", why.message());
      exit_code_ = 3;
      runner_.KillAll();
      loop_.Stop();
      return;
    }
    if (was_connected) {
      spdlog::warn("lost the head node: {}; reconnecting", why.message());
    } else {
      spdlog::debug("{}", why.message());
    }
    reconnect_timer_ = loop_.RunAfter(backoff_ms_, [this] { Connect(); });
    backoff_ms_ = std::min(backoff_ms_ * 2, 3000);
  }

  void OnMessage(const std::string& text) {
    last_from_head_ = clock_.Now();
    auto msg = protocol::DecodeHeadMessage(text);
    if (!msg.ok()) {
      spdlog::warn("ignoring a message from the head node: {}", msg.status().message());
      return;
    }
    std::visit(
        [this](auto&& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, protocol::Welcome>) {
            spdlog::info("connected to the head node as {} ({} cores, {} MB)", m.node_name, cores_, memory_mb_);
            heartbeat_ms_ = std::max(50, m.heartbeat_ms);
            heartbeat_timer_ = loop_.RunEvery(heartbeat_ms_, [this] { Heartbeat(); });
          } else if constexpr (std::is_same_v<T, protocol::StartTasks>) {
            for (const auto& t : m.tasks) runner_.Start(t);
            SendResults(runner_.TakeImmediateResults());
          } else if constexpr (std::is_same_v<T, protocol::KillTasks>) {
            for (const auto& ref : m.tasks) Kill(ref);
          } else if constexpr (std::is_same_v<T, protocol::Ack>) {
            runner_.Acknowledge(m.tasks);
          }
        },
        *msg);
  }

  void Kill(const protocol::TaskRef& ref) {
    if (!runner_.IsRunning(ref)) return;
    runner_.Signal(ref, SIGTERM);
    kill_timers_[ref] = loop_.RunAfter(config_.kill_grace_ms, [this, ref] { runner_.Signal(ref, SIGKILL); });
  }

  void Heartbeat() {
    if (!connected_ || !ws_) return;
    TimeMs silent = clock_.Now() - last_from_head_;
    if (silent > std::max<TimeMs>(4 * heartbeat_ms_, 3000)) {
      spdlog::warn("no word from the head node for {} ms; reconnecting", silent);
      ws_->Close();
      return;
    }
    auto load = os::ReadLoad();
    protocol::Heartbeat hb{load.load1, load.memory_used_mb, static_cast<int>(runner_.Running().size())};
    ws_->Send(protocol::Encode(protocol::AgentMessage(hb)));
  }

  void ReapAndReport() {
    auto results = runner_.Reap();
    for (const auto& r : results) kill_timers_.erase(r.ref);
    SendResults(std::move(results));
  }

  void SendResults(std::vector<protocol::TaskResult> results) {
    if (results.empty() || !connected_ || !ws_) return;  // kept unacknowledged; sent with the next hello
    ws_->Send(protocol::Encode(protocol::AgentMessage(protocol::Results{std::move(results)})));
  }

  ComputeNodeConfig config_;
  Credentials creds_;
  SystemClock clock_;
  net::EventLoop loop_;
  std::unique_ptr<os::ProcessLauncher> launcher_;
  std::unique_ptr<os::CgroupSystem> cgroups_;
  std::vector<protocol::GpuInfo> gpus_;
  TaskRunner runner_;
  std::shared_ptr<net::WsClient> ws_;
  std::unique_ptr<net::Timer> heartbeat_timer_, reconnect_timer_, reap_timer_, home_timer_;
  std::map<protocol::TaskRef, std::unique_ptr<net::Timer>> kill_timers_;
  std::string hostname_;
  int cores_ = 0;
  int64_t memory_mb_ = 0;
  bool connected_ = false;
  int backoff_ms_ = 100;
  int heartbeat_ms_ = 1000;
  TimeMs last_from_head_ = 0;
  int exit_code_ = 0;
};

}  // namespace

int RunComputeNode(const ComputeNodeConfig& config) {
  ::signal(SIGPIPE, SIG_IGN);
  if (config.state_dir.empty() || config.head_url.empty()) {
    spdlog::critical("a compute node needs --state-dir and --head");
    return 1;
  }
  // 0711: tasks running as other users reach their scripts under it; every secret in it is 0600.
  if (Status st = os::MakeDirs(config.state_dir, 0711); !st.ok()) {
    spdlog::critical("{}", st.message());
    return 1;
  }
  auto creds = JoinOrLoad(config);
  if (!creds.ok()) {
    spdlog::critical("{}", creds.status().message());
    return creds.status().code() == StatusCode::kUnauthenticated ? 2 : 1;
  }
  ComputeNode node(config, std::move(*creds));
  return node.Run();
}

}  // namespace drover::agent
