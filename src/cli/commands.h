// User commands. Each returns the process exit code and prints errors to stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/job_options.h"

namespace drover::cli {

int SubmitCommand(const JobOptions& options, const std::vector<std::string>& args, bool explicit_command,
                  bool json);
int RunCommand(const JobOptions& options, const std::vector<std::string>& args);
int QueueCommand(bool all, bool json);
int JobShowCommand(const std::string& id, bool tasks, bool json);
int JobWaitCommand(const std::string& id);
int CancelCommand(const std::vector<std::string>& ids);
int NodesCommand(bool json);
int NodeActionCommand(const std::string& action, const std::string& name, const std::string& template_name);

int MemberAddCommand(const std::string& name, const std::string& role, const std::string& out_dir);
int MemberListCommand(bool json);
int MemberRemoveCommand(const std::string& name);
int AuditCommand(int64_t limit, bool json);

// Prints "drover: <message>" to stderr and returns 1.
int Fail(const std::string& message);

}  // namespace drover::cli
