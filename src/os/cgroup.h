// Control groups for tasks: resource limits, usage accounting and killing a task's whole process
// tree. Both cgroup versions are supported, as Slurm does:
//
//   v1 (one hierarchy per controller)          v2 (one unified hierarchy)
//   <root>/memory/drover/<node>/<task>/         <root>/drover/<node>/<task>/
//   <root>/cpu/drover/<node>/<task>/              cgroup.subtree_control of <root>, drover and
//   <root>/cpuacct/drover/<node>/<task>/          drover/<node> enable cpu, memory and pids
//   <root>/pids/drover/<node>/<task>/
//   <root>/freezer/drover/<node>/<task>/
//
// <root> is /sys/fs/cgroup on a real node; tests point it at a fake directory tree (the seam).
// On v2 <root> may also be a subtree delegated to the agent, which must then hold no processes.
// Usable means: v1, the memory controller's hierarchy is writable by the agent (it runs as root);
// v2, the root is writable and cpu, memory and pids can be enabled below it.
//
// Not thread-safe; used from the compute node's loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace drover::os {

enum class CgroupVersion { kNone, kV1, kV2 };

struct CgroupLimits {
  int64_t memory_bytes = 0;  // 0: no limit; swap is limited to nothing beyond it
  int cores = 0;             // CPU quota in whole cores; 0: none
  int64_t pids_max = 0;      // 0: no limit
};

struct CgroupUsage {
  int64_t cpu_time_ms = 0;        // user + system CPU time of every process that ran in the group
  int64_t peak_memory_bytes = 0;  // the group's highest memory charge
  bool oom_killed = false;        // the kernel killed a process of the group at its memory limit
};

// One task's cgroup. Destroying the object does not remove the group: call Remove() once it is empty.
class TaskCgroup {
 public:
  virtual ~TaskCgroup() = default;
  // Files a new process writes its own pid to, before exec, to join the group (one per hierarchy).
  virtual std::vector<std::string> ProcsFiles() const = 0;
  // Records the current memory charge, for kernels that keep no peak (v2 without memory.peak).
  virtual void SampleMemory() = 0;
  virtual CgroupUsage ReadUsage() const = 0;
  // Pids of the processes in the group.
  virtual std::vector<int> Pids() const = 0;
  // SIGKILL to every process in the group, even those that left the task's process group
  // (v2: cgroup.kill; v1: freeze, kill every pid, thaw).
  virtual Status Kill() = 0;
  // Removes the group's directories; fails while processes remain.
  virtual Status Remove() = 0;
};

class CgroupSystem {
 public:
  virtual ~CgroupSystem() = default;
  virtual CgroupVersion version() const = 0;
  bool available() const { return version() != CgroupVersion::kNone; }
  // "cgroup v1 (memory, cpu, cpuacct, pids, freezer)", or why cgroups are not used.
  virtual std::string Describe() const = 0;
  // Creates <parent>/<name> with these limits. Fails when cgroups are not available.
  virtual Result<std::unique_ptr<TaskCgroup>> Create(const std::string& name, const CgroupLimits& limits) = 0;
  // Names of task groups left under the parent (by a previous run of the agent).
  virtual std::vector<std::string> Leftovers() const = 0;
  // Opens an existing task group (one of Leftovers()).
  virtual std::unique_ptr<TaskCgroup> Open(const std::string& name) = 0;
  // Removes this agent's parent drover/<node> when it is empty (at a clean stop). Create() makes it
  // again when needed.
  virtual void RemoveParent() = 0;
};

// Looks at `root` and sets up the parent drover/<node> there when cgroups are usable; otherwise
// returns a system whose version() is kNone and whose Describe() says why.
std::unique_ptr<CgroupSystem> DetectCgroups(const std::string& root, const std::string& node);

}  // namespace drover::os
