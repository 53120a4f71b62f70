// Dependencies between the task groups of one job.
#include <gtest/gtest.h>

#include "common/codec.h"
#include "head/cluster_test_fixture.h"

namespace drover::head {
namespace {

using protocol::TaskLaunch;

class TaskGroupTest : public ClusterTest {
 protected:
  // prepare (2 tasks) -> solve (2 tasks, after prepare) -> report (1 task, after solve)
  JobSpec Pipeline() {
    JobSpec s = Spec(1);
    s.groups = {{"prepare", {"/bin/prep"}, 2, {}},
                {"solve", {"/bin/solve", "x"}, 2, {"prepare"}},
                {"report", {}, 1, {"solve"}}};
    return s;
  }
  static std::vector<TaskId> Ids(const std::vector<TaskLaunch>& launches) {
    std::vector<TaskId> out;
    for (const auto& l : launches) out.push_back(l.ref.task_id);
    return out;
  }
};

TEST_F(TaskGroupTest, GroupsStartWhenTheGroupsTheyDependOnHaveFinished) {
  Connect("a", 8);
  JobId id = Submit(Pipeline());
  EXPECT_EQ(J(id).size(), 5u);
  auto first = ScheduleLaunches("a");
  ASSERT_EQ(Ids(first), (std::vector<TaskId>{1, 2}));
  EXPECT_EQ(first[0].argv, (std::vector<std::string>{"/bin/prep"}));
  EXPECT_EQ(first[1].env.at("DROVER_TASK_GROUP"), "prepare");
  EXPECT_EQ(first[1].env.at("DROVER_TASK_INDEX"), "1");
  Report("a", first[0].ref);
  EXPECT_TRUE(ScheduleLaunches("a").empty()) << "one prepare task still runs";
  Report("a", first[1].ref);
  auto solve = ScheduleLaunches("a");
  ASSERT_EQ(Ids(solve), (std::vector<TaskId>{3, 4}));
  EXPECT_EQ(solve[0].argv, (std::vector<std::string>{"/bin/solve", "x"}));
  EXPECT_EQ(solve[0].env.at("DROVER_TASK_INDEX"), "0");
  Report("a", solve[0].ref);
  Report("a", solve[1].ref);
  auto report = ScheduleLaunches("a");
  ASSERT_EQ(Ids(report), (std::vector<TaskId>{5}));
  EXPECT_EQ(report[0].argv, (std::vector<std::string>{"/bin/true"})) << "no argv of its own: the job's";
  Report("a", report[0].ref);
  EXPECT_EQ(StateOfJob(id), JobState::kFinished);
}

TEST_F(TaskGroupTest, AFailedTaskCancelsTheGroupsDependingOnIt) {
  OpenStore();
  Connect("a", 8);
  JobId id = Submit(Pipeline());
  auto first = ScheduleLaunches("a");
  Report("a", first[0].ref, 1);
  Report("a", first[1].ref, 0);
  EXPECT_EQ(StateOfJob(id), JobState::kCanceled);
  for (TaskId t = 3; t <= 5; ++t) EXPECT_EQ(J(id).task(t).state, TaskState::kCanceled) << t;
  EXPECT_EQ(J(id).Error(3), "task group 'solve' depends on 'prepare', and 1 of its tasks did not finish");
  EXPECT_EQ(J(id).Error(5), J(id).Error(3)) << "the cause is passed on";
  persistence_.Commit();
  auto rows = store_->LoadTasks(id);
  ASSERT_TRUE(rows.ok());
  int canceled = 0;
  for (const auto& r : *rows) canceled += r.state == TaskState::kCanceled;
  EXPECT_EQ(canceled, 3) << "tasks canceled before they were dispatched have rows too";
}

TEST_F(TaskGroupTest, SpecsNameOnlyEarlierGroups) {
  JobSpec s = Pipeline();
  s.groups[0].depends_on = {"report"};
  auto bad = ValidateJobSpec(s);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'prepare' depends on 'report'"), std::string::npos) << bad.message();
  s = Pipeline();
  s.groups[1].name = "prepare";
  EXPECT_FALSE(ValidateJobSpec(s).ok());
  s = Pipeline();
  s.task_count = 3;
  EXPECT_FALSE(ValidateJobSpec(s).ok());
  // The groups survive the JSON round trip the store uses.
  auto back = DecodeJobSpec(EncodeJobSpec(Pipeline()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->groups, Pipeline().groups);
}

}  // namespace
}  // namespace drover::head
