// Dependencies between the task groups of one job (JobSpec::groups). Part of Cluster (cluster.h).
//
// A group may start when every task of each group it depends on has Finished. Groups start in
// order: the first group still waiting gates every task after it (GroupGate), which keeps the
// job's queue a simple cursor. When a task of a group ends Failed or Canceled, the groups that
// depend on it, directly or through others, can never start: their queued tasks are canceled with
// the reason (SettleTaskGroups, after each batch of results). The gate is recomputed from the
// tasks' states at each scheduling pass, so it needs no state of its own and survives restarts.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "head/cluster.h"

namespace drover::head {

namespace {

struct GroupState {
  TaskId first = 1;
  uint32_t finished = 0;
  uint32_t ended_badly = 0;  // Failed or Canceled
  bool doomed = false;       // a group it depends on can never finish
  std::string why;
};

std::vector<GroupState> GroupStates(const Job& job) {
  const auto& groups = job.spec().groups;
  std::vector<GroupState> out(groups.size());
  TaskId first = 1;
  for (size_t g = 0; g < groups.size(); ++g) {
    out[g].first = first;
    for (TaskId id = first; id < first + groups[g].count && id <= job.size(); ++id) {
      TaskState s = job.task(id).state;
      if (s == TaskState::kFinished) ++out[g].finished;
      if (s == TaskState::kFailed || s == TaskState::kCanceled) ++out[g].ended_badly;
    }
    first += groups[g].count;
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& dep : groups[g].depends_on) {
      for (size_t d = 0; d < g; ++d) {
        if (groups[d].name != dep) continue;
        if (out[d].ended_badly > 0 || out[d].doomed) {
          out[g].doomed = true;
          if (out[g].why.empty()) {
            out[g].why = out[d].doomed ? out[d].why
                                       : fmt::format("task group '{}' depends on '{}', and {} of its tasks did not finish",
                                                     groups[g].name, dep, out[d].ended_badly);
          }
        }
      }
    }
  }
  return out;
}

}  // namespace

TaskId Cluster::GroupGate(const Job& job) const {
  const auto& groups = job.spec().groups;
  if (groups.empty()) return job.size() + 1;
  auto states = GroupStates(job);
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& dep : groups[g].depends_on) {
      for (size_t d = 0; d < g; ++d) {
        if (groups[d].name == dep && states[d].finished < groups[d].count) return states[g].first;
      }
    }
  }
  return job.size() + 1;
}

void Cluster::SettleTaskGroups(Job& job) {
  if (job.spec().groups.empty() || !job.HasQueued()) return;
  auto states = GroupStates(job);
  TimeMs now = clock_.Now();
  bool changed = false;
  for (size_t g = 0; g < states.size(); ++g) {
    if (!states[g].doomed) continue;
    for (TaskId id = states[g].first; id < states[g].first + job.spec().groups[g].count && id <= job.size(); ++id) {
      if (job.task(id).state != TaskState::kQueued) continue;
      job.TakeQueued(id);
      job.SetState(id, TaskState::kCanceled);
      job.task(id).end_time = now;
      job.task(id).exit_code = -1;
      job.SetError(id, states[g].why);
      PersistTask(job, id);  // also tasks never dispatched: without a row they would load as Queued
      changed = true;
    }
    if (changed) spdlog::info("job {}: {}", job.id(), states[g].why);
  }
  if (!changed) return;
  if (!job.HasQueued()) runnable_.erase({-job.spec().priority, job.id()});
  UpdateJobState(job);
}

}  // namespace drover::head
