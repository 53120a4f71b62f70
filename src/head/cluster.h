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
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/protocol.h"
#include "common/status.h"
#include "common/types.h"
#include "head/job.h"
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
  // Placements one scheduling pass makes at most; a pass that reaches it asks for another. Keeps
  // each pass (and the commit and start messages that follow it) short when many cores are free.
  size_t max_placements_per_pass = 10000;
};

struct Node {
  NodeRecord record;
  NodeHealth health = NodeHealth::kOk;
  bool connected = false;
  TimeMs last_heard = 0;
  TimeMs last_metric = 0;
  int used_cores = 0;
  std::map<protocol::TaskRef, int> allocations;  // task attempts holding cores here
  protocol::Heartbeat load;
  bool removed = false;  // kept only so that tasks that ran here still name it
};

class Cluster {
 public:
  Cluster(ClusterConfig config, const Clock& clock, Persistence& persistence, AgentLink& link);

  // Rebuilds the in-memory state from the store: nodes, templates and every job not yet ended.
  // Nodes are given one heartbeat timeout to reconnect before their tasks are requeued.
  Status Load(Store& store);
  // Creates the default node template when there is none.
  void EnsureDefaultTemplate(bool auto_approve);

  // Jobs. Submit validates and assigns an id; reply after the next commit.
  Result<JobId> Submit(JobSpec spec);
  Status Cancel(JobId id);
  Job* FindJob(JobId id);
  std::vector<const Job*> Jobs(bool include_ended) const;
  // Calls `fn` once the job has ended and that is durable (or now, if it has).
  void OnJobEnded(JobId id, std::function<void()> fn);

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

  uint64_t tasks_completed_ = 0;
  uint64_t tasks_dispatched_ = 0;
};

}  // namespace drover::head
