// The head node's state machine with fakes (cluster_test_fixture.h).
#include "head/cluster_test_fixture.h"

namespace drover::head {
namespace {

// ---- Nodes ------------------------------------------------------------------------------------

TEST_F(ClusterTest, AJoinedNameCannotJoinAgainUntilRemoved) {
  Connect("a", 2);
  JobId j = Submit(Spec(1));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  EXPECT_EQ(cluster_->Join("a", "elsewhere", "other").status().code(), StatusCode::kAlreadyExists);
  link_.Clear();
  ASSERT_TRUE(cluster_->RemoveNode("a").ok());
  EXPECT_EQ(cluster_->FindNode("a"), nullptr);
  EXPECT_EQ(StateOf(j, 1), TaskState::kQueued) << "its task goes back to the queue";
  EXPECT_TRUE(link_.disconnects.empty()) << "disconnected only once the removal is durable";
  persistence_.Commit();
  EXPECT_EQ(link_.disconnects, (std::vector<std::string>{"a"}));
  EXPECT_EQ(persistence_.pending().deleted_nodes.size(), 0u);
  auto again = cluster_->Join("a", "elsewhere", "other");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->cert_serial, "other");
  EXPECT_EQ(cluster_->RemoveNode("ghost").code(), StatusCode::kNotFound);
}

TEST_F(ClusterTest, JoinedNodeIsUnapprovedWithoutTemplate) {
  auto r = cluster_->Join("n1", "host1", "serial-1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->state, NodeState::kUnapproved);
  EXPECT_EQ(N("n1").record.state, NodeState::kUnapproved);
  EXPECT_EQ(Persisted("n1"), NodeState::kUnapproved);
}

TEST_F(ClusterTest, AutoApproveTemplateBringsJoinedNodeOnline) {
  cluster_->EnsureDefaultTemplate(true);
  auto r = cluster_->Join("n1", "host1", "serial-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(N("n1").record.state, NodeState::kOnline);
  EXPECT_EQ(N("n1").record.template_name, "Default");
  EXPECT_EQ(Persisted("n1"), NodeState::kOnline);
}

TEST_F(ClusterTest, WithoutAutoApproveNodeWaitsForApproval) {
  cluster_->EnsureDefaultTemplate(false);
  ASSERT_TRUE(cluster_->Join("n1", "host1", "serial-1").ok());
  EXPECT_EQ(N("n1").record.state, NodeState::kUnapproved);

  Status st = cluster_->SetOnline("n1");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_EQ(N("n1").record.state, NodeState::kUnapproved);

  st = cluster_->Approve("n1", "NoSuchTemplate");
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("NoSuchTemplate"), std::string::npos);
  EXPECT_EQ(N("n1").record.state, NodeState::kUnapproved);
  EXPECT_EQ(cluster_->Approve("ghost", "Default").code(), StatusCode::kNotFound);

  // An unapproved node that connects gets no work.
  cluster_->OnAgentHello("n1", MakeHello(4));
  Submit(Spec(1));
  cluster_->Schedule();
  persistence_.Commit();
  EXPECT_TRUE(link_.Of<protocol::StartTasks>("n1").empty());

  ASSERT_TRUE(cluster_->Approve("n1", "Default").ok());
  EXPECT_EQ(N("n1").record.state, NodeState::kOnline);
  EXPECT_EQ(N("n1").record.template_name, "Default");
  EXPECT_EQ(ScheduleAndCommit("n1").size(), 1u);
}

// ---- Scheduling and results ---------------------------------------------------------------------

TEST_F(ClusterTest, PlacesNoMoreTasksThanCoresAndStartsOnlyAfterCommit) {
  Connect("a", 2);
  link_.Clear();
  JobId j = Submit(Spec(5));
  cluster_->Schedule();

  EXPECT_EQ(J(j).Count(TaskState::kRunning), 2u);
  EXPECT_EQ(J(j).Count(TaskState::kQueued), 3u);
  EXPECT_EQ(N("a").used_cores, 2);
  EXPECT_EQ(N("a").allocations.size(), 2u);
  EXPECT_EQ(J(j).record().state, JobState::kRunning);
  // Durable first: rows are in the batch, nothing has been sent.
  EXPECT_TRUE(link_.Of<protocol::StartTasks>("a").empty());
  ASSERT_EQ(persistence_.pending().tasks.size(), 2u);
  for (const auto& row : persistence_.pending().tasks) {
    EXPECT_EQ(row.state, TaskState::kRunning);
    EXPECT_EQ(row.attempt, 1u);
    EXPECT_EQ(row.node, "a");
  }

  persistence_.Commit();
  auto starts = link_.Of<protocol::StartTasks>("a");
  ASSERT_EQ(starts.size(), 1u);
  ASSERT_EQ(starts[0].tasks.size(), 2u);
  EXPECT_EQ(starts[0].tasks[0].ref, (TaskRef{j, 1, 1}));
  EXPECT_EQ(starts[0].tasks[1].ref, (TaskRef{j, 2, 1}));
  EXPECT_EQ(starts[0].tasks[0].env.at("DROVER_NODE"), "a");

  // The node is full: another pass places nothing; one free core takes exactly one task.
  EXPECT_TRUE(ScheduleAndCommit("a").empty());
  auto c = cluster_->counts();
  EXPECT_EQ(c.tasks_queued, 3u);
  EXPECT_EQ(c.tasks_running, 2u);
  EXPECT_EQ(c.tasks_dispatched, 2u);
  cluster_->OnAgentResults("a", {Res({j, 1, 1})});
  EXPECT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 3, 1}}));
  EXPECT_EQ(N("a").used_cores, 2);
}

