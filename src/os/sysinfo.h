// What a compute node reports about its machine.
#pragma once

#include <cstdint>
#include <string>

namespace drover::os {

struct MachineInfo {
  std::string hostname;
  int cores = 0;             // online logical CPUs available to this process (sched_getaffinity)
  int64_t memory_mb = 0;     // MemTotal
};

MachineInfo ReadMachineInfo();

struct LoadInfo {
  double load1 = 0;
  int64_t memory_used_mb = 0;  // MemTotal - MemAvailable
};

LoadInfo ReadLoad();

}  // namespace drover::os
