// Machine facts for node registration and heartbeats, read from the kernel.
#include "os/sysinfo.h"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <fstream>
#include <sstream>
#include <string>

namespace drover::os {
namespace {

// Reads a "Key:   12345 kB" line from /proc/meminfo. Returns -1 when absent.
int64_t MeminfoKb(const std::string& content, const std::string& key) {
  std::istringstream in(content);
  std::string line;
  const std::string prefix = key + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    std::istringstream fields(line.substr(prefix.size()));
    int64_t kb = -1;
    if (fields >> kb) return kb;
    return -1;
  }
  return -1;
}

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// CPUs this process may run on: the affinity mask, which honors cpusets/taskset, so that a node
// pinned to a subset of the machine advertises only what its tasks can actually use.
int AffinityCores() {
  // Start with the static cpu_set_t size (1024 CPUs) and grow: sched_getaffinity fails with
  // EINVAL when the mask is smaller than the kernel's.
  for (int ncpus = CPU_SETSIZE; ncpus <= (1 << 16); ncpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpus);
    if (set == nullptr) return 0;
    size_t size = CPU_ALLOC_SIZE(ncpus);
    CPU_ZERO_S(size, set);
    int rc = sched_getaffinity(0, size, set);
    int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    int err = errno;
    CPU_FREE(set);
    if (rc == 0) return count;
    if (err != EINVAL) return 0;
  }
  return 0;
}

}  // namespace

MachineInfo ReadMachineInfo() {
  MachineInfo info;
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) == 0) info.hostname = host;  // keep a NUL at the end
  if (info.hostname.empty()) info.hostname = "localhost";

  info.cores = AffinityCores();
  if (info.cores <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    info.cores = n > 0 ? static_cast<int>(n) : 1;
  }

  int64_t total_kb = MeminfoKb(ReadFile("/proc/meminfo"), "MemTotal");
  info.memory_mb = total_kb > 0 ? total_kb / 1024 : 0;
  return info;
}

LoadInfo ReadLoad() {
  LoadInfo load;
  std::istringstream loadavg(ReadFile("/proc/loadavg"));
  if (!(loadavg >> load.load1)) load.load1 = 0;

  std::string meminfo = ReadFile("/proc/meminfo");
  int64_t total_kb = MeminfoKb(meminfo, "MemTotal");
  int64_t avail_kb = MeminfoKb(meminfo, "MemAvailable");  // kernels >= 3.14
  if (total_kb > 0 && avail_kb >= 0 && avail_kb <= total_kb) {
    load.memory_used_mb = (total_kb - avail_kb) / 1024;
  }
  return load;
}

}  // namespace drover::os