TEST_F(ClusterTest, ResultsEndTasksAndAreAcknowledgedAfterCommit) {
  Connect("a", 2);
  JobId j = Submit(Spec(2));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 2u);

  cluster_->OnAgentResults("a", {Res(Ref(j, 1), 0)});
  EXPECT_EQ(StateOf(j, 1), TaskState::kFinished);
  EXPECT_EQ(J(j).record().state, JobState::kRunning);
  EXPECT_TRUE(link_.Of<protocol::Ack>("a").empty());
  EXPECT_EQ(persistence_.pending().accounting.size(), 1u);
  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::Ack>("a"), (std::vector<TaskRef>{{j, 1, 1}}));

  cluster_->OnAgentResults("a", {Res(Ref(j, 2), 3)});
  EXPECT_EQ(StateOf(j, 2), TaskState::kFailed);
  EXPECT_EQ(J(j).task(2).exit_code, 3);
  EXPECT_EQ(J(j).record().state, JobState::kFailed);
  EXPECT_EQ(N("a").used_cores, 0);
  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::Ack>("a").size(), 2u);

  // All tasks finished: the job is Finished. An error string fails a task even with exit 0.
  JobId k = Submit(Spec(2));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 2u);
  cluster_->OnAgentResults("a", {Res(Ref(k, 1), 0), Res(Ref(k, 2), 0)});
  EXPECT_EQ(J(k).record().state, JobState::kFinished);
  EXPECT_EQ(cluster_->counts().tasks_completed, 4u);

  JobId e = Submit(Spec(1));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  cluster_->OnAgentResults("a", {Res(Ref(e, 1), 0, "cannot execute /bin/true")});
  EXPECT_EQ(StateOf(e, 1), TaskState::kFailed);
  EXPECT_EQ(J(e).Error(1), "cannot execute /bin/true");
  EXPECT_EQ(J(e).record().state, JobState::kFailed);
}

TEST_F(ClusterTest, StaleResultsAreIgnoredButAcknowledged) {
  Connect("a", 2);
  Connect("b", 2);
  JobId j = Submit(Spec(1));
  cluster_->Schedule();
  persistence_.Commit();
  ASSERT_EQ(StateOf(j, 1), TaskState::kRunning);
  std::string on = NodeOf(j, 1), other = on == "a" ? "b" : "a";
  link_.Clear();

  // Wrong attempt numbers, and the right ref from a node the task does not run on.
  cluster_->OnAgentResults(on, {Res({j, 1, 2}, 1), Res({j, 1, 0}, 1)});
  cluster_->OnAgentResults(other, {Res({j, 1, 1}, 1)});
  EXPECT_EQ(StateOf(j, 1), TaskState::kRunning);
  EXPECT_EQ(J(j).task(1).attempt, 1u);
  EXPECT_EQ(N(on).used_cores, 1);
  EXPECT_TRUE(persistence_.pending().tasks.empty());
  EXPECT_TRUE(persistence_.pending().accounting.empty());
  EXPECT_EQ(cluster_->counts().tasks_completed, 0u);
  EXPECT_TRUE(link_.Of<protocol::Ack>(on).empty());
  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::Ack>(on), (std::vector<TaskRef>{{j, 1, 2}, {j, 1, 0}}));
  EXPECT_EQ(link_.RefsIn<protocol::Ack>(other), (std::vector<TaskRef>{{j, 1, 1}}));

  // The real result, then a second copy with another exit code: the second changes nothing.
  cluster_->OnAgentResults(on, {Res({j, 1, 1}, 0)});
  EXPECT_EQ(StateOf(j, 1), TaskState::kFinished);
  persistence_.Commit();
  link_.Clear();
  cluster_->OnAgentResults(on, {Res({j, 1, 1}, 9), Res({12345, 1, 1}, 0), Res({j, 99, 1}, 0)});
  EXPECT_EQ(StateOf(j, 1), TaskState::kFinished);
  EXPECT_EQ(J(j).task(1).exit_code, 0);
  EXPECT_EQ(J(j).record().state, JobState::kFinished);
  EXPECT_TRUE(persistence_.pending().accounting.empty());
  EXPECT_EQ(cluster_->counts().tasks_completed, 1u);
  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::Ack>(on).size(), 3u);
}

