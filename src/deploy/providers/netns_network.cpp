#include "deploy/providers/netns_network.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include <fmt/format.h>

#include "os/files.h"

namespace drover::deploy::netns {

namespace {

uint32_t Hash(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

// Runs `ip ARGS...`; the names and addresses passed are Drover's own (letters, digits, '-', '.').
Status Ip(const std::string& args, bool tolerate_failure = false) {
  std::string cmd = "ip " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return Unavailable("cannot run ip");
  std::string out;
  std::array<char, 512> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  if (tolerate_failure || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) return Status::Ok();
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return Unavailable(fmt::format("ip {}: {}", args, out));
}

bool Exists(const std::string& what) {
  return os::Exists(what);
}

}  // namespace

Status CheckPrivileges() {
  if (::geteuid() != 0) {
    return FailedPrecondition(
        "the netns provider needs root (it creates network namespaces, a bridge and veth pairs): run drover up as "
        "root, or use --provider local");
  }
  if (::access("/usr/sbin/ip", X_OK) != 0 && ::access("/sbin/ip", X_OK) != 0 && ::access("/usr/bin/ip", X_OK) != 0) {
    return FailedPrecondition("the netns provider needs the ip command (Debian package iproute2)");
  }
  return Status::Ok();
}

std::string BridgeName(const std::string& stack) { return fmt::format("dr{:08x}", Hash(stack)); }

std::string Address(const std::string& stack, int n) {
  int second = 64 + static_cast<int>(Hash(stack) % 128);
  return fmt::format("10.{}.{}.{}", second, n / 250, 1 + n % 250);
}

Status EnsureBridge(const std::string& stack) {
  RETURN_IF_ERROR(CheckPrivileges());
  std::string br = BridgeName(stack);
  if (!Exists("/sys/class/net/" + br)) {
    RETURN_IF_ERROR(Ip(fmt::format("link add {} type bridge", br)));
    RETURN_IF_ERROR(Ip(fmt::format("addr add {}/16 dev {}", Address(stack, 0), br)));
  }
  return Ip(fmt::format("link set {} up", br));
}

Status RemoveNetwork(const std::string& stack) {
  if (::geteuid() != 0) return Status::Ok();
  std::string prefix = fmt::format("drover-{}-", stack);
  for (const auto& ns : os::ListDir("/run/netns")) {
    if (ns.rfind(prefix, 0) == 0) RETURN_IF_ERROR(Ip("netns delete " + ns, true));
  }
  std::string br = BridgeName(stack);
  if (Exists("/sys/class/net/" + br)) RETURN_IF_ERROR(Ip(fmt::format("link delete {}", br)));
  return Status::Ok();
}

Status CreateHost(const std::string& stack, int n, Instance& instance) {
  RETURN_IF_ERROR(EnsureBridge(stack));
  instance.netns = fmt::format("drover-{}-{}", stack, instance.id);
  instance.link = fmt::format("dv{:06x}{}", Hash(stack) & 0xffffff, n);
  if (!Exists("/run/netns/" + instance.netns)) RETURN_IF_ERROR(Ip("netns add " + instance.netns));
  if (!Exists("/sys/class/net/" + instance.link)) {
    RETURN_IF_ERROR(Ip(fmt::format("link add {} type veth peer name eth0 netns {}", instance.link, instance.netns)));
  }
  RETURN_IF_ERROR(Ip(fmt::format("link set {} master {}", instance.link, BridgeName(stack))));
  RETURN_IF_ERROR(Ip(fmt::format("link set {} up", instance.link)));
  RETURN_IF_ERROR(Ip(fmt::format("-n {} addr replace {}/16 dev eth0", instance.netns, instance.address)));
  RETURN_IF_ERROR(Ip(fmt::format("-n {} link set eth0 up", instance.netns)));
  return Ip(fmt::format("-n {} link set lo up", instance.netns));
}

Status RemoveHost(const Instance& instance) {
  if (instance.netns.empty()) return Status::Ok();
  if (Exists("/sys/class/net/" + instance.link)) RETURN_IF_ERROR(Ip("link delete " + instance.link, true));
  if (Exists("/run/netns/" + instance.netns)) RETURN_IF_ERROR(Ip("netns delete " + instance.netns));
  return Status::Ok();
}

Status SetLink(const Instance& instance, bool up) {
  return Ip(fmt::format("link set {} {}", instance.link, up ? "up" : "down"));
}

std::vector<std::string> ExecPrefix(const Instance& instance) {
  if (instance.netns.empty()) return {};
  return {"/usr/sbin/ip", "netns", "exec", instance.netns};
}

}  // namespace drover::deploy::netns
