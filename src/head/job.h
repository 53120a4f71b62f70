// The head node's in-memory form of a job and its tasks. Compact on purpose: a sweep's tasks share
// the job's spec, and each task holds only its own state (32 bytes), so millions can be queued.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/protocol.h"
#include "common/types.h"

namespace drover::head {

// Task ids that name a job's per-node work rather than one of its tasks, in TaskRefs sent to
// agents: node preparation and node release. A job holds at most 10,000,000 tasks.
inline constexpr TaskId kPrepTaskId = 0xFFFFFFFEu;
inline constexpr TaskId kReleaseTaskId = 0xFFFFFFFFu;
// A process a multi-node task started on one of its nodes (cluster_exec.cpp).
inline constexpr TaskId kExecTaskId = 0xFFFFFFFDu;
// Launches that are not one of the job's tasks: preparation, release, remote processes. They hold
// no cores and have their own attempt numbers (Job::NextWorkAttempt).
inline bool IsNodeWorkRef(const protocol::TaskRef& ref) { return ref.task_id >= kExecTaskId; }

// One job's preparation and release on one node (cluster_node_work.cpp). Kept in memory only:
// after a head node restart, preparation runs again where the job's next tasks are placed.
struct NodeWork {
  enum class Phase { kPreparing, kReady, kPrepFailed, kReleasing, kReleased };
  Phase phase = Phase::kPreparing;
  uint32_t attempt = 0;  // of the preparation or release launch now running (its TaskRef's attempt)
  std::vector<protocol::TaskLaunch> waiting;  // task launches held until the preparation succeeds
  std::string error;                          // why the preparation failed
  bool prep_failed = false;                   // the job stays off this node (also once released)
};

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
  // Why the queued job may not start at all yet, in Slurm's words ("JobHeldUser", "BeginTime",
  // "Dependency", "DependencyNeverSatisfied"); empty when it may. Kept by the Cluster
  // (cluster_job_control.cpp); such a job is not offered to the scheduler.
  const std::string& hold_reason() const { return hold_reason_; }
  void set_hold_reason(std::string reason) { hold_reason_ = std::move(reason); }

  // Node index -> this job's preparation and release there.
  std::map<int32_t, NodeWork>& node_work() { return node_work_; }
  const std::map<int32_t, NodeWork>& node_work() const { return node_work_; }
  // A fresh attempt number for a preparation or release launch, distinct from every earlier
  // one, also across head node restarts (it starts from the clock's seconds).
  uint32_t NextWorkAttempt(TimeMs now);

  // Ends every queued task in `state` (Canceled or Failed); returns the ids that had been
  // dispatched before (they have rows).
  std::vector<TaskId> EndQueued(TaskState state);
  // Puts every task back in the queue to run again (requeue). Running tasks must have been dealt
  // with by the caller. Returns the ids of tasks dispatched before (their rows must be rewritten).
  std::vector<TaskId> RequeueAll();

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
  std::string hold_reason_;
  std::map<int32_t, NodeWork> node_work_;
  uint32_t work_seq_ = 0;
};

}  // namespace drover::head