// ---- Node failures ------------------------------------------------------------------------------

TEST_F(ClusterTest, HeartbeatTimeoutRequeuesTasksAndFencesOldAttempts) {
  Connect("a", 2);
  JobId j = Submit(Spec(2));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 2u);

  clock_.Advance(config_.heartbeat_timeout_ms);
  cluster_->CheckHeartbeats();
  EXPECT_EQ(N("a").health, NodeHealth::kOk) << "exactly the timeout is not yet silence";

  clock_.Advance(1);
  cluster_->CheckHeartbeats();
  EXPECT_EQ(N("a").health, NodeHealth::kUnreachable);
  EXPECT_EQ(N("a").used_cores, 0);
  EXPECT_TRUE(N("a").allocations.empty());
  EXPECT_EQ(link_.disconnects, (std::vector<std::string>{"a"}));
  for (TaskId t : {1u, 2u}) {
    EXPECT_EQ(StateOf(j, t), TaskState::kQueued);
    EXPECT_EQ(J(j).task(t).attempt, 1u);
  }
  EXPECT_EQ(persistence_.pending().tasks.size(), 2u);
  EXPECT_TRUE(ScheduleAndCommit("a").empty()) << "an unreachable node gets no work";

  // A heartbeat on the lingering connection makes the agent reconnect instead of being taken.
  link_.Clear();
  cluster_->OnAgentHeartbeat("a", protocol::Heartbeat{});
  EXPECT_EQ(link_.disconnects, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(link_.Of<protocol::HeartbeatAck>("a").empty());
  EXPECT_EQ(N("a").health, NodeHealth::kUnreachable);

  Connect("b", 2);
  auto started = ScheduleAndCommit("b");
  EXPECT_EQ(started, (std::vector<TaskRef>{{j, 1, 2}, {j, 2, 2}}));
  EXPECT_EQ(NodeOf(j, 1), "b");

  // The late result of attempt 1 from node a is ignored, and acknowledged.
  cluster_->OnAgentResults("a", {Res({j, 1, 1}, 0)});
  EXPECT_EQ(StateOf(j, 1), TaskState::kRunning);
  EXPECT_EQ(J(j).task(1).attempt, 2u);
  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::Ack>("a"), (std::vector<TaskRef>{{j, 1, 1}}));

  cluster_->OnAgentResults("b", {Res({j, 1, 2}, 0), Res({j, 2, 2}, 0)});
  EXPECT_EQ(J(j).record().state, JobState::kFinished);
}

