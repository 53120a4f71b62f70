// `drover plan/up/down/status/logs`: the deployment engine's commands.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace drover::cli {

struct StackCommandOptions {
  std::string template_path;         // "": the built-in default (examples/local.yaml)
  std::string stack;                 // "": the template's stem, or the only stack there is
  std::vector<std::string> params;   // K=V
  std::string provider;              // local | netns
  bool no_rollback = false;
  // Shorthands for the default template's parameters.
  std::optional<int> nodes;
  std::optional<int> cores;
  std::optional<int> heartbeat_timeout_ms;
};

int PlanCommand(const StackCommandOptions& options);
int UpCommand(const StackCommandOptions& options);
int DownCommand(const std::string& stack, bool purge);
int StatusCommand(const std::string& stack, bool json);
int LogsCommand(const std::string& stack, const std::string& resource, const std::string& instance);
int SuperviseCommand(const std::string& home, const std::string& stack);

}  // namespace drover::cli
