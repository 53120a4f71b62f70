// When jobs may start: dependencies, holds, begin times; and requeue. Part of Cluster (cluster.h).
//
// A queued job starts only when it has no wait reason. The reason is recomputed when something it
// depends on changes: a hold or release, its begin time passing (CheckBeginTimes), or the end of a
// job it depends on (OnDependencyEnded). Jobs with a wait reason stay in `runnable_` and are
// passed over by Schedule.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/job_control.h"
#include "head/cluster.h"

namespace drover::head {

using protocol::TaskRef;

std::optional<JobState> Cluster::JobStateOf(JobId id) {
  if (const Job* job = FindJob(id)) return job->record().state;
  if (!archive_) return std::nullopt;
  auto rec = archive_->LoadJob(id);
  if (!rec.ok()) {
    spdlog::warn("cannot read job {} from the store: {}", id, rec.status().message());
    return std::nullopt;
  }
  if (!*rec) return std::nullopt;
  return (*rec)->state;
}

Status Cluster::CheckDependencies(const JobSpec& spec) {
  for (const auto& d : spec.dependencies) {
    if (!JobStateOf(d.job)) {
      return NotFound(fmt::format("dependency {}:{}: job {} does not exist", ToString(d.type), d.job, d.job));
    }
  }
  if (spec.begin_time < 0) return InvalidArgument("the begin time must not be negative");
  return Status::Ok();
}

void Cluster::RefreshWaitReason(Job& job) {
  if (IsTerminal(job.record().state)) {
    job.set_hold_reason("");
    return;
  }
  const JobSpec& spec = job.spec();
  std::string reason;
  if (spec.hold) reason = "JobHeldUser";
  if (!spec.dependencies.empty()) {
    DependencyVerdict v = EvaluateDependencies(spec.dependencies, spec.depend_any,
                                               [this](JobId id) { return JobStateOf(id); });
    if (v.state == DependencyState::kNeverSatisfied) {
      if (config_.kill_invalid_depend) {
        CancelWithReason(job, fmt::format("DependencyNeverSatisfied: {}", v.detail));
        return;
      }
      reason = "DependencyNeverSatisfied";
    } else if (v.state == DependencyState::kPending) {
      if (reason.empty()) reason = "Dependency";
      for (const auto& d : spec.dependencies) {
        std::optional<JobState> s = JobStateOf(d.job);
        if (s && !IsTerminal(*s)) dependents_.insert({d.job, job.id()});
      }
    }
  }
  if (reason.empty() && spec.begin_time > clock_.Now()) {
    reason = "BeginTime";
    begin_waits_.insert({spec.begin_time, job.id()});
  }
  bool was_waiting = !job.hold_reason().empty();
  job.set_hold_reason(reason);
  if (was_waiting && reason.empty()) {
    spdlog::info("job {} may start now", job.id());
    RequestSchedule();
  }
}

void Cluster::OnDependencyEnded(JobId id) {
  auto first = dependents_.lower_bound({id, 0});
  auto last = dependents_.lower_bound({id + 1, 0});
  std::vector<JobId> waiting;
  for (auto it = first; it != last; ++it) waiting.push_back(it->second);
  dependents_.erase(first, last);
  for (JobId w : waiting) {
    if (Job* job = FindJob(w)) RefreshWaitReason(*job);
  }
}

void Cluster::CancelWithReason(Job& job, const std::string& reason) {
  spdlog::info("job {}: {}", job.id(), reason);
  job.mutable_record().spec.cancel_reason = reason;
  job.set_hold_reason("");
  (void)Cancel(job.id());
}

void Cluster::CheckBeginTimes() {
  TimeMs now = clock_.Now();
  while (!begin_waits_.empty() && begin_waits_.begin()->first <= now) {
    JobId id = begin_waits_.begin()->second;
    begin_waits_.erase(begin_waits_.begin());
    if (Job* job = FindJob(id)) RefreshWaitReason(*job);
  }
}

Status Cluster::Hold(JobId id) {
  Job* job = FindJob(id);
  if (!job) return NotFound(fmt::format("job {} does not exist", id));
  if (IsTerminal(job->record().state)) {
    return FailedPrecondition(fmt::format("job {} has already ended ({})", id, ToString(job->record().state)));
  }
  if (!job->HasQueued()) {
    return FailedPrecondition(fmt::format("job {} has no queued tasks left to hold", id));
  }
  job->mutable_record().spec.hold = true;
  PersistJob(*job);
  RefreshWaitReason(*job);
  spdlog::info("job {} held", id);
  return Status::Ok();
}

Status Cluster::Release(JobId id) {
  Job* job = FindJob(id);
  if (!job) return NotFound(fmt::format("job {} does not exist", id));
  if (!job->spec().hold) return FailedPrecondition(fmt::format("job {} is not held", id));
  job->mutable_record().spec.hold = false;
  PersistJob(*job);
  RefreshWaitReason(*job);
  spdlog::info("job {} released", id);
  return Status::Ok();
}

Status Cluster::Requeue(JobId id) {
  Job* job = FindJob(id);
  if (!job) {
    return NotFound(fmt::format("job {} does not exist or ended too long ago to be requeued", id));
  }
  JobRecord& rec = job->mutable_record();
  if (rec.state == JobState::kQueued && job->Count(TaskState::kQueued) == job->size()) {
    return FailedPrecondition(fmt::format("job {} is queued already", id));
  }
  // Running attempts end as Canceled (accounted, then killed); their results will be stale. Their
  // rows are rewritten below with the rest.
  CancelRunning(*job, /*persist=*/false);
  bool was_ended = IsTerminal(rec.state);
  for (TaskId t : job->RequeueAll()) PersistTask(*job, t);
  rec.cancel_requested = false;
  rec.spec.cancel_reason.clear();
  rec.start_time = 0;
  rec.end_time = 0;
  if (was_ended) std::erase(ended_, id);
  // Preparation runs again where the rerun's tasks land, unless the node is still prepared.
  std::erase_if(job->node_work(), [](const auto& entry) {
    return entry.second.phase == NodeWork::Phase::kReleased || entry.second.prep_failed;
  });
  runnable_.insert({-job->spec().priority, id});
  UpdateJobState(*job);
  PersistJob(*job);
  RefreshWaitReason(*job);
  spdlog::info("job {} requeued", id);
  RequestSchedule();
  return Status::Ok();
}

}  // namespace drover::head
