#include "os/sysinfo.h"

#include <gtest/gtest.h>

namespace drover::os {
namespace {

TEST(SysInfoTest, MachineInfoIsPlausible) {
  MachineInfo info = ReadMachineInfo();
  EXPECT_FALSE(info.hostname.empty());
  EXPECT_GE(info.cores, 1);
  EXPECT_GT(info.memory_mb, 0);
}

TEST(SysInfoTest, LoadIsPlausible) {
  LoadInfo load = ReadLoad();
  EXPECT_GE(load.load1, 0.0);
  EXPECT_GT(load.memory_used_mb, 0);
  EXPECT_LE(load.memory_used_mb, ReadMachineInfo().memory_mb);
}

}  // namespace
}  // namespace drover::os