TEST_F(ClusterTest, RetryLimitFailsTaskWithError) {
  Connect("a", 1);
  JobId j = Submit(Spec(1, 2000, /*max_retries=*/0));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  clock_.Advance(config_.heartbeat_timeout_ms + 1);
  cluster_->CheckHeartbeats();
  EXPECT_EQ(StateOf(j, 1), TaskState::kFailed);
  EXPECT_NE(J(j).Error(1).find("unreachable"), std::string::npos) << J(j).Error(1);
  EXPECT_EQ(J(j).record().state, JobState::kFailed);
  ASSERT_FALSE(persistence_.pending().tasks.empty());
  EXPECT_FALSE(persistence_.pending().tasks.back().error.empty());
  EXPECT_EQ(persistence_.pending().accounting.size(), 1u);

  // With one retry, the first loss requeues and the second fails.
  Connect("b", 1);
  JobId k = Submit(Spec(1, 2000, /*max_retries=*/1));
  ASSERT_EQ(ScheduleAndCommit("b").size(), 1u);
  cluster_->OnAgentDisconnected("b");
  cluster_->OnAgentHello("b", MakeHello(1));  // reconnects without the task
  EXPECT_EQ(StateOf(k, 1), TaskState::kQueued);
  ASSERT_EQ(ScheduleAndCommit("b"), (std::vector<TaskRef>{{k, 1, 2}}));
  cluster_->OnAgentHello("b", MakeHello(1));
  EXPECT_EQ(StateOf(k, 1), TaskState::kFailed);
  EXPECT_NE(J(k).Error(1).find("2 attempts"), std::string::npos) << J(k).Error(1);
}

TEST_F(ClusterTest, HelloReconcilesRunningTasks) {
  Connect("a", 3);
  JobId j = Submit(Spec(3));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 3u);
  link_.Clear();

  // Reconnects: still runs task 1, finished task 3 meanwhile, lost task 2, and runs an attempt
  // the head never heard of.
  cluster_->OnAgentDisconnected("a");
  TaskRef unknown{j + 100, 1, 1};
  cluster_->OnAgentHello("a", MakeHello(3, {Ref(j, 1), unknown}, {Res(Ref(j, 3), 0)}));
  EXPECT_EQ(StateOf(j, 1), TaskState::kRunning);
  EXPECT_EQ(StateOf(j, 2), TaskState::kQueued);
  EXPECT_EQ(StateOf(j, 3), TaskState::kFinished) << "results are applied before reconciling";
  EXPECT_EQ(link_.Of<protocol::Welcome>("a").size(), 1u);
  EXPECT_TRUE(link_.RefsIn<protocol::KillTasks>("a").empty()) << "kills go out after the commit";
  // The unknown process holds a core until it is gone.
  EXPECT_EQ(N("a").used_cores, 2);

  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::KillTasks>("a"), (std::vector<TaskRef>{unknown}));
  EXPECT_EQ(link_.RefsIn<protocol::Ack>("a"), (std::vector<TaskRef>{{j, 3, 1}}));
  EXPECT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 2, 2}}));
  cluster_->OnAgentResults("a", {Res(unknown, -1, "killed")});
  EXPECT_EQ(N("a").used_cores, 2);
  EXPECT_EQ(J(j).Count(TaskState::kRunning), 2u);
}

// ---- Cancel and drain ---------------------------------------------------------------------------

TEST_F(ClusterTest, CancelEndsQueuedAndKillsRunningTasks) {
  Connect("a", 1);
  JobId j = Submit(Spec(3));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  bool ended = false;
  cluster_->OnJobEnded(j, [&] { ended = true; });
  link_.Clear();

  ASSERT_TRUE(cluster_->Cancel(j).ok());
  for (TaskId t = 1; t <= 3; ++t) EXPECT_EQ(StateOf(j, t), TaskState::kCanceled) << t;
  EXPECT_EQ(J(j).record().state, JobState::kCanceled);
  EXPECT_TRUE(J(j).record().cancel_requested);
  EXPECT_TRUE(link_.Of<protocol::KillTasks>("a").empty());
  EXPECT_FALSE(ended);
  persistence_.Commit();
  EXPECT_TRUE(ended);
  EXPECT_EQ(link_.RefsIn<protocol::KillTasks>("a"), (std::vector<TaskRef>{{j, 1, 1}}));

  Status again = cluster_->Cancel(j);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.ToString();
  EXPECT_EQ(cluster_->Cancel(j + 1).code(), StatusCode::kNotFound);

  // The core is held until the agent reports the process gone; nothing else is placed.
  EXPECT_EQ(N("a").used_cores, 1);
  cluster_->OnAgentResults("a", {Res({j, 1, 1}, -1, "killed")});
  EXPECT_EQ(StateOf(j, 1), TaskState::kCanceled);
  EXPECT_EQ(N("a").used_cores, 0);
  EXPECT_TRUE(ScheduleAndCommit("a").empty());
  EXPECT_EQ(cluster_->counts().jobs_active, 0u);
}

