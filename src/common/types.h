// The vocabulary shared by the head node, the agents, the store and the CLI: states and the
// records that describe jobs, tasks and nodes. Plain data; no behaviour beyond name conversions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace drover {

using JobId = int64_t;
using TaskId = uint32_t;  // 1-based within a job

// Timeout: ended by the agent at its time limit. OutOfMemory: killed by the kernel at its memory
// limit. Both are failures; a job whose tasks end so is Failed (the task states say why).
enum class TaskState { kQueued, kRunning, kFinished, kFailed, kCanceled, kTimeout, kOutOfMemory };
using JobState = TaskState;  // jobs use the same words (never Timeout or OutOfMemory)

enum class NodeState { kUnapproved, kOffline, kOnline, kDraining };
enum class NodeHealth { kOk, kWarning, kError, kUnreachable };

std::string_view ToString(TaskState s);
std::string_view ToString(NodeState s);
std::string_view ToString(NodeHealth s);
std::optional<TaskState> ParseTaskState(std::string_view s);
std::optional<NodeState> ParseNodeState(std::string_view s);
inline bool IsTerminal(TaskState s) { return s != TaskState::kQueued && s != TaskState::kRunning; }
// Failed, Timeout or OutOfMemory.
inline bool IsFailure(TaskState s) {
  return s == TaskState::kFailed || s == TaskState::kTimeout || s == TaskState::kOutOfMemory;
}

// What a user asks to run. A job runs `task_count` copies of one task; a parametric sweep runs one
// task per index in [sweep_start, sweep_end] by sweep_step.
struct TaskSpec {
  // argv of the command. Empty when `script` is set.
  std::vector<std::string> argv;
  // Contents of a batch script (run as an executable file), when the job was submitted from one.
  std::string script;
  std::string working_dir;  // absolute
  std::map<std::string, std::string> env;
  // Output files; relative ones are under working_dir. Patterns: %j job id, %t task id,
  // %a sweep index, %N node name, %% a literal percent.
  std::string stdout_path;
  std::string stderr_path;
  int cores = 1;
  int max_retries = 3;  // requeues after node failures before the task fails

  // Resources, in Slurm's terms. Per node of the task: a task holds one node unless `nodes` is set.
  int64_t memory_mb = 0;           // --mem: per node; 0 with memory_per_core_mb 0: none reserved
  int64_t memory_per_core_mb = 0;  // --mem-per-cpu: times the cores held on each node
  int gpus = 0;                    // --gpus: per node; concrete GPU indices are granted
  int nodes = 0;                   // -N: the task holds this many nodes (0: one node, like 1)
  int tasks_per_node = 0;          // --ntasks-per-node: with `nodes`, cores per node = this x cores
  bool exclusive = false;          // --exclusive: the task's nodes run nothing else
  int64_t time_limit_ms = 0;       // -t: 0 uses the default; kUnlimitedTime (time_limit.h): none

  // What the task holds on each of its nodes (exclusive tasks: the whole node, decided at placement).
  int NodeCount() const { return nodes > 0 ? nodes : 1; }
  int CoresPerNode() const { return tasks_per_node > 0 ? tasks_per_node * cores : cores; }
  int64_t MemoryPerNodeMb() const;

  // --signal=[B:]SIG[@seconds]: `signal` is sent signal_before_ms before the time limit, to the
  // batch shell only when signal_batch_only. 0: none.
  int signal = 0;
  int64_t signal_before_ms = 0;
  bool signal_batch_only = false;
};

// A job's dependency on another job, as Slurm's --dependency: afterok (the other job Finished),
// afternotok (it Failed or was Canceled), afterany (it ended, however).
enum class DependencyType { kAfterOk, kAfterNotOk, kAfterAny };
std::string_view ToString(DependencyType t);
std::optional<DependencyType> ParseDependencyType(std::string_view s);

struct JobDependency {
  DependencyType type = DependencyType::kAfterOk;
  JobId job = 0;
  bool operator==(const JobDependency&) const = default;
};

// A named group of a job's tasks (HPC Pack's task dependencies within a job; see JobSpec::groups).
struct TaskGroup {
  std::string name;
  std::vector<std::string> argv;        // the group's command; empty: the job's
  uint32_t count = 1;                   // tasks in the group
  std::vector<std::string> depends_on;  // names of earlier groups whose tasks must all finish first
  bool operator==(const TaskGroup&) const = default;
};

struct JobSpec {
  std::string name;
  std::string owner;
  int priority = 2000;  // 0..4000, higher runs first (HPC Pack's Normal is 2000)
  TaskSpec task;
  uint32_t task_count = 1;
  bool sweep = false;
  int64_t sweep_start = 0;
  int64_t sweep_end = 0;
  int64_t sweep_step = 1;

  // Where the job may run. Empty: anywhere.
  std::vector<std::string> node_groups;  // -p/--partition: any of these node groups
  std::string constraint;                // --constraint: node features, "a&b", "a|b"
  std::string nodelist;                  // -w: only these nodes (hostlist syntax)
  std::string exclude;                   // -x: never these nodes (hostlist syntax)
  std::string job_template;              // the job template applied at submission

  // Task groups: when set, the job's tasks are the groups' tasks, group after group (task ids
  // run on across groups), instead of task_count copies or a sweep. A group's tasks start only
  // once every task of the groups it depends on has Finished; if one of those fails or is
  // canceled, the group's tasks are canceled. Groups start in order: a waiting group also holds
  // back the groups after it.
  std::vector<TaskGroup> groups;

