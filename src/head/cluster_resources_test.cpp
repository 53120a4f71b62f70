// The head node's side of scheduling with fakes (cluster_test_fixture.h): resources held on nodes,
// GPU grants, multi-node and exclusive tasks, wait reasons, backfill, limits and fair share.
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
  std::vector<protocol::TaskLaunch> Launches(const std::string& node) {
    std::vector<protocol::TaskLaunch> out;
    for (const auto& m : link_.Of<protocol::StartTasks>(node)) out.insert(out.end(), m.tasks.begin(), m.tasks.end());
    return out;
  }
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
    EXPECT_TRUE(l.allocated_nodes.empty());
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

TEST_F(ClusterResourcesTest, BackfillUsesTimeLimitsOfRunningTasks) {
  Connect("a", 4);
  constexpr int64_t kMin = 60'000;
  JobSpec running = Spec(1);
  running.task.cores = 2;
  running.task.time_limit_ms = 60 * kMin;
  JobId r = Submit(running);
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  JobSpec wide = Spec(1, 3000);  // needs the whole node: reserved for when `running` ends
  wide.task.cores = 4;
  wide.task.time_limit_ms = 10 * kMin;
  JobId w = Submit(wide);
  JobSpec unlimited = Spec(1);
  unlimited.task.cores = 2;
  JobId u = Submit(unlimited);
  JobSpec quick = Spec(1);
  quick.task.cores = 2;
  quick.task.time_limit_ms = 30 * kMin;
  JobId q = Submit(quick);
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  EXPECT_EQ(StateOf(q, 1), TaskState::kRunning) << "ends before the reserved start: backfilled";
  EXPECT_EQ(StateOf(u, 1), TaskState::kQueued);
  EXPECT_TRUE(J(u).wait_reason().starts_with("Priority")) << J(u).wait_reason();
  EXPECT_EQ(StateOf(w, 1), TaskState::kQueued);
  EXPECT_EQ(J(w).expected_start(), J(r).task(1).start_time + 60 * kMin);
}

TEST_F(ClusterResourcesTest, SchedulingSettingsLimitUsersAndSetDefaultTimeLimits) {
  Connect("a", 8);
  SchedulingConfig c;
  c.user_limits.max_cores = 3;
  c.default_time_limit_ms = 600'000;
  ASSERT_TRUE(cluster_->SetSchedulingConfig(c).ok());
  JobId j = Submit(Spec(5));
  JobSpec bob = Spec(2);
  bob.owner = "bob";
  JobId b = Submit(bob);
  cluster_->Schedule();
  persistence_.Commit();
  EXPECT_EQ(J(j).Count(TaskState::kRunning), 3u);
  EXPECT_TRUE(J(j).wait_reason().starts_with("UserLimit")) << J(j).wait_reason();
  EXPECT_EQ(J(b).Count(TaskState::kRunning), 2u);
  for (const auto& l : Launches("a")) EXPECT_EQ(l.time_limit_ms, 600'000);
}

TEST_F(ClusterResourcesTest, AfterARestartGpusOfRunningTasksAreNeverHandedOutTwice) {
  OpenStore();
  ConnectWithGpus("g", 8, 2);
  JobSpec spec = Spec(1);
  spec.task.gpus = 1;
  spec.task.time_limit_ms = 600'000;
  JobId j = Submit(spec);
  ASSERT_EQ(ScheduleAndCommit("g").size(), 1u);
  NodeTemplate gpu{.name = "Gpu", .node_groups = {"gpu"}, .features = {"a100"}};
  ASSERT_TRUE(cluster_->PutTemplate(gpu).ok());
  SchedulingConfig c;
  c.default_time_limit_ms = 60'000;
  ASSERT_TRUE(cluster_->SetSchedulingConfig(c).ok());
  persistence_.Commit();

  // The head node restarts: which GPU task 1 holds is not stored.
  cluster_.reset();
  persistence_.store = nullptr;
  store_.reset();
  link_.Clear();
  OpenStore();
  NewCluster();
  ASSERT_TRUE(cluster_->Load(*store_).ok());
  EXPECT_EQ(cluster_->scheduling_config().default_time_limit_ms, 60'000);
  auto templates = cluster_->Templates();
  auto it = std::find_if(templates.begin(), templates.end(), [](const NodeTemplate& t) { return t.name == "Gpu"; });
  ASSERT_NE(it, templates.end());
  EXPECT_EQ(it->node_groups, (std::vector<std::string>{"gpu"}));
  EXPECT_EQ(it->features, (std::vector<std::string>{"a100"}));
  auto hello = MakeHello(8, {Ref(j, 1)});
  for (int i = 0; i < 2; ++i) hello.gpus.push_back({i, "GPU", "GPU-" + std::to_string(i), 16000});
  cluster_->OnAgentHello("g", hello);
  persistence_.Commit();
  JobId next = Submit(spec);
  EXPECT_TRUE(ScheduleAndCommit("g").empty()) << "one GPU is free, but which one is unknown";
  cluster_->OnAgentResults("g", {Res(Ref(j, 1))});
  persistence_.Commit();
  ASSERT_EQ(ScheduleAndCommit("g").size(), 1u);
  EXPECT_EQ(StateOf(next, 1), TaskState::kRunning);
}

}  // namespace
}  // namespace drover::head
