// Drover::HeadNode on the local provider: `drover headnode` as a daemon on the instance's own
// loopback address. Its state directory (certificates, local socket) belongs to the resource, so a
// replacement instance takes it over; the stores belong to the Drover::Database it names.
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "common/codec.h"
#include "deploy/providers/basic_providers.h"
#include "deploy/providers/local_instance.h"
#include "head/credentials.h"
#include "net/cluster_context.h"
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
  std::string endpoint = StringProp(db, "Endpoint");
  if (endpoint.empty()) return FailedPrecondition(fmt::format("{}: database {} is not ready", op.name, database));
  // SQLite: the stores' directory; PostgreSQL: the server's URL, the password read by name from the
  // secret store by the head node itself.
  std::vector<std::string> database_args = {"--database-dir", endpoint};
  if (StringProp(db, "Engine") == "postgresql") {
    database_args = {"--database", endpoint, "--database-password-secret", StringProp(db, "PasswordSecret")};
  }

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
                                   "--bind", instance.address,
                                   "--port", std::to_string(port),
                                   "--cluster-name", StringProp(op.properties, "ClusterName"),
                                   "--secrets-dir", os::JoinPath(op.stack.home(), "secrets"),
                                   "--secrets-key-file", os::JoinPath(op.stack.home(), "secrets.key"),
                                   "--secret-prefix", head::StackSecretPrefix(op.stack.stack()),
                                   "--heartbeat-timeout-ms",
                                   std::to_string(IntProp(op.properties, "HeartbeatTimeoutMs", 10000))};
  argv.insert(argv.end(), database_args.begin(), database_args.end());
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
  // The CLI on this machine talks to the stack's head node by its stable name: the stack's own
  // context, which `up` makes the current one when it succeeds; a replaced head node refreshes the
  // current context only when it is this stack's (another stack may have been brought up since).
  net::ClusterContext ctx{StringProp(attributes, "Url"), StringProp(attributes, "CaFile"),
                          StringProp(attributes, "CertFile"), StringProp(attributes, "KeyFile")};
  ctx.hosts_file = op.stack.paths().Hosts();
  ctx.stack = op.stack.stack();
  RETURN_IF_ERROR(net::SaveClusterContext(op.stack.paths().Context(), ctx));
  std::string current = net::CurrentStack(op.stack.home());
  if (current == op.stack.stack() || !os::Exists(net::CurrentContextPath(op.stack.home()))) {
    return net::SaveClusterContext(net::CurrentContextPath(op.stack.home()), ctx);
  }
  return Status::Ok();
}

struct MemberSpec {
  std::string name;
  std::string role;
};

Result<std::vector<MemberSpec>> MembersOf(const ResourceOp& op, const json::object& props) {
  std::vector<MemberSpec> out;
  auto* list = props.if_contains("Members");
  if (!list || !list->is_array()) return out;
  for (const auto& m : list->as_array()) {
    if (!m.is_object()) return InvalidArgument(fmt::format("{}: each of Members is {{Name, Role}}", op.name));
    MemberSpec spec{StringProp(m.as_object(), "Name"), StringProp(m.as_object(), "Role", "User")};
    if (spec.name.empty()) return InvalidArgument(fmt::format("{}: a member needs a Name", op.name));
    out.push_back(std::move(spec));
  }
  return out;
}

// Runs `drover ARGS...` (this binary) in `dir` with `env` added; output appended to `log`.
Status RunDrover(const std::vector<std::string>& args, const std::string& dir,
                 const std::map<std::string, std::string>& env, const std::string& log) {
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (out < 0) return Unavailable(fmt::format("cannot open {}", log));
  std::vector<std::string> argv = {os::SelfExe()};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::unsetenv("DROVER_CREDENTIALS");
    std::vector<char*> v;
    for (auto& a : argv) v.push_back(a.data());
    v.push_back(nullptr);
    ::execv(v[0], v.data());
    ::_exit(127);
  }
  ::close(out);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return FailedPrecondition(fmt::format("drover {} failed; see {}", args.empty() ? "" : args[0], log));
}