TEST_F(ClusterTest, DrainStopsPlacementsAndGoesOfflineAfterLastResult) {
  Connect("a", 2);
  JobId j = Submit(Spec(4));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 2u);

  ASSERT_TRUE(cluster_->Drain("a").ok());
  EXPECT_EQ(N("a").record.state, NodeState::kDraining);
  cluster_->OnAgentResults("a", {Res(Ref(j, 1), 0)});
  EXPECT_EQ(N("a").record.state, NodeState::kDraining);
  EXPECT_TRUE(ScheduleAndCommit("a").empty()) << "a draining node gets no new task";
  EXPECT_EQ(J(j).Count(TaskState::kQueued), 2u);

  cluster_->OnAgentResults("a", {Res(Ref(j, 2), 0)});
  EXPECT_EQ(N("a").record.state, NodeState::kOffline);
  EXPECT_EQ(Persisted("a"), NodeState::kOffline);
  EXPECT_TRUE(ScheduleAndCommit("a").empty());
  EXPECT_EQ(cluster_->Drain("a").code(), StatusCode::kFailedPrecondition);

  // An idle node drains at once.
  Connect("b", 1);
  ASSERT_TRUE(cluster_->Drain("b").ok());
  EXPECT_EQ(N("b").record.state, NodeState::kOffline);
}

TEST_F(ClusterTest, HigherPriorityRunsFirstThenFifo) {
  Connect("a", 1);
  JobId low = Submit(Spec(1, 1000));
  JobId normal1 = Submit(Spec(1, 2000));
  JobId high = Submit(Spec(1, 3000));
  JobId normal2 = Submit(Spec(1, 2000));
  std::vector<JobId> order;
  for (int i = 0; i < 4; ++i) {
    auto started = ScheduleAndCommit("a");
    ASSERT_EQ(started.size(), 1u) << "round " << i;
    order.push_back(started[0].job_id);
    cluster_->OnAgentResults("a", {Res(started[0], 0)});
    persistence_.Commit();
  }
  EXPECT_EQ(order, (std::vector<JobId>{high, normal1, normal2, low}));
}

TEST_F(ClusterTest, TaskLargerThanEveryNodeDoesNotBlockOthers) {
  Connect("a", 2);
  JobSpec big = Spec(4, 3000);
  big.task.cores = 8;
  JobId huge = Submit(big);
  JobId small = Submit(Spec(1, 2000));
  auto started = ScheduleAndCommit("a");
  EXPECT_EQ(started, (std::vector<TaskRef>{{small, 1, 1}}));
  EXPECT_EQ(J(huge).Count(TaskState::kQueued), 4u);
}

TEST_F(ClusterTest, SetOfflineRequeuesAndKillsAfterCommit) {
  Connect("a", 1);
  JobId j = Submit(Spec(1));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  link_.Clear();
  ASSERT_TRUE(cluster_->SetOffline("a").ok());
  EXPECT_EQ(N("a").record.state, NodeState::kOffline);
  EXPECT_EQ(StateOf(j, 1), TaskState::kQueued);
  EXPECT_TRUE(link_.Of<protocol::KillTasks>("a").empty());
  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::KillTasks>("a"), (std::vector<TaskRef>{{j, 1, 1}}));
  // The core stays held until the agent reports the process gone.
  EXPECT_EQ(N("a").used_cores, 1);
  cluster_->OnAgentResults("a", {Res({j, 1, 1}, -1, "killed")});
  EXPECT_EQ(StateOf(j, 1), TaskState::kQueued);
  EXPECT_EQ(N("a").used_cores, 0);
  ASSERT_TRUE(cluster_->SetOnline("a").ok());
  EXPECT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 1, 2}}));
}

// ---- Restart ------------------------------------------------------------------------------------

