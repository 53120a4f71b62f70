// Node preparation and node release (HPC Pack's Node Preparation and Node Release tasks). Part of
// Cluster (cluster.h).
//
// A job with a preparation command runs it once on each node of its allocation before the first
// of its tasks there: tasks placed on a node that is not yet prepared keep their cores but are held
// (NodeWork::waiting) and launched when the preparation succeeds. A failed preparation excludes
// the node for the job: the held tasks are requeued (counting as an attempt) and go elsewhere;
// when the preparation failed on every node of the cluster, the job's queued tasks fail with the
// reason. The release command runs once on each node where the job prepared or ran, after the
// last of its tasks there ended and the job has no queued tasks left (so also when it was
// canceled). Both run as the job's owner, in its working directory, with its environment, and
// write drover-<job>.prep.<node>.out / drover-<job>.release.<node>.out there. Preparations and
// releases hold no cores.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/task_expansion.h"
#include "head/cluster.h"

namespace drover::head {

using protocol::TaskLaunch;
using protocol::TaskRef;

namespace {
bool NeedsNodeWork(const Job& job) {
  return !job.spec().prep_command.empty() || !job.spec().release_command.empty();
}
}  // namespace

TaskLaunch Cluster::NodeWorkLaunch(Job& job, TaskId which, int32_t node) {
  const JobSpec& spec = job.spec();
  const std::string& name = nodes_[node]->record.name;
  bool prep = which == kPrepTaskId;
  TaskLaunch l;
  l.ref = {job.id(), which, job.NextWorkAttempt(clock_.Now())};
  l.user = spec.owner;
  l.argv = {"/bin/sh", "-c", prep ? spec.prep_command : spec.release_command};
  l.working_dir = spec.task.working_dir.empty() ? "/" : spec.task.working_dir;
  l.env = spec.task.env;
  l.env["DROVER_JOB_ID"] = std::to_string(job.id());
  l.env["DROVER_NODE"] = name;
  l.env["DROVER_NODE_TASK"] = prep ? "prep" : "release";
  std::string dir = l.working_dir.back() == '/' ? l.working_dir : l.working_dir + "/";
  l.stdout_path = fmt::format("{}drover-{}.{}.{}.out", dir, job.id(), prep ? "prep" : "release", name);
  l.stderr_path = l.stdout_path;
  l.discard_empty_output = true;
  l.cores = 1;
  return l;
}

bool Cluster::HoldForPreparation(Job& job, int32_t node, const TaskLaunch& launch,
                                 std::map<int32_t, protocol::StartTasks>& starts) {
  if (!NeedsNodeWork(job)) return false;
  auto [it, created] = job.node_work().try_emplace(node);
  NodeWork& w = it->second;
  bool start_prep = created || w.phase == NodeWork::Phase::kReleasing || w.phase == NodeWork::Phase::kReleased;
  if (start_prep) {
    w = NodeWork{};
    if (job.spec().prep_command.empty()) {
      w.phase = NodeWork::Phase::kReady;  // nothing to prepare; tracked for the release
      return false;
    }
    TaskLaunch prep = NodeWorkLaunch(job, kPrepTaskId, node);
    w.phase = NodeWork::Phase::kPreparing;
    w.attempt = prep.ref.attempt;
    Hold(*nodes_[node], prep.ref, Allocation{});
    spdlog::info("job {}: preparing node {}", job.id(), nodes_[node]->record.name);
    starts[node].tasks.push_back(std::move(prep));
  }
  if (w.phase == NodeWork::Phase::kPreparing) {
    w.waiting.push_back(launch);
    return true;
  }
  return false;
}

bool Cluster::NodeWorkCurrent(const TaskRef& ref, int32_t node) const {
  if (ref.task_id == kExecTaskId) {
    auto e = execs_.find((static_cast<uint64_t>(ref.job_id) << 32) | ref.attempt);
    return e != execs_.end() && e->second.node == node && !e->second.status.done;
  }
  auto found = jobs_.find(ref.job_id);
  if (found == jobs_.end()) return false;
  const Job* job = found->second.get();
  auto it = job->node_work().find(node);
  if (it == job->node_work().end() || it->second.attempt != ref.attempt) return false;
  return ref.task_id == kPrepTaskId ? it->second.phase == NodeWork::Phase::kPreparing
                                    : it->second.phase == NodeWork::Phase::kReleasing;
}

void Cluster::NodeWorkLost(const TaskRef& ref, int32_t node) {
  if (ref.task_id == kExecTaskId) {
    if (!NodeWorkCurrent(ref, node)) return;
    auto& e = execs_[(static_cast<uint64_t>(ref.job_id) << 32) | ref.attempt];
    e.status = {true, -1, fmt::format("node {} no longer runs it", nodes_[node]->record.name)};
    return;
  }
  Job* job = FindJob(ref.job_id);
  if (!job || !NodeWorkCurrent(ref, node)) return;
  // The tasks held for a lost preparation hold allocations on the node too: whoever lost the
  // preparation requeues them. The next task placed there prepares the node again.
  if (ref.task_id == kPrepTaskId) {
    job->node_work().erase(node);
  } else {
    job->node_work()[node].phase = NodeWork::Phase::kReleased;
    spdlog::warn("job {}: the release on node {} was lost", job->id(), nodes_[node]->record.name);
  }
}

std::vector<uint32_t> Cluster::ExcludedNodes(const Job& job) const {
  std::vector<uint32_t> out;
  for (const auto& [node, w] : job.node_work()) {
    if (w.prep_failed) out.push_back(static_cast<uint32_t>(node));
  }
  return out;
}

void Cluster::ApplyNodeWorkResult(Node& node, const protocol::TaskResult& r) {
  int32_t idx = node_index_[node.record.name];
  Job* job = FindJob(r.ref.job_id);
  if (!job || !NodeWorkCurrent(r.ref, idx)) {
    spdlog::info("ignoring stale node {} result of job {} from {}", r.ref.task_id == kPrepTaskId ? "preparation" : "release",
                 r.ref.job_id, node.record.name);
    return;
  }
  NodeWork& w = job->node_work()[idx];
  bool ok = r.error.empty() && r.exit_code == 0;
  std::string what = r.error.empty() ? fmt::format("exit code {}", r.exit_code) : r.error;
  if (r.ref.task_id == kReleaseTaskId) {
    w.phase = NodeWork::Phase::kReleased;
    if (ok) {
      spdlog::info("job {}: node {} released", job->id(), node.record.name);
    } else {
      spdlog::warn("job {}: node release failed on {}: {}", job->id(), node.record.name, what);
    }
    return;
  }
  auto waiting = std::move(w.waiting);
  w.waiting.clear();
  // Only launches whose placement still stands: a cancel or a requeue may have taken them back.
  std::erase_if(waiting, [&](const TaskLaunch& l) {
    bool stands = job->HasTask(l.ref.task_id) && job->task(l.ref.task_id).state == TaskState::kRunning &&
                  job->task(l.ref.task_id).attempt == l.ref.attempt && job->task(l.ref.task_id).node == idx;
    if (!stands) ReleaseAllocation(node, l.ref);
    return !stands;
  });
  if (ok) {
    w.phase = NodeWork::Phase::kReady;
    spdlog::info("job {}: node {} prepared; starting {} task(s)", job->id(), node.record.name, waiting.size());
    if (!waiting.empty()) link_.Send(node.record.name, protocol::StartTasks{std::move(waiting)});
    return;
  }
  w.phase = NodeWork::Phase::kPrepFailed;
  w.prep_failed = true;
  w.error = fmt::format("node preparation failed on {}: {}", node.record.name, what);
  spdlog::warn("job {}: {}", job->id(), w.error);
  std::string reason = w.error;
  for (const auto& l : waiting) {
    ReleaseAllocation(node, l.ref);
    RequeueTask(*job, l.ref.task_id, reason);
  }
  // When no node of the cluster is left to the job, its queued tasks fail now rather than wait.
  bool any_left = false;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = *nodes_[i];
    if (n.removed || n.record.state == NodeState::kUnapproved) continue;
    auto it = job->node_work().find(static_cast<int32_t>(i));
    if (it == job->node_work().end() || !it->second.prep_failed) any_left = true;
  }
  if (!any_left && job->HasQueued()) {
    TimeMs now = clock_.Now();
    runnable_.erase({-job->spec().priority, job->id()});
    std::vector<TaskId> queued;
    for (TaskId t = 1; t <= job->size(); ++t) {
      if (job->task(t).state == TaskState::kQueued) queued.push_back(t);
    }
    job->EndQueued(TaskState::kFailed);
    std::string all = fmt::format("{} (the preparation failed on every node)", reason);
    for (TaskId t : queued) {
      job->task(t).end_time = now;
      job->task(t).exit_code = -1;
      job->SetError(t, all);
      PersistTask(*job, t);  // also tasks never dispatched: without a row they would load as Queued
    }
    UpdateJobState(*job);
  }
  MaybeReleaseNode(*job, idx);
}

