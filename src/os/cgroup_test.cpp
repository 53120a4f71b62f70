#include "os/cgroup.h"

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "os/files.h"

namespace drover::os {
namespace {

namespace fs = std::filesystem;

// Fake cgroup trees: plain directories and files laid out as the kernel shows them.
class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover_cgroup_test_XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Put(const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(root_ / fs::path(rel)).parent_path());
    ASSERT_TRUE(WriteFileAtomic(root_ / fs::path(rel), content).ok());
  }
  std::string Get(const std::string& rel) {
    auto t = ReadFile(root_ / fs::path(rel));
    return t.ok() ? *t : "<missing>";
  }
  void V1Tree(bool memsw) {
    for (const char* c : {"memory", "cpu", "cpuacct", "pids", "freezer"}) fs::create_directories(root_ / c);
    if (memsw) Put("memory/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  }
  void V2Tree(const std::string& enabled) {
    Put("cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
    Put("cgroup.subtree_control", enabled);
    Put("drover/cgroup.subtree_control", enabled);
    Put("drover/memory.swap.max", "max\n");
    Put("drover/n1/cgroup.subtree_control", enabled);
  }
  fs::path root_;
};

TEST_F(CgroupTest, V1SetsUpAParentPerControllerAndWritesLimits) {
  V1Tree(/*memsw=*/true);
  auto sys = DetectCgroups(root_, "n1");
  ASSERT_EQ(sys->version(), CgroupVersion::kV1) << sys->Describe();
  EXPECT_NE(sys->Describe().find("cgroup v1 (memory, cpu, cpuacct, pids, freezer; swap limited)"), std::string::npos)
      << sys->Describe();
  auto g = sys->Create("7.1.1", CgroupLimits{256LL << 20, 2, 100});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(Get("memory/drover/n1/7.1.1/memory.limit_in_bytes"), "268435456");
  EXPECT_EQ(Get("memory/drover/n1/7.1.1/memory.memsw.limit_in_bytes"), "268435456");
  EXPECT_EQ(Get("cpu/drover/n1/7.1.1/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(Get("cpu/drover/n1/7.1.1/cpu.cfs_quota_us"), "200000");
  EXPECT_EQ(Get("cpu/drover/n1/7.1.1/cpu.shares"), "2048");
  EXPECT_EQ(Get("pids/drover/n1/7.1.1/pids.max"), "100");
  auto procs = (*g)->ProcsFiles();
  EXPECT_EQ(procs.size(), 5u);
  EXPECT_NE(std::find(procs.begin(), procs.end(), (root_ / "memory/drover/n1/7.1.1/cgroup.procs").string()), procs.end());
  EXPECT_EQ(sys->Leftovers(), std::vector<std::string>{"7.1.1"});
}

TEST_F(CgroupTest, AParentRemovedAtAStopIsMadeAgain) {
  V1Tree(true);
  auto sys = DetectCgroups(root_, "n1");
  ASSERT_EQ(sys->version(), CgroupVersion::kV1);
  sys->RemoveParent();
  EXPECT_FALSE(fs::exists(root_ / "memory/drover/n1"));
  EXPECT_FALSE(fs::exists(root_ / "pids/drover/n1"));
  EXPECT_TRUE(fs::exists(root_ / "memory/drover")) << "drover/ is shared with other agents";
  ASSERT_TRUE(sys->Create("2.1.1", CgroupLimits{1 << 20, 0, 0}).ok());
  EXPECT_EQ(Get("memory/drover/n1/2.1.1/memory.limit_in_bytes"), "1048576");
}

TEST_F(CgroupTest, V1WithoutSwapAccountingOrLimitsWritesNoLimits) {
  V1Tree(/*memsw=*/false);
  auto sys = DetectCgroups(root_, "n1");
  ASSERT_EQ(sys->version(), CgroupVersion::kV1);
  auto g = sys->Create("1.1.1", CgroupLimits{});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Get("memory/drover/n1/1.1.1/memory.limit_in_bytes"), "<missing>");
  EXPECT_EQ(Get("cpu/drover/n1/1.1.1/cpu.cfs_quota_us"), "<missing>");
  auto h = sys->Create("1.2.1", CgroupLimits{64LL << 20, 0, 0});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(Get("memory/drover/n1/1.2.1/memory.memsw.limit_in_bytes"), "<missing>");
}

TEST_F(CgroupTest, V1ReadsUsageAndOomFromTheGroup) {
  V1Tree(true);
  auto sys = DetectCgroups(root_, "n1");
  auto g = sys->Create("3.1.1", CgroupLimits{64LL << 20, 1, 0});
  ASSERT_TRUE(g.ok());
  Put("cpuacct/drover/n1/3.1.1/cpuacct.usage", "2500000000\n");  // ns
  Put("memory/drover/n1/3.1.1/memory.max_usage_in_bytes", "67100672\n");
  Put("memory/drover/n1/3.1.1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
  auto u = (*g)->ReadUsage();
  EXPECT_EQ(u.cpu_time_ms, 2500);
  EXPECT_EQ(u.peak_memory_bytes, 67100672);
  EXPECT_FALSE(u.oom_killed);
  Put("memory/drover/n1/3.1.1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  EXPECT_TRUE((*g)->ReadUsage().oom_killed);
  // Kernels before 4.13 have no oom_kill line: a hit limit shows in failcnt.
  Put("memory/drover/n1/3.1.1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
  Put("memory/drover/n1/3.1.1/memory.failcnt", "0\n");
  EXPECT_FALSE((*g)->ReadUsage().oom_killed);
  Put("memory/drover/n1/3.1.1/memory.failcnt", "12\n");
  EXPECT_TRUE((*g)->ReadUsage().oom_killed);
  Put("memory/drover/n1/3.1.1/cgroup.procs", "");
  EXPECT_TRUE((*g)->Pids().empty());
  EXPECT_TRUE((*g)->Kill().ok());
  EXPECT_EQ(Get("freezer/drover/n1/3.1.1/freezer.state"), "THAWED");  // frozen, killed, thawed
}

TEST_F(CgroupTest, V2WritesLimitsInOneGroup) {
  V2Tree("cpu memory pids\n");
  auto sys = DetectCgroups(root_, "n1");
  ASSERT_EQ(sys->version(), CgroupVersion::kV2) << sys->Describe();
  EXPECT_NE(sys->Describe().find("swap limited"), std::string::npos);
  auto g = sys->Create("9.2.1", CgroupLimits{512LL << 20, 4, 32});
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(Get("drover/n1/9.2.1/memory.max"), "536870912");
  EXPECT_EQ(Get("drover/n1/9.2.1/memory.swap.max"), "0");
  EXPECT_EQ(Get("drover/n1/9.2.1/cpu.max"), "400000 100000");
  EXPECT_EQ(Get("drover/n1/9.2.1/cpu.weight"), "400");
  EXPECT_EQ(Get("drover/n1/9.2.1/pids.max"), "32");
  EXPECT_EQ((*g)->ProcsFiles(), std::vector<std::string>{(root_ / "drover/n1/9.2.1/cgroup.procs").string()});
}

TEST_F(CgroupTest, V2ReadsUsagePeakAndOomKills) {
  V2Tree("cpu memory pids\n");
  auto sys = DetectCgroups(root_, "n1");
  auto g = sys->Create("9.3.1", CgroupLimits{});
  ASSERT_TRUE(g.ok());
  Put("drover/n1/9.3.1/cpu.stat", "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
  Put("drover/n1/9.3.1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\noom_group_kill 0\n");
  // No memory.peak (Linux < 5.19): the highest sample of memory.current.
  Put("drover/n1/9.3.1/memory.current", "1000\n");
  (*g)->SampleMemory();
  Put("drover/n1/9.3.1/memory.current", "5000\n");
  (*g)->SampleMemory();
  Put("drover/n1/9.3.1/memory.current", "2000\n");
  (*g)->SampleMemory();
  auto u = (*g)->ReadUsage();
  EXPECT_EQ(u.cpu_time_ms, 1234);
  EXPECT_EQ(u.peak_memory_bytes, 5000);
  EXPECT_FALSE(u.oom_killed);
  Put("drover/n1/9.3.1/memory.peak", "70000\n");
  Put("drover/n1/9.3.1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
  u = (*g)->ReadUsage();
  EXPECT_EQ(u.peak_memory_bytes, 70000);
  EXPECT_TRUE(u.oom_killed);
  Put("drover/n1/9.3.1/cgroup.kill", "");
  EXPECT_TRUE((*g)->Kill().ok());
  EXPECT_EQ(Get("drover/n1/9.3.1/cgroup.kill"), "1");
}

TEST_F(CgroupTest, V2NeedsItsControllers) {
  Put("cgroup.controllers", "cpuset io hugetlb pids cpu\n");
  auto sys = DetectCgroups(root_, "n1");
  EXPECT_EQ(sys->version(), CgroupVersion::kNone);
  EXPECT_NE(sys->Describe().find("lacks the memory controller"), std::string::npos) << sys->Describe();
  EXPECT_FALSE(sys->Create("1.1.1", CgroupLimits{}).ok());
}

TEST_F(CgroupTest, V2SubtreeThatCannotEnableControllersIsNotUsed) {
  // A fake file takes "+cpu" literally, like a kernel that refuses to enable it would leave it.
  Put("cgroup.controllers", "cpu memory pids\n");
  Put("cgroup.subtree_control", "");
  auto sys = DetectCgroups(root_, "n1");
  EXPECT_EQ(sys->version(), CgroupVersion::kNone);
  EXPECT_NE(sys->Describe().find("cannot enable"), std::string::npos) << sys->Describe();
}

TEST_F(CgroupTest, NoHierarchyMeansNoCgroups) {
  auto sys = DetectCgroups(root_, "n1");
  EXPECT_EQ(sys->version(), CgroupVersion::kNone);
  EXPECT_FALSE(sys->available());
  EXPECT_NE(sys->Describe().find("no cgroup"), std::string::npos) << sys->Describe();
  EXPECT_TRUE(sys->Leftovers().empty());
}

}  // namespace
}  // namespace drover::os
