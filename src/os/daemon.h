// Starting and stopping long-running Drover processes (the head node and compute nodes of a local
// cluster): detached from the caller's session, logging to a file, tracked by a pid file.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace drover::os {

// Starts `argv` (argv[0] a path) in a new session with stdout/stderr appended to `log_path`; writes
// its pid to `pid_path`. Its stdin reads `input` through a pipe (then end of file), so a secret can
// be handed over without touching a disk, a command line or an environment; empty: /dev/null.
// With `netns` (a path such as /run/netns/NAME), the daemon runs in that network namespace: the child
// joins it (setns) before it execs, so the pid is the daemon's from the start. The daemon runs in /
// (argv and its paths are absolute): the caller's directory, which the daemon's user may not be able
// to enter (PostgreSQL, run as postgres, will not start in such a one), plays no part.
Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path,
                          const std::string& pid_path, const std::string& input = "", const std::string& netns = "");

// The pid in `pid_path` when that process is alive and its command line contains `marker`
// (so a recycled pid is not mistaken for ours); 0 otherwise.
pid_t RunningDaemon(const std::string& pid_path, const std::string& marker);

// SIGTERM, then SIGKILL after `grace_ms`; waits until the process is gone. Removes the pid file.
Status StopDaemon(const std::string& pid_path, const std::string& marker, int grace_ms);

// This executable's path (/proc/self/exe).
std::string SelfExe();

}  // namespace drover::os
