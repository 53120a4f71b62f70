#include "head/job.h"

namespace drover::head {

Job::Job(JobRecord record) : record_(std::move(record)) {
  tasks_.resize(record_.spec.TotalTasks());
  counts_[static_cast<size_t>(TaskState::kQueued)] = size();
}

bool Job::HasQueued() const { return !requeued_.empty() || fresh_cursor_ <= size(); }

std::optional<TaskId> Job::NextQueued() const {
  std::optional<TaskId> best;
  if (!requeued_.empty()) best = *requeued_.begin();
  if (fresh_cursor_ <= size() && (!best || fresh_cursor_ < *best)) best = fresh_cursor_;
  return best;
}

void Job::PeekQueued(size_t limit, std::vector<TaskId>& out) const {
  auto it = requeued_.begin();
  TaskId fresh = fresh_cursor_;
  size_t taken = 0;
  while (taken < limit) {
    bool have_re = it != requeued_.end();
    bool have_fresh = fresh <= size();
    if (!have_re && !have_fresh) break;
    if (have_re && (!have_fresh || *it < fresh)) {
      out.push_back(*it++);
    } else {
      out.push_back(fresh++);
    }
    ++taken;
  }
}

void Job::TakeQueued(TaskId id) {
  if (requeued_.erase(id)) return;
  // Placement takes fresh tasks in order, but a multi-core task may be passed over: advance the
  // cursor only over tasks that are no longer queued.
  if (id == fresh_cursor_) {
    ++fresh_cursor_;
  } else if (id > fresh_cursor_) {
    // Move the skipped fresh tasks [cursor, id) into the requeued set so none is lost.
    for (TaskId t = fresh_cursor_; t < id; ++t) requeued_.insert(t);
    fresh_cursor_ = id + 1;
  }
}

void Job::Requeue(TaskId id) { requeued_.insert(id); }

void Job::SetState(TaskId id, TaskState state) {
  Task& t = task(id);
  --counts_[static_cast<size_t>(t.state)];
  t.state = state;
  ++counts_[static_cast<size_t>(state)];
}

JobState Job::DeriveState() const {
  uint32_t failed = Count(TaskState::kFailed) + Count(TaskState::kTimeout) + Count(TaskState::kOutOfMemory);
  uint32_t terminal = Count(TaskState::kFinished) + failed + Count(TaskState::kCanceled);
  if (terminal == size()) {
    if (record_.cancel_requested || Count(TaskState::kCanceled) > 0) return JobState::kCanceled;
    if (failed > 0) return JobState::kFailed;
    return JobState::kFinished;
  }
  if (Count(TaskState::kQueued) == size()) return JobState::kQueued;
  return JobState::kRunning;
}

std::vector<TaskId> Job::CancelQueued() { return EndQueued(TaskState::kCanceled); }

std::vector<TaskId> Job::EndQueued(TaskState state) {
  std::vector<TaskId> dispatched_before;
  for (TaskId id : requeued_) {
    SetState(id, state);
    dispatched_before.push_back(id);
  }
  requeued_.clear();
  for (TaskId id = fresh_cursor_; id <= size(); ++id) SetState(id, state);
  fresh_cursor_ = size() + 1;
  return dispatched_before;
}

std::vector<TaskId> Job::RequeueAll() {
  std::vector<TaskId> dispatched_before;
  requeued_.clear();
  TaskId max_dispatched = 0;
  for (TaskId id = 1; id <= size(); ++id) {
    Task& t = task(id);
    SetState(id, TaskState::kQueued);
    t.exit_code = 0;
    t.start_time = 0;
    t.end_time = 0;
    if (t.attempt > 0) {
      dispatched_before.push_back(id);
      max_dispatched = id;
    }
  }
  // As after loading: the tasks above the highest dispatched one are fresh, the rest wait in
  // `requeued_`, so that no task is in both.
  for (TaskId id = 1; id <= max_dispatched; ++id) requeued_.insert(id);
  fresh_cursor_ = max_dispatched + 1;
  errors_.clear();
  return dispatched_before;
}

uint32_t Job::NextWorkAttempt(TimeMs now) {
  if (work_seq_ == 0) work_seq_ = static_cast<uint32_t>((now / 1000) & 0x7fffffff);
  return ++work_seq_;
}

void Job::LoadTaskRows(const std::vector<TaskRecord>& rows,
                       const std::unordered_map<std::string, int32_t>& node_index) {
  TaskId max_row = 0;
  for (const auto& r : rows) {
    if (!HasTask(r.task_id)) continue;
    SetState(r.task_id, r.state);
    Task& t = task(r.task_id);
    t.attempt = r.attempt;
    auto it = node_index.find(r.node);
    t.node = it == node_index.end() ? -1 : it->second;
    t.exit_code = r.exit_code;
    t.start_time = r.start_time;
    t.end_time = r.end_time;
    if (!r.error.empty()) errors_[r.task_id] = r.error;
    if (r.state == TaskState::kQueued) requeued_.insert(r.task_id);
    max_row = std::max(max_row, r.task_id);
  }
  // Tasks without rows were never dispatched. Below the highest row they may still be fresh
  // (placement is in order, but rows of several tasks land together): treat them as requeued.
  for (TaskId id = 1; id < max_row; ++id) {
    if (task(id).state == TaskState::kQueued && task(id).attempt == 0) requeued_.insert(id);
  }
  fresh_cursor_ = max_row + 1;
  if (record_.cancel_requested) CancelQueued();
}

std::string Job::Error(TaskId id) const {
  auto it = errors_.find(id);
  return it == errors_.end() ? "" : it->second;
}

}  // namespace drover::head
