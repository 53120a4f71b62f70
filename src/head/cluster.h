// The cluster as the head node sees it: jobs, tasks, nodes and the rules that move them between
// states. No sockets and no threads: every method runs on the head node's loop, time comes from
// the injected Clock, durable changes go to a Persistence (group commit) and messages to agents go
// through an AgentLink. That makes every transition testable with fakes (cluster_test.cpp).
//
// Durability contract: a change is put in the current batch when it happens in memory; anything
// visible outside (a reply, a message to an agent) is sent only after the batch is committed.
#pragma once

#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/protocol.h"
#include "common/status.h"
#include "common/types.h"
#include "head/job.h"
#include "head/job_templates.h"
#include "head/scheduling_config.h"
#include "scheduler/fair_share.h"
#include "store/store.h"

namespace drover::head {

// Collects durable changes; the head node commits them in groups.
class Persistence {
 public:
  virtual ~Persistence() = default;
  virtual WriteBatch& batch() = 0;
  // Runs `fn` once everything added so far is durable.
  virtual void AfterCommit(std::function<void()> fn) = 0;
};

// Delivers messages to compute nodes' agents.
class AgentLink {
 public:
  virtual ~AgentLink() = default;
  // False when the node has no open connection (the message is dropped).
  virtual bool Send(const std::string& node, const protocol::HeadMessage& message) = 0;
  // Closes the node's connection, if any; the agent reconnects and says hello again.
  virtual void Disconnect(const std::string& node) = 0;
};

struct ClusterConfig {
  std::string default_template = "Default";
  int heartbeat_ms = 1000;
  int heartbeat_timeout_ms = 10000;  // silence after which a node is Unreachable
  int metrics_interval_ms = 30000;   // how often a node's heartbeat is kept in the Monitoring store
  size_t ended_jobs_kept = 10000;    // ended jobs kept in memory; older ones are read from the store
  // A job whose dependencies can never be satisfied is canceled (Slurm's kill_invalid_depend);
  // without it the job stays Queued with the reason DependencyNeverSatisfied until canceled.
  bool kill_invalid_depend = true;
  // Placements one scheduling pass makes at most; a pass that reaches it asks for another.
  size_t max_placements_per_pass = 10000;
};

// What one task attempt holds on one node.
struct Allocation {
  int cores = 0;
  int64_t memory_mb = 0;
  uint64_t gpus = 0;   // GPU indices (bit i: index i)
  int gpu_count = 0;   // may exceed the bits set when the indices are unknown (after a head restart)
  TimeMs expected_end = std::numeric_limits<TimeMs>::max();  // start + time limit
};

struct Node {
  NodeRecord record;
  NodeHealth health = NodeHealth::kOk;
  bool connected = false;
  TimeMs last_heard = 0;
  TimeMs last_metric = 0;
  int used_cores = 0;
  int64_t used_memory_mb = 0;
  uint64_t used_gpus = 0;
  // Allocations holding GPUs whose indices the head does not know: until they end, no GPU of the
  // node is handed out, so none is ever double-booked.
  int unknown_gpu_holds = 0;
  std::vector<protocol::GpuInfo> gpus;  // as the agent reported them
  std::map<protocol::TaskRef, Allocation> allocations;  // task attempts holding resources here
  protocol::Heartbeat load;
  bool removed = false;  // kept only so that tasks that ran here still name it
  std::string limits;  // how the agent enforces task limits, or why it does not
};

class Cluster {
 public:
  Cluster(ClusterConfig config, const Clock& clock, Persistence& persistence, AgentLink& link);

  // Rebuilds the in-memory state from the store: nodes, templates and every job not yet ended.
  // Nodes are given one heartbeat timeout to reconnect before their tasks are requeued. The
  // cluster keeps `store` to read ended jobs that dependencies name; it must outlive the cluster.
  Status Load(Store& store);
  // Creates the default node template when there is none.
  void EnsureDefaultTemplate(bool auto_approve);