TEST_F(ClusterTest, RestartRestoresStateAndAcceptsPreRestartResultsOnce) {
  OpenStore();
  Connect("a", 2);
  JobId j = Submit(Spec(5));
  ASSERT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 1, 1}, {j, 2, 1}}));
  cluster_->OnAgentResults("a", {Res({j, 1, 1}, 0)});
  persistence_.Commit();
  ASSERT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 3, 1}}));
  // The agent lost task 2: it is requeued and runs again as attempt 2.
  cluster_->OnAgentHello("a", MakeHello(2, {{j, 3, 1}}));
  persistence_.Commit();
  ASSERT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 2, 2}}));
  // Then it loses task 3, which waits in the queue (attempt 1) when the head node stops.
  cluster_->OnAgentHello("a", MakeHello(2, {{j, 2, 2}}));
  persistence_.Commit();

  // The head node restarts: new process, same database.
  cluster_.reset();
  persistence_.store = nullptr;
  store_.reset();
  link_.Clear();
  clock_.Advance(5000);
  OpenStore();
  NewCluster();
  Status st = cluster_->Load(*store_);
  ASSERT_TRUE(st.ok()) << st.ToString();

  ASSERT_NE(cluster_->FindJob(j), nullptr);
  EXPECT_EQ(J(j).record().state, JobState::kRunning);
  const TaskState want_state[] = {TaskState::kFinished, TaskState::kRunning, TaskState::kQueued, TaskState::kQueued,
                                  TaskState::kQueued};
  const uint32_t want_attempt[] = {1, 2, 1, 0, 0};
  for (TaskId t = 1; t <= 5; ++t) {
    EXPECT_EQ(StateOf(j, t), want_state[t - 1]) << "task " << t;
    EXPECT_EQ(J(j).task(t).attempt, want_attempt[t - 1]) << "task " << t;
  }
  EXPECT_EQ(NodeOf(j, 2), "a");
  EXPECT_EQ(N("a").record.state, NodeState::kOnline);
  EXPECT_EQ(N("a").record.cores, 2);
  EXPECT_EQ(N("a").used_cores, 1);
  ASSERT_EQ(N("a").allocations.size(), 1u);
  EXPECT_EQ(N("a").allocations.begin()->first, (TaskRef{j, 2, 2}));
  EXPECT_EQ(cluster_->counts().tasks_queued, 3u);
  EXPECT_EQ(cluster_->counts().tasks_running, 1u);
  EXPECT_TRUE(ScheduleAndCommit("a").empty()) << "not connected since the restart";

  // The agent reconnects with a result from before the restart: accepted once.
  cluster_->OnAgentHello("a", MakeHello(2, {}, {Res({j, 2, 2}, 0)}));
  EXPECT_TRUE(link_.Of<protocol::KillTasks>("a").empty());
  EXPECT_EQ(StateOf(j, 2), TaskState::kFinished);
  persistence_.Commit();
  EXPECT_EQ(link_.RefsIn<protocol::Ack>("a"), (std::vector<TaskRef>{{j, 2, 2}}));
  cluster_->OnAgentResults("a", {Res({j, 2, 2}, 5), Res({j, 2, 1}, 5)});
  EXPECT_EQ(StateOf(j, 2), TaskState::kFinished);
  EXPECT_EQ(J(j).task(2).exit_code, 0);
  persistence_.Commit();
  EXPECT_EQ(cluster_->counts().tasks_completed, 1u);
  AccountingQuery q;
  q.job_id = j;
  auto acct = store_->QueryAccounting(q);
  ASSERT_TRUE(acct.ok()) << acct.status().ToString();
  EXPECT_EQ(std::count_if(acct->begin(), acct->end(), [](const AccountingRecord& r) { return r.task_id == 2; }), 1);

  // The requeued task runs before the never-dispatched ones; new jobs get fresh ids.
  EXPECT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 3, 2}, {j, 4, 1}}));
  EXPECT_GT(Submit(Spec(1)), j);
  cluster_->OnAgentResults("a", {Res({j, 3, 2}, 0), Res({j, 4, 1}, 0)});
  EXPECT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 5, 1}, {j + 1, 1, 1}}));
  cluster_->OnAgentResults("a", {Res({j, 5, 1}, 0)});
  persistence_.Commit();
  EXPECT_EQ(J(j).record().state, JobState::kFinished);
  auto stored = store_->LoadJob(j);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->state, JobState::kFinished);
}

// ---- Large sweeps -------------------------------------------------------------------------------

