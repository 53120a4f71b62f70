#include "os/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "os/files.h"

namespace drover::os {
namespace {

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Control files are written with one write(), as the kernel expects. O_CREAT lets the same code
// fill a fake tree; on a real cgroup filesystem only existing files can be opened.
Status WriteValue(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Unavailable(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return Unavailable(fmt::format("cannot write '{}' to {}: {}", value, path, std::strerror(err)));
  }
  return Status::Ok();
}

// The first number in a control file, or -1 when it is missing or holds none ("max").
int64_t ReadNumber(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return -1;
  char* end = nullptr;
  long long v = std::strtoll(text->c_str(), &end, 10);
  return end == text->c_str() ? -1 : v;
}

// The value of `key` in a "key value" per line file (memory.events, cpu.stat, memory.oom_control).
int64_t ReadKey(const std::string& path, const std::string& key) {
  auto text = ReadFile(path);
  if (!text.ok()) return -1;
  std::istringstream in(*text);
  std::string k;
  long long v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return -1;
}

std::vector<int> ReadPids(const std::string& procs) {
  std::vector<int> out;
  auto text = ReadFile(procs);
  if (!text.ok()) return out;
  std::istringstream in(*text);
  int pid;
  while (in >> pid) out.push_back(pid);
  return out;
}

Status MakeGroupDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) return Status::Ok();
  return Unavailable(fmt::format("cannot create cgroup {}: {}", path, std::strerror(errno)));
}

// The parent and its own parent, when something removed them since the agent started.
Status MakeParent(const std::string& parent) {
  auto slash = parent.rfind('/');
  if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(MakeGroupDir(parent.substr(0, slash)));
  return MakeGroupDir(parent);
}

Status RemoveGroupDir(const std::string& path) {
  if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
  return Unavailable(fmt::format("cannot remove cgroup {}: {}", path, std::strerror(errno)));
}

void KillPids(const std::vector<int>& pids) {
  for (int pid : pids) {
    if (pid > 1) ::kill(pid, SIGKILL);
  }
}

// ---------------------------------------------------------------------------------------------
// v1: one directory per controller hierarchy.

struct V1Layout {
  std::string memory, cpu, cpuacct, pids, freezer;  // the parent drover/<node> in each; empty: absent
  bool memsw = false;                               // swap accounting (memory.memsw.*) is on
};

class V1TaskCgroup final : public TaskCgroup {
 public:
  V1TaskCgroup(const V1Layout& parent, const std::string& name) {
    auto at = [&](const std::string& p) { return p.empty() ? std::string() : JoinPath(p, name); };
    dirs_ = {at(parent.memory), at(parent.cpu), at(parent.cpuacct), at(parent.pids), at(parent.freezer)};
  }
  const std::string& memory() const { return dirs_[0]; }
  const std::string& cpu() const { return dirs_[1]; }
  const std::string& cpuacct() const { return dirs_[2]; }
  const std::string& pids() const { return dirs_[3]; }
  const std::string& freezer() const { return dirs_[4]; }

  Status Make() {
    for (const auto& d : dirs_) {
      if (d.empty()) continue;
      RETURN_IF_ERROR(MakeParent(d.substr(0, d.rfind('/'))));
      RETURN_IF_ERROR(MakeGroupDir(d));
    }
    return Status::Ok();
  }

