#include "cli/stack_commands.h"

#include <algorithm>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "net/cluster_context.h"
#include "common/clock.h"
#include "deploy/engine.h"
#include "deploy/providers/local_instance.h"
#include "os/files.h"

namespace drover::cli {
namespace json = boost::json;

namespace {

Result<deploy::StackOptions> ToStackOptions(const StackCommandOptions& c) {
  deploy::StackOptions o;
  o.home = net::DroverHome();
  o.template_path = c.template_path;
  o.stack = c.stack;
  o.rollback = !c.no_rollback;
  o.provider = c.provider;
  for (const auto& kv : c.params) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(fmt::format("--param '{}': write it as NAME=VALUE", kv));
    }
    o.parameters[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (c.nodes) o.parameters.emplace("ComputeNodes", std::to_string(*c.nodes));
  if (c.cores) o.parameters.emplace("CoresPerNode", std::to_string(*c.cores));
  if (c.heartbeat_timeout_ms) o.parameters.emplace("HeartbeatTimeoutMs", std::to_string(*c.heartbeat_timeout_ms));
  return o;
}

// The stack a command without --stack means: the current context's (the stack brought up last),
// else the only one there is, else the only one not down; "local" when there is none. With several
// and none of these, the error lists them.
Result<std::string> ChosenStack(const std::string& stack) {
  if (!stack.empty()) return stack;
  std::string home = net::DroverHome();
  auto stacks = os::ListDir(os::JoinPath(home, "stacks"));
  if (stacks.empty()) return std::string("local");
  std::sort(stacks.begin(), stacks.end());
  std::string current = net::CurrentStack(home);
  if (!current.empty() && std::find(stacks.begin(), stacks.end(), current) != stacks.end()) return current;
  if (stacks.size() == 1) return stacks.front();
  std::vector<std::string> live;
  std::string listed;
  for (const auto& name : stacks) {
    auto s = deploy::LoadStackState(deploy::PathsFor(home, name));
    std::string status = s.ok() ? s->status : "no state";
    if (status != "DOWN_COMPLETE") live.push_back(name);
    listed += fmt::format("\n  {} ({})", name, status);
  }
  if (live.size() == 1) return live.front();
  return FailedPrecondition(
      fmt::format("there are {} stacks under {} and none was brought up last; say which with --stack NAME:{}",
                  stacks.size(), home, listed));
}

void Print(const std::string& line) { std::cout << line << std::endl; }

}  // namespace

int PlanCommand(const StackCommandOptions& c) {
  auto o = ToStackOptions(c);
  if (!o.ok()) return Fail(o.status().message());
  auto plan = deploy::PlanStack(*o);
  if (!plan.ok()) return Fail(plan.status().message());
  std::map<std::string, int> counts;
  fmt::print("Plan for stack {}:\n", deploy::StackName(*o));
  for (const auto& p : *plan) {
    const char* mark = p.action == "create" ? "+" : p.action == "delete" ? "-" : p.action == "replace" ? "±"
                       : p.action == "update" ? "~" : "=";
    fmt::print("  {} {:<18} {:<22} {}\n", mark, p.resource, p.type, p.action == "none" ? "no change" : p.action);
    for (const auto& d : p.details) fmt::print("        {}\n", d);
    ++counts[p.action];
  }
  fmt::print("{} to create, {} to update, {} to replace, {} to delete, {} unchanged.\n", counts["create"],
             counts["update"], counts["replace"], counts["delete"], counts["none"]);
  return 0;
}

int UpCommand(const StackCommandOptions& c) {
  auto o = ToStackOptions(c);
  if (!o.ok()) return Fail(o.status().message());
  Status st = deploy::UpStack(*o, Print);
  return st.ok() ? 0 : Fail(st.message());
}

int DownCommand(const std::string& stack, bool purge) {
  auto chosen = ChosenStack(stack);
  if (!chosen.ok()) return Fail(chosen.status().message());
  Status st = deploy::DownStack(net::DroverHome(), *chosen, purge, Print);
  return st.ok() ? 0 : Fail(st.message());
}

int StatusCommand(const std::string& stack, bool as_json) {
  auto chosen = ChosenStack(stack);
  if (!chosen.ok()) return Fail(chosen.status().message());
  auto s = deploy::LoadStack(net::DroverHome(), *chosen);
  if (!s.ok()) return Fail(s.status().message());
  if (as_json) {
    fmt::print("{}\n", json::serialize(deploy::ToJson(*s)));
    return 0;
  }
  fmt::print("Stack {}: {}\nTemplate: {}\n", s->name, s->status, s->template_path);
  if (!s->parameters.empty()) {
    fmt::print("Parameters:\n");
    for (const auto& [k, v] : s->parameters) fmt::print("  {} = {}\n", std::string(k), json::serialize(v));
  }
  fmt::print("Resources:\n");
  for (const auto& [name, r] : s->resources) {
    std::string detail;
    for (const auto& i : r.instances) detail += fmt::format("{}{} ({})", detail.empty() ? "" : ", ", i.id, i.address);
    fmt::print("  {:<18} {:<22} {:<18} {}\n", name, r.type, r.status, detail);
  }
  if (!s->outputs.empty()) {
    fmt::print("Outputs:\n");
    for (const auto& [k, v] : s->outputs) {
      fmt::print("  {} = {}\n", std::string(k), v.is_string() ? std::string(v.as_string()) : json::serialize(v));
    }
  }
  fmt::print("Recent events:\n");
  size_t first = s->events.size() > 20 ? s->events.size() - 20 : 0;
  for (size_t i = first; i < s->events.size(); ++i) {
    const auto& e = s->events[i];
    fmt::print("  {} {:<16} {:<20} {}\n", FormatTime(e.time), e.resource.empty() ? s->name : e.resource, e.status,
               e.reason);
  }
  return 0;
}

int LogsCommand(const std::string& stack, const std::string& resource, const std::string& instance) {
  auto chosen = ChosenStack(stack);
  if (!chosen.ok()) return Fail(chosen.status().message());
  auto s = deploy::LoadStack(net::DroverHome(), *chosen);
  if (!s.ok()) return Fail(s.status().message());
  const deploy::ResourceState* r = s->Find(resource);
  if (!r) return Fail(fmt::format("stack {} has no resource '{}'", s->name, resource));
  if (r->instances.empty()) return Fail(fmt::format("{} runs no instances", resource));
  bool shown = false;
  for (const auto& i : r->instances) {
    if (!instance.empty() && i.id != instance) continue;
    shown = true;
    for (const auto& [what, path] : {std::pair{"boot script", os::JoinPath(i.dir, "boot.log")},
                                     std::pair{"daemon", deploy::DaemonLog(i)}}) {
      auto text = os::ReadFile(path);
      if (!text.ok()) continue;
      fmt::print("==> {} {} ({}) <==\n{}", i.id, what, path, *text);
      if (!text->empty() && text->back() != '\n') fmt::print("\n");
    }
  }
  if (!shown) return Fail(fmt::format("{} has no instance '{}'", resource, instance));
  return 0;
}

int SuperviseCommand(const std::string& home, const std::string& stack) {
  return deploy::RunSupervisor(home, stack);
}

}  // namespace drover::cli
