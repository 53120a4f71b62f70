// Drover::HeadNode on the local provider: `drover headnode` as a daemon on the instance's own
// loopback address. Its state directory (certificates, local socket) belongs to the resource, so a
// replacement instance takes it over; the stores belong to the Drover::Database it names.
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "cli/context.h"
#include "deploy/providers/basic_providers.h"
#include "deploy/providers/local_instance.h"
#include "os/daemon.h"
#include "os/files.h"

namespace drover::deploy {
namespace json = boost::json;

namespace {

constexpr int kDefaultReadyTimeoutMs = 60000;

Result<int> FreePort(const std::string& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Unavailable(fmt::format("cannot find a free port on {}", address));
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string StateDir(const ResourceOp& op) { return os::JoinPath(op.stack.paths().ResourceDir(op.name), "state"); }

int ReadyTimeout(const ResourceOp& op) {
  return op.creation_policy && op.creation_policy->timeout_ms > 0 ? static_cast<int>(op.creation_policy->timeout_ms)
                                                                 : kDefaultReadyTimeoutMs;
}

// Starts one instance on `port` and waits until it answers /healthz. Sets the resource's attributes.
Status StartInstance(ResourceOp& op, int port, int timeout_ms) {
  std::string database = StringProp(op.properties, "Database");
  ASSIGN_OR_RETURN(auto db, op.stack.Attributes(database));
  std::string db_path = StringProp(db, "Endpoint");
  if (db_path.empty()) return FailedPrecondition(fmt::format("{}: database {} is not ready", op.name, database));

  ASSIGN_OR_RETURN(Instance instance, op.stack.NewInstance(op.name, "head"));
  std::string state = StateDir(op);
  RETURN_IF_ERROR(os::MakeDirs(state, 0700));
  std::string dns = StringProp(op.properties, "DnsName");
  std::map<std::string, std::string> env{{"DROVER_STACK", op.stack.stack()},
                                         {"DROVER_RESOURCE", op.name},
                                         {"DROVER_INSTANCE", instance.id},
                                         {"DROVER_ADDRESS", instance.address},
                                         {"DROVER_STATE_DIR", state}};
  op.stack.WithState([&](StackState& s) { s.Find(op.name)->instances = {instance}; });
  if (std::string script = StringProp(op.properties, "BootScript"); !script.empty()) {
    ASSIGN_OR_RETURN(std::string resolved, op.stack.ResolveSecrets(script));
    RETURN_IF_ERROR(RunBootScript(instance, resolved, env, timeout_ms));
  }
  if (port == 0 && op.stack.provider() == "netns") port = 8443;  // a host of its own: the usual port is free
  if (port == 0) {
    ASSIGN_OR_RETURN(port, FreePort(instance.address));
  }
  std::vector<std::string> argv = {os::SelfExe(), "headnode",
                                   "--state-dir", state,
                                   "--database-dir", db_path,
                                   "--bind", instance.address,
                                   "--port", std::to_string(port),
                                   "--cluster-name", StringProp(op.properties, "ClusterName"),
                                   "--secrets-dir", os::JoinPath(op.stack.home(), "secrets"),
                                   "--secrets-key-file", os::JoinPath(op.stack.home(), "secrets.key"),
                                   "--heartbeat-timeout-ms",
                                   std::to_string(IntProp(op.properties, "HeartbeatTimeoutMs", 10000))};
  if (!dns.empty()) argv.insert(argv.end(), {"--dns-name", dns});
  if (BoolProp(op.properties, "AutoApprove", true)) argv.push_back("--auto-approve");
  (void)os::RemoveFile(os::JoinPath(state, "headnode.url"));
  ASSIGN_OR_RETURN(pid_t pid, op.stack.SpawnDaemon(instance, argv, DaemonLog(instance), PidFile(instance)));
  op.stack.Event(op.name, op.stack.WithState([&](StackState& s) { return s.Find(op.name)->status; }),
                 fmt::format("instance {} starting at {}:{} (pid {})", instance.id, instance.address, port, pid));

  std::string admin_url = fmt::format("https://{}:{}", instance.address, port);
  json::object attributes{{"Ref", op.name},
                          {"Address", instance.address},
                          {"Port", port},
                          {"Url", fmt::format("https://{}:{}", dns.empty() ? instance.address : dns, port)},
                          {"AdminUrl", admin_url},
                          {"Name", dns.empty() ? instance.address : dns},
                          {"CaFile", os::JoinPath(state, "pki/ca.crt")},
                          {"CertFile", os::JoinPath(state, "pki/admin.crt")},
                          {"KeyFile", os::JoinPath(state, "pki/admin.key")},
                          {"Socket", os::JoinPath(state, "headnode.sock")}};
  op.stack.WithState([&](StackState& s) { s.Find(op.name)->attributes = attributes; });

  Status ready = WaitUntil(timeout_ms, [&]() -> Status {
    if (!os::RunningDaemon(PidFile(instance), "headnode")) {
      return FailedPrecondition(fmt::format("head node instance {} exited; see {}", instance.id, DaemonLog(instance)));
    }
    if (!os::Exists(os::JoinPath(state, "headnode.url"))) return Unavailable("not listening yet");
    ASSIGN_OR_RETURN(auto client, HeadClient(op.stack, op.name));
    ASSIGN_OR_RETURN(auto resp, client->Request("GET", "/healthz", "", 2000));
    return resp.status == 200 ? Status::Ok() : Unavailable("not healthy yet");
  });
  if (!ready.ok()) {
    (void)os::StopDaemon(PidFile(instance), "headnode", 5000);
    return ready.code() == StatusCode::kUnavailable
               ? FailedPrecondition(fmt::format("head node instance {} did not signal ready within {} ms ({}); see {}",
                                                instance.id, timeout_ms, ready.message(), DaemonLog(instance)))
               : ready;
  }
  // The CLI on this machine talks to the stack's head node by its stable name.
  cli::Context ctx{StringProp(attributes, "Url"), StringProp(attributes, "CaFile"), StringProp(attributes, "CertFile"),
                   StringProp(attributes, "KeyFile")};
  ctx.hosts_file = op.stack.paths().Hosts();
  return cli::SaveContext(os::JoinPath(op.stack.home(), "context.json"), ctx);
}

Status StopInstances(ResourceOp& op) {
  auto instances = op.stack.WithState([&](StackState& s) { return s.Find(op.name)->instances; });
  for (const auto& i : instances) RETURN_IF_ERROR(os::StopDaemon(PidFile(i), "headnode", 10000));
  return Status::Ok();
}

}  // namespace

Diff HeadNodeProvider::Compare(const json::object& applied, const json::object& desired) const {
  return CompareProperties(applied, desired, {"BootScript"});
}

Status HeadNodeProvider::Create(ResourceOp& op) {
  RETURN_IF_ERROR(StopInstances(op));  // leftovers of a failed attempt
  return StartInstance(op, static_cast<int>(IntProp(op.properties, "Port", 0)), ReadyTimeout(op));
}

Status HeadNodeProvider::Delete(ResourceOp& op, bool retain) {
  RETURN_IF_ERROR(StopInstances(op));
  auto instances = op.stack.WithState([&](StackState& s) {
    ResourceState* r = s.Find(op.name);
    auto out = r->instances;
    r->instances.clear();
    r->attributes = json::object{};
    return out;
  });
  std::error_code ec;
  for (const auto& i : instances) {
    RETURN_IF_ERROR(op.stack.ReleaseInstance(i));
    std::filesystem::remove_all(i.dir, ec);
  }
  if (!retain) std::filesystem::remove_all(op.stack.paths().ResourceDir(op.name), ec);
  std::string context = os::JoinPath(op.stack.home(), "context.json");
  (void)os::RemoveFile(context);
  return Status::Ok();
}

Result<bool> HeadNodeProvider::Repair(ResourceOp& op) {
  auto [instances, port] = op.stack.WithState([&](StackState& s) {
    ResourceState* r = s.Find(op.name);
    return std::make_pair(r->instances, IntProp(r->attributes, "Port", 0));
  });
  if (instances.empty() || os::RunningDaemon(PidFile(instances.front()), "headnode")) return false;
  op.stack.Event(op.name, "UPDATE_IN_PROGRESS",
                 fmt::format("instance {} is gone; replacing it", instances.front().id));
  Status st = StartInstance(op, static_cast<int>(port), kDefaultReadyTimeoutMs);
  if (!st.ok()) {
    op.stack.Event(op.name, "UPDATE_FAILED", st.message());
    return st;
  }
  (void)op.stack.ReleaseInstance(instances.front());
  auto now = op.stack.WithState([&](StackState& s) { return s.Find(op.name)->instances.front(); });
  op.stack.Event(op.name, "UPDATE_COMPLETE",
                 fmt::format("replaced {} by {} at {}", instances.front().id, now.id, now.address));
  return true;
}

}  // namespace drover::deploy
