// Node preparation and node release in the head node's state machine.
#include <gtest/gtest.h>

#include <set>

#include "head/cluster_test_fixture.h"

namespace drover::head {
namespace {

using protocol::TaskLaunch;
using protocol::TaskRef;

class NodeWorkTest : public ClusterTest {
 protected:
  JobSpec WithNodeWork(uint32_t tasks) {
    JobSpec s = Spec(tasks);
    s.prep_command = "touch prep.$DROVER_NODE";
    s.release_command = "touch release.$DROVER_NODE";
    return s;
  }
  static std::vector<TaskId> Ids(const std::vector<TaskLaunch>& launches) {
    std::vector<TaskId> out;
    for (const auto& l : launches) out.push_back(l.ref.task_id);
    return out;
  }
};

TEST_F(NodeWorkTest, PreparationRunsOnceBeforeTheTasksAndReleaseOnceAfter) {
  Connect("a", 2);
  JobId id = Submit(WithNodeWork(4));
  auto first = ScheduleLaunches("a");
  ASSERT_EQ(Ids(first), (std::vector<TaskId>{kPrepTaskId})) << "tasks wait for the preparation";
  const TaskLaunch& prep = first[0];
  EXPECT_EQ(prep.argv, (std::vector<std::string>{"/bin/sh", "-c", "touch prep.$DROVER_NODE"}));
  EXPECT_EQ(prep.env.at("DROVER_NODE"), "a");
  EXPECT_EQ(prep.user, "alice");
  EXPECT_EQ(prep.stdout_path, fmt::format("/tmp/drover-{}.prep.a.out", id));
  EXPECT_EQ(N("a").used_cores, 2) << "the held tasks keep their cores";
  EXPECT_EQ(J(id).Count(TaskState::kRunning), 2u);

  auto after_prep = Report("a", prep.ref);
  EXPECT_EQ(Ids(after_prep), (std::vector<TaskId>{1, 2}));
  Report("a", Ref(id, 1));
  Report("a", Ref(id, 2));
  auto next = ScheduleLaunches("a");
  EXPECT_EQ(Ids(next), (std::vector<TaskId>{3, 4})) << "no second preparation on a prepared node";
  Report("a", Ref(id, 3));
  EXPECT_TRUE(link_.Launches("a").size() == 5u) << "no release while a task still runs there";
  auto released = Report("a", Ref(id, 4));
  EXPECT_EQ(StateOfJob(id), JobState::kFinished);
  ASSERT_EQ(Ids(released), (std::vector<TaskId>{kReleaseTaskId}));
  EXPECT_EQ(released[0].argv.back(), "touch release.$DROVER_NODE");
  EXPECT_EQ(N("a").allocations.size(), 1u);
  EXPECT_EQ(N("a").used_cores, 0) << "a release holds no cores";
  Report("a", released[0].ref);
  EXPECT_TRUE(N("a").allocations.empty());
  EXPECT_EQ(J(id).node_work().at(0).phase, NodeWork::Phase::kReleased);
}

TEST_F(NodeWorkTest, EachNodeIsPreparedAndReleased) {
  Connect("a", 1);
  Connect("b", 1);
  JobId id = Submit(WithNodeWork(2));
  cluster_->Schedule();
  persistence_.Commit();
  for (const char* n : {"a", "b"}) {
    auto l = link_.Launches(n);
    ASSERT_EQ(Ids(l), (std::vector<TaskId>{kPrepTaskId})) << n;
    auto started = Report(n, l[0].ref);
    ASSERT_EQ(started.size(), 1u) << n;
    auto released = Report(n, started[0].ref);
    ASSERT_EQ(Ids(released), (std::vector<TaskId>{kReleaseTaskId})) << n;
  }
  EXPECT_EQ(StateOfJob(id), JobState::kFinished);
}

TEST_F(NodeWorkTest, FailedPreparationSendsTheTasksElsewhere) {
  Connect("a", 2);
  JobId id = Submit(WithNodeWork(2));
  auto on_a = ScheduleLaunches("a");
  ASSERT_EQ(Ids(on_a), (std::vector<TaskId>{kPrepTaskId}));
  Connect("b", 1);
  link_.Clear();
  // The preparation fails on a: its tasks go back to the queue, and from now on to b only.
  Report("a", on_a[0].ref, 3);
  EXPECT_EQ(J(id).Count(TaskState::kQueued), 2u);
  EXPECT_EQ(N("a").used_cores, 0);
  persistence_.Commit();
  EXPECT_EQ(Ids(link_.Launches("a")), (std::vector<TaskId>{kReleaseTaskId})) << "a failed node is released at once";
  cluster_->Schedule();
  persistence_.Commit();
  auto on_b = link_.Launches("b");
  ASSERT_EQ(Ids(on_b), (std::vector<TaskId>{kPrepTaskId}));
  EXPECT_EQ(Ids(link_.Launches("a")).size(), 1u) << "nothing more placed on a";
  auto started = Report("b", on_b[0].ref);
  ASSERT_EQ(Ids(started), (std::vector<TaskId>{1}));
  EXPECT_EQ(J(id).task(1).attempt, 2u);
}

TEST_F(NodeWorkTest, PreparationFailingEverywhereFailsTheJobWithTheReason) {
  Connect("a", 1);
  JobId id = Submit(WithNodeWork(3));
  auto prep = ScheduleLaunches("a");
  ASSERT_EQ(Ids(prep), (std::vector<TaskId>{kPrepTaskId}));
  Report("a", prep[0].ref, 1);
  EXPECT_EQ(StateOfJob(id), JobState::kFailed);
  EXPECT_EQ(J(id).Count(TaskState::kFailed), 3u);
  EXPECT_NE(J(id).Error(3).find("node preparation failed on a: exit code 1"), std::string::npos) << J(id).Error(3);
}

TEST_F(NodeWorkTest, CancelReleasesOnceTheKilledTasksAreGone) {
  Connect("a", 2);
  JobId id = Submit(WithNodeWork(4));
  auto prep = ScheduleLaunches("a");
  Report("a", prep[0].ref);
  link_.Clear();
  ASSERT_TRUE(cluster_->Cancel(id).ok());
  persistence_.Commit();
  EXPECT_TRUE(link_.Launches("a").empty()) << "the killed tasks still run";
  Report("a", {id, 1, 1}, -1);
  EXPECT_TRUE(link_.Launches("a").empty());
  auto released = Report("a", {id, 2, 1}, -1);
  EXPECT_EQ(Ids(released), (std::vector<TaskId>{kReleaseTaskId}));
}

TEST_F(NodeWorkTest, NodeLostDuringPreparationRequeuesTheHeldTasks) {
  config_.heartbeat_timeout_ms = 1000;
  NewCluster();
  Connect("a", 2);
  JobId id = Submit(WithNodeWork(2));
  auto prep = ScheduleLaunches("a");
  ASSERT_EQ(Ids(prep), (std::vector<TaskId>{kPrepTaskId}));
  clock_.Advance(5000);
  cluster_->CheckHeartbeats();
  EXPECT_EQ(J(id).Count(TaskState::kQueued), 2u);
  EXPECT_TRUE(N("a").allocations.empty());
  // It comes back: the preparation runs again, and its old result is stale.
  Connect("a", 2);
  auto again = ScheduleLaunches("a");
  ASSERT_EQ(Ids(again), (std::vector<TaskId>{kPrepTaskId}));
  EXPECT_NE(again[0].ref.attempt, prep[0].ref.attempt);
  EXPECT_TRUE(Report("a", prep[0].ref).empty());
  EXPECT_EQ(Ids(Report("a", again[0].ref)), (std::vector<TaskId>{1, 2}));
}

}  // namespace
}  // namespace drover::head
