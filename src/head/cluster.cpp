#include "head/cluster.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/codec.h"
#include "common/task_expansion.h"
#include "head/job_templates.h"
#include "os/users.h"

namespace drover::head {

using protocol::TaskRef;

Cluster::Cluster(ClusterConfig config, const Clock& clock, Persistence& persistence, AgentLink& link)
    : config_(std::move(config)), clock_(clock), persistence_(persistence), link_(link) {}

// ---------------------------------------------------------------------------------------------
// Loading

Status Cluster::Load(Store& store) {
  archive_ = &store;
  ASSIGN_OR_RETURN(auto templates, store.LoadNodeTemplates());
  for (auto& t : templates) templates_[t.name] = std::move(t);
  RETURN_IF_ERROR(LoadSchedulingState(store));
  ASSIGN_OR_RETURN(auto nodes, store.LoadNodes());
  TimeMs now = clock_.Now();
  for (auto& r : nodes) {
    Node& n = AddNode(std::move(r));
    n.last_heard = now;  // grace period: one heartbeat timeout to reconnect
  }
  ASSIGN_OR_RETURN(JobId max_id, store.MaxJobId());
  next_job_id_ = max_id + 1;
  ASSIGN_OR_RETURN(auto records, store.LoadActiveJobs());
  size_t running = 0;
  for (auto& rec : records) {
    ASSIGN_OR_RETURN(auto rows, store.LoadTasks(rec.id));
    auto job = std::make_unique<Job>(std::move(rec));
    job->LoadTaskRows(rows, node_index_);
    for (TaskId id = 1; id <= job->size(); ++id) {
      Task& t = job->task(id);
      if (t.state != TaskState::kRunning) continue;
      if (t.node < 0) {
        RequeueTask(*job, id, "its node is no longer part of the cluster");
        continue;
      }
      Node& n = *nodes_[t.node];
      // The grant's GPU indices and a multi-node task's other nodes are not stored: the
      // allocation holds the node's GPUs as unknown until the task ends.
      Hold(n, TaskRef{job->id(), id, t.attempt}, AllocationFor(*job, n, t.start_time));
      ++running;
    }
    if (job->HasQueued()) runnable_.insert({-job->spec().priority, job->id()});
    UpdateJobState(*job);
    jobs_[job->id()] = std::move(job);
  }
  // Once every active job is known: what each waits for (dependencies may name any of them).
  std::vector<Job*> loaded;
  for (auto& [id, job] : jobs_) loaded.push_back(job.get());
  for (Job* job : loaded) RefreshWaitReason(*job);
  spdlog::info("loaded {} nodes, {} templates, {} active jobs ({} tasks running)", nodes_.size(),
               templates_.size(), jobs_.size(), running);
  return Status::Ok();
}

void Cluster::EnsureDefaultTemplate(bool auto_approve) {
  if (templates_.count(config_.default_template)) return;
  NodeTemplate t;
  t.name = config_.default_template;
  t.description = "Default compute node template";
  t.auto_approve = auto_approve;
  t.bring_online = true;
  (void)PutTemplate(t);
}

// ---------------------------------------------------------------------------------------------
// Persistence helpers

void Cluster::PersistNode(const Node& n) { persistence_.batch().nodes.push_back(n.record); }

void Cluster::PersistTask(const Job& job, TaskId id) {
  const Task& t = job.task(id);
  TaskRecord r;
  r.job_id = job.id();
  r.task_id = id;
  r.state = t.state;
  r.attempt = t.attempt;
  r.node = t.node >= 0 ? nodes_[t.node]->record.name : "";
  r.exit_code = t.exit_code;
  r.start_time = t.start_time;
  r.end_time = t.end_time;
  r.error = job.Error(id);
  persistence_.batch().tasks.push_back(std::move(r));
}

void Cluster::PersistJob(const Job& job) { persistence_.batch().jobs.push_back(job.record()); }

void Cluster::UpdateJobState(Job& job) {
  JobRecord& rec = job.mutable_record();
  JobState next = job.DeriveState();
  if (next == rec.state) return;
  TimeMs now = clock_.Now();
  if (next != JobState::kQueued && rec.start_time == 0 && job.Count(TaskState::kQueued) < job.size()) {
    rec.start_time = now;
  }
  rec.state = next;
  if (IsTerminal(next)) {
    rec.end_time = now;
    runnable_.erase({-job.spec().priority, job.id()});
    ended_.push_back(job.id());
    spdlog::info("job {} {}", job.id(), ToString(next));
    auto waiters = std::move(job.waiters());
    job.waiters().clear();
    for (auto& w : waiters) persistence_.AfterCommit(std::move(w));
  }
  PersistJob(job);
  if (IsTerminal(next)) OnDependencyEnded(job.id());
}

void Cluster::Account(const Job& job, TaskId id, const protocol::TaskResult* result) {
  const Task& t = job.task(id);
  AccountingRecord a;
  a.job_id = job.id();
  a.task_id = id;
  a.attempt = t.attempt;
  a.owner = job.spec().owner;
  a.job_name = job.spec().name;
  a.node = t.node >= 0 ? nodes_[t.node]->record.name : "";
  a.state = t.state;
  a.exit_code = t.exit_code;
  // What the attempt held: an exclusive task holds its nodes' every core.
  int per_node = job.spec().task.exclusive && t.node >= 0 ? nodes_[t.node]->record.cores : job.spec().task.CoresPerNode();
  a.cores = per_node * job.spec().task.NodeCount();
  a.submit_time = job.record().submit_time;
  a.start_time = t.start_time;
  a.end_time = t.end_time;
  if (result) {
    a.cpu_time_ms = result->cpu_time_ms;
    a.max_rss_kb = result->max_rss_kb;
  }
  if (a.start_time > 0 && a.end_time > a.start_time) {
    fair_share_.AddTask(a.owner, a.cores, job.spec().task.gpus * job.spec().task.NodeCount(), a.start_time,
                        a.end_time);
  }
  auto group = owner_groups_.find(a.owner);
  if (group == owner_groups_.end()) group = owner_groups_.emplace(a.owner, os::PrimaryGroupName(a.owner)).first;
  a.group = group->second;
  a.gpus = job.spec().task.gpus * job.spec().task.NodeCount();
  a.memory_limit_mb = job.spec().task.MemoryPerNodeMb();
  a.time_limit_ms = EffectiveTimeLimit(job.spec());
  a.error = job.Error(id);
  persistence_.batch().accounting.push_back(std::move(a));
}

// ---------------------------------------------------------------------------------------------
// Jobs

Result<JobId> Cluster::Submit(JobSpec spec, GivenFields given) {
  RETURN_IF_ERROR(ApplyJobTemplate(job_templates_, given, spec));
  RETURN_IF_ERROR(ValidateJobSpec(spec));
  RETURN_IF_ERROR(CheckDependencies(spec));
  spec.cancel_reason.clear();
  JobRecord rec;
  rec.id = next_job_id_++;
  rec.spec = std::move(spec);
  rec.state = JobState::kQueued;
  rec.submit_time = clock_.Now();
  auto job = std::make_unique<Job>(std::move(rec));
  JobId id = job->id();
  PersistJob(*job);
  runnable_.insert({-job->spec().priority, id});
  spdlog::info("job {} submitted by {}: {} task(s)", id, job->spec().owner, job->size());
  Job& added = *(jobs_[id] = std::move(job));
  RefreshWaitReason(added);
  RequestSchedule();
  return id;
}

Status Cluster::Cancel(JobId id) {
  Job* job = FindJob(id);
  if (!job) return NotFound(fmt::format("job {} does not exist", id));
  if (IsTerminal(job->record().state)) {
    return FailedPrecondition(fmt::format("job {} has already ended ({})", id, ToString(job->record().state)));
  }
  job->mutable_record().cancel_requested = true;
  runnable_.erase({-job->spec().priority, id});
  for (TaskId t : job->CancelQueued()) PersistTask(*job, t);
  CancelRunning(*job, /*persist=*/true);
  PersistJob(*job);
  UpdateJobState(*job);
  ReleaseNodesIfDone(*job);
  spdlog::info("job {} canceled", id);
  return Status::Ok();
}

void Cluster::CancelRunning(Job& job, bool persist) {
  TimeMs now = clock_.Now();
  std::map<std::string, std::vector<TaskRef>> kills;
  for (TaskId t = 1; t <= job.size(); ++t) {
    Task& task = job.task(t);
    if (task.state != TaskState::kRunning) continue;
    job.SetState(t, TaskState::kCanceled);
    task.end_time = now;
    task.exit_code = -1;
    if (persist) PersistTask(job, t);
    Account(job, t, nullptr);
    // The allocation stays until the agent reports the process gone.
    if (task.node >= 0) kills[nodes_[task.node]->record.name].push_back({job.id(), t, task.attempt});
  }
  if (kills.empty()) return;
  persistence_.AfterCommit([this, kills = std::move(kills)] {
    for (const auto& [node, refs] : kills) link_.Send(node, protocol::KillTasks{refs});
  });
}

Job* Cluster::FindJob(JobId id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

std::vector<const Job*> Cluster::Jobs(bool include_ended) const {
  std::vector<const Job*> out;
  for (const auto& [id, job] : jobs_) {
    if (include_ended || !IsTerminal(job->record().state)) out.push_back(job.get());
  }
  return out;
}

void Cluster::EvictEndedJobs() {
  while (ended_.size() > config_.ended_jobs_kept) {
    jobs_.erase(ended_.front());
    ended_.pop_front();
  }
}

void Cluster::OnJobEnded(JobId id, std::function<void()> fn) {
  Job* job = FindJob(id);
  if (!job || IsTerminal(job->record().state)) {
    persistence_.AfterCommit(std::move(fn));
    return;
  }
  job->waiters().push_back(std::move(fn));
}

void Cluster::RequeueTask(Job& job, TaskId id, const std::string& reason) {
  Task& t = job.task(id);
  if (t.attempt > static_cast<uint32_t>(job.spec().task.max_retries)) {
    job.SetState(id, TaskState::kFailed);
    t.end_time = clock_.Now();
    t.exit_code = -1;
    job.SetError(id, fmt::format("{}; gave up after {} attempts", reason, t.attempt));
    spdlog::warn("task {}.{} failed: {}", job.id(), id, job.Error(id));
    Account(job, id, nullptr);
  } else {
    job.SetState(id, TaskState::kQueued);
    job.Requeue(id);
    runnable_.insert({-job.spec().priority, job.id()});
    spdlog::info("task {}.{} requeued (attempt {} lost: {})", job.id(), id, t.attempt, reason);
  }
  PersistTask(job, id);
  UpdateJobState(job);
  RequestSchedule();
}

// ---------------------------------------------------------------------------------------------
// Nodes

Node* Cluster::MutableNode(const std::string& name) {
  auto it = node_index_.find(name);
  return it == node_index_.end() ? nullptr : nodes_[it->second].get();
}

const Node* Cluster::FindNode(const std::string& name) const {
  auto it = node_index_.find(name);
  return it == node_index_.end() ? nullptr : nodes_[it->second].get();
}

std::vector<const Node*> Cluster::Nodes() const {
  std::vector<const Node*> out;
  for (const auto& n : nodes_) {
    if (!n->removed) out.push_back(n.get());
  }
  std::sort(out.begin(), out.end(), [](const Node* a, const Node* b) { return a->record.name < b->record.name; });
  return out;
}

Node& Cluster::AddNode(NodeRecord record) {
  auto node = std::make_unique<Node>();
  node->record = std::move(record);
  int32_t idx = static_cast<int32_t>(nodes_.size());
  node_index_[node->record.name] = idx;
  nodes_.push_back(std::move(node));
  return *nodes_.back();
}

void Cluster::SetNodeState(Node& node, NodeState state) {
  if (node.record.state == state) return;
  spdlog::info("node {}: {} -> {}", node.record.name, ToString(node.record.state), ToString(state));
  node.record.state = state;
  PersistNode(node);
  if (state == NodeState::kOnline) RequestSchedule();
}

Result<NodeRecord> Cluster::Join(const std::string& name, const std::string& hostname,
                                 const std::string& cert_serial, const std::string& template_name) {
  if (MutableNode(name)) {
    return AlreadyExists(fmt::format(
        "node '{}' has already joined this cluster; to join it again, remove it first (drover node remove {})", name,
        name));
  }
  if (!template_name.empty()) {
    auto t = templates_.find(template_name);
    if (t == templates_.end()) return NotFound(fmt::format("node template '{}' does not exist", template_name));
    if (!t->second.auto_approve) {
      return FailedPrecondition(fmt::format("node template '{}' does not approve joining nodes", template_name));
    }
  }
  NodeRecord r;
  r.name = name;
  r.hostname = hostname;
  r.cert_serial = cert_serial;
  r.state = NodeState::kUnapproved;
  r.joined_time = clock_.Now();
  Node& n = AddNode(std::move(r));
  n.last_heard = clock_.Now();
  PersistNode(n);
  spdlog::info("node {} joined: Unapproved", name);
  auto it = templates_.find(template_name.empty() ? config_.default_template : template_name);
  if (it != templates_.end() && it->second.auto_approve) {
    (void)Approve(name, it->first);
  }
  return n.record;
}

Status Cluster::RemoveNode(const std::string& name) {
  Node* n = MutableNode(name);
  if (!n) return NotFound(fmt::format("node '{}' does not exist", name));
  KillRunningOn(*n, fmt::format("node {} was removed", name), /*requeue=*/true);
  LoseNodeTasks(*n, fmt::format("node {} was removed", name));
  n->removed = true;
  n->connected = false;
  node_index_.erase(name);
  persistence_.batch().deleted_nodes.push_back(name);
  persistence_.AfterCommit([this, name] { link_.Disconnect(name); });
  spdlog::info("node {} removed", name);
  return Status::Ok();
}

Status Cluster::Approve(const std::string& name, const std::string& template_name) {
  Node* n = MutableNode(name);
  if (!n) return NotFound(fmt::format("node '{}' does not exist", name));
  auto it = templates_.find(template_name);
  if (it == templates_.end()) return NotFound(fmt::format("node template '{}' does not exist", template_name));
  n->record.template_name = template_name;
  PersistNode(*n);
  if (n->record.state == NodeState::kUnapproved) {
    SetNodeState(*n, NodeState::kOffline);
    if (it->second.bring_online) SetNodeState(*n, NodeState::kOnline);
  }
  spdlog::info("node {} assigned template {}", name, template_name);
  return Status::Ok();
}

Status Cluster::SetOnline(const std::string& name) {
  Node* n = MutableNode(name);
  if (!n) return NotFound(fmt::format("node '{}' does not exist", name));
  if (n->record.state == NodeState::kUnapproved) {
    return FailedPrecondition(
        fmt::format("node '{}' is Unapproved: assign a node template first (drover node approve {} --template T)",
                    name, name));
  }
  SetNodeState(*n, NodeState::kOnline);
  return Status::Ok();
}

Status Cluster::SetOffline(const std::string& name) {
  Node* n = MutableNode(name);
  if (!n) return NotFound(fmt::format("node '{}' does not exist", name));
  if (n->record.state == NodeState::kUnapproved) {
    return FailedPrecondition(fmt::format("node '{}' is Unapproved; there is nothing to take offline", name));
  }
  KillRunningOn(*n, fmt::format("node {} was taken offline", name), /*requeue=*/true);
  SetNodeState(*n, NodeState::kOffline);
  return Status::Ok();
}

Status Cluster::Drain(const std::string& name) {
  Node* n = MutableNode(name);
  if (!n) return NotFound(fmt::format("node '{}' does not exist", name));
  if (n->record.state != NodeState::kOnline && n->record.state != NodeState::kDraining) {
    return FailedPrecondition(
        fmt::format("node '{}' is {}; only an Online node can drain", name, ToString(n->record.state)));
  }
  SetNodeState(*n, NodeState::kDraining);
  MaybeFinishDrain(*n);
  return Status::Ok();
}

void Cluster::MaybeFinishDrain(Node& node) {
  if (node.record.state == NodeState::kDraining && node.allocations.empty()) {
    SetNodeState(node, NodeState::kOffline);
  }
}

Status Cluster::PutTemplate(const NodeTemplate& t) {
  if (t.name.empty()) return InvalidArgument("a node template needs a name");
  for (const auto& g : t.node_groups) {
    if (g.empty() || g.find_first_of(" ,") != std::string::npos) {
      return InvalidArgument(fmt::format("node template '{}': '{}' is not a node group name", t.name, g));
    }
  }
  templates_[t.name] = t;
  persistence_.batch().node_templates.push_back(t);
  PersistNodeTemplateScheduling(t);
  RequestSchedule();
  return Status::Ok();
}

std::vector<NodeTemplate> Cluster::Templates() const {
  std::vector<NodeTemplate> out;
  for (const auto& [_, t] : templates_) out.push_back(t);
  return out;
}

// Kills every task attempt running on `node`. With `requeue`, the tasks go back to the queue now;
// their allocations stay until the agent confirms the processes are gone.
void Cluster::KillRunningOn(Node& node, const std::string& reason, bool requeue) {
  std::map<std::string, std::vector<TaskRef>> kills;
  std::vector<TaskRef> node_work;
  int32_t self = node_index_.count(node.record.name) ? node_index_.at(node.record.name) : -1;
  for (const auto& [ref, held] : node.allocations) {
    if (IsNodeWorkRef(ref)) {
      node_work.push_back(ref);
      kills[node.record.name].push_back(ref);
      continue;
    }
    Job* job = FindJob(ref.job_id);
    Task* t = job && job->HasTask(ref.task_id) ? &job->task(ref.task_id) : nullptr;
    // A multi-node task runs from its first node: that is where it is killed.
    bool elsewhere = t && t->attempt == ref.attempt && t->node >= 0 && t->node != self;
    kills[elsewhere ? nodes_[t->node]->record.name : node.record.name].push_back(ref);
    if (!requeue || !t) continue;
    if (t->state == TaskState::kRunning && t->attempt == ref.attempt) RequeueTask(*job, ref.task_id, reason);
  }
  for (const auto& ref : node_work) NodeWorkLost(ref, self);
  if (kills.empty()) return;
  persistence_.AfterCommit([this, kills = std::move(kills)] {
    for (const auto& [name, refs] : kills) link_.Send(name, protocol::KillTasks{refs});
  });
}

// The node is gone: its tasks go back to the queue and its resources are no longer counted. A
// multi-node task that held it is killed on its first node.
void Cluster::LoseNodeTasks(Node& node, const std::string& reason) {
  std::vector<TaskRef> refs;
  for (const auto& [ref, held] : node.allocations) refs.push_back(ref);
  int32_t self = node_index_.count(node.record.name) ? node_index_.at(node.record.name) : -1;
  std::map<std::string, std::vector<TaskRef>> kills;
  for (const auto& ref : refs) {
    ReleaseAllocation(node, ref);
    if (IsNodeWorkRef(ref)) {
      NodeWorkLost(ref, self);
      continue;
    }
    Job* job = FindJob(ref.job_id);
    if (!job || !job->HasTask(ref.task_id)) continue;
    Task& t = job->task(ref.task_id);
    if (t.state != TaskState::kRunning || t.attempt != ref.attempt) continue;
    if (t.node >= 0 && t.node != self) kills[nodes_[t.node]->record.name].push_back(ref);
    RequeueTask(*job, ref.task_id, reason);
  }
  if (!kills.empty()) {
    persistence_.AfterCommit([this, kills = std::move(kills)] {
      for (const auto& [name, refs] : kills) link_.Send(name, protocol::KillTasks{refs});
    });
  }
  MaybeFinishDrain(node);
}

// ---------------------------------------------------------------------------------------------
// Agent protocol

void Cluster::OnAgentHello(const std::string& name, const protocol::Hello& hello) {
  Node* n = MutableNode(name);
  if (!n) {  // removed meanwhile: its certificate is no longer accepted
    link_.Disconnect(name);
    return;
  }
  TimeMs now = clock_.Now();
  bool was_unreachable = n->health == NodeHealth::kUnreachable;
  n->connected = true;
  n->health = NodeHealth::kOk;
  n->last_heard = now;
  if (n->record.cores != hello.cores || n->record.memory_mb != hello.memory_mb ||
      n->record.hostname != hello.hostname) {
    n->record.cores = hello.cores;
    n->record.memory_mb = hello.memory_mb;
    n->record.hostname = hello.hostname;
  }
  n->record.last_seen = now;
  n->gpus = hello.gpus;
  if (n->limits != hello.limits && hello.limits.rfind("not enforced", 0) == 0) {
    spdlog::warn("node {}: task limits are {}", name, hello.limits);
  }
  n->limits = hello.limits;
  PersistNode(*n);
  spdlog::info("node {} connected{} ({} cores, {} MB, {} GPUs, {} tasks running, {} results pending)", name,
               was_unreachable ? " again" : "", hello.cores, hello.memory_mb, hello.gpus.size(), hello.running.size(),
               hello.finished.size());

  // Results first: they may end tasks that the running list no longer mentions.
  OnAgentResults(name, hello.finished);

  // Reconcile what the head believes runs there with what the agent says runs there.
  std::set<TaskRef> agent_running(hello.running.begin(), hello.running.end());
  std::vector<TaskRef> lost;
  for (const auto& [ref, held] : n->allocations) {
    // A multi-node task runs on its first node only; the others hold resources for it.
    if (!agent_running.count(ref) && !IsSpanExtra(ref, node_index_[name])) lost.push_back(ref);
  }
  for (const auto& ref : lost) {
    ReleaseAllocation(*n, ref);
    if (IsNodeWorkRef(ref)) {
      NodeWorkLost(ref, node_index_[name]);
      continue;
    }
    Job* job = FindJob(ref.job_id);
    if (!job || !job->HasTask(ref.task_id)) continue;
    Task& t = job->task(ref.task_id);
    if (t.state == TaskState::kRunning && t.attempt == ref.attempt) {
      RequeueTask(*job, ref.task_id, fmt::format("node {} no longer runs it", name));
    }
  }
  std::vector<TaskRef> stale;
  for (const auto& ref : agent_running) {
    Job* job = FindJob(ref.job_id);
    bool current = IsNodeWorkRef(ref)
                       ? NodeWorkCurrent(ref, node_index_[name])
                       : job && job->HasTask(ref.task_id) && job->task(ref.task_id).state == TaskState::kRunning &&
                             job->task(ref.task_id).attempt == ref.attempt &&
                             job->task(ref.task_id).node == node_index_[name];
    if (!n->allocations.count(ref)) {
      // Running there either way: count its resources until it is gone (node work holds none).
      Allocation held;
      if (!IsNodeWorkRef(ref)) held.cores = 1;
      if (job && job->HasTask(ref.task_id)) held = AllocationFor(*job, *n, job->task(ref.task_id).start_time);
      Hold(*n, ref, held);
    }
    if (!current) stale.push_back(ref);
  }
  link_.Send(name, protocol::Welcome{name, config_.heartbeat_ms});
  if (!stale.empty()) {
    spdlog::info("node {} runs {} stale task attempt(s); killing them", name, stale.size());
    // Only once what made them stale is durable, like every other message to an agent.
    persistence_.AfterCommit([this, name, stale = std::move(stale)] { link_.Send(name, protocol::KillTasks{stale}); });
  }
  MaybeFinishDrain(*n);
  RequestSchedule();
}

void Cluster::OnAgentHeartbeat(const std::string& name, const protocol::Heartbeat& hb) {
  Node* n = MutableNode(name);
  if (!n) return;
  if (n->health == NodeHealth::kUnreachable) {
    // Declared lost while the connection lingered: make it say hello again so the head and the
    // agent reconcile their views of what runs there.
    link_.Disconnect(name);
    return;
  }
  TimeMs now = clock_.Now();
  n->last_heard = now;
  n->load = hb;
  link_.Send(name, protocol::HeartbeatAck{});
  if (now - n->last_metric >= config_.metrics_interval_ms) {
    n->last_metric = now;
    persistence_.batch().metrics.push_back(
        MetricSample{name, now, hb.load1, hb.memory_used_mb, hb.running_tasks});
  }
}

void Cluster::ApplyResult(Node& node, const protocol::TaskResult& r) {
  ReleaseAllocation(node, r.ref);
  if (r.ref.task_id == kExecTaskId) return ApplyExecResult(node, r);
  if (IsNodeWorkRef(r.ref)) return ApplyNodeWorkResult(node, r);
  Job* job = FindJob(r.ref.job_id);
  if (!job || !job->HasTask(r.ref.task_id)) return;
  Task& t = job->task(r.ref.task_id);
  int32_t idx = node_index_[node.record.name];
  if (t.state != TaskState::kRunning || t.attempt != r.ref.attempt || t.node != idx) {
    spdlog::info("ignoring stale result of task {}.{} attempt {} from {} (task is {} at attempt {})", r.ref.job_id,
                 r.ref.task_id, r.ref.attempt, node.record.name, ToString(t.state), t.attempt);
    return;
  }
  bool ok = r.error.empty() && r.exit_code == 0;
  TaskState end = r.timed_out       ? TaskState::kTimeout
                  : r.out_of_memory ? TaskState::kOutOfMemory
                  : ok              ? TaskState::kFinished
                                    : TaskState::kFailed;
  job->SetState(r.ref.task_id, end);
  t.exit_code = r.exit_code;
  if (r.start_time) t.start_time = r.start_time;
  t.end_time = r.end_time ? r.end_time : clock_.Now();
  if (!r.error.empty()) job->SetError(r.ref.task_id, r.error);
  ++tasks_completed_;
  PersistTask(*job, r.ref.task_id);
  Account(*job, r.ref.task_id, &r);
  UpdateJobState(*job);
}

void Cluster::OnAgentResults(const std::string& name, const std::vector<protocol::TaskResult>& results) {
  Node* n = MutableNode(name);
  if (!n || results.empty()) return;
  n->last_heard = clock_.Now();
  std::vector<TaskRef> acks;
  acks.reserve(results.size());
  std::set<JobId> touched;
  for (const auto& r : results) {
    ApplyResult(*n, r);
    acks.push_back(r.ref);
    touched.insert(r.ref.job_id);
  }
  for (JobId id : touched) {
    Job* job = FindJob(id);
    if (!job) continue;
    SettleTaskGroups(*job);
    ReleaseNodesIfDone(*job);
  }
  MaybeFinishDrain(*n);
  persistence_.AfterCommit([this, name, acks = std::move(acks)] { link_.Send(name, protocol::Ack{acks}); });
  RequestSchedule();
}

void Cluster::OnAgentDisconnected(const std::string& name) {
  Node* n = MutableNode(name);
  if (!n) return;
  n->connected = false;
  spdlog::info("node {} disconnected", name);
}

void Cluster::CheckHeartbeats() {
  TimeMs now = clock_.Now();
  for (auto& np : nodes_) {
    Node& n = *np;
    if (n.removed || n.health == NodeHealth::kUnreachable) continue;
    if (now - n.last_heard <= config_.heartbeat_timeout_ms) continue;
    spdlog::warn("node {} missed heartbeats for {} ms: Unreachable", n.record.name, now - n.last_heard);
    n.health = NodeHealth::kUnreachable;
    LoseNodeTasks(n, fmt::format("node {} became unreachable", n.record.name));
    if (n.connected) link_.Disconnect(n.record.name);
  }
}

// ---------------------------------------------------------------------------------------------
// Scheduling

void Cluster::RequestSchedule() {
  if (request_schedule_) request_schedule_();
}

bool Cluster::Schedulable(const Node& n) const {
  return !n.removed && n.record.state == NodeState::kOnline && n.health == NodeHealth::kOk && n.connected &&
         n.used_cores < n.record.cores;
}

Cluster::Counts Cluster::counts() const {
  Counts c;
  for (const auto& [id, job] : jobs_) {
    if (IsTerminal(job->record().state)) continue;
    ++c.jobs_active;
    c.tasks_queued += job->Count(TaskState::kQueued);
    c.tasks_running += job->Count(TaskState::kRunning);
  }
  c.tasks_completed = tasks_completed_;
  c.tasks_dispatched = tasks_dispatched_;
  return c;
}

}  // namespace drover::head