  // Jobs. Submit validates and assigns an id; reply after the next commit.
  // The job template it names (or "Default") fills defaults and checks ranges first.
  Result<JobId> Submit(JobSpec spec, GivenFields given = {});
  Status Cancel(JobId id);
  Job* FindJob(JobId id);
  std::vector<const Job*> Jobs(bool include_ended) const;
  // Calls `fn` once the job has ended and that is durable (or now, if it has).
  void OnJobEnded(JobId id, std::function<void()> fn);

  // When jobs may start (cluster_job_control.cpp). A held job's queued tasks do not start until
  // it is released; a job with a begin time waits for it; a job with dependencies waits for them.
  Status Hold(JobId id);
  Status Release(JobId id);
  // Puts a running or ended job back in the queue, as Slurm's requeue: its running tasks are
  // killed and every task runs again, completed ones included, each with a new attempt.
  Status Requeue(JobId id);
  // The state of any job, in memory or in the store; nullopt when there is no such job.
  std::optional<JobState> JobStateOf(JobId id);
  // Lets jobs whose begin time has come start; called from the head node's periodic timer.
  void CheckBeginTimes();

  // Multi-node tasks (TaskSpec::nodes > 1, -N; cluster_exec.cpp). The task runs on its
  // first node and may start processes on the others (Open MPI's daemons) through the head node:
  // it proves who it is with the secret token in its DROVER_EXEC_TOKEN, valid while that attempt
  // runs. `command` is a shell command line, run as the job's owner in its working directory.
  Result<uint64_t> StartExec(JobId job, TaskId task, const std::string& token, const std::string& host,
                             const std::string& command);
  struct ExecStatus {
    bool done = false;
    int exit_code = 0;
    std::string error;
  };
  Result<ExecStatus> GetExec(uint64_t id, const std::string& token) const;
  Status KillExec(uint64_t id, const std::string& token);
  // How tasks reach the head node (DROVER_HEAD_URL, DROVER_HEAD_CA in a multi-node task's environment).
  void set_task_contact(std::string api_url, std::string ca_pem) {
    api_url_ = std::move(api_url);
    ca_pem_ = std::move(ca_pem);
  }

  // Nodes.
  // Registers a node that joined with a valid token and was issued the certificate `cert_serial`.
  // A name already in the cluster is refused: an administrator removes the node first.
  // A joining node is Unapproved until a template approves it: `template_name` when given (it must
  // exist and approve joining nodes), else the default template when it does.
  Result<NodeRecord> Join(const std::string& name, const std::string& hostname, const std::string& cert_serial,
                          const std::string& template_name = "");
  // Takes a node out of the cluster: its tasks are requeued, its connection closed, and its
  // certificate no longer accepted. It may join again afterwards.
  Status RemoveNode(const std::string& name);
  Status Approve(const std::string& name, const std::string& template_name);
  Status SetOnline(const std::string& name);
  Status SetOffline(const std::string& name);
  Status Drain(const std::string& name);
  const Node* FindNode(const std::string& name) const;
  std::vector<const Node*> Nodes() const;
  // Name of the node at `index` (a Task's node field).
  const std::string& NodeName(int32_t index) const { return nodes_[index]->record.name; }
  Status PutTemplate(const NodeTemplate& t);
  std::vector<NodeTemplate> Templates() const;
  const NodeTemplate* TemplateOf(const Node& n) const;

  // Job templates (HPC Pack): defaults and allowed ranges applied at submission. Stored as the
  // cluster property "job_templates"; "Default" applies to jobs that name none.
  Status PutJobTemplate(const JobTemplate& t);
  Status DeleteJobTemplate(const std::string& name);
  std::vector<JobTemplate> JobTemplates() const;
  void EnsureDefaultJobTemplate();