  std::vector<std::string> ProcsFiles() const override {
    std::vector<std::string> out;
    for (const auto& d : dirs_) {
      if (!d.empty() && !Contains(out, d)) out.push_back(JoinPath(d, "cgroup.procs"));
    }
    return out;
  }
  void SampleMemory() override {}
  CgroupUsage ReadUsage() const override {
    CgroupUsage u;
    if (!cpuacct().empty()) u.cpu_time_ms = std::max<int64_t>(0, ReadNumber(JoinPath(cpuacct(), "cpuacct.usage"))) / 1'000'000;
    u.peak_memory_bytes = std::max<int64_t>(0, ReadNumber(JoinPath(memory(), "memory.max_usage_in_bytes")));
    // oom_kill is in memory.oom_control since Linux 4.13; before, a hit limit shows as failcnt.
    int64_t kills = ReadKey(JoinPath(memory(), "memory.oom_control"), "oom_kill");
    u.oom_killed = kills > 0 || (kills < 0 && ReadNumber(JoinPath(memory(), "memory.failcnt")) > 0);
    return u;
  }
  std::vector<int> Pids() const override { return ReadPids(JoinPath(memory(), "cgroup.procs")); }
  Status Kill() override {
    // Frozen processes cannot fork while their siblings are being killed.
    bool frozen = !freezer().empty() && WriteValue(JoinPath(freezer(), "freezer.state"), "FROZEN").ok();
    for (int round = 0; round < 20; ++round) {
      if (frozen) {
        auto state = ReadFile(JoinPath(freezer(), "freezer.state"));
        if (state.ok() && state->rfind("FREEZING", 0) == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
      }
      break;
    }
    KillPids(Pids());
    if (frozen) (void)WriteValue(JoinPath(freezer(), "freezer.state"), "THAWED");
    // Unfrozen: kill again whatever forked between reading the list and the signals.
    if (!frozen) KillPids(Pids());
    return Status::Ok();
  }
  Status Remove() override {
    Status first;
    for (const auto& d : dirs_) {
      if (d.empty()) continue;
      Status st = RemoveGroupDir(d);
      if (!st.ok() && first.ok()) first = st;
    }
    return first;
  }

 private:
  static bool Contains(const std::vector<std::string>& files, const std::string& dir) {
    for (const auto& f : files) {
      if (f == JoinPath(dir, "cgroup.procs")) return true;
    }
    return false;
  }
  std::vector<std::string> dirs_;
};

class V1System final : public CgroupSystem {
 public:
  explicit V1System(V1Layout layout) : layout_(std::move(layout)) {}
  CgroupVersion version() const override { return CgroupVersion::kV1; }
  std::string Describe() const override {
    std::string c = "memory";
    const std::pair<const char*, const std::string*> optional[] = {
        {"cpu", &layout_.cpu}, {"cpuacct", &layout_.cpuacct}, {"pids", &layout_.pids}, {"freezer", &layout_.freezer}};
    for (const auto& [name, dir] : optional) {
      if (!dir->empty()) c += std::string(", ") + name;
    }
    return fmt::format("cgroup v1 ({}{})", c, layout_.memsw ? "; swap limited" : "");
  }
  Result<std::unique_ptr<TaskCgroup>> Create(const std::string& name, const CgroupLimits& l) override {
    auto g = std::make_unique<V1TaskCgroup>(layout_, name);
    RETURN_IF_ERROR(g->Make());
    if (l.memory_bytes > 0) {
      RETURN_IF_ERROR(WriteValue(JoinPath(g->memory(), "memory.limit_in_bytes"), std::to_string(l.memory_bytes)));
      if (layout_.memsw) {
        RETURN_IF_ERROR(WriteValue(JoinPath(g->memory(), "memory.memsw.limit_in_bytes"), std::to_string(l.memory_bytes)));
      }
    }
    if (l.cores > 0 && !g->cpu().empty()) {
      constexpr int64_t kPeriodUs = 100'000;
      RETURN_IF_ERROR(WriteValue(JoinPath(g->cpu(), "cpu.cfs_period_us"), std::to_string(kPeriodUs)));
      RETURN_IF_ERROR(WriteValue(JoinPath(g->cpu(), "cpu.cfs_quota_us"), std::to_string(kPeriodUs * l.cores)));
      RETURN_IF_ERROR(WriteValue(JoinPath(g->cpu(), "cpu.shares"), std::to_string(1024 * l.cores)));
    }
    if (l.pids_max > 0 && !g->pids().empty()) {
      RETURN_IF_ERROR(WriteValue(JoinPath(g->pids(), "pids.max"), std::to_string(l.pids_max)));
    }
    return std::unique_ptr<TaskCgroup>(std::move(g));
  }
  std::vector<std::string> Leftovers() const override {
    std::vector<std::string> out;
    for (const auto& n : ListDir(layout_.memory)) {
      if (IsDir(JoinPath(layout_.memory, n))) out.push_back(n);
    }
    return out;
  }
  std::unique_ptr<TaskCgroup> Open(const std::string& name) override {
    return std::make_unique<V1TaskCgroup>(layout_, name);
  }
  void RemoveParent() override {
    for (const auto* d : {&layout_.memory, &layout_.cpu, &layout_.cpuacct, &layout_.pids, &layout_.freezer}) {
      if (!d->empty()) (void)RemoveGroupDir(*d);
    }
  }

