// Faults a cluster must survive without losing an accepted job or completing a task twice.
#include <signal.h>

#include <map>
#include <thread>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "os/files.h"
#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {

// Each task records its index in done.log when it completes (the last thing it does).
constexpr const char* kRecordingTask = "sleep 0.4; echo * >> done.log";

std::map<std::string, int> CountLines(const std::string& path) {
  std::map<std::string, int> counts;
  for (const auto& l : ReadLines(path)) ++counts[l];
  return counts;
}

TEST(Faults, KilledHeadNodeLosesNothingAndRunsNothingTwice) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 4, .heartbeat_timeout_ms = 5000});
  cluster.StartAll();
  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  constexpr int kTasks = 60;
  int64_t id = cluster.Submit(SweepJob(work, kRecordingTask, 1, kTasks));
  ASSERT_GT(id, 0);
  // Let some tasks finish and others run, then kill the head node hard.
  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/done.log").size() >= 8; }, 20000));
  cluster.KillHead(SIGKILL);
  size_t done_while_down = ReadLines(work + "/done.log").size();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // tasks keep running without a head
  cluster.StartHead();
  auto job = cluster.WaitForJob(id, 120000);
  ASSERT_EQ(job.at("state"), "Finished") << boost::json::serialize(job.at("tasks"));
  EXPECT_EQ(CountTasks(job, "Finished"), kTasks);
  EXPECT_GT(ReadLines(work + "/done.log").size(), done_while_down);
  auto counts = CountLines(work + "/done.log");
  ASSERT_EQ(counts.size(), static_cast<size_t>(kTasks));
  for (const auto& [index, n] : counts) EXPECT_EQ(n, 1) << "task index " << index << " completed " << n << " times";
  // Tasks that ran through the restart kept their attempt; only placements committed but never
  // delivered (the head died between the commit and the send) may have been placed again.
  int first_attempt = 0;
  for (const auto& t : job.at("task_list").as_array()) first_attempt += t.at("attempt").to_number<int64_t>() == 1;
  EXPECT_GE(first_attempt, kTasks - 8);
}

TEST(Faults, KilledComputeNodeTasksFinishOnTheOtherNode) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 4, .heartbeat_timeout_ms = 1500});
  cluster.StartAll();
  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  constexpr int kTasks = 40;
  int64_t id = cluster.Submit(SweepJob(work, kRecordingTask, 1, kTasks));
  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/done.log").size() >= 6; }, 20000));
  cluster.KillNode(0, SIGKILL);
  auto job = cluster.WaitForJob(id, 120000);
  ASSERT_EQ(job.at("state"), "Finished") << boost::json::serialize(job.at("tasks"));
  EXPECT_EQ(CountTasks(job, "Finished"), kTasks);
  int requeued = 0;
  for (const auto& t : job.at("task_list").as_array()) {
    if (t.at("attempt").to_number<int64_t>() > 1) {
      ++requeued;
      EXPECT_EQ(t.at("node"), "cn02") << "a requeued task must finish on the surviving node";
    }
  }
  EXPECT_GT(requeued, 0) << "the killed node was running tasks; they must have been requeued";
  auto counts = CountLines(work + "/done.log");
  EXPECT_EQ(counts.size(), static_cast<size_t>(kTasks)) << "every index completed";
  auto nodes = cluster.Get("/api/v1/nodes");
  for (const auto& n : nodes.at("nodes").as_array()) {
    if (n.at("name") == "cn01") EXPECT_EQ(n.at("health"), "Unreachable");
  }
}

TEST(Faults, RestartedNodeReconnectsAndIsUsedAgain) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2, .heartbeat_timeout_ms = 1000});
  cluster.StartAll();
  cluster.KillNode(0, SIGKILL);
  ASSERT_TRUE(TestCluster::Eventually(
      [&] { return cluster.Get("/api/v1/nodes/cn01").at("health") == "Unreachable"; }, 10000));
  cluster.StartNode(0);  // the same state directory: no new join
  cluster.WaitForNodesOnline(1);
  auto job = cluster.WaitForJob(cluster.Submit(ShellJob(cluster.dir(), "true")));
  EXPECT_EQ(job.at("state"), "Finished");
}

}  // namespace
}  // namespace drover::testing
