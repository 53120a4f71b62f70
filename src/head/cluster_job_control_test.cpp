// Dependencies, holds, begin times and requeue in the head node's state machine.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <set>

#include "common/job_control.h"
#include "head/cluster_test_fixture.h"

namespace drover::head {
namespace {

using protocol::TaskRef;

class JobControlTest : public ClusterTest {
 protected:
  JobSpec After(const std::string& text, uint32_t tasks = 1) {
    JobSpec s = Spec(tasks);
    auto deps = ParseDependencies(text);
    EXPECT_TRUE(deps.ok()) << deps.status().ToString();
    s.dependencies = deps->items;
    s.depend_any = deps->any;
    return s;
  }
  std::string Reason(JobId id) { return J(id).hold_reason(); }
  // Runs job `id`'s single task to the end on node "a" with `exit_code`.
  void RunToEnd(JobId id, int exit_code) {
    auto started = ScheduleLaunches("a");
    ASSERT_EQ(started.size(), 1u);
    ASSERT_EQ(started[0].ref.job_id, id);
    Report("a", started[0].ref, exit_code);
  }
};

TEST_F(JobControlTest, AfterOkChainRunsInOrder) {
  Connect("a", 4);
  JobId first = Submit(Spec(1));
  JobId second = Submit(After(fmt::format("afterok:{}", first)));
  JobId third = Submit(After(fmt::format("afterok:{}", second)));
  EXPECT_EQ(Reason(second), "Dependency");
  EXPECT_EQ(Reason(third), "Dependency");
  RunToEnd(first, 0);
  EXPECT_EQ(StateOfJob(first), JobState::kFinished);
  EXPECT_EQ(Reason(second), "");
  EXPECT_EQ(Reason(third), "Dependency");
  RunToEnd(second, 0);
  RunToEnd(third, 0);
  EXPECT_EQ(StateOfJob(third), JobState::kFinished);
}

TEST_F(JobControlTest, NeverSatisfiedDependencyCancelsWithReason) {
  Connect("a", 4);
  JobId first = Submit(Spec(1));
  JobId ok = Submit(After(fmt::format("afterok:{}", first), 3));
  JobId notok = Submit(After(fmt::format("afternotok:{}", first)));
  JobId any = Submit(After(fmt::format("afterany:{}", first)));
  RunToEnd(first, 2);
  EXPECT_EQ(StateOfJob(ok), JobState::kCanceled);
  EXPECT_EQ(J(ok).Count(TaskState::kCanceled), 3u);
  EXPECT_EQ(J(ok).spec().cancel_reason,
            fmt::format("DependencyNeverSatisfied: afterok needs job {} to finish, and it Failed", first));
  EXPECT_EQ(Reason(notok), "");
  EXPECT_EQ(Reason(any), "");
  auto started = ScheduleLaunches("a");
  std::set<JobId> jobs;
  for (const auto& l : started) jobs.insert(l.ref.job_id);
  EXPECT_EQ(jobs, (std::set<JobId>{notok, any}));

  // A dependency on a job that ended badly already cancels at submission.
  JobId late = Submit(After(fmt::format("afterok:{}", first)));
  EXPECT_EQ(StateOfJob(late), JobState::kCanceled);
}

TEST_F(JobControlTest, WithoutKillInvalidDependTheJobWaitsWithReason) {
  config_.kill_invalid_depend = false;
  NewCluster();
  Connect("a", 4);
  JobId first = Submit(Spec(1));
  JobId dep = Submit(After(fmt::format("afterok:{}", first)));
  RunToEnd(first, 1);
  EXPECT_EQ(StateOfJob(dep), JobState::kQueued);
  EXPECT_EQ(Reason(dep), "DependencyNeverSatisfied");
  EXPECT_TRUE(ScheduleLaunches("a").empty());
}

TEST_F(JobControlTest, AnyOfSeveralDependencies) {
  Connect("a", 4);
  JobId x = Submit(Spec(1));
  JobId y = Submit(Spec(1));
  JobId dep = Submit(After(fmt::format("afterok:{}?afterok:{}", x, y)));
  ASSERT_EQ(ScheduleLaunches("a").size(), 2u);
  Report("a", Ref(x, 1), 1);
  EXPECT_EQ(StateOfJob(dep), JobState::kQueued);
  EXPECT_EQ(Reason(dep), "Dependency");
  Report("a", Ref(y, 1), 0);
  EXPECT_EQ(Reason(dep), "");
}

TEST_F(JobControlTest, UnknownDependencyIsRefusedAtSubmission) {
  auto id = cluster_->Submit(After("afterok:4242"));
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kNotFound);
  EXPECT_NE(id.status().message().find("job 4242 does not exist"), std::string::npos) << id.status().message();
}

TEST_F(JobControlTest, DependenciesSurviveARestart) {
  OpenStore();
  Connect("a", 4);
  JobId first = Submit(Spec(1));
  JobId done = Submit(Spec(1));
  ASSERT_EQ(ScheduleLaunches("a").size(), 2u);
  Report("a", Ref(done, 1), 0);
  JobId dep = Submit(After(fmt::format("afterok:{},afterok:{}", first, done)));
  persistence_.Commit();

  Restart();
  ASSERT_NE(cluster_->FindJob(dep), nullptr);
  EXPECT_EQ(J(dep).spec().dependencies.size(), 2u);
  EXPECT_EQ(Reason(dep), "Dependency");  // `done` is read from the store, `first` still runs
  Connect("a", 4, {{first, 1, 1}});
  EXPECT_TRUE(ScheduleLaunches("a").empty());
  Report("a", {first, 1, 1}, 0);
  EXPECT_EQ(Reason(dep), "");
  auto started = ScheduleLaunches("a");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].ref.job_id, dep);
}