  // Scheduling settings (time limits, fair share, limits): the cluster property "scheduler".
  Status SetSchedulingConfig(const SchedulingConfig& c);
  const SchedulingConfig& scheduling_config() const { return sched_config_; }
  // The fair-share factor (fair_share.h) of `user` now, among the users with queued work.
  double FairShareFactor(const std::string& user) const;

  // Agent protocol, called for messages from authenticated nodes.
  void OnAgentHello(const std::string& node, const protocol::Hello& hello);
  void OnAgentHeartbeat(const std::string& node, const protocol::Heartbeat& hb);
  void OnAgentResults(const std::string& node, const std::vector<protocol::TaskResult>& results);
  void OnAgentDisconnected(const std::string& node);

  // Drops the oldest ended jobs from memory beyond `ended_jobs_kept` (they stay in the store).
  // Called between events, never while a handler holds a Job.
  void EvictEndedJobs();

  // Marks nodes whose heartbeats stopped Unreachable and requeues their tasks.
  void CheckHeartbeats();
  // One scheduling pass: places queued tasks on Online nodes with free cores.
  void Schedule();
  // Asks for a scheduling pass soon (coalesced); wired by the head node to its loop.
  void set_schedule_requester(std::function<void()> fn) { request_schedule_ = std::move(fn); }

  // Figures for status and metrics.
  struct Counts {
    size_t jobs_active = 0;
    uint64_t tasks_queued = 0;
    uint64_t tasks_running = 0;
    uint64_t tasks_completed = 0;  // since start
    uint64_t tasks_dispatched = 0;  // since start
  };
  Counts counts() const;

 private:
  Node* MutableNode(const std::string& name);
  Node& AddNode(NodeRecord record);
  void PersistNode(const Node& n);
  void PersistTask(const Job& job, TaskId id);
  void PersistJob(const Job& job);
  void UpdateJobState(Job& job);
  void Account(const Job& job, TaskId id, const protocol::TaskResult* result);
  void RequeueTask(Job& job, TaskId id, const std::string& reason);
  void ReleaseAllocation(Node& node, const protocol::TaskRef& ref);
  void LoseNodeTasks(Node& node, const std::string& reason);
  void KillRunningOn(Node& node, const std::string& reason, bool requeue);
  void MaybeFinishDrain(Node& node);
  void SetNodeState(Node& node, NodeState state);
  void ApplyResult(Node& node, const protocol::TaskResult& r);
  void RequestSchedule();
  bool Schedulable(const Node& n) const;

  // Resources (cluster_scheduling.cpp).
  void Hold(Node& node, const protocol::TaskRef& ref, const Allocation& a);
  // What a running task of `job` holds on a node where the head no longer knows its grant.
  Allocation AllocationFor(const Job& job, const Node& node, TimeMs start) const;
  int64_t EffectiveTimeLimit(const JobSpec& spec) const;  // 0: unlimited
  Status LoadSchedulingState(Store& store);
  void PersistJobTemplates();
  void PersistNodeTemplateScheduling(const NodeTemplate& t);
  void RecordWait(Job& job, const std::string& reason);

  // Ends the job's running attempts as Canceled (accounted; their rows persisted when `persist`)
  // and kills them once that is durable; their allocations stay until the agents report them gone.
  void CancelRunning(Job& job, bool persist);

  // cluster_job_control.cpp
  Status CheckDependencies(const JobSpec& spec);
  // Recomputes why the job waits; cancels it when its dependencies can never be satisfied.
  void RefreshWaitReason(Job& job);
  void OnDependencyEnded(JobId id);
  void CancelWithReason(Job& job, const std::string& reason);

  // cluster_task_groups.cpp: dependencies between a job's task groups.
  // The first task id that may not start yet (size() + 1 when all may).
  TaskId GroupGate(const Job& job) const;
  // Cancels the queued tasks of groups whose dependencies failed.
  void SettleTaskGroups(Job& job);