 private:
  V1Layout layout_;
};

// ---------------------------------------------------------------------------------------------
// v2: one hierarchy; controllers are enabled for children in cgroup.subtree_control.

class V2TaskCgroup final : public TaskCgroup {
 public:
  explicit V2TaskCgroup(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }
  std::vector<std::string> ProcsFiles() const override { return {JoinPath(dir_, "cgroup.procs")}; }
  void SampleMemory() override {
    sampled_peak_ = std::max(sampled_peak_, ReadNumber(JoinPath(dir_, "memory.current")));
  }
  CgroupUsage ReadUsage() const override {
    CgroupUsage u;
    u.cpu_time_ms = std::max<int64_t>(0, ReadKey(JoinPath(dir_, "cpu.stat"), "usage_usec")) / 1000;
    int64_t peak = ReadNumber(JoinPath(dir_, "memory.peak"));  // Linux 5.19+
    u.peak_memory_bytes = std::max<int64_t>({0, peak, sampled_peak_});
    u.oom_killed = ReadKey(JoinPath(dir_, "memory.events"), "oom_kill") > 0;
    return u;
  }
  std::vector<int> Pids() const override { return ReadPids(JoinPath(dir_, "cgroup.procs")); }
  Status Kill() override {
    if (Exists(JoinPath(dir_, "cgroup.kill")) && WriteValue(JoinPath(dir_, "cgroup.kill"), "1").ok()) {
      return Status::Ok();
    }
    // Before Linux 5.14: kill until no process is left to fork another.
    for (int round = 0; round < 10; ++round) {
      auto pids = Pids();
      if (pids.empty()) break;
      KillPids(pids);
    }
    return Status::Ok();
  }
  Status Remove() override { return RemoveGroupDir(dir_); }

 private:
  std::string dir_;
  int64_t sampled_peak_ = 0;
};

bool EnableControllers(const std::string& dir);

class V2System final : public CgroupSystem {
 public:
  V2System(std::string parent, bool swap) : parent_(std::move(parent)), swap_(swap) {}
  CgroupVersion version() const override { return CgroupVersion::kV2; }
  std::string Describe() const override {
    return fmt::format("cgroup v2 at {} (cpu, memory, pids{})", parent_, swap_ ? "; swap limited" : "");
  }
  Result<std::unique_ptr<TaskCgroup>> Create(const std::string& name, const CgroupLimits& l) override {
    auto g = std::make_unique<V2TaskCgroup>(JoinPath(parent_, name));
    if (!IsDir(parent_)) {
      RETURN_IF_ERROR(MakeParent(parent_));
      if (!EnableControllers(parent_)) return Unavailable(fmt::format("cannot enable cpu, memory and pids in {}", parent_));
    }
    RETURN_IF_ERROR(MakeGroupDir(g->dir()));
    if (l.memory_bytes > 0) {
      RETURN_IF_ERROR(WriteValue(JoinPath(g->dir(), "memory.max"), std::to_string(l.memory_bytes)));
      if (swap_) RETURN_IF_ERROR(WriteValue(JoinPath(g->dir(), "memory.swap.max"), "0"));
    }
    if (l.cores > 0) {
      constexpr int64_t kPeriodUs = 100'000;
      RETURN_IF_ERROR(WriteValue(JoinPath(g->dir(), "cpu.max"), fmt::format("{} {}", kPeriodUs * l.cores, kPeriodUs)));
      RETURN_IF_ERROR(WriteValue(JoinPath(g->dir(), "cpu.weight"), std::to_string(std::min(10000, 100 * l.cores))));
    }
    if (l.pids_max > 0) RETURN_IF_ERROR(WriteValue(JoinPath(g->dir(), "pids.max"), std::to_string(l.pids_max)));
    return std::unique_ptr<TaskCgroup>(std::move(g));
  }
  std::vector<std::string> Leftovers() const override {
    std::vector<std::string> out;
    for (const auto& n : ListDir(parent_)) {
      if (IsDir(JoinPath(parent_, n))) out.push_back(n);
    }
    return out;
  }
  std::unique_ptr<TaskCgroup> Open(const std::string& name) override {
    return std::make_unique<V2TaskCgroup>(JoinPath(parent_, name));
  }
  void RemoveParent() override { (void)RemoveGroupDir(parent_); }