TEST_F(ClusterTest, ThousandTaskSweepStaysConsistentThroughDispatch) {
  Connect("a", 64);
  JobSpec spec = Spec(1);
  spec.sweep = true;
  spec.sweep_start = 1000;
  spec.sweep_end = 2998;
  spec.sweep_step = 2;
  spec.task.argv = {"/bin/sim", "--case=*", "x\\*"};
  JobId j = Submit(spec);
  ASSERT_EQ(J(j).size(), 1000u);
  EXPECT_EQ(J(j).DeriveState(), JobState::kQueued);

  auto check = [&](const char* where) {
    const Job& job = J(j);
    std::array<uint32_t, 5> n{};  // by TaskState
    for (TaskId t = 1; t <= 1000; ++t) ++n[static_cast<size_t>(job.task(t).state)];
    for (size_t st = 0; st < n.size(); ++st) EXPECT_EQ(job.Count(TaskState(st)), n[st]) << where << ", state " << st;
    EXPECT_EQ(job.HasQueued(), n[0] > 0) << where;
    EXPECT_EQ(job.record().state, job.DeriveState()) << where;
    if (IsTerminal(job.record().state)) return;
    EXPECT_EQ(cluster_->counts().tasks_queued, n[0]) << where;
    EXPECT_EQ(cluster_->counts().tasks_running, n[1]) << where;
    EXPECT_EQ(N("a").used_cores, static_cast<int>(n[1])) << where;
  };

  std::map<TaskId, uint32_t> starts;  // task -> times started
  for (int round = 1; !IsTerminal(J(j).record().state); ++round) {
    ASSERT_LT(round, 100);
    auto started = ScheduleAndCommit("a");
    ASSERT_FALSE(started.empty()) << "round " << round;
    EXPECT_LE(started.size(), 64u);
    auto messages = link_.Of<protocol::StartTasks>("a");
    for (const auto& l : messages.back().tasks) {
      int64_t index = 1000 + (static_cast<int64_t>(l.ref.task_id) - 1) * 2;
      EXPECT_EQ(l.argv, (std::vector<std::string>{"/bin/sim", "--case=" + std::to_string(index), "x*"}));
      EXPECT_EQ(l.env.at("DROVER_TASK_INDEX"), std::to_string(index));
      EXPECT_EQ(l.ref.attempt, ++starts[l.ref.task_id]);
    }
    check("after dispatch");
    EXPECT_EQ(J(j).DeriveState(), JobState::kRunning);
    if (round == 3) {
      // Node lost mid-way: its 64 tasks go back to the queue, ahead of the fresh ones.
      clock_.Advance(config_.heartbeat_timeout_ms + 1);
      cluster_->CheckHeartbeats();
      check("after node loss");
      cluster_->OnAgentHello("a", MakeHello(64));
      persistence_.Commit();
      continue;
    }
    std::vector<TaskResult> results;
    for (const auto& ref : started) results.push_back(Res(ref, ref.task_id == 500 ? 1 : 0));
    cluster_->OnAgentResults("a", results);
    persistence_.Commit();
    check("after results");
  }
  EXPECT_EQ(starts.size(), 1000u);
  EXPECT_EQ(J(j).Count(TaskState::kFinished), 999u);
  EXPECT_EQ(J(j).Count(TaskState::kFailed), 1u);
  EXPECT_EQ(J(j).record().state, JobState::kFailed);
  auto c = cluster_->counts();
  EXPECT_EQ(c.jobs_active, 0u);
  EXPECT_EQ(c.tasks_completed, 1000u);
  EXPECT_EQ(c.tasks_dispatched, 1064u);
  EXPECT_EQ(N("a").used_cores, 0);
}

}  // namespace
}  // namespace drover::head

namespace drover::head {
namespace {

class ClusterEvictionTest : public ClusterTest {};

TEST_F(ClusterEvictionTest, OnlyTheNewestEndedJobsStayInMemory) {
  config_.ended_jobs_kept = 2;
  NewCluster();
  Connect("a", 4);
  std::vector<JobId> ids;
  for (int i = 0; i < 4; ++i) {
    JobId j = Submit(Spec(1));
    ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
    cluster_->OnAgentResults("a", {Res(Ref(j, 1), 0)});
    persistence_.Commit();
    ids.push_back(j);
  }
  JobId running = Submit(Spec(1));
  ASSERT_EQ(ScheduleAndCommit("a").size(), 1u);
  cluster_->EvictEndedJobs();
  EXPECT_EQ(cluster_->FindJob(ids[0]), nullptr);
  EXPECT_EQ(cluster_->FindJob(ids[1]), nullptr);
  ASSERT_NE(cluster_->FindJob(ids[2]), nullptr);
  ASSERT_NE(cluster_->FindJob(ids[3]), nullptr);
  ASSERT_NE(cluster_->FindJob(running), nullptr) << "jobs that have not ended are never evicted";
  // A late duplicate result for an evicted job is harmless: acknowledged, nothing else.
  cluster_->OnAgentResults("a", {TaskResult{{ids[0], 1, 1}, 0, 0, 1, 2, 0, 0, ""}});
  persistence_.Commit();
  EXPECT_EQ(N("a").used_cores, 1);
}

}  // namespace
}  // namespace drover::head

