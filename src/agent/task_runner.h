// Runs a compute node's tasks as process groups and keeps their results until the head node
// acknowledges them.
//
// <state>/tasks/<job>.<task>.<attempt>     pid of a running task's process group
// <state>/results/<job>.<task>.<attempt>   a result not yet acknowledged (JSON)
// <state>/scripts/<job>.<task>.<attempt>   a batch script being run
//
// Not thread-safe: used from the compute node's loop only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/protocol.h"
#include "os/process.h"

namespace drover::agent {

class TaskRunner {
 public:
  TaskRunner(os::ProcessLauncher& launcher, const Clock& clock, std::string state_dir, std::string node_name);

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
  // Results that ended at start (launch failures) since the last call.
  std::vector<protocol::TaskResult> TakeImmediateResults();

  std::vector<protocol::TaskRef> Running() const;
  bool IsRunning(const protocol::TaskRef& ref) const { return running_.count(ref) > 0; }
  std::vector<protocol::TaskResult> Unacknowledged() const;
  void Acknowledge(const std::vector<protocol::TaskRef>& refs);
  // Kills every running task (SIGKILL to each group).
  void KillAll();

 private:
  struct RunningTask {
    pid_t pid = 0;
    TimeMs start_time = 0;
    std::string script_path;
    bool signaled = false;
  };
  std::string Key(const protocol::TaskRef& ref) const;
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
};

}  // namespace drover::agent