 private:
  std::string parent_;
  bool swap_;
};

class NoCgroups final : public CgroupSystem {
 public:
  explicit NoCgroups(std::string why) : why_(std::move(why)) {}
  CgroupVersion version() const override { return CgroupVersion::kNone; }
  std::string Describe() const override { return why_; }
  Result<std::unique_ptr<TaskCgroup>> Create(const std::string&, const CgroupLimits&) override {
    return FailedPrecondition(why_);
  }
  std::vector<std::string> Leftovers() const override { return {}; }
  std::unique_ptr<TaskCgroup> Open(const std::string&) override { return nullptr; }
  void RemoveParent() override {}

 private:
  std::string why_;
};

bool Writable(const std::string& dir) { return ::access(dir.c_str(), W_OK) == 0; }

bool HasWord(const std::string& path, const std::string& word) {
  auto text = ReadFile(path);
  if (!text.ok()) return false;
  std::istringstream in(*text);
  std::string w;
  while (in >> w) {
    if (w == word) return true;
  }
  return false;
}

// Enables the controllers for the children of `dir`; true when all of them are enabled after.
bool EnableControllers(const std::string& dir) {
  static const char* kNeeded[] = {"cpu", "memory", "pids"};
  std::string subtree = JoinPath(dir, "cgroup.subtree_control");
  for (const char* c : kNeeded) {
    if (!HasWord(subtree, c)) (void)WriteValue(subtree, std::string("+") + c);
  }
  for (const char* c : kNeeded) {
    if (!HasWord(subtree, c)) return false;
  }
  return true;
}

std::unique_ptr<CgroupSystem> DetectV2(const std::string& root, const std::string& node) {
  for (const char* c : {"cpu", "memory", "pids"}) {
    if (!HasWord(JoinPath(root, "cgroup.controllers"), c)) {
      return std::make_unique<NoCgroups>(fmt::format("cgroup v2 at {} lacks the {} controller", root, c));
    }
  }
  if (!Writable(root)) return std::make_unique<NoCgroups>(fmt::format("cgroup v2 at {} is not writable by the agent", root));
  std::string drover = JoinPath(root, "drover"), parent = JoinPath(drover, node);
  if (!EnableControllers(root)) {
    return std::make_unique<NoCgroups>(fmt::format("cannot enable cpu, memory and pids in {}/cgroup.subtree_control", root));
  }
  for (const auto& dir : {drover, parent}) {
    if (Status st = MakeGroupDir(dir); !st.ok()) return std::make_unique<NoCgroups>(st.message());
    if (!EnableControllers(dir)) {
      return std::make_unique<NoCgroups>(fmt::format("cannot enable cpu, memory and pids in {}/cgroup.subtree_control", dir));
    }
  }
  // memory.swap.max exists where swap accounting is on; the root has none, so look at drover/.
  return std::make_unique<V2System>(parent, Exists(JoinPath(drover, "memory.swap.max")));
}

std::unique_ptr<CgroupSystem> DetectV1(const std::string& root, const std::string& node) {
  V1Layout l;
  auto parent_in = [&](const char* controller) -> std::string {
    std::string mount = JoinPath(root, controller);
    if (!IsDir(mount) || !Writable(mount)) return "";
    std::string parent = JoinPath(JoinPath(mount, "drover"), node);
    if (!MakeGroupDir(JoinPath(mount, "drover")).ok() || !MakeGroupDir(parent).ok()) return "";
    return parent;
  };
  if (!IsDir(JoinPath(root, "memory"))) {
    return std::make_unique<NoCgroups>(fmt::format("no cgroup v1 memory controller or cgroup v2 at {}", root));
  }
  l.memory = parent_in("memory");
  if (l.memory.empty()) {
    return std::make_unique<NoCgroups>(fmt::format("the cgroup v1 memory controller at {}/memory is not writable by the agent", root));
  }
  l.cpu = parent_in("cpu");
  l.cpuacct = parent_in("cpuacct");
  l.pids = parent_in("pids");
  l.freezer = parent_in("freezer");
  l.memsw = Exists(JoinPath(JoinPath(root, "memory"), "memory.memsw.limit_in_bytes"));
  return std::make_unique<V1System>(std::move(l));
}

}  // namespace

std::unique_ptr<CgroupSystem> DetectCgroups(const std::string& root, const std::string& node) {
  if (Exists(JoinPath(root, "cgroup.controllers"))) return DetectV2(root, node);
  return DetectV1(root, node);
}

}  // namespace drover::os
