// A parametric sweep over two real compute nodes: every task runs once, in the right place, with
// its index substituted, and writes the output file its pattern names.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "os/files.h"
#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {

TEST(Sweep, ThousandTasksOverTwoNodesEachWriteTheirOutput) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 4});
  cluster.StartAll();
  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  int64_t id = cluster.Submit(SweepJob(work, "echo result-* $DROVER_TASK_INDEX $DROVER_JOB_ID", 1, 1000));
  ASSERT_GT(id, 0);
  auto job = cluster.WaitForJob(id, 240000);
  ASSERT_EQ(job.at("state"), "Finished") << boost::json::serialize(job.at("tasks"));
  EXPECT_EQ(CountTasks(job, "Finished"), 1000);
  std::set<std::string> nodes;
  for (const auto& t : job.at("task_list").as_array()) {
    nodes.insert(std::string(t.at("node").as_string()));
    EXPECT_EQ(t.at("attempt").to_number<int64_t>(), 1);
    EXPECT_EQ(t.at("exit_code").to_number<int64_t>(), 0);
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"cn01", "cn02"}));
  for (int i = 1; i <= 1000; ++i) {
    auto lines = ReadLines(fmt::format("{}/out.{}", work, i));
    ASSERT_EQ(lines.size(), 1u) << "out." << i;
    EXPECT_EQ(lines[0], fmt::format("result-{} {} {}", i, i, id));
  }
}

TEST(Sweep, StepAndLiteralStar) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  auto spec = SweepJob(work, "echo '\\*' *", 0, 10);
  spec["sweep"].as_object()["step"] = 5;
  int64_t id = cluster.Submit(spec);
  auto job = cluster.WaitForJob(id);
  ASSERT_EQ(job.at("state"), "Finished");
  ASSERT_EQ(job.at("tasks").at("total").to_number<int64_t>(), 3);
  for (int i : {0, 5, 10}) {
    auto lines = ReadLines(fmt::format("{}/out.{}", work, i));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0], fmt::format("* {}", i));
  }
}

TEST(Jobs, ExitCodesStatesAndStartFailures) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir();
  auto ok = cluster.WaitForJob(cluster.Submit(ShellJob(work, "exit 0")));
  EXPECT_EQ(ok.at("state"), "Finished");
  auto failed = cluster.WaitForJob(cluster.Submit(ShellJob(work, "exit 7")));
  EXPECT_EQ(failed.at("state"), "Failed");
  EXPECT_EQ(failed.at("task_list").at(0).at("exit_code").to_number<int64_t>(), 7);
  auto missing_dir = ShellJob(work + "/does-not-exist", "true");
  auto bad = cluster.WaitForJob(cluster.Submit(missing_dir));
  EXPECT_EQ(bad.at("state"), "Failed");
  std::string error(bad.at("task_list").at(0).at("error").as_string());
  EXPECT_NE(error.find("does-not-exist"), std::string::npos) << error;
}

TEST(Jobs, HigherPriorityRunsFirst) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 1});
  cluster.StartAll();
  std::string work = cluster.dir();
  // Occupy the only core, queue a low and a high priority job, then free it.
  int64_t blocker = cluster.Submit(ShellJob(work, "sleep 1"));
  auto low = ShellJob(work, "echo low >> order.log");
  low["priority"] = 1000;
  auto high = ShellJob(work, "echo high >> order.log");
  high["priority"] = 3000;
  int64_t low_id = cluster.Submit(low);
  int64_t high_id = cluster.Submit(high);
  cluster.WaitForJob(blocker);
  cluster.WaitForJob(low_id);
  cluster.WaitForJob(high_id);
  EXPECT_EQ(ReadLines(work + "/order.log"), (std::vector<std::string>{"high", "low"}));
}

TEST(Jobs, CancelKillsRunningProcessesAndStopsQueuedOnes) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir();
  int64_t id = cluster.Submit(ShellJob(work, "echo $$ > pid.$DROVER_TASK_ID; sleep 60 & wait", 4));
  ASSERT_TRUE(TestCluster::Eventually([&] { return os::Exists(work + "/pid.1") && os::Exists(work + "/pid.2"); },
                                      10000));
  cluster.Post(fmt::format("/api/v1/jobs/{}/cancel", id), boost::json::object{});
  auto job = cluster.WaitForJob(id);
  EXPECT_EQ(job.at("state"), "Canceled");
  EXPECT_EQ(CountTasks(job, "Canceled"), 4);
  for (int t : {1, 2}) {
    pid_t pid = std::stoi(ReadLines(fmt::format("{}/pid.{}", work, t)).at(0));
    EXPECT_TRUE(TestCluster::Eventually([&] { return ::kill(pid, 0) != 0; }, 10000)) << "task " << t << " still runs";
  }
  EXPECT_FALSE(os::Exists(work + "/pid.3"));
  // The node's cores are free again.
  EXPECT_EQ(cluster.WaitForJob(cluster.Submit(ShellJob(work, "true", 2))).at("state"), "Finished");
}

}  // namespace
}  // namespace drover::testing