  // cluster_node_work.cpp: node preparation and release.
  // Called for a task launch placed on `node`: true when it must wait for the job's preparation
  // there (it is then held in the job's NodeWork), which is started when needed into `starts`.
  bool HoldForPreparation(Job& job, int32_t node, const protocol::TaskLaunch& launch,
                          std::map<int32_t, protocol::StartTasks>& starts);
  void ApplyNodeWorkResult(Node& node, const protocol::TaskResult& r);
  // Whether a preparation or release attempt is the one the job expects on `node`.
  bool NodeWorkCurrent(const protocol::TaskRef& ref, int32_t node) const;
  // A preparation or release attempt no longer runs (its node was lost, taken offline, ...).
  void NodeWorkLost(const protocol::TaskRef& ref, int32_t node);
  // Starts the release on each node where the job is done.
  void ReleaseNodesIfDone(Job& job);
  void MaybeReleaseNode(Job& job, int32_t node);
  // Node handles where the job must not be placed: its preparation failed there.
  std::vector<uint32_t> ExcludedNodes(const Job& job) const;
  protocol::TaskLaunch NodeWorkLaunch(Job& job, TaskId which, int32_t node);

  // cluster_exec.cpp: the processes multi-node tasks start on their other nodes.
  struct Exec {
    protocol::TaskRef owner;  // the task attempt that started it
    int32_t node = -1;
    std::string token;
    ExecStatus status;
  };
  // Gives a multi-node task's launch what it needs to start processes on its other nodes
  // (DROVER_EXEC_TOKEN, DROVER_HEAD_URL, ...).
  void AddExecContact(const protocol::TaskRef& ref, protocol::TaskLaunch& launch);
  // The attempt's launcher process is gone: the processes it started on its other nodes are killed.
  void EndExecs(const protocol::TaskRef& launcher);
  // Whether `ref` holds resources on `node` only as another node of a multi-node task.
  bool IsSpanExtra(const protocol::TaskRef& ref, int32_t node) const;
  void ApplyExecResult(Node& node, const protocol::TaskResult& r);
  const Exec* FindExec(uint64_t id, const std::string& token) const;

  ClusterConfig config_;
  const Clock& clock_;
  Persistence& persistence_;
  AgentLink& link_;
  std::function<void()> request_schedule_;

  std::map<JobId, std::unique_ptr<Job>> jobs_;
  // Jobs with queued tasks, in dispatch order: (-priority, job id).
  std::set<std::pair<int, JobId>> runnable_;
  JobId next_job_id_ = 1;
  std::deque<JobId> ended_;  // ended jobs in memory, oldest first

  std::vector<std::unique_ptr<Node>> nodes_;  // index is stable: tasks refer to it
  std::unordered_map<std::string, int32_t> node_index_;
  std::map<std::string, NodeTemplate> templates_;
  std::map<std::string, JobTemplate> job_templates_;
  SchedulingConfig sched_config_;
  scheduler::FairShare fair_share_;
  // The other nodes of multi-node task attempts (the first node holds the task itself); released
  // with the first node's allocation.
  std::map<protocol::TaskRef, std::vector<int32_t>> spans_;

  uint64_t tasks_completed_ = 0;
  // Owners' primary Unix groups, for accounting; looked up once per owner (NSS may be slow).
  std::map<std::string, std::string> owner_groups_;
  uint64_t tasks_dispatched_ = 0;

  Store* archive_ = nullptr;                       // ended jobs beyond memory, for dependencies
  std::set<std::pair<JobId, JobId>> dependents_;   // (job waited on, waiting job)
  std::set<std::pair<TimeMs, JobId>> begin_waits_;  // jobs waiting for their begin time
  std::map<protocol::TaskRef, std::string> exec_tokens_;      // multi-node attempt -> its secret
  std::map<uint64_t, Exec> execs_;                            // (job << 32 | attempt) -> remote process
  std::string api_url_;
  std::string ca_pem_;
};

}  // namespace drover::head
