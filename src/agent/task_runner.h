// Runs a compute node's tasks as process groups and keeps their results until the head node
// acknowledges them.
//
// <state>/tasks/<job>.<task>.<attempt>     pid of a running task's process group
// <state>/results/<job>.<task>.<attempt>   a result not yet acknowledged (JSON)
// <state>/scripts/<job>.<task>.<attempt>   a batch script being run
//
// With cgroups (os/cgroup.h) each task runs in its own group <cgroup parent>/<job>.<task>.<attempt>:
// its memory limit and cores are enforced there, its CPU time and peak memory are read from it at
// the end, and killing the group reaches processes that left the task's process group.
// Without cgroups, tasks run unconfined and usage comes from the leader's rusage.
//
// Not thread-safe: used from the compute node's loop only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/protocol.h"
#include "os/cgroup.h"
#include "os/process.h"

namespace drover::agent {

struct TaskRunnerOptions {
  os::CgroupSystem* cgroups = nullptr;  // null or unavailable: limits are not enforced
  int kill_grace_ms = 3000;             // at a time limit: SIGTERM, then SIGKILL this long after
  int64_t task_pids_max = 0;            // per-task process limit (cgroup pids controller); 0: none
  bool node_has_gpus = false;           // tasks without GPUs then get an empty CUDA_VISIBLE_DEVICES
};

class TaskRunner {
 public:
  TaskRunner(os::ProcessLauncher& launcher, const Clock& clock, std::string state_dir, std::string node_name,
             TaskRunnerOptions options = {});

  // After a restart: kills task process groups left by the previous run (the head node requeues
  // those tasks, since they are no longer reported running) and reloads unacknowledged results.
  Status Recover();

  // Starts a task. A task that cannot start (missing directory, unwritable output, unknown
  // command) ends at once with a result that says why.
  void Start(const protocol::TaskLaunch& launch);
  // Sends `signal` to the task's process group. Unknown tasks are ignored.
  void Signal(const protocol::TaskRef& ref, int signal);
  // Collects exited processes. Returns the results that ended since the last call.
  std::vector<protocol::TaskResult> Reap();
  // Enforces time limits and sends --signal warnings as of clock.Now(); samples memory; retries
  // removing the cgroups of ended tasks. Call periodically (the agent does so every 500 ms).
  void Tick();
  // Results that ended at start (launch failures) since the last call.
  std::vector<protocol::TaskResult> TakeImmediateResults();

  std::vector<protocol::TaskRef> Running() const;
  bool IsRunning(const protocol::TaskRef& ref) const { return running_.count(ref) > 0; }
  std::vector<protocol::TaskResult> Unacknowledged() const;
  void Acknowledge(const std::vector<protocol::TaskRef>& refs);
  // Kills every running task (SIGKILL to each group and to everything in its cgroup).
  void KillAll();

 private:
  struct RunningTask {
    pid_t pid = 0;
    TimeMs start_time = 0;
    std::string script_path;
    bool signaled = false;
    std::unique_ptr<os::TaskCgroup> cgroup;  // null without cgroups
    int64_t memory_limit_mb = 0;
    int64_t time_limit_ms = 0;
    TimeMs deadline = 0;      // the time limit; 0: none
    TimeMs warn_at = 0;       // when to send warn_signal; 0: none or sent
    int warn_signal = 0;
    bool warn_batch_only = false;
    TimeMs kill_at = 0;       // SIGKILL after the grace period of a timeout; 0: not yet
    bool timed_out = false;
    // An output file to remove when the task succeeded and it is still empty, regular and the
    // task user's own (what the launch's discard_empty_output names).
    std::string discard_if_empty;
    uid_t output_owner = 0;
  };
  std::string Key(const protocol::TaskRef& ref) const;
  void KillTree(RunningTask& task);
  void RemoveCgroup(std::unique_ptr<os::TaskCgroup> cgroup);
  void Finish(const protocol::TaskRef& ref, protocol::TaskResult result);
  Status SetRunAs(const std::string& user, os::LaunchSpec& spec) const;

  os::ProcessLauncher& launcher_;
  const Clock& clock_;
  std::string node_name_;
  std::string tasks_dir_, results_dir_, scripts_dir_;
  std::map<protocol::TaskRef, RunningTask> running_;
  std::map<pid_t, protocol::TaskRef> by_pid_;
  std::map<protocol::TaskRef, protocol::TaskResult> unacked_;
  std::vector<protocol::TaskResult> immediate_;
  TaskRunnerOptions options_;
  std::vector<std::unique_ptr<os::TaskCgroup>> to_remove_;  // ended tasks' groups not yet empty
};

}  // namespace drover::agent