// Makes the head node's members those the template names (with their roles), adding what is missing
// and removing only members an earlier version of the template declared. `drover member add` issues
// each credential: into the member's ~/.drover/credentials when it is a user of this machine, else
// into resources/<HeadNode>/members/<name>-credentials.
Status EnsureMembers(ResourceOp& op) {
  ASSIGN_OR_RETURN(auto wanted, MembersOf(op, op.properties));
  ASSIGN_OR_RETURN(auto before, MembersOf(op, op.old_properties));
  if (wanted.empty() && before.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto client, HeadClient(op.stack, op.name));
  ASSIGN_OR_RETURN(auto resp, client->Request("GET", "/api/v1/members", "", 10000));
  if (resp.status != 200) return net::StatusFromErrorResponse(resp).WithContext(op.name);
  ASSIGN_OR_RETURN(auto v, ParseJson(resp.body));
  std::map<std::string, std::string> existing;
  for (const auto& m : v.at("members").as_array()) {
    existing[std::string(m.at("name").as_string())] = std::string(m.at("role").as_string());
  }
  std::string dir = os::JoinPath(op.stack.paths().ResourceDir(op.name), "members");
  RETURN_IF_ERROR(os::MakeDirs(dir, 0700));
  std::string log = os::JoinPath(dir, "members.log");
  // As root through the head node's own socket (its name may not resolve yet: the DNS record comes
  // after the head node), writing its network URL into each credential.
  ASSIGN_OR_RETURN(auto attributes, op.stack.Attributes(op.name));
  std::map<std::string, std::string> env{{"DROVER_HOME", op.stack.home()},
                                         {"DROVER_SOCKET", StringProp(attributes, "Socket")},
                                         {"DROVER_URL", StringProp(attributes, "Url")},
                                         {"DROVER_HOSTS_FILE", op.stack.paths().Hosts()}};
  for (const auto& m : before) {
    bool still = false;
    for (const auto& w : wanted) still = still || w.name == m.name;
    if (!still && existing.count(m.name)) {
      RETURN_IF_ERROR(RunDrover({"member", "remove", m.name}, dir, env, log));
      op.stack.Progress(op.name, fmt::format("member {} removed", m.name));
    }
  }
  for (const auto& m : wanted) {
    auto it = existing.find(m.name);
    if (it != existing.end() && it->second == m.role) continue;
    if (it != existing.end()) RETURN_IF_ERROR(RunDrover({"member", "remove", m.name}, dir, env, log));
    RETURN_IF_ERROR(RunDrover({"member", "add", m.name, "--role", m.role}, dir, env, log));
    op.stack.Progress(op.name, fmt::format("member {} added as {}", m.name, m.role));
  }
  return Status::Ok();
}

Status StopInstances(ResourceOp& op) {
  auto instances = op.stack.WithState([&](StackState& s) { return s.Find(op.name)->instances; });
  for (const auto& i : instances) RETURN_IF_ERROR(os::StopDaemon(PidFile(i), "headnode", 10000));
  return Status::Ok();
}

}  // namespace

Diff HeadNodeProvider::Compare(const json::object& applied, const json::object& desired) const {
  return CompareProperties(applied, desired, {"BootScript", "Members"});
}

Status HeadNodeProvider::Create(ResourceOp& op) {
  RETURN_IF_ERROR(StopInstances(op));  // leftovers of a failed attempt
  RETURN_IF_ERROR(StartInstance(op, static_cast<int>(IntProp(op.properties, "Port", 0)), ReadyTimeout(op)));
  return EnsureMembers(op);
}

Status HeadNodeProvider::Update(ResourceOp& op) { return EnsureMembers(op); }

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
    op.stack.RemoveInstanceDir(i);
  }
  if (!retain) std::filesystem::remove_all(op.stack.paths().ResourceDir(op.name), ec);
  // The current context goes with it only when it is this stack's (or, written before contexts named
  // their stack, when it points into this stack's directory).
  (void)os::RemoveFile(op.stack.paths().Context());
  std::string current = net::CurrentContextPath(op.stack.home());
  if (auto c = net::ReadClusterContext(current); c.ok()) {
    bool mine = c->stack.empty() ? c->ca_path.rfind(op.stack.paths().dir + "/", 0) == 0 : c->stack == op.stack.stack();
    if (mine) (void)os::RemoveFile(current);
  }
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
