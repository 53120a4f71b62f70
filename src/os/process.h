// Launching and stopping task processes. Behind the ProcessLauncher seam so that the agent's
// task runner can be tested with a fake that injects failures.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace drover::os {

// The Unix identity a task runs as (the agent must be root to switch to it).
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
};

struct LaunchSpec {
  std::vector<std::string> argv;   // argv[0] is resolved against PATH of `env` when it has no '/'
  std::map<std::string, std::string> env;  // the complete environment of the child
  std::string working_dir;         // must exist
  std::string stdout_path;         // opened O_CREAT|O_TRUNC|O_WRONLY, 0644; empty: /dev/null
  std::string stderr_path;         // same; may equal stdout_path (both go to one file, appended in order)
  bool new_session = true;         // setsid(): the child leads its own process group
  bool kill_with_parent = true;    // PR_SET_PDEATHSIG(SIGKILL)
  std::optional<RunAs> run_as;     // switch to this user before anything else touches files
  // cgroup.procs files the child writes its pid to before it does anything else (as the agent):
  // the task and everything it starts live in those cgroups. Failing to join fails the launch.
  std::vector<std::string> cgroup_procs;
};

struct ExitInfo {
  pid_t pid = 0;
  int exit_code = 0;      // exit status, or 128+signal when killed by a signal (shell convention)
  int signal = 0;         // the terminating signal, 0 when it exited
  int64_t user_cpu_ms = 0;
  int64_t system_cpu_ms = 0;
  int64_t max_rss_kb = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;

  // Starts a child. Errors that happen before exec (working directory missing, output file not
  // writable, command not found or not executable) are returned here with a message naming the
  // path, not reported as an exit code.
  // Codes: InvalidArgument for a bad command (empty argv, not found in PATH, not executable);
  // FailedPrecondition for the environment (working directory missing, output file not
  // openable); Unavailable when fork() fails. Relative stdout/stderr paths and relative PATH
  // entries are resolved in working_dir. A failed launch leaves no child for ReapExited().
  // Call from a long-lived thread: PR_SET_PDEATHSIG fires when the forking *thread* exits.
  virtual Result<pid_t> Launch(const LaunchSpec& spec) = 0;

  // Sends `signal` to the process group `pgid` (the whole task). Not an error if it is gone.
  virtual Status SignalGroup(pid_t pgid, int signal) = 0;

  // Collects every child that has exited, without blocking (waitpid(-1, WNOHANG) + rusage).
  // Process-wide: it reaps any child of this process, launched here or not.
  virtual std::vector<ExitInfo> ReapExited() = 0;
};

// The real launcher: fork + exec.
std::unique_ptr<ProcessLauncher> MakeSystemLauncher();

// True when a process with this pid exists (kill(pid, 0)).
bool ProcessAlive(pid_t pid);

}  // namespace drover::os
