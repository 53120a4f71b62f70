#include "deploy/local_cluster.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/context.h"
#include "common/codec.h"
#include "net/https_client.h"
#include "os/daemon.h"
#include "os/files.h"
#include "secrets/secret_store.h"

namespace drover::deploy {
namespace json = boost::json;

namespace {

struct Shape {
  int port = 0;
  std::vector<std::string> nodes;
  int cores_per_node = 0;
  int heartbeat_timeout_ms = 10000;
};

Result<int> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Unavailable("cannot find a free port on 127.0.0.1");
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

Result<Shape> LoadOrCreateShape(const std::string& path, const LocalClusterOptions& o) {
  Shape s;
  if (auto text = os::ReadFile(path); text.ok()) {
    ASSIGN_OR_RETURN(auto v, ParseJson(*text));
    if (!v.is_object()) return DataLoss(fmt::format("{} is not a JSON object", path));
    const auto& obj = v.as_object();
    try {
      s.port = static_cast<int>(obj.at("port").to_number<int64_t>());
      for (const auto& n : obj.at("nodes").as_array()) s.nodes.emplace_back(n.as_string());
      s.cores_per_node = static_cast<int>(obj.at("cores_per_node").to_number<int64_t>());
      if (auto* hb = obj.if_contains("heartbeat_timeout_ms")) {
        s.heartbeat_timeout_ms = static_cast<int>(hb->to_number<int64_t>());
      }
    } catch (const std::exception& e) {
      return DataLoss(fmt::format("{} is malformed: {}", path, e.what()));
    }
    return s;
  }
  ASSIGN_OR_RETURN(s.port, FreeLoopbackPort());
  for (int i = 1; i <= o.nodes; ++i) s.nodes.push_back(fmt::format("node{:02}", i));
  s.cores_per_node = o.cores_per_node;
  s.heartbeat_timeout_ms = o.heartbeat_timeout_ms;
  json::array nodes;
  for (const auto& n : s.nodes) nodes.emplace_back(n);
  json::object obj{{"port", s.port},
                   {"nodes", std::move(nodes)},
                   {"cores_per_node", s.cores_per_node},
                   {"heartbeat_timeout_ms", s.heartbeat_timeout_ms}};
  RETURN_IF_ERROR(os::WriteFileAtomic(path, json::serialize(obj) + "\n"));
  return s;
}

using SteadyClock = std::chrono::steady_clock;

// Polls `check` until it returns OK or the deadline passes; returns the last error.
Status WaitFor(int timeout_ms, const std::function<Status()>& check) {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  Status last;
  for (;;) {
    last = check();
    if (last.ok() || SteadyClock::now() >= deadline) return last;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

Status LocalUp(const LocalClusterOptions& o, const std::function<void(const std::string&)>& progress) {
  auto started = SteadyClock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(SteadyClock::now() - started).count(); };
  std::string local = os::JoinPath(o.home, "local");
  std::string head_dir = os::JoinPath(local, "head");
  RETURN_IF_ERROR(os::MakeDirs(head_dir, 0700));
  ASSIGN_OR_RETURN(Shape shape, LoadOrCreateShape(os::JoinPath(local, "cluster.json"), o));
  std::string exe = os::SelfExe();

  std::string head_pid = os::JoinPath(head_dir, "headnode.pid");
  if (pid_t pid = os::RunningDaemon(head_pid, "headnode")) {
    progress(fmt::format("[{:6.2f}s] head node already running (pid {})", elapsed(), pid));
  } else {
    (void)os::RemoveFile(os::JoinPath(head_dir, "headnode.url"));
    std::vector<std::string> argv = {exe,
                                     "headnode",
                                     "--state-dir",
                                     head_dir,
                                     "--port",
                                     std::to_string(shape.port),
                                     "--cluster-name",
                                     "local",
                                     "--auto-approve",
                                     "--heartbeat-timeout-ms",
                                     std::to_string(shape.heartbeat_timeout_ms),
                                     "--secrets-dir",
                                     os::JoinPath(o.home, "secrets"),
                                     "--secrets-key-file",
                                     os::JoinPath(o.home, "secrets.key")};
    ASSIGN_OR_RETURN(pid_t started_pid, os::SpawnDaemon(argv, os::JoinPath(head_dir, "headnode.log"), head_pid));
    progress(fmt::format("[{:6.2f}s] head node starting (pid {})", elapsed(), started_pid));
  }

  std::string url = fmt::format("https://127.0.0.1:{}", shape.port);
  cli::Context ctx{url, os::JoinPath(head_dir, "pki/ca.crt"), os::JoinPath(head_dir, "pki/admin.crt"),
                   os::JoinPath(head_dir, "pki/admin.key")};
  Status ready = WaitFor(o.wait_timeout_ms, [&]() -> Status {
    if (!os::RunningDaemon(head_pid, "headnode")) {
      return Unavailable(fmt::format("the head node exited; see {}", os::JoinPath(head_dir, "headnode.log")));
    }
    if (!os::Exists(os::JoinPath(head_dir, "headnode.url"))) return Unavailable("head node not listening yet");
    ASSIGN_OR_RETURN(auto client, cli::Connect(ctx));
    ASSIGN_OR_RETURN(auto resp, client->Request("GET", "/healthz", "", 2000));
    return resp.status == 200 ? Status::Ok() : Unavailable("head node not healthy yet");
  });
  if (!ready.ok()) return ready.WithContext("the head node did not become ready");
  RETURN_IF_ERROR(cli::SaveContext(os::JoinPath(o.home, "context.json"), ctx));
  progress(fmt::format("[{:6.2f}s] head node ready at {}", elapsed(), url));

  std::unique_ptr<secrets::SecretStore> secrets;
  for (const auto& name : shape.nodes) {
    std::string dir = os::JoinPath(local, "nodes/" + name);
    RETURN_IF_ERROR(os::MakeDirs(dir, 0700));
    std::string pid_file = os::JoinPath(dir, "computenode.pid");
    if (pid_t pid = os::RunningDaemon(pid_file, "computenode")) {
      progress(fmt::format("[{:6.2f}s] compute node {} already running (pid {})", elapsed(), name, pid));
      continue;
    }
    std::vector<std::string> argv = {exe, "computenode", "--state-dir", dir, "--head", url, "--name", name,
                                     "--ca-file", ctx.ca_path};
    // A node that has not joined yet gets the join token on its standard input.
    std::string token;
    if (!os::Exists(os::JoinPath(dir, "node.crt"))) {
      if (!secrets) {
        ASSIGN_OR_RETURN(secrets, secrets::OpenWithKeyFile(os::JoinPath(o.home, "secrets"),
                                                           os::JoinPath(o.home, "secrets.key")));
      }
      ASSIGN_OR_RETURN(token, secrets->Get("/drover/join-token"));
      argv.push_back("--token-file");
      argv.push_back("-");
    }
    if (shape.cores_per_node > 0) {
      argv.push_back("--cores");
      argv.push_back(std::to_string(shape.cores_per_node));
    }
    ASSIGN_OR_RETURN(pid_t started_pid,
                     os::SpawnDaemon(argv, os::JoinPath(dir, "computenode.log"), pid_file, token.empty() ? "" : token + "\n"));
    progress(fmt::format("[{:6.2f}s] compute node {} starting (pid {})", elapsed(), name, started_pid));
  }

  ASSIGN_OR_RETURN(auto client, cli::Connect(ctx));
  size_t last_online = SIZE_MAX;
  Status online = WaitFor(o.wait_timeout_ms, [&]() -> Status {
    ASSIGN_OR_RETURN(auto resp, client->Request("GET", "/api/v1/nodes", "", 5000));
    if (resp.status != 200) return net::StatusFromErrorResponse(resp);
    ASSIGN_OR_RETURN(auto v, ParseJson(resp.body));
    size_t count = 0;
    for (const auto& n : v.at("nodes").as_array()) {
      const auto& obj = n.as_object();
      std::string name(obj.at("name").as_string());
      if (std::find(shape.nodes.begin(), shape.nodes.end(), name) == shape.nodes.end()) continue;
      if (obj.at("state") == "Online" && obj.at("connected").as_bool() && obj.at("health") == "OK") ++count;
    }
    if (count != last_online) {
      progress(fmt::format("[{:6.2f}s] {}/{} compute nodes Online", elapsed(), count, shape.nodes.size()));
      last_online = count;
    }
    for (const auto& name : shape.nodes) {
      std::string dir = os::JoinPath(local, "nodes/" + name);
      if (!os::RunningDaemon(os::JoinPath(dir, "computenode.pid"), "computenode")) {
        return FailedPrecondition(
            fmt::format("compute node {} exited; see {}", name, os::JoinPath(dir, "computenode.log")));
      }
    }
    return count == shape.nodes.size() ? Status::Ok() : Unavailable("waiting for nodes");
  });
  if (!online.ok()) return online.WithContext("the compute nodes did not come Online");
  progress(fmt::format("[{:6.2f}s] cluster ready: head node {} and {} compute nodes Online", elapsed(), url,
                       shape.nodes.size()));
  return Status::Ok();
}

Status LocalDown(const std::string& home, bool purge, const std::function<void(const std::string&)>& progress) {
  std::string local = os::JoinPath(home, "local");
  for (const auto& name : os::ListDir(os::JoinPath(local, "nodes"))) {
    std::string pid_file = os::JoinPath(local, "nodes/" + name + "/computenode.pid");
    if (os::RunningDaemon(pid_file, "computenode")) progress(fmt::format("stopping compute node {}", name));
    RETURN_IF_ERROR(os::StopDaemon(pid_file, "computenode", 10000));
  }
  std::string head_pid = os::JoinPath(local, "head/headnode.pid");
  if (os::RunningDaemon(head_pid, "headnode")) progress("stopping head node");
  RETURN_IF_ERROR(os::StopDaemon(head_pid, "headnode", 10000));
  if (purge) {
    std::error_code ec;
    std::filesystem::remove_all(local, ec);
    if (ec) return Unavailable(fmt::format("cannot remove {}: {}", local, ec.message()));
    (void)os::RemoveFile(os::JoinPath(home, "context.json"));
    progress(fmt::format("removed {}", local));
  }
  return Status::Ok();
}

}  // namespace drover::deploy
