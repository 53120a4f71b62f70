#include "deploy/providers/netns_network.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "os/files.h"

namespace drover::deploy::netns {

namespace {

constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr size_t kMaxAlias = 255;         // IFALIASZ - 1

uint32_t Hash(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

std::string IpPath() {
  for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "ip";
}

// Runs `ip ARGS...` (no shell: names and paths are passed as they are); its output, or Unavailable
// with what it said.
Result<std::string> Ip(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return Unavailable("cannot run ip: pipe failed");
  std::string path = IpPath();
  std::vector<std::string> argv = {path};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return Unavailable("cannot run ip: fork failed");
  }
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    std::vector<char*> v;
    for (auto& a : argv) v.push_back(a.data());
    v.push_back(nullptr);
    ::execvp(v[0], v.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  std::array<char, 4096> buf;
  for (;;) {
    ssize_t n = ::read(out[0], buf.data(), buf.size());
    if (n > 0) {
      text.append(buf.data(), static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return text;
  std::string joined;
  for (const auto& a : args) joined += (joined.empty() ? "" : " ") + a;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return Unavailable(fmt::format("ip {}: {}", joined, text));
}

Status IpDo(const std::vector<std::string>& args) { return Ip(args).status(); }

bool LinkExists(const std::string& link) { return os::Exists("/sys/class/net/" + link); }
bool NamespaceExists(const std::string& ns) { return os::Exists("/run/netns/" + ns); }

// What marks a bridge or veth as the stack's: its alias.
std::string OwnerMark(const StackPaths& paths) { return ("drover " + paths.dir).substr(0, kMaxAlias); }

std::string Alias(const std::string& link) {
  auto text = os::ReadFile("/sys/class/net/" + link + "/ifalias");
  if (!text.ok()) return "";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

// Held while a stack picks its /16 and creates its bridge, so that two ups at once never pick the same.
class HostLock {
 public:
  HostLock() {
    (void)os::MakeDirs("/run/drover", 0755);
    fd_ = ::open("/run/drover/netns.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) (void)::flock(fd_, LOCK_EX);
  }
  ~HostLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  HostLock(const HostLock&) = delete;
  HostLock& operator=(const HostLock&) = delete;

 private:
  int fd_ = -1;
};

// The "10.x" prefixes some address or route of this machine already uses.
Result<std::set<std::string>> UsedSubnets() {
  std::set<std::string> used;
  ASSIGN_OR_RETURN(std::string addrs, Ip({"-o", "-4", "addr", "show"}));
  ASSIGN_OR_RETURN(std::string routes, Ip({"-4", "route", "show", "table", "all"}));
  std::istringstream words(addrs + "\n" + routes);
  for (std::string w; words >> w;) {
    if (w.rfind("10.", 0) != 0) continue;
    auto dot = w.find('.', 3);
    if (dot != std::string::npos) used.insert(w.substr(0, dot));
  }
  return used;
}

Status CreateBridge(const std::string& br, const std::string& subnet, const StackPaths& paths) {
  RETURN_IF_ERROR(IpDo({"link", "add", br, "type", "bridge"}));
  RETURN_IF_ERROR(IpDo({"link", "set", "dev", br, "alias", OwnerMark(paths)}));
  return IpDo({"addr", "add", Address(subnet, 0) + "/16", "dev", br});
}

// What the stack's namespaces were called before they carried its tag (stacks made by older
// versions): drover-<stack>-<instance>, on the bridge dr<hash of the name>, in 10.<64 + hash % 128>.
std::string LegacyBridge(const std::string& stack) { return fmt::format("dr{:08x}", Hash(stack)); }
std::string LegacySubnet(const std::string& stack) { return fmt::format("10.{}", 64 + Hash(stack) % 128); }

std::string NotOurs(const std::string& what, const std::string& name, const std::string& owner,
                    const StackPaths& paths, const std::string& stack) {
  if (owner == OwnerMark(paths)) {
    return fmt::format(
        "{} {} already exists and is marked as stack {}'s, but the stack's state does not record it: it was left "
        "by an earlier up whose state is lost. 'drover down --stack {}' removes what the stack left behind",
        what, name, stack, stack);
  }
  return fmt::format(
      "{} {} already exists and is not stack {}'s ({}); drover does not take it over. Remove it (ip {} delete {}) "
      "if nothing needs it",
      what, name, stack, owner.empty() ? "it carries no owner mark" : "its owner mark says '" + owner + "'",
      what == "network namespace" ? "netns" : "link", name);
}

// Kills what still runs in the namespace (daemons a lost state no longer names, their tasks), so
// that deleting it frees it.
void KillInside(const std::string& ns) {
  for (int round = 0; round < 50; ++round) {
    auto pids = Ip({"netns", "pids", ns});
    if (!pids.ok()) return;
    std::istringstream in(*pids);
    bool any = false;
    for (pid_t pid; in >> pid;) {
      if (pid > 1) {
        ::kill(pid, SIGKILL);
        any = true;
      }
    }
    if (!any) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

Status CheckPrivileges() {
  if (::geteuid() != 0) {
    return FailedPrecondition(
        "the netns provider needs root (it creates network namespaces, a bridge and veth pairs): run drover up as "
        "root, or use --provider local");
  }
  if (IpPath() == "ip") return FailedPrecondition("the netns provider needs the ip command (Debian package iproute2)");
  return Status::Ok();
}

std::string BridgeName(const StackPaths& paths) { return "dr" + paths.tag; }

std::string NamespacePrefix(const std::string& stack, const StackPaths& paths) {
  return fmt::format("drover-{}.{}-", stack, paths.tag);  // '.' is in no stack name: prefixes never overlap
}

std::string Address(const std::string& subnet, int n) { return fmt::format("{}.{}.{}", subnet, n / 250, 1 + n % 250); }

Status EnsureNetwork(const StackPaths& paths, StackState& state) {
  RETURN_IF_ERROR(CheckPrivileges());
  HostLock lock;
  if (state.bridge.empty()) {
    bool legacy = false;  // instances named before names carried the stack's tag
    std::string prefix = NamespacePrefix(state.name, paths);
    for (const auto& [_, r] : state.resources) {
      for (const auto& i : r.instances) legacy = legacy || (!i.netns.empty() && i.netns.rfind(prefix, 0) != 0);
    }
    if (legacy) {  // instances of an older version run on the bridge named after the stack alone
      state.bridge = LegacyBridge(state.name);
      state.subnet = LegacySubnet(state.name);
    } else {
      std::string br = BridgeName(paths);
      if (LinkExists(br)) return FailedPrecondition(NotOurs("network bridge", br, Alias(br), paths, state.name));
      ASSIGN_OR_RETURN(auto used, UsedSubnets());
      std::string subnet;
      for (uint32_t k = 0; k < 128 && subnet.empty(); ++k) {
        std::string candidate = fmt::format("10.{}", 64 + (Hash(paths.tag) + k) % 128);
        if (!used.count(candidate)) subnet = candidate;
      }
      if (subnet.empty()) return FailedPrecondition("no free 10.x.0.0/16 (x from 64 to 191) is left on this machine");
      RETURN_IF_ERROR(CreateBridge(br, subnet, paths));
      state.bridge = br;
      state.subnet = subnet;
    }
  }
  if (!LinkExists(state.bridge)) {
    RETURN_IF_ERROR(CreateBridge(state.bridge, state.subnet, paths));  // after a reboot, say
  } else if (std::string owner = Alias(state.bridge); owner.empty()) {
    RETURN_IF_ERROR(IpDo({"link", "set", "dev", state.bridge, "alias", OwnerMark(paths)}));  // an older version's
  } else if (owner != OwnerMark(paths)) {
    return FailedPrecondition(NotOurs("network bridge", state.bridge, owner, paths, state.name));
  }
  return IpDo({"link", "set", state.bridge, "up"});
}

Result<std::vector<std::string>> RemoveNetwork(const StackPaths& paths, const std::string& stack, StackState& state) {
  std::vector<std::string> removed;
  if (::geteuid() != 0) return removed;
  std::string mark = OwnerMark(paths);
  std::set<std::string> namespaces, links;
  for (const auto& [_, r] : state.resources) {
    for (const auto& i : r.instances) {
      if (!i.netns.empty()) namespaces.insert(i.netns);
      if (!i.link.empty()) links.insert(i.link);
    }
  }
  std::string prefix = NamespacePrefix(stack, paths);
  for (const auto& ns : os::ListDir("/run/netns")) {
    if (ns.rfind(prefix, 0) == 0) namespaces.insert(ns);
  }
  std::string veth_prefix = "dv" + paths.tag;
  for (const auto& link : os::ListDir("/sys/class/net")) {
    if (link.rfind(veth_prefix, 0) == 0 && Alias(link) == mark) links.insert(link);
  }
  for (const auto& ns : namespaces) {
    if (!NamespaceExists(ns)) continue;
    KillInside(ns);
    RETURN_IF_ERROR(IpDo({"netns", "delete", ns}));
    removed.push_back("network namespace " + ns);
  }
  for (const auto& link : links) {
    if (!LinkExists(link)) continue;  // went with its namespace
    // The kernel removes a veth whose peer's namespace was deleted a moment later, so it may go
    // between the look and the delete: gone is what was wanted.
    if (Status st = IpDo({"link", "delete", link}); !st.ok()) {
      if (LinkExists(link)) return st;
      continue;
    }
    removed.push_back("veth " + link);
  }
  std::set<std::string> bridges = {BridgeName(paths)};
  if (!state.bridge.empty()) bridges.insert(state.bridge);
  for (const auto& br : bridges) {
    if (!LinkExists(br)) continue;
    std::string owner = Alias(br);
    bool mine = owner == mark || (owner.empty() && br == state.bridge);  // unmarked: an older version's
    if (!mine) continue;  // not the stack's: left alone
    RETURN_IF_ERROR(IpDo({"link", "delete", br}));
    removed.push_back("bridge " + br);
  }
  state.bridge.clear();
  state.subnet.clear();
  return removed;
}

Status CreateHost(const StackPaths& paths, const StackState& state, int n, Instance& instance) {
  if (state.bridge.empty()) return Internal("the stack has no network yet");
  std::string ns = NamespacePrefix(state.name, paths) + instance.id;
  std::string link = fmt::format("dv{}{:x}", paths.tag, n);
  if (link.size() > kMaxInterfaceName) {
    return FailedPrecondition(fmt::format("stack {} has used up its veth names ({} instances)", state.name, n));
  }
  if (NamespaceExists(ns)) return FailedPrecondition(NotOurs("network namespace", ns, "", paths, state.name));
  if (LinkExists(link)) return FailedPrecondition(NotOurs("veth", link, Alias(link), paths, state.name));
  RETURN_IF_ERROR(IpDo({"netns", "add", ns}));
  instance.netns = ns;
  instance.link = link;
  Status st = [&]() -> Status {
    RETURN_IF_ERROR(IpDo({"link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns}));
    RETURN_IF_ERROR(IpDo({"link", "set", "dev", link, "alias", OwnerMark(paths)}));
    RETURN_IF_ERROR(IpDo({"link", "set", link, "master", state.bridge}));
    RETURN_IF_ERROR(IpDo({"link", "set", link, "up"}));
    RETURN_IF_ERROR(IpDo({"-n", ns, "addr", "replace", instance.address + "/16", "dev", "eth0"}));
    RETURN_IF_ERROR(IpDo({"-n", ns, "link", "set", "eth0", "up"}));
    return IpDo({"-n", ns, "link", "set", "lo", "up"});
  }();
  if (!st.ok()) (void)RemoveHost(instance);
  return st;
}

Status RemoveHost(const Instance& instance) {
  if (instance.netns.empty()) return Status::Ok();
  if (LinkExists(instance.link)) (void)IpDo({"link", "delete", instance.link});
  if (NamespaceExists(instance.netns)) {
    KillInside(instance.netns);
    RETURN_IF_ERROR(IpDo({"netns", "delete", instance.netns}));
  }
  return Status::Ok();
}

Status SetLink(const Instance& instance, bool up) { return IpDo({"link", "set", instance.link, up ? "up" : "down"}); }

std::vector<std::string> ExecPrefix(const Instance& instance) {
  if (instance.netns.empty()) return {};
  return {IpPath(), "netns", "exec", instance.netns};
}

}  // namespace drover::deploy::netns
