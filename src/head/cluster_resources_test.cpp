// Resources and placement on the head node: GPU grants, memory and time limits reaching the
// agent, multi-node tasks, exclusive nodes, wait reasons, fair share, node groups, and how tasks
// end at their limits (Timeout, OutOfMemory).
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "head/cluster_test_fixture.h"

namespace drover::head {
namespace {

class ClusterResourcesTest : public ClusterTest {
 protected:
  void ConnectWithGpus(const std::string& name, int cores, int gpus) {
    cluster_->EnsureDefaultTemplate(true);
    ASSERT_TRUE(cluster_->Join(name, "host", "serial-" + name).ok());
    auto hello = MakeHello(cores);
    for (int i = 0; i < gpus; ++i) hello.gpus.push_back({i, "GPU", "GPU-" + std::to_string(i), 16000});
    cluster_->OnAgentHello(name, hello);
    persistence_.Commit();
  }
  std::vector<protocol::TaskLaunch> Launches(const std::string& node) { return link_.Launches(node); }
};

TEST_F(ClusterResourcesTest, GpuGrantsMemoryAndTimeLimitsReachTheAgent) {
  ConnectWithGpus("g", 8, 2);
  JobSpec spec = Spec(3);
  spec.task.gpus = 1;
  spec.task.memory_mb = 100;
  spec.task.time_limit_ms = 60'000;
  JobId j = Submit(spec);
  ASSERT_EQ(ScheduleAndCommit("g").size(), 2u) << "two GPUs: two tasks";
  auto launches = Launches("g");
  ASSERT_EQ(launches.size(), 2u);
  std::set<int> gpus;
  for (const auto& l : launches) {
    ASSERT_EQ(l.gpus.size(), 1u);
    gpus.insert(l.gpus[0]);
    EXPECT_EQ(l.memory_limit_mb, 100);
    EXPECT_EQ(l.time_limit_ms, 60'000);
    EXPECT_EQ(l.allocated_nodes, std::vector<std::string>{"g"});
  }
  EXPECT_EQ(gpus, (std::set<int>{0, 1}));
  EXPECT_EQ(N("g").used_memory_mb, 200);
  EXPECT_EQ(StateOf(j, 3), TaskState::kQueued);
  cluster_->OnAgentResults("g", {Res(launches[1].ref)});
  persistence_.Commit();
  auto next = ScheduleAndCommit("g");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(Launches("g").back().gpus, launches[1].gpus) << "the freed GPU, and only it";
}

TEST_F(ClusterResourcesTest, MultiNodeTaskHoldsEveryNodeAndFreesThemTogether) {
  Connect("a", 4);
  Connect("b", 4);
  JobSpec spec = Spec(1);
  spec.task.nodes = 2;
  spec.task.tasks_per_node = 2;
  JobId j = Submit(spec);
  cluster_->Schedule();
  persistence_.Commit();
  auto on_a = Launches("a"), on_b = Launches("b");
  ASSERT_EQ(on_a.size() + on_b.size(), 1u) << "one launch, on the first node";
  const auto& l = on_a.empty() ? on_b[0] : on_a[0];
  std::string first = on_a.empty() ? "b" : "a";
  EXPECT_EQ(l.allocated_nodes.size(), 2u);
  EXPECT_EQ(l.allocated_nodes[0], first);
  EXPECT_EQ(N("a").used_cores, 2);
  EXPECT_EQ(N("b").used_cores, 2);
  cluster_->OnAgentResults(first, {Res(Ref(j, 1))});
  persistence_.Commit();
  EXPECT_EQ(N("a").used_cores, 0);
  EXPECT_EQ(N("b").used_cores, 0);
}

TEST_F(ClusterResourcesTest, LosingAnotherNodeOfAMultiNodeTaskRequeuesItAndKillsItWhereItRuns) {
  Connect("a", 4);
  Connect("b", 4);
  JobSpec spec = Spec(1);
  spec.task.nodes = 2;
  JobId j = Submit(spec);
  cluster_->Schedule();
  persistence_.Commit();
  std::string first = NodeOf(j, 1);
  TaskRef ref = Ref(j, 1);
  link_.Clear();
  clock_.Advance(config_.heartbeat_timeout_ms + 1);
  cluster_->OnAgentHeartbeat(first, {});
  cluster_->CheckHeartbeats();
  persistence_.Commit();
  EXPECT_EQ(StateOf(j, 1), TaskState::kQueued);
  EXPECT_EQ(link_.RefsIn<protocol::KillTasks>(first), (std::vector<TaskRef>{ref}));
}

TEST_F(ClusterResourcesTest, ExclusiveTaskTakesTheWholeNode) {
  Connect("a", 4);
  JobSpec ex = Spec(1);
  ex.task.exclusive = true;
  Submit(ex);
  Submit(Spec(2));
  auto started = ScheduleAndCommit("a");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(N("a").used_cores, 4);
  EXPECT_EQ(N("a").used_memory_mb, 4096);
}

TEST_F(ClusterResourcesTest, AJobNoNodeCanHoldWaitsWithAReason) {
  Connect("a", 4);
  JobSpec big = Spec(1);
  big.task.memory_mb = 1 << 30;
  JobId j = Submit(big);
  JobId small = Submit(Spec(1));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  EXPECT_EQ(StateOf(small, 1), TaskState::kRunning);
  EXPECT_TRUE(J(j).wait_reason().starts_with("TooLarge")) << J(j).wait_reason();
  EXPECT_NE(J(j).wait_reason().find("1073741824 MB"), std::string::npos) << J(j).wait_reason();
}

TEST_F(ClusterResourcesTest, FinishedTasksCountTowardsFairShare) {
  Connect("a", 1);
  JobId j = Submit(Spec(1));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  clock_.Advance(10'000);
  cluster_->OnAgentResults("a", {Res(Ref(j, 1))});
  JobSpec bob = Spec(1);
  bob.owner = "bob";
  Submit(bob);
  persistence_.Commit();
  // Alice used everything, bob nothing; two users weighed: F(alice) = 2^-(1/(1/2)) = 0.25.
  EXPECT_DOUBLE_EQ(cluster_->FairShareFactor("alice"), 0.25);
  EXPECT_DOUBLE_EQ(cluster_->FairShareFactor("bob"), 1.0);
}

// Fair share after a restart is rebuilt from the accounting records, GPU-seconds included.
TEST_F(ClusterResourcesTest, FairShareKeepsGpuUsageAcrossARestart) {
  OpenStore();
  ConnectWithGpus("g", 2, 1);
  JobSpec alice = Spec(1);
  alice.task.gpus = 1;
  JobSpec bob = Spec(1);
  bob.owner = "bob";
  JobId a = Submit(alice), b = Submit(bob);
  ASSERT_EQ(ScheduleAndCommit("g").size(), 2u);
  clock_.Advance(10'000);
  cluster_->OnAgentResults("g", {Res(Ref(a, 1)), Res(Ref(b, 1))});
  persistence_.Commit();
  double alice_before = cluster_->FairShareFactor("alice"), bob_before = cluster_->FairShareFactor("bob");
  // Same cores and time, but alice's GPU-seconds weigh gpu_weight times: she is well below bob.
  ASSERT_LT(alice_before, bob_before - 0.1);
  Restart();
  EXPECT_NEAR(cluster_->FairShareFactor("alice"), alice_before, 1e-9);
  EXPECT_NEAR(cluster_->FairShareFactor("bob"), bob_before, 1e-9);
}

TEST_F(ClusterResourcesTest, NodeTemplateGroupsDecideWhereJobsGo) {
  Connect("a", 2);
  Connect("b", 2);
  NodeTemplate gpu{.name = "Gpu", .node_groups = {"gpu"}, .features = {"a100"}};
  ASSERT_TRUE(cluster_->PutTemplate(gpu).ok());
  ASSERT_TRUE(cluster_->Approve("b", "Gpu").ok());
  persistence_.Commit();
  JobSpec spec = Spec(4);
  spec.node_groups = {"gpu"};
  JobId j = Submit(spec);
  cluster_->Schedule();
  persistence_.Commit();
  EXPECT_EQ(NodeOf(j, 1), "b");
  EXPECT_EQ(NodeOf(j, 2), "b");
  EXPECT_EQ(StateOf(j, 3), TaskState::kQueued);
}

TEST_F(ClusterResourcesTest, TimeoutAndOutOfMemoryEndTasksInTheirOwnStatesAndFailTheJob) {
  Connect("a", 4);
  JobSpec spec = Spec(3);
  spec.task.memory_mb = 64;
  spec.task.time_limit_ms = 60'000;
  JobId j = Submit(spec);
  persistence_.Commit();
  auto started = ScheduleAndCommit("a");
  ASSERT_EQ(started.size(), 3u);
  auto sent = link_.Of<protocol::StartTasks>("a");
  for (const auto& l : sent.back().tasks) {
    EXPECT_EQ(l.memory_limit_mb, 64);
    EXPECT_EQ(l.time_limit_ms, 60'000);
    EXPECT_EQ(l.allocated_nodes, std::vector<std::string>{"a"});
  }
  TaskResult timed_out = Res(started[0], 137, "time limit of 60 s exceeded");
  timed_out.timed_out = true;
  TaskResult oom = Res(started[1], 137, "out of memory (limit 64 MiB)");
  oom.out_of_memory = true;
  cluster_->OnAgentResults("a", {timed_out, oom, Res(started[2])});
  EXPECT_EQ(StateOf(j, 1), TaskState::kTimeout);
  EXPECT_EQ(StateOf(j, 2), TaskState::kOutOfMemory);
  EXPECT_EQ(StateOf(j, 3), TaskState::kFinished);
  EXPECT_EQ(J(j).record().state, JobState::kFailed);
  const auto& acct = persistence_.pending().accounting;
  ASSERT_EQ(acct.size(), 3u);
  EXPECT_EQ(acct[1].state, TaskState::kOutOfMemory);
  EXPECT_EQ(acct[1].error, "out of memory (limit 64 MiB)");
  EXPECT_EQ(acct[1].memory_limit_mb, 64);
  EXPECT_EQ(acct[1].time_limit_ms, 60'000);
  EXPECT_EQ(acct[1].cpu_time_ms, 7);
}

TEST_F(ClusterResourcesTest, TasksGetFreeGpuIndicesAndWaitWhenNoneIsFree) {
  ConnectWithGpus("g", 8, 3);
  JobSpec spec = Spec(3);
  spec.task.gpus = 2;
  JobId j = Submit(spec);
  persistence_.Commit();
  auto started = ScheduleAndCommit("g");
  ASSERT_EQ(started.size(), 1u) << "three GPUs hold one task of two";
  EXPECT_EQ(link_.Of<protocol::StartTasks>("g").back().tasks[0].gpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(StateOf(j, 2), TaskState::kQueued);
  cluster_->OnAgentResults("g", {Res(started[0])});
  persistence_.Commit();
  started = ScheduleAndCommit("g");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(link_.Of<protocol::StartTasks>("g").back().tasks[0].gpus, (std::vector<int>{0, 1}));
}

}  // namespace
}  // namespace drover::head
