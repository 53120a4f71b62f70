// MPI commands (mpi_commands.cpp): `drover mpirun`, and the two that run inside a task spanning
// nodes, `drover mpi-launch` and `drover agent-exec` (Open MPI's rsh agent).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/job_options.h"

namespace drover::cli {

// Submits `mpirun -n RANKS command...` as one task holding -N nodes (default 1), with
// --ntasks-per-node ranks on each (default: -n spread evenly); prints the job id.
int MpiRunCommand(const JobOptions& options, const std::vector<std::string>& command);
// Writes the task's hostfile, sets Open MPI's environment and runs `command` in its place.
int MpiLaunchCommand(const std::vector<std::string>& command);
// argv after "agent-exec": [ssh options] HOST COMMAND...
int AgentExecCommand(int argc, char** argv);

}  // namespace drover::cli
