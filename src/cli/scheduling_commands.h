// Commands for what the scheduler works with: node templates (node groups and features), job
// templates and the scheduler's settings.
//
//   drover nodetemplate list | put NAME [--groups A,B] [--features X,Y] [--auto-approve] ...
//   drover jobtemplate list | put FILE.json | delete NAME      (changes: Administrators)
//   drover scheduler show | set FILE.json                       (set: Administrators)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace drover::cli {

class SchedulingCommands {
 public:
  // Adds the subcommands to `app`.
  explicit SchedulingCommands(CLI::App& app);
  // Runs the one the command line chose; nullopt when it chose none of them.
  std::optional<int> Run();

 private:
  CLI::App* nt_list_ = nullptr;
  CLI::App* nt_put_ = nullptr;
  CLI::App* jt_list_ = nullptr;
  CLI::App* jt_put_ = nullptr;
  CLI::App* jt_delete_ = nullptr;
  CLI::App* sched_show_ = nullptr;
  CLI::App* sched_set_ = nullptr;
  std::string name_, file_, description_, groups_, features_;
  bool auto_approve_ = false, manual_online_ = false, json_ = false;
};

}  // namespace drover::cli
