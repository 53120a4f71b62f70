// The Cluster's side of scheduling: resources held on nodes, the snapshot handed to the pure
// policy (scheduler/scheduler.h), applying its placements, job templates, scheduling settings and
// fair-share usage.
#include <algorithm>
#include <bit>
#include <unordered_map>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/codec.h"
#include "common/hostlist.h"
#include "common/task_expansion.h"
#include "common/time_limit.h"
#include "head/cluster.h"
#include "head/job_templates.h"
#include "scheduler/scheduler.h"

namespace drover::head {

using protocol::TaskRef;
namespace json = boost::json;

namespace {

constexpr const char* kJobTemplatesProperty = "job_templates";
constexpr const char* kSchedulerProperty = "scheduler";
std::string NodeTemplateProperty(const std::string& name) { return "node_template." + name; }

// How deep one pass looks into the queue: enough for backfill and fair share without making a
// pass cost O(queue) when millions of jobs wait.
constexpr size_t kMaxJobsPerPass = 20'000;
constexpr size_t kMaxJobsPerUserPerPass = 2'000;
constexpr size_t kMaxJobsExaminedPerPass = 200'000;

uint64_t AllGpus(size_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }

std::string WaitText(scheduler::WaitReason r, const JobSpec& spec) {
  using scheduler::WaitReason;
  const TaskSpec& t = spec.task;
  switch (r) {
    case WaitReason::kNone: return "";
    case WaitReason::kResources: return "Resources: waiting for resources to free up";
    case WaitReason::kPriority: return "Priority: held so as not to delay a higher-priority job";
    case WaitReason::kNoNode:
      return t.NodeCount() > 1 ? fmt::format("NoEligibleNode: fewer than {} Online nodes match its node groups, "
                                             "constraint, node list and exclusions",
                                             t.NodeCount())
                               : "NoEligibleNode: no Online node matches its node groups, constraint, node list "
                                 "and exclusions";
    case WaitReason::kTooLarge:
      return fmt::format("TooLarge: no eligible Online node has {}{} cores, {} MB memory and {} GPUs", 
                         t.NodeCount() > 1 ? fmt::format("{} nodes x ", t.NodeCount()) : "", t.CoresPerNode(),
                         t.MemoryPerNodeMb(), t.gpus);
    case WaitReason::kUserLimit: return "UserLimit: the owner's running jobs or cores are at their limit";
    case WaitReason::kGroupLimit: return "GroupLimit: the owner's running jobs or cores in a node group are at their limit";
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Resources on nodes

const NodeTemplate* Cluster::TemplateOf(const Node& n) const {
  auto it = templates_.find(n.record.template_name);
  return it == templates_.end() ? nullptr : &it->second;
}

void Cluster::Hold(Node& node, const TaskRef& ref, const Allocation& a) {
  ReleaseAllocation(node, ref);
  node.allocations[ref] = a;
  node.used_cores += a.cores;
  node.used_memory_mb += a.memory_mb;
  node.used_gpus |= a.gpus;
  if (a.gpu_count > std::popcount(a.gpus)) ++node.unknown_gpu_holds;
}

void Cluster::ReleaseAllocation(Node& node, const TaskRef& ref) {
  auto it = node.allocations.find(ref);
  if (it == node.allocations.end()) return;
  const Allocation& a = it->second;
  node.used_cores -= a.cores;
  node.used_memory_mb -= a.memory_mb;
  node.used_gpus &= ~a.gpus;
  if (a.gpu_count > std::popcount(a.gpus)) --node.unknown_gpu_holds;
  node.allocations.erase(it);
  // The task's other nodes are free once its first node is, and what it started there ends.
  auto span = spans_.find(ref);
  if (span == spans_.end()) return;
  int32_t self = node_index_.count(node.record.name) ? node_index_.at(node.record.name) : -1;
  if (std::find(span->second.begin(), span->second.end(), self) != span->second.end()) return;  // not the first
  std::vector<int32_t> others = std::move(span->second);
  spans_.erase(span);
  for (int32_t idx : others) {
    if (idx != self) ReleaseAllocation(*nodes_[idx], ref);
  }
  EndExecs(ref);
}

int64_t Cluster::EffectiveTimeLimit(const JobSpec& spec) const {
  int64_t limit = spec.task.time_limit_ms;
  if (limit == kUnlimitedTime) return 0;
  if (limit > 0) return limit;
  for (const auto& g : spec.node_groups) {
    auto it = sched_config_.node_groups.find(g);
    if (it != sched_config_.node_groups.end() && it->second.default_time_limit_ms > 0) {
      return it->second.default_time_limit_ms;
    }
  }
  return sched_config_.default_time_limit_ms;
}

Allocation Cluster::AllocationFor(const Job& job, const Node& node, TimeMs start) const {
  const TaskSpec& t = job.spec().task;
  Allocation a;
  a.cores = t.exclusive ? node.record.cores : t.CoresPerNode();
  a.memory_mb = t.exclusive ? node.record.memory_mb : t.MemoryPerNodeMb();
  a.gpu_count = t.exclusive ? static_cast<int>(node.gpus.size()) : t.gpus;  // indices unknown here
  int64_t limit = EffectiveTimeLimit(job.spec());
  if (limit > 0 && start > 0) a.expected_end = start + limit;
  return a;
}

// ---------------------------------------------------------------------------------------------
// Scheduling pass

void Cluster::RecordWait(Job& job, const std::string& reason) {
  if (job.wait_reason() == reason) return;
  job.set_wait_reason(reason);
}

void Cluster::Schedule() {
  if (runnable_.empty()) return;
  TimeMs now = clock_.Now();
  scheduler::Snapshot snap;
  snap.now = now;
  snap.policy.fair_share_weight = sched_config_.fair_share_weight;
  snap.policy.user_limits = sched_config_.user_limits;
  for (const auto& [name, g] : sched_config_.node_groups) {
    if (g.limits.max_cores > 0 || g.limits.max_running_jobs > 0) snap.policy.group_limits[name] = g.limits;
  }
  int64_t free_total = 0;
  std::unordered_map<int32_t, uint32_t> pos_of;  // node index -> position in the snapshot
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = *nodes_[i];
    if (!Schedulable(n)) continue;
    scheduler::NodeCapacity c;
    c.node = static_cast<uint32_t>(i);
    c.name = n.record.name;
    c.total_cores = n.record.cores;
    c.free_cores = n.record.cores - n.used_cores;
    c.total_memory_mb = n.record.memory_mb;
    c.free_memory_mb = n.record.memory_mb - n.used_memory_mb;
    c.total_gpus = static_cast<int>(std::min<size_t>(n.gpus.size(), 64));
    c.free_gpus = n.unknown_gpu_holds ? 0 : AllGpus(c.total_gpus) & ~n.used_gpus;
    if (const NodeTemplate* t = TemplateOf(n)) {
      c.groups = t->node_groups;
      c.features = t->features;
    }
    free_total += c.free_cores;
    pos_of[static_cast<int32_t>(i)] = static_cast<uint32_t>(snap.nodes.size());
    snap.nodes.push_back(std::move(c));
  }
  if (free_total == 0) return;

  std::unordered_map<std::string, uint32_t> user_index;
  std::vector<std::string> user_names;
  auto user_of = [&](const std::string& owner) {
    auto [it, added] = user_index.try_emplace(owner, static_cast<uint32_t>(user_names.size()));
    if (added) user_names.push_back(owner);
    return it->second;
  };
  for (const auto& [idx, pos] : pos_of) {
    for (const auto& [ref, a] : nodes_[idx]->allocations) {
      const Job* job = FindJob(ref.job_id);
      snap.running.push_back({pos, ref.job_id, job ? user_of(job->spec().owner) : 0, a.cores, a.memory_mb,
                              a.gpu_count, a.expected_end});
    }
  }

  // Eligibility classes, one per distinct (node groups, constraint, node list, exclusions). A job
  // is also kept off the nodes where its preparation failed (`failed_prep`, node names).
  snap.eligibility.emplace_back();
  std::unordered_map<std::string, uint32_t> class_of;
  auto eligibility_of = [&](const JobSpec& s, const std::vector<std::string>& failed_prep) -> uint32_t {
    if (s.node_groups.empty() && s.constraint.empty() && s.nodelist.empty() && s.exclude.empty() &&
        failed_prep.empty()) {
      return 0;
    }
    std::string key;
    for (const auto& g : s.node_groups) key += g + ",";
    key += "\x1f" + s.constraint + "\x1f" + s.nodelist + "\x1f" + s.exclude + "\x1f";
    for (const auto& n : failed_prep) key += n + ",";
    auto [it, added] = class_of.try_emplace(key, static_cast<uint32_t>(snap.eligibility.size()));
    if (added) {
      scheduler::Eligibility e;
      e.groups = s.node_groups;
      e.constraint = s.constraint;
      if (auto names = ExpandHostlist(s.nodelist); names.ok()) e.include = std::move(*names);
      if (auto names = ExpandHostlist(s.exclude); names.ok()) e.exclude = std::move(*names);
      e.exclude.insert(e.exclude.end(), failed_prep.begin(), failed_prep.end());
      snap.eligibility.push_back(std::move(e));
    }
    return it->second;
  };

  std::vector<Job*> jobs;  // parallel to snap.queue
  std::unordered_map<uint32_t, size_t> per_user;
  size_t examined = 0;
  std::vector<TaskId> ids;
  for (const auto& [neg_prio, job_id] : runnable_) {
    if (jobs.size() >= kMaxJobsPerPass || ++examined > kMaxJobsExaminedPerPass) break;
    Job* job = FindJob(job_id);
    if (!job->hold_reason().empty()) continue;  // held, or waiting for its begin time or dependencies
    const JobSpec& spec = job->spec();
    uint32_t user = user_of(spec.owner);
    if (++per_user[user] > kMaxJobsPerUserPerPass) continue;
    std::vector<std::string> failed_prep;
    for (uint32_t idx : ExcludedNodes(*job)) failed_prep.push_back(nodes_[idx]->record.name);
    scheduler::PendingJob pj;
    pj.ref = jobs.size();
    pj.job_id = job_id;
    pj.priority = spec.priority;
    pj.user = user;
    pj.eligibility = eligibility_of(spec, failed_prep);
    pj.request.nodes = spec.task.NodeCount();
    pj.request.cores = spec.task.CoresPerNode();
    pj.request.memory_mb = spec.task.MemoryPerNodeMb();
    pj.request.gpus = spec.task.gpus;
    pj.request.exclusive = spec.task.exclusive;
    int64_t limit = EffectiveTimeLimit(spec);
    pj.time_limit_ms = limit > 0 ? limit : scheduler::kNever;
    pj.running = job->Count(TaskState::kRunning) > 0;
    // Each task needs at least one core on each of its nodes: no more can start now.
    int64_t per_task = static_cast<int64_t>(pj.request.nodes) * std::max(1, pj.request.exclusive ? 1 : pj.request.cores);
    ids.clear();
    job->PeekQueued(static_cast<size_t>(std::max<int64_t>(1, free_total / per_task)), ids);
    TaskId gate = GroupGate(*job);  // later task groups wait for the groups they depend on
    std::erase_if(ids, [gate](TaskId id) { return id >= gate; });
    if (ids.empty()) continue;
    pj.tasks.assign(ids.begin(), ids.end());
    snap.queue.push_back(std::move(pj));
    jobs.push_back(job);
  }
  auto factors = fair_share_.Factors(user_names, now);
  for (size_t i = 0; i < user_names.size(); ++i) snap.users.push_back({user_names[i], factors[i]});

  scheduler::Outcome outcome = scheduler::Schedule(snap);
  for (size_t i = 0; i < jobs.size(); ++i) {
    RecordWait(*jobs[i], WaitText(outcome.reasons[i], jobs[i]->spec()));
    jobs[i]->set_expected_start(0);
  }
  if (outcome.reserved_start != 0 && outcome.reserved_start != scheduler::kNever) {
    jobs[outcome.reserved_ref]->set_expected_start(outcome.reserved_start);
  }
  if (outcome.placements.empty()) return;
  // A pass places at most max_placements_per_pass and asks for the next, so each pass (and the commit
  // and start messages after it) stays short when many cores are free. Dropping the tail only leaves
  // resources free: the next pass decides again.
  if (outcome.placements.size() > config_.max_placements_per_pass) {
    outcome.placements.resize(config_.max_placements_per_pass);
    RequestSchedule();
  }

  std::map<int32_t, protocol::StartTasks> starts;
  for (const auto& p : outcome.placements) {
    Job* job = jobs[p.ref];
    TaskId id = p.task_id;
    Task& t = job->task(id);
    job->TakeQueued(id);
    job->SetState(id, TaskState::kRunning);
    ++t.attempt;
    t.node = static_cast<int32_t>(p.grants[0].node);
    t.start_time = now;
    t.end_time = 0;
    t.exit_code = 0;
    TaskRef ref{job->id(), id, t.attempt};
    int64_t limit = EffectiveTimeLimit(job->spec());
    std::vector<std::string> names;
    std::vector<int32_t> span;
    for (const auto& g : p.grants) {
      Node& node = *nodes_[g.node];
      Allocation a;
      a.cores = g.cores;
      a.memory_mb = g.memory_mb;
      for (int gpu : g.gpus) a.gpus |= uint64_t{1} << gpu;
      a.gpu_count = static_cast<int>(g.gpus.size());
      a.expected_end = limit > 0 ? now + limit : scheduler::kNever;
      Hold(node, ref, a);
      names.push_back(node.record.name);
      span.push_back(static_cast<int32_t>(g.node));
    }
    if (span.size() > 1) spans_[ref] = std::vector<int32_t>(span.begin() + 1, span.end());
    PersistTask(*job, id);
    const scheduler::Grant& first = p.grants[0];
    protocol::TaskLaunch launch = ExpandTask(job->id(), job->spec(), id, t.attempt, names[0]);
    launch.cores = first.cores;
    launch.memory_limit_mb = first.memory_mb;
    if (first.memory_mb) {
      launch.env["DROVER_MEM_MB"] = std::to_string(first.memory_mb);
    } else {
      launch.env.erase("DROVER_MEM_MB");
    }
    launch.time_limit_ms = limit;
    launch.gpus = first.gpus;
    launch.allocated_nodes = std::move(names);
    if (launch.allocated_nodes.size() > 1) AddExecContact(ref, launch);
    if (!HoldForPreparation(*job, t.node, launch, starts)) starts[t.node].tasks.push_back(std::move(launch));
    ++tasks_dispatched_;
  }
  for (Job* job : jobs) {
    if (!job->HasQueued()) {
      runnable_.erase({-job->spec().priority, job->id()});
      RecordWait(*job, "");
    }
    UpdateJobState(*job);
  }
  // Tell the agents only once the placements are durable: a head node that dies before the commit
  // must not leave processes running that it has no record of.
  persistence_.AfterCommit([this, starts = std::move(starts)]() mutable {
    for (auto& [idx, msg] : starts) {
      Node& node = *nodes_[idx];
      // Only placements that still stand: a hello, a node loss, a cancel or an offline between
      // the placement and its commit may have taken the task back. Nothing runs those attempts,
      // so their resources are free again.
      std::erase_if(msg.tasks, [&](const protocol::TaskLaunch& l) {
        Job* job = FindJob(l.ref.job_id);
        bool stands = IsNodeWorkRef(l.ref)
                          ? NodeWorkCurrent(l.ref, idx)
                          : job && job->HasTask(l.ref.task_id) &&
                                job->task(l.ref.task_id).state == TaskState::kRunning &&
                                job->task(l.ref.task_id).attempt == l.ref.attempt &&
                                job->task(l.ref.task_id).node == idx;
        if (!stands) ReleaseAllocation(node, l.ref);
        return !stands;
      });
      MaybeFinishDrain(node);
      if (!msg.tasks.empty()) link_.Send(node.record.name, std::move(msg));
    }
  });
}

double Cluster::FairShareFactor(const std::string& user) const {
  std::vector<std::string> users{user};
  for (const auto& [_, job] : jobs_) {
    if (job->HasQueued() && job->spec().owner != user) users.push_back(job->spec().owner);
  }
  std::sort(users.begin() + 1, users.end());
  users.erase(std::unique(users.begin() + 1, users.end()), users.end());
  return fair_share_.Factors(users, clock_.Now())[0];
}

// ---------------------------------------------------------------------------------------------
// Job templates and settings

Status Cluster::PutJobTemplate(const JobTemplate& t) {
  if (t.name.empty()) return InvalidArgument("a job template needs a name");
  job_templates_[t.name] = t;
  PersistJobTemplates();
  return Status::Ok();
}

Status Cluster::DeleteJobTemplate(const std::string& name) {
  if (!job_templates_.erase(name)) return NotFound(fmt::format("job template '{}' does not exist", name));
  PersistJobTemplates();
  return Status::Ok();
}

std::vector<JobTemplate> Cluster::JobTemplates() const {
  std::vector<JobTemplate> out;
  for (const auto& [_, t] : job_templates_) out.push_back(t);
  return out;
}

void Cluster::EnsureDefaultJobTemplate() {
  if (job_templates_.count(kDefaultJobTemplate)) return;
  JobTemplate t;
  t.name = kDefaultJobTemplate;
  t.description = "Default job template: no defaults or limits beyond the cluster's";
  (void)PutJobTemplate(t);
}

void Cluster::PersistJobTemplates() {
  json::array all;
  for (const auto& [_, t] : job_templates_) all.push_back(ToJson(t));
  persistence_.batch().properties.emplace_back(kJobTemplatesProperty, json::serialize(all));
}

Status Cluster::SetSchedulingConfig(const SchedulingConfig& c) {
  sched_config_ = c;
  fair_share_.set_config(c.fair_share);
  persistence_.batch().properties.emplace_back(kSchedulerProperty, json::serialize(ToJson(c)));
  RequestSchedule();
  return Status::Ok();
}

void Cluster::PersistNodeTemplateScheduling(const NodeTemplate& t) {
  json::object o{{"node_groups", json::array(t.node_groups.begin(), t.node_groups.end())},
                 {"features", json::array(t.features.begin(), t.features.end())}};
  persistence_.batch().properties.emplace_back(NodeTemplateProperty(t.name), json::serialize(o));
}

// Node templates' groups and features, job templates and settings live in cluster properties;
// fair-share usage is rebuilt from the accounting records of the last few half-lives.
Status Cluster::LoadSchedulingState(Store& store) {
  for (auto& [name, t] : templates_) {
    ASSIGN_OR_RETURN(auto text, store.GetProperty(NodeTemplateProperty(name)));
    if (!text) continue;
    ASSIGN_OR_RETURN(auto v, ParseJson(*text));
    NodeTemplate with = t;
    with.name = name;
    if (v.is_object()) {
      json::object o = v.as_object();
      o["name"] = name;
      ASSIGN_OR_RETURN(with, NodeTemplateFromJson(o));
      with.description = t.description;
      with.auto_approve = t.auto_approve;
      with.bring_online = t.bring_online;
    }
    t = std::move(with);
  }
  ASSIGN_OR_RETURN(auto templates_text, store.GetProperty(kJobTemplatesProperty));
  if (templates_text) {
    ASSIGN_OR_RETURN(auto v, ParseJson(*templates_text));
    if (!v.is_array()) return DataLoss("cluster property job_templates is not a JSON array");
    for (const auto& e : v.as_array()) {
      auto t = JobTemplateFromJson(e);
      if (!t.ok()) return t.status().WithContext("cluster property job_templates");
      job_templates_[t->name] = std::move(*t);
    }
  }
  ASSIGN_OR_RETURN(auto config_text, store.GetProperty(kSchedulerProperty));
  if (config_text) {
    ASSIGN_OR_RETURN(auto v, ParseJson(*config_text));
    auto c = SchedulingConfigFromJson(v);
    if (!c.ok()) return c.status().WithContext("cluster property scheduler");
    sched_config_ = *c;
    fair_share_.set_config(c->fair_share);
  }
  TimeMs now = clock_.Now();
  AccountingQuery q;
  q.start_after = sched_config_.fair_share.half_life_ms > 0 ? now - 5 * sched_config_.fair_share.half_life_ms : 0;
  q.limit = 5'000'000;
  ASSIGN_OR_RETURN(auto records, store.QueryAccounting(q));
  for (const auto& a : records) {
    if (a.start_time > 0 && a.end_time > a.start_time) fair_share_.AddTask(a.owner, a.cores, a.gpus, a.start_time, a.end_time);
  }
  return Status::Ok();
}

}  // namespace drover::head