namespace drover::head {
namespace {

class ReviewTest : public ClusterTest {};

// F1: a placement made before a hello but committed after it. The hello requeues the task as
// "no longer running there"; the commit then still sends its start.
TEST_F(ReviewTest, StartOfAPlacementRequeuedByHelloIsNotSent) {
  Connect("a", 2);
  JobId j = Submit(Spec(1));
  link_.Clear();
  cluster_->Schedule();  // task 1, attempt 1 placed on a; not yet committed, nothing sent
  ASSERT_EQ(StateOf(j, 1), TaskState::kRunning);
  // The agent reconnected (its old connection was half-open); its hello is read before the flush.
  cluster_->OnAgentHello("a", MakeHello(2));
  ASSERT_EQ(StateOf(j, 1), TaskState::kQueued);
  persistence_.Commit();
  bool started = !link_.RefsIn<protocol::StartTasks>("a").empty();
  EXPECT_FALSE(started) << "attempt 1 is started although the head node has requeued it";
  EXPECT_EQ(N("a").used_cores, 0);
  // The task runs once, as attempt 2.
  EXPECT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 1, 2}}));
  if (started) {
    // With the bug: attempt 1 (untracked) and attempt 2 run side by side on a, one core is counted,
    // and cancelling the job kills attempt 2 only.
    EXPECT_EQ(N("a").used_cores, 1);
    link_.Clear();
    ASSERT_TRUE(cluster_->Cancel(j).ok());
    persistence_.Commit();
    EXPECT_EQ(link_.RefsIn<protocol::KillTasks>("a"), (std::vector<TaskRef>{{j, 1, 2}}));
  }
}

// With the fix for F1: a start dropped at commit time frees its cores (no agent will report it).
TEST_F(ReviewTest, DroppedStartsFreeTheirCores) {
  Connect("a", 2);
  JobId j = Submit(Spec(2));
  link_.Clear();
  cluster_->Schedule();
  ASSERT_TRUE(cluster_->Cancel(j).ok());
  persistence_.Commit();
  EXPECT_TRUE(link_.RefsIn<protocol::StartTasks>("a").empty());
  EXPECT_EQ(N("a").used_cores, 0);
}

// F2: the hello's KillTasks for stale attempts goes out before the change that made them stale
// is committed. If the head node dies before that commit, the kill's result fails the task.
TEST_F(ReviewTest, HelloKillsOnlyAfterCommit) {
  OpenStore();
  Connect("a", 2);
  JobId j = Submit(Spec(1));
  ASSERT_EQ(ScheduleAndCommit("a"), (std::vector<TaskRef>{{j, 1, 1}}));
  // A network blip longer than the timeout: a is Unreachable, task 1 requeued (in the batch).
  clock_.Advance(config_.heartbeat_timeout_ms + 1);
  cluster_->CheckHeartbeats();
  ASSERT_EQ(StateOf(j, 1), TaskState::kQueued);
  link_.Clear();
  // The agent comes back in the same burst and still runs attempt 1.
  cluster_->OnAgentHello("a", MakeHello(2, {{j, 1, 1}}));
  bool killed_before_commit = !link_.Of<protocol::KillTasks>("a").empty();
  EXPECT_FALSE(killed_before_commit) << "KillTasks sent before the requeue is durable";

  // The head node dies before the flush and restarts from the database (task 1 Running, attempt 1).
  persistence_.Drop();
  cluster_.reset();
  persistence_.store = nullptr;
  store_.reset();
  link_.Clear();
  OpenStore();
  NewCluster();
  ASSERT_TRUE(cluster_->Load(*store_).ok());
  ASSERT_EQ(StateOf(j, 1), TaskState::kRunning);
  if (killed_before_commit) {
    // The agent obeyed the kill: it reports the killed attempt.
    cluster_->OnAgentHello("a", MakeHello(2, {}, {Res({j, 1, 1}, 143, "killed on request")}));
  } else {
    cluster_->OnAgentHello("a", MakeHello(2, {{j, 1, 1}}));
  }
  EXPECT_NE(StateOf(j, 1), TaskState::kFailed)
      << "a kill ordered by the head node itself (retries left: 3) failed the task for good";
}

}  // namespace
}  // namespace drover::head
