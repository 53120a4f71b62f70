// TaskRunner with limits: cgroups (through a recording fake, and the machine's real cgroups when the
// test runs as root), time limits and warning signals, GPUs.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "agent/task_runner.h"
#include "os/files.h"
#include "common/test_skips.h"

namespace drover::agent {
namespace {

using protocol::TaskLaunch;
using protocol::TaskRef;
using protocol::TaskResult;

// A cgroup system that records what it is asked and reports the usage a test sets. Its groups'
// cgroup.procs are plain files, so a test sees which pid joined.
struct FakeCgroups final : os::CgroupSystem {
  struct Group final : os::TaskCgroup {
    Group(FakeCgroups& s, std::string p) : sys(s), procs(std::move(p)) {}
    std::vector<std::string> ProcsFiles() const override { return {procs}; }
    void SampleMemory() override { ++sys.samples; }
    os::CgroupUsage ReadUsage() const override { return sys.usage; }
    std::vector<int> Pids() const override { return {}; }
    Status Kill() override {
      ++sys.kills;
      return Status::Ok();
    }
    Status Remove() override {
      ++sys.removed;
      return Status::Ok();
    }
    FakeCgroups& sys;
    std::string procs;
  };
  explicit FakeCgroups(std::string d) : dir(std::move(d)) {}
  os::CgroupVersion version() const override { return os::CgroupVersion::kV2; }
  std::string Describe() const override { return "fake"; }
  Result<std::unique_ptr<os::TaskCgroup>> Create(const std::string& name, const os::CgroupLimits& l) override {
    if (fail_create) return Unavailable("no room");
    created.push_back(name);
    limits = l;
    std::string procs = dir + "/procs." + name;
    RETURN_IF_ERROR(os::WriteFileAtomic(procs, ""));
    return std::unique_ptr<os::TaskCgroup>(std::make_unique<Group>(*this, procs));
  }
  std::vector<std::string> Leftovers() const override { return leftovers; }
  std::unique_ptr<os::TaskCgroup> Open(const std::string& name) override {
    opened.push_back(name);
    return std::make_unique<Group>(*this, dir + "/procs." + name);
  }
  void RemoveParent() override {}

  std::string dir;
  bool fail_create = false;
  std::vector<std::string> created, opened, leftovers;
  os::CgroupLimits limits;
  os::CgroupUsage usage;
  int kills = 0, removed = 0, samples = 0;
};

class TaskLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::off);
    char tmpl[] = "/tmp/drover_task_limits_test_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    ::chmod(dir_.c_str(), 0755);
    launcher_ = os::MakeSystemLauncher();
  }
  void TearDown() override {
    spdlog::set_level(spdlog::level::info);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  TaskLaunch Shell(TaskRef ref, const std::string& command) {
    TaskLaunch l;
    l.ref = ref;
    const passwd* me = ::getpwuid(::geteuid());
    l.user = me ? me->pw_name : "";
    l.argv = {"/bin/sh", "-c", command};
    l.working_dir = dir_;
    l.env = {{"PATH", "/usr/bin:/bin"}};
    l.stdout_path = fmt::format("{}/out.{}", dir_, ref.task_id);
    l.stderr_path = l.stdout_path;
    return l;
  }

  // Reaps (and ticks) until `count` results arrived or 20 s passed.
  std::vector<TaskResult> ReapUntil(TaskRunner& runner, size_t count) {
    std::vector<TaskResult> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      runner.Tick();
      for (auto& r : runner.Reap()) out.push_back(std::move(r));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return out;
  }

  bool WaitForFile(const std::string& path) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!os::Exists(path) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return os::Exists(path);
  }

  static bool Gone(pid_t pid) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto stat = os::ReadFile(fmt::format("/proc/{}/stat", pid));
      if (!stat.ok() || stat->find(") Z") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<os::ProcessLauncher> launcher_;
};

TEST_F(TaskLimitsTest, ATaskJoinsItsCgroupBeforeItRunsAndUsageComesFromTheGroup) {
  FakeCgroups cg(dir_);
  cg.usage = {4200, 300LL << 20, false};
  TaskRunner runner(*launcher_, clock_, dir_, "n1", {&cg, 3000, 64, false});
  ASSERT_TRUE(runner.Recover().ok());
  auto l = Shell({1, 1, 1}, "echo $$ > pid");
  l.cores = 2;
  l.memory_limit_mb = 512;
  runner.Start(l);
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(cg.created, std::vector<std::string>{"1.1.1"});
  EXPECT_EQ(cg.limits.memory_bytes, 512LL << 20);
  EXPECT_EQ(cg.limits.cores, 2);
  EXPECT_EQ(cg.limits.pids_max, 64);
  // The pid the task's shell reports is the one that wrote itself into cgroup.procs.
  std::string pid = *os::ReadFile(dir_ + "/pid");
  EXPECT_EQ(*os::ReadFile(dir_ + "/procs.1.1.1"), pid.substr(0, pid.find('\n')));
  EXPECT_EQ(results[0].exit_code, 0);
  EXPECT_EQ(results[0].cpu_time_ms, 4200);
  EXPECT_EQ(results[0].max_rss_kb, 300 * 1024);
  EXPECT_FALSE(results[0].out_of_memory);
  EXPECT_TRUE(results[0].error.empty());
  EXPECT_GE(cg.kills, 1);  // whatever the task left behind is killed
  EXPECT_EQ(cg.removed, 1);
}