TEST_F(JobControlTest, HoldAndRelease) {
  Connect("a", 4);
  JobSpec held = Spec(2);
  held.hold = true;
  JobId id = Submit(held);
  EXPECT_EQ(Reason(id), "JobHeldUser");
  EXPECT_TRUE(ScheduleLaunches("a").empty());
  EXPECT_EQ(cluster_->Hold(id).code(), StatusCode::kOk);
  ASSERT_TRUE(cluster_->Release(id).ok());
  EXPECT_EQ(persistence_.pending().jobs.back().spec.hold, false) << "the release is persisted";
  EXPECT_EQ(Reason(id), "");
  EXPECT_EQ(cluster_->Release(id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ScheduleLaunches("a").size(), 2u);

  // Holding a job stops its queued tasks; running ones go on.
  JobId more = Submit(Spec(6));
  ASSERT_EQ(ScheduleLaunches("a").size(), 2u);
  ASSERT_TRUE(cluster_->Hold(more).ok());
  Report("a", Ref(id, 1));
  EXPECT_TRUE(ScheduleLaunches("a").empty());
  ASSERT_TRUE(cluster_->Release(more).ok());
  EXPECT_EQ(ScheduleLaunches("a").size(), 1u);

  Report("a", Ref(id, 2));
  EXPECT_EQ(cluster_->Hold(id).code(), StatusCode::kFailedPrecondition) << "it has ended";
  EXPECT_EQ(cluster_->Hold(999).code(), StatusCode::kNotFound);
}

TEST_F(JobControlTest, HoldSurvivesARestart) {
  OpenStore();
  JobSpec held = Spec(1);
  held.hold = true;
  JobId id = Submit(held);
  Restart();
  EXPECT_EQ(Reason(id), "JobHeldUser");
  ASSERT_TRUE(cluster_->Release(id).ok());
  Restart();
  EXPECT_EQ(Reason(id), "");
}

TEST_F(JobControlTest, BeginTimeWaitsForTheClock) {
  Connect("a", 4);
  JobSpec later = Spec(1);
  later.begin_time = clock_.Now() + 60'000;
  JobId id = Submit(later);
  EXPECT_EQ(Reason(id), "BeginTime");
  EXPECT_TRUE(ScheduleLaunches("a").empty());
  clock_.Advance(59'000);
  cluster_->CheckBeginTimes();
  EXPECT_EQ(Reason(id), "BeginTime");
  clock_.Advance(1'000);
  cluster_->CheckBeginTimes();
  EXPECT_EQ(Reason(id), "");
  EXPECT_EQ(ScheduleLaunches("a").size(), 1u);

  JobSpec past = Spec(1);
  past.begin_time = clock_.Now() - 1;
  EXPECT_EQ(Reason(Submit(past)), "");
}

TEST_F(JobControlTest, RequeueReRunsEveryTaskWithNewAttempts) {
  Connect("a", 2);
  JobId id = Submit(Spec(3));
  ASSERT_EQ(ScheduleLaunches("a").size(), 2u);
  Report("a", Ref(id, 1), 0);
  ASSERT_EQ(ScheduleLaunches("a").size(), 1u);  // task 3
  link_.Clear();

  ASSERT_TRUE(cluster_->Requeue(id).ok());
  EXPECT_EQ(StateOfJob(id), JobState::kQueued);
  EXPECT_EQ(J(id).Count(TaskState::kQueued), 3u);
  persistence_.Commit();
  // The running attempts (tasks 2 and 3) are killed; their cores stay taken until the agent reports.
  auto kills = link_.Kills("a");
  EXPECT_EQ(std::set<TaskRef>(kills.begin(), kills.end()), (std::set<TaskRef>{{id, 2, 1}, {id, 3, 1}}));
  EXPECT_EQ(N("a").used_cores, 2);
  Report("a", {id, 2, 1}, -1);
  Report("a", {id, 3, 1}, -1);
  EXPECT_EQ(J(id).Count(TaskState::kQueued), 3u) << "stale results change nothing";

  auto rerun = ScheduleLaunches("a");
  ASSERT_EQ(rerun.size(), 2u);
  EXPECT_EQ(rerun[0].ref, (TaskRef{id, 1, 2})) << "the completed task runs again";
  EXPECT_EQ(rerun[1].ref, (TaskRef{id, 2, 2}));
  Report("a", rerun[0].ref);
  Report("a", rerun[1].ref);
  auto last = ScheduleLaunches("a");
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].ref, (TaskRef{id, 3, 2}));
  Report("a", last[0].ref);
  EXPECT_EQ(StateOfJob(id), JobState::kFinished);

  // An ended job can be requeued too, a queued one cannot.
  ASSERT_TRUE(cluster_->Requeue(id).ok());
  EXPECT_EQ(StateOfJob(id), JobState::kQueued);
  EXPECT_EQ(J(id).record().end_time, 0);
  EXPECT_EQ(cluster_->Requeue(id).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ScheduleLaunches("a").size(), 2u);
}

TEST_F(JobControlTest, RequeuedCanceledJobSurvivesARestart) {
  OpenStore();
  Connect("a", 1);
  JobId id = Submit(Spec(3));
  ASSERT_EQ(ScheduleLaunches("a").size(), 1u);
  Report("a", Ref(id, 1));
  ASSERT_TRUE(cluster_->Cancel(id).ok());
  ASSERT_TRUE(cluster_->Requeue(id).ok());
  Restart();
  ASSERT_NE(cluster_->FindJob(id), nullptr);
  EXPECT_EQ(StateOfJob(id), JobState::kQueued);
  EXPECT_EQ(J(id).Count(TaskState::kQueued), 3u);
  Connect("a", 3);
  EXPECT_EQ(ScheduleLaunches("a").size(), 3u);
}

}  // namespace
}  // namespace drover::head
