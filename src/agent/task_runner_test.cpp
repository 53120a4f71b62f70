#include "agent/task_runner.h"

#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "os/files.h"

namespace drover::agent {
namespace {

using protocol::TaskLaunch;
using protocol::TaskRef;

class TaskRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::off);
    char tmpl[] = "/tmp/drover_task_runner_test_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
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
    const passwd* me = ::getpwuid(::geteuid());  // a root agent runs tasks as their owner: this user
    l.user = me ? me->pw_name : "";
    l.argv = {"/bin/sh", "-c", command};
    l.working_dir = dir_;
    l.env = {{"PATH", "/usr/bin:/bin"}};
    l.stdout_path = fmt::format("{}/out.{}", dir_, ref.task_id);
    l.stderr_path = l.stdout_path;
    return l;
  }

  // Reaps until `count` results arrived or 10 s passed.
  std::vector<protocol::TaskResult> ReapUntil(TaskRunner& runner, size_t count) {
    std::vector<protocol::TaskResult> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
      for (auto& r : runner.Reap()) out.push_back(std::move(r));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return out;
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
  SystemClock clock_;
  std::unique_ptr<os::ProcessLauncher> launcher_;
};

TEST_F(TaskRunnerTest, RunsTasksAndKeepsResultsUntilAcknowledged) {
  TaskRunner runner(*launcher_, clock_, dir_, "n1");
  ASSERT_TRUE(runner.Recover().ok());
  runner.Start(Shell({1, 1, 1}, "echo hi; exit 4"));
  runner.Start(Shell({1, 1, 1}, "echo again"));  // a repeated start is ignored
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].exit_code, 4);
  EXPECT_EQ(*os::ReadFile(dir_ + "/out.1"), "hi\n");
  ASSERT_EQ(runner.Unacknowledged().size(), 1u);

  // A new runner on the same directory (the agent restarted) still has the result to report.
  TaskRunner restarted(*launcher_, clock_, dir_, "n1");
  ASSERT_TRUE(restarted.Recover().ok());
  ASSERT_EQ(restarted.Unacknowledged().size(), 1u);
  EXPECT_EQ(restarted.Unacknowledged()[0].exit_code, 4);
  restarted.Acknowledge({{1, 1, 1}});
  EXPECT_TRUE(restarted.Unacknowledged().empty());
  TaskRunner again(*launcher_, clock_, dir_, "n1");
  ASSERT_TRUE(again.Recover().ok());
  EXPECT_TRUE(again.Unacknowledged().empty());
}

TEST_F(TaskRunnerTest, ATaskThatCannotStartEndsAtOnceWithTheReason) {
  TaskRunner runner(*launcher_, clock_, dir_, "n1");
  ASSERT_TRUE(runner.Recover().ok());
  auto l = Shell({2, 1, 1}, "true");
  l.working_dir = dir_ + "/missing";
  runner.Start(l);
  auto immediate = runner.TakeImmediateResults();
  ASSERT_EQ(immediate.size(), 1u);
  EXPECT_NE(immediate[0].error.find("missing"), std::string::npos) << immediate[0].error;
  EXPECT_FALSE(runner.IsRunning({2, 1, 1}));
}

TEST_F(TaskRunnerTest, SignalKillsTheWholeProcessGroup) {
  TaskRunner runner(*launcher_, clock_, dir_, "n1");
  ASSERT_TRUE(runner.Recover().ok());
  runner.Start(Shell({3, 1, 1}, "sleep 60 & echo $! > child; wait"));
  ASSERT_TRUE(runner.IsRunning({3, 1, 1}));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!os::Exists(dir_ + "/child") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_t child = std::stoi(*os::ReadFile(dir_ + "/child"));
  runner.Signal({3, 1, 1}, SIGKILL);
  auto results = ReapUntil(runner, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error, "killed on request");
  EXPECT_TRUE(Gone(child));
}

TEST_F(TaskRunnerTest, RecoverKillsTasksOfThePreviousRunButNotARecycledPid) {
  {
    TaskRunner first(*launcher_, clock_, dir_, "n1");
    ASSERT_TRUE(first.Recover().ok());
    first.Start(Shell({4, 1, 1}, "sleep 60"));
    ASSERT_TRUE(first.IsRunning({4, 1, 1}));
  }  // the agent "dies" without reaping
  auto record = os::ReadFile(dir_ + "/tasks/4.1.1");
  ASSERT_TRUE(record.ok());
  pid_t leftover = std::stoi(*record);

  // Another process whose pid a stale record names, with another start time: left alone.
  os::LaunchSpec bystander_spec{{"/bin/sleep", "60"}, {{"PATH", "/bin"}}, dir_, "", "", true, false};
  auto bystander = launcher_->Launch(bystander_spec);
  ASSERT_TRUE(bystander.ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/tasks/5.1.1", fmt::format("{} 1", *bystander)).ok());

  TaskRunner second(*launcher_, clock_, dir_, "n1");
  ASSERT_TRUE(second.Recover().ok());
  EXPECT_TRUE(Gone(leftover)) << "the previous run's task must be killed";
  EXPECT_EQ(::kill(*bystander, 0), 0) << "a process the record does not really name must live";
  EXPECT_TRUE(os::ListDir(dir_ + "/tasks").empty());
  ::kill(*bystander, SIGKILL);
  (void)launcher_->ReapExited();
}

}  // namespace
}  // namespace drover::agent