  // When the job may start (see job_control.h for how these are decided).
  std::vector<JobDependency> dependencies;
  bool depend_any = false;  // false: every dependency must hold (Slurm's ','); true: one must ('?')
  bool hold = false;        // held until released; `drover hold` / `drover release` change it
  TimeMs begin_time = 0;    // not before this time; 0: at once

  // Shell command lines run on each node of the job's allocation: `prep_command` before the job's
  // first task there, `release_command` after its last (see node_work.h).
  std::string prep_command;
  std::string release_command;

  // Set by the cluster, not the user: why the cluster itself ended the job (for example
  // "DependencyNeverSatisfied: job 12 Failed"). Kept with the spec so that it survives restarts.
  std::string cancel_reason;

  uint32_t TotalTasks() const;
  // The sweep index of task `id` (1-based): start + (id-1)*step for sweeps, its index within its
  // group (from 0) with groups, id-1 otherwise.
  int64_t IndexOf(TaskId id) const;
  // With groups: the group task `id` belongs to, and that group's first task id through `first`.
  size_t GroupOf(TaskId id, TaskId* first = nullptr) const;
};

struct JobRecord {
  JobId id = 0;
  JobSpec spec;
  JobState state = JobState::kQueued;
  TimeMs submit_time = 0;
  TimeMs start_time = 0;
  TimeMs end_time = 0;
  bool cancel_requested = false;
};

// A task's row. Tasks that were never dispatched have no row: they are Queued, attempt 0.
struct TaskRecord {
  JobId job_id = 0;
  TaskId task_id = 0;
  TaskState state = TaskState::kQueued;
  uint32_t attempt = 0;  // incremented at every dispatch; results carry it (fencing)
  std::string node;
  int exit_code = 0;
  TimeMs start_time = 0;
  TimeMs end_time = 0;
  std::string error;  // why the task failed to run, if it did
};

struct NodeTemplate {
  std::string name;
  std::string description;
  bool auto_approve = false;  // nodes that join are assigned this template without an administrator
  bool bring_online = true;   // once assigned, the node goes Online without an administrator
  std::vector<std::string> node_groups;  // the node groups (Slurm partitions) its nodes belong to
  std::vector<std::string> features;     // features its nodes offer to --constraint
};

// HPC Pack's job templates: defaults and allowed ranges for job properties, and who may use them.
// A range's bound of 0 (or an empty list) does not restrict.
struct JobTemplate {
  std::string name;
  std::string description;
  std::vector<std::string> members;  // who may use it; empty: everyone
  // Defaults, applied where the job leaves the property unset.
  std::optional<int> priority;
  std::optional<int> cores;
  std::optional<int64_t> memory_mb;
  std::optional<int64_t> time_limit_ms;
  std::vector<std::string> node_groups;
  // Allowed ranges.
  int min_priority = 0, max_priority = 4000;
  int min_cores = 0, max_cores = 0;
  int64_t max_memory_mb = 0;
  int64_t max_time_limit_ms = 0;  // also forbids unlimited jobs
  std::vector<std::string> allowed_node_groups;
};

struct NodeRecord {
  std::string name;
  NodeState state = NodeState::kUnapproved;
  std::string template_name;
  std::string hostname;
  int cores = 0;
  int64_t memory_mb = 0;
  TimeMs joined_time = 0;
  TimeMs last_seen = 0;
  std::string cert_serial;  // the node certificate issued at its join; no other is accepted
};

// One line of the Reporting store: a task attempt that ended.
struct AccountingRecord {
  JobId job_id = 0;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  std::string owner;
  std::string job_name;
  std::string node;
  TaskState state = TaskState::kFinished;
  int exit_code = 0;
  int cores = 0;
  TimeMs submit_time = 0;
  TimeMs start_time = 0;
  TimeMs end_time = 0;
  int64_t cpu_time_ms = 0;
  int64_t max_rss_kb = 0;
  std::string group;          // the owner's primary Unix group on the head node
  int gpus = 0;                 // GPUs held, all of the task's nodes together (like `cores`)
  int64_t memory_limit_mb = 0;  // per node; 0: none
  int64_t time_limit_ms = 0;    // 0: none
  std::string error;          // why the attempt failed, if it did
};

// Members and their roles, in HPC Pack's words. Administrator: everything. JobAdministrator: all
// jobs. User: their own jobs.
enum class Role { kUser, kJobAdministrator, kAdministrator };
std::string_view ToString(Role r);
std::optional<Role> ParseRole(std::string_view s);

struct Member {
  std::string name;  // a Unix user name
  Role role = Role::kUser;
  std::string cert_serial;  // the credential issued when the member was added (lowercase hex)
  TimeMs created_time = 0;
};

struct RevokedCertificate {
  std::string serial;  // lowercase hex
  std::string member;
  TimeMs revoked_time = 0;
};

// One line of the audit log: who changed what, and when.
struct AuditEntry {
  TimeMs time = 0;
  std::string actor;
  std::string action;  // "job.submit", "job.cancel", "node.drain", "member.add", ...
  std::string target;
  std::string detail;
};

// One sample of the Monitoring store.
struct MetricSample {
  std::string node;
  TimeMs time = 0;
  double load1 = 0;
  int64_t memory_used_mb = 0;
  int running_tasks = 0;
};

}  // namespace drover