void Cluster::ReleaseNodesIfDone(Job& job) {
  if (job.node_work().empty()) return;
  std::vector<int32_t> nodes;
  for (const auto& [node, w] : job.node_work()) nodes.push_back(node);
  for (int32_t node : nodes) MaybeReleaseNode(job, node);
}

void Cluster::MaybeReleaseNode(Job& job, int32_t idx) {
  auto it = job.node_work().find(idx);
  if (it == job.node_work().end()) return;
  NodeWork& w = it->second;
  if (w.phase != NodeWork::Phase::kReady && w.phase != NodeWork::Phase::kPrepFailed) return;
  Node& node = *nodes_[idx];
  // Still in use by the job: a task attempt holds an allocation there (until the agent reports
  // the process gone), or more tasks may come (a failed node gets none).
  auto a = node.allocations.lower_bound(TaskRef{job.id(), 0, 0});
  if (a != node.allocations.end() && a->first.job_id == job.id() && !IsNodeWorkRef(a->first)) return;
  if (w.phase == NodeWork::Phase::kReady && job.HasQueued()) return;
  if (job.spec().release_command.empty() || node.removed) {
    w.phase = NodeWork::Phase::kReleased;
    return;
  }
  TaskLaunch release = NodeWorkLaunch(job, kReleaseTaskId, idx);
  w.phase = NodeWork::Phase::kReleasing;
  w.attempt = release.ref.attempt;
  Hold(node, release.ref, Allocation{});
  spdlog::info("job {}: releasing node {}", job.id(), node.record.name);
  persistence_.AfterCommit([this, idx, release = std::move(release)]() mutable {
    Node& n = *nodes_[idx];
    // Only if it still stands (the node may have been lost meanwhile).
    if (!NodeWorkCurrent(release.ref, idx)) {
      ReleaseAllocation(n, release.ref);
      return;
    }
    link_.Send(n.record.name, protocol::StartTasks{{std::move(release)}});
  });
}

}  // namespace drover::head