TEST_F(TaskLimitsTest, AKernelOomKillIsReportedWithTheLimit) {
  FakeCgroups cg(dir_);
  cg.usage = {10, 64LL << 20, true};
  TaskRunner runner(*launcher_, clock_, dir_, "n1", {&cg, 3000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  auto l = Shell({1, 2, 1}, "kill -9 $$");
  l.memory_limit_mb = 64;
  runner.Start(l);
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].out_of_memory);
  EXPECT_EQ(results[0].error, "out of memory (limit 64 MiB)");
  EXPECT_EQ(results[0].signal, SIGKILL);

  // A task that survived the kill of one of its processes and succeeded is not out of memory.
  runner.Start(Shell({1, 3, 1}, "exit 0"));
  results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].out_of_memory);
  EXPECT_TRUE(results[0].error.empty());
}

TEST_F(TaskLimitsTest, ATaskWhoseCgroupCannotBeMadeDoesNotRun) {
  FakeCgroups cg(dir_);
  cg.fail_create = true;
  TaskRunner runner(*launcher_, clock_, dir_, "n1", {&cg, 3000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  runner.Start(Shell({2, 1, 1}, "touch ran"));
  auto immediate = runner.TakeImmediateResults();
  ASSERT_EQ(immediate.size(), 1u);
  EXPECT_NE(immediate[0].error.find("cannot set up the task's limits: no room"), std::string::npos) << immediate[0].error;
  EXPECT_FALSE(os::Exists(dir_ + "/ran"));
}

TEST_F(TaskLimitsTest, RecoverKillsAndRemovesLeftoverCgroups) {
  FakeCgroups cg(dir_);
  cg.leftovers = {"5.1.1", "5.2.1"};
  TaskRunner runner(*launcher_, clock_, dir_, "n1", {&cg, 3000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  EXPECT_EQ(cg.opened, cg.leftovers);
  EXPECT_EQ(cg.kills, 2);
  EXPECT_EQ(cg.removed, 2);
}

TEST_F(TaskLimitsTest, TimeLimitTerminatesThenKillsAndReportsTimeout) {
  TaskRunner runner(*launcher_, clock_, dir_, "n1", {nullptr, 1000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  // The task ignores SIGTERM: only the SIGKILL after the grace period ends it.
  auto l = Shell({3, 1, 1}, "trap 'echo term >> seen' TERM; touch started; while :; do sleep 0.05; done");
  l.time_limit_ms = 60'000;
  runner.Start(l);
  ASSERT_TRUE(WaitForFile(dir_ + "/started"));
  clock_.Advance(59'999);
  runner.Tick();
  EXPECT_TRUE(runner.Reap().empty());
  clock_.Advance(1);
  runner.Tick();  // SIGTERM
  ASSERT_TRUE(WaitForFile(dir_ + "/seen"));
  EXPECT_TRUE(runner.IsRunning({3, 1, 1}));
  clock_.Advance(1000);
  auto results = ReapUntil(runner, 1);  // SIGKILL at the next tick
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].timed_out);
  EXPECT_EQ(results[0].signal, SIGKILL);
  EXPECT_EQ(results[0].error, "time limit of 60 s exceeded");
}

TEST_F(TaskLimitsTest, SignalBeforeTheLimitReachesTheTask) {
  TaskRunner runner(*launcher_, clock_, dir_, "n1", {nullptr, 1000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  auto l = Shell({4, 1, 1}, "trap 'echo usr1 > warned; exit 0' USR1; touch started; while :; do sleep 0.05; done");
  l.time_limit_ms = 600'000;
  l.signal = SIGUSR1;
  l.signal_before_ms = 120'000;
  runner.Start(l);
  ASSERT_TRUE(WaitForFile(dir_ + "/started"));
  clock_.Advance(479'000);
  runner.Tick();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(os::Exists(dir_ + "/warned"));
  clock_.Advance(1000);
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(*os::ReadFile(dir_ + "/warned"), "usr1\n");
  EXPECT_FALSE(results[0].timed_out);
  EXPECT_EQ(results[0].exit_code, 0);
}

TEST_F(TaskLimitsTest, ATaskSeesExactlyItsGpus) {
  TaskRunner runner(*launcher_, clock_, dir_, "n1", {nullptr, 1000, 0, /*node_has_gpus=*/true});
  ASSERT_TRUE(runner.Recover().ok());
  auto l = Shell({5, 1, 1}, "echo \"$CUDA_VISIBLE_DEVICES|$DROVER_GPUS|$SLURM_JOB_GPUS|$DROVER_NODES\"");
  l.gpus = {1, 3};
  l.allocated_nodes = {"n1", "n2"};
  runner.Start(l);
  runner.Start(Shell({5, 2, 1}, "echo \"${CUDA_VISIBLE_DEVICES-unset}|\""));
  ASSERT_EQ(ReapUntil(runner, 2).size(), 2u);
  EXPECT_EQ(*os::ReadFile(dir_ + "/out.1"), "1,3|1,3|1,3|n1,n2\n");
  EXPECT_EQ(*os::ReadFile(dir_ + "/out.2"), "|\n");  // no GPUs asked for: none visible
}

// ---- The machine's own cgroups (root, cgroup v1 or v2) -------------------------------------------

class RealCgroupTest : public TaskLimitsTest {
 protected:
  void SetUp() override {
    TaskLimitsTest::SetUp();
    if (::geteuid() != 0) DROVER_SKIP() << "needs root to create cgroups";
    cgroups_ = os::DetectCgroups("/sys/fs/cgroup", fmt::format("unit-test-{}", ::getpid()));
    if (!cgroups_->available()) DROVER_SKIP() << "no usable cgroups: " << cgroups_->Describe();
  }
  void TearDown() override {
    if (cgroups_ && cgroups_->available()) {
      for (const auto& name : cgroups_->Leftovers()) {
        auto g = cgroups_->Open(name);
        (void)g->Kill();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        (void)g->Remove();
      }
      std::string node = fmt::format("unit-test-{}", ::getpid());
      for (const char* c : {"memory", "cpu", "cpuacct", "pids", "freezer", ""}) {
        ::rmdir(fmt::format("/sys/fs/cgroup/{}/drover/{}", c, node).c_str());
      }
    }
    TaskLimitsTest::TearDown();
  }
  std::unique_ptr<os::CgroupSystem> cgroups_;
  SystemClock real_clock_;
};

TEST_F(RealCgroupTest, OverTheMemoryLimitTheKernelKillsTheTask) {
  TaskRunner runner(*launcher_, real_clock_, dir_, "n1", {cgroups_.get(), 1000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  // tail holds a whole line in memory: 200 MiB of zeros without a newline.
  auto l = Shell({6, 1, 1}, "head -c 200000000 /dev/zero | tail -n 1 > /dev/null");
  l.memory_limit_mb = 32;
  runner.Start(l);
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0].exit_code, 0);
  EXPECT_TRUE(results[0].out_of_memory) << results[0].error;
  EXPECT_EQ(results[0].error, "out of memory (limit 32 MiB)");
  EXPECT_LE(results[0].max_rss_kb, 33 * 1024);
}

TEST_F(RealCgroupTest, CpuTimeAndPeakMemoryOfTheWholeTask) {
  TaskRunner runner(*launcher_, real_clock_, dir_, "n1", {cgroups_.get(), 1000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  // A grandchild (not waited for by the leader's rusage children) burns CPU and holds ~64 MiB.
  auto l = Shell({6, 2, 1}, "(head -c 64000000 /dev/zero | tail -n 1 > /dev/null; i=0; "
                            "while [ $i -lt 300000 ]; do i=$((i+1)); done) & wait");
  l.memory_limit_mb = 512;
  runner.Start(l);
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].exit_code, 0) << results[0].error;
  EXPECT_GT(results[0].cpu_time_ms, 0);
  EXPECT_GE(results[0].max_rss_kb, 60'000);
  EXPECT_LE(results[0].max_rss_kb, 512 * 1024);
  // The group is removed once the kernel has let go of it (retried at each tick).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!cgroups_->Leftovers().empty() && std::chrono::steady_clock::now() < deadline) {
    runner.Tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(cgroups_->Leftovers().empty()) << "the task's cgroup is removed";
}

TEST_F(RealCgroupTest, KillingATaskKillsAGrandchildThatLeftItsSession) {
  TaskRunner runner(*launcher_, real_clock_, dir_, "n1", {cgroups_.get(), 1000, 0, false});
  ASSERT_TRUE(runner.Recover().ok());
  runner.Start(Shell({6, 3, 1}, "setsid sh -c 'echo $$ > escaped; exec sleep 300' & wait"));
  ASSERT_TRUE(WaitForFile(dir_ + "/escaped"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pid_t escaped = std::stoi(*os::ReadFile(dir_ + "/escaped"));
  ASSERT_EQ(::getsid(escaped), escaped) << "the grandchild leads its own session";
  runner.Signal({6, 3, 1}, SIGTERM);
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error, "killed on request");
  EXPECT_TRUE(Gone(escaped)) << "a process in another session but in the task's cgroup must die";
}

}  // namespace
}  // namespace drover::agent
