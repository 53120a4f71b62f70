// Multi-node tasks, and the processes they start on their other nodes through the head node.
#include <gtest/gtest.h>

#include "head/cluster_test_fixture.h"

namespace drover::head {
namespace {

using protocol::TaskLaunch;
using protocol::TaskRef;

class ExecTest : public ClusterTest {
 protected:
  JobSpec MultiNode(uint32_t nodes, int cores) {
    JobSpec s = Spec(1);
    s.task.nodes = static_cast<int>(nodes);
    s.task.cores = cores;
    return s;
  }
};

TEST_F(ExecTest, MultiNodeTaskHoldsCoresOnEveryNodeAndStartsProcessesWithItsToken) {
  Connect("a", 2);
  Connect("b", 2);
  Connect("c", 1);
  cluster_->set_task_contact("https://head:1", "CA PEM");
  JobId id = Submit(MultiNode(2, 2));
  auto started = ScheduleLaunches("a");
  ASSERT_EQ(started.size(), 1u);
  const TaskLaunch& l = started[0];
  EXPECT_EQ(l.allocated_nodes, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(l.env.at("DROVER_NODELIST"), "a,b");
  EXPECT_EQ(l.env.at("DROVER_CORES_PER_NODE"), "2");
  EXPECT_EQ(l.env.at("DROVER_HEAD_URL"), "https://head:1");
  std::string token = l.env.at("DROVER_EXEC_TOKEN");
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(N("a").used_cores, 2);
  EXPECT_EQ(N("b").used_cores, 2);
  EXPECT_TRUE(link_.Launches("b").empty());

  EXPECT_EQ(cluster_->StartExec(id, 1, "wrong", "b", "orted").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(cluster_->StartExec(id, 1, token, "c", "orted").status().code(), StatusCode::kPermissionDenied)
      << "c is not allocated to the task";
  EXPECT_EQ(cluster_->StartExec(id + 1, 1, token, "b", "orted").status().code(), StatusCode::kPermissionDenied);
  auto exec = cluster_->StartExec(id, 1, token, "b", "orted -mca ess \"env\"");
  ASSERT_TRUE(exec.ok()) << exec.status().ToString();
  EXPECT_TRUE(link_.Launches("b").empty()) << "sent after the commit";
  persistence_.Commit();
  auto on_b = link_.Launches("b");
  ASSERT_EQ(on_b.size(), 1u);
  EXPECT_EQ(on_b[0].ref.task_id, kExecTaskId);
  EXPECT_EQ(on_b[0].argv, (std::vector<std::string>{"/bin/sh", "-c", "orted -mca ess \"env\""}));
  EXPECT_EQ(on_b[0].env.at("DROVER_NODE"), "b");
  EXPECT_EQ(on_b[0].user, "alice");
  EXPECT_EQ(N("b").used_cores, 2) << "the process holds no cores of its own";

  EXPECT_FALSE(cluster_->GetExec(*exec, token)->done);
  EXPECT_EQ(cluster_->GetExec(*exec, "wrong").status().code(), StatusCode::kNotFound);
  Report("b", on_b[0].ref, 3);
  auto st = cluster_->GetExec(*exec, token);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->done);
  EXPECT_EQ(st->exit_code, 3);

  // A second process, still running when the launcher ends: it is killed, and the token expires.
  auto second = cluster_->StartExec(id, 1, token, "b", "orted");
  ASSERT_TRUE(second.ok());
  persistence_.Commit();
  TaskRef second_ref = link_.Launches("b").back().ref;
  link_.Clear();
  Report("a", l.ref, 0);
  EXPECT_EQ(StateOfJob(id), JobState::kFinished);
  EXPECT_EQ(N("a").used_cores, 0);
  EXPECT_EQ(N("b").used_cores, 0);
  EXPECT_EQ(link_.Kills("b"), (std::vector<TaskRef>{second_ref}));
  EXPECT_EQ(cluster_->StartExec(id, 1, token, "b", "orted").status().code(), StatusCode::kPermissionDenied);
}

TEST_F(ExecTest, MultiNodeTaskWaitsForEnoughNodesWithoutBlockingOthers) {
  Connect("a", 2);
  JobId wide = Submit(MultiNode(2, 1));
  JobId small = Submit(Spec(1));
  auto started = ScheduleLaunches("a");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].ref.job_id, small);
  EXPECT_EQ(StateOfJob(wide), JobState::kQueued);
  Connect("b", 1);
  cluster_->Schedule();
  persistence_.Commit();
  EXPECT_EQ(StateOfJob(wide), JobState::kRunning);
  EXPECT_EQ(N("b").used_cores, 1);
}

}  // namespace
}  // namespace drover::head
