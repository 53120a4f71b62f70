// The head node's in-memory form of a job and its tasks. Compact on purpose: a sweep's tasks share
// the job's spec, and each task holds only its own state (32 bytes), so millions can be queued.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/types.h"

namespace drover::head {

struct Task {
  TaskState state = TaskState::kQueued;
  uint32_t attempt = 0;
  int32_t node = -1;  // index of the node it runs or last ran on; -1 when never placed
  int exit_code = 0;
  TimeMs start_time = 0;
  TimeMs end_time = 0;
};

class Job {
 public:
  explicit Job(JobRecord record);

  JobId id() const { return record_.id; }
  const JobSpec& spec() const { return record_.spec; }
  const JobRecord& record() const { return record_; }
  JobRecord& mutable_record() { return record_; }
  uint32_t size() const { return static_cast<uint32_t>(tasks_.size()); }

  Task& task(TaskId id) { return tasks_[id - 1]; }
  const Task& task(TaskId id) const { return tasks_[id - 1]; }
  bool HasTask(TaskId id) const { return id >= 1 && id <= tasks_.size(); }

  // Queued tasks in task-id order, without materializing the list: tasks never dispatched are the
  // range [fresh_cursor, size]; tasks put back in the queue are in `requeued_`.
  bool HasQueued() const;
  std::optional<TaskId> NextQueued() const;
  // Up to `limit` queued task ids in order.
  void PeekQueued(size_t limit, std::vector<TaskId>& out) const;
  // Removes a queued task from the queue (it is being placed).
  void TakeQueued(TaskId id);
  void Requeue(TaskId id);

  // Sets a task's state, keeping the per-state counts right.
  void SetState(TaskId id, TaskState state);
  uint32_t Count(TaskState s) const { return counts_[static_cast<size_t>(s)]; }
  // The job's state, derived from its tasks' states.
  JobState DeriveState() const;

  // Marks every queued task Canceled; returns the ids that had been dispatched before (they have rows).
  std::vector<TaskId> CancelQueued();

  // Rebuilds queue structures after loading: rows for tasks that left the initial Queued state.
  void LoadTaskRows(const std::vector<TaskRecord>& rows,
                    const std::unordered_map<std::string, int32_t>& node_index);

  void SetError(TaskId id, std::string error) { errors_[id] = std::move(error); }
  std::string Error(TaskId id) const;

  std::vector<std::function<void()>>& waiters() { return waiters_; }

  // Why its queued tasks still wait, as of the last scheduling pass ("" when none waits), and
  // when the scheduler expects the next to start (0: unknown).
  const std::string& wait_reason() const { return wait_reason_; }
  void set_wait_reason(std::string r) { wait_reason_ = std::move(r); }
  TimeMs expected_start() const { return expected_start_; }
  void set_expected_start(TimeMs t) { expected_start_ = t; }

 private:
  JobRecord record_;
  std::vector<Task> tasks_;
  TaskId fresh_cursor_ = 1;
  std::set<TaskId> requeued_;
  std::array<uint32_t, 7> counts_{};
  std::unordered_map<TaskId, std::string> errors_;
  std::vector<std::function<void()>> waiters_;  // called once when the job ends
  std::string wait_reason_;
  TimeMs expected_start_ = 0;
};

}  // namespace drover::head
