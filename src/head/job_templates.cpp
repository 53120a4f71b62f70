#include "head/job_templates.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/time_limit.h"

namespace drover::head {

Status ApplyJobTemplate(const std::map<std::string, JobTemplate>& templates, const GivenFields& given,
                        JobSpec& spec) {
  std::string name = spec.job_template.empty() ? kDefaultJobTemplate : spec.job_template;
  auto it = templates.find(name);
  if (it == templates.end()) {
    if (spec.job_template.empty()) return Status::Ok();  // no Default template: nothing applies
    return NotFound(fmt::format("job template '{}' does not exist (drover jobtemplate list)", name));
  }
  const JobTemplate& t = it->second;
  if (!t.members.empty() && std::find(t.members.begin(), t.members.end(), spec.owner) == t.members.end()) {
    return PermissionDenied(fmt::format("job template '{}' is not open to {}", t.name, spec.owner));
  }
  TaskSpec& task = spec.task;
  // Defaults.
  if (!given.priority && t.priority) spec.priority = *t.priority;
  if (!given.cores && t.cores) task.cores = *t.cores;
  if (task.memory_mb == 0 && task.memory_per_core_mb == 0 && t.memory_mb) task.memory_mb = *t.memory_mb;
  if (task.time_limit_ms == 0 && t.time_limit_ms) task.time_limit_ms = *t.time_limit_ms;
  if (spec.node_groups.empty()) spec.node_groups = !t.node_groups.empty() ? t.node_groups : t.allowed_node_groups;
  if (task.time_limit_ms == 0 && t.max_time_limit_ms) task.time_limit_ms = t.max_time_limit_ms;

  // Ranges.
  auto outside = [&](std::string_view what, const std::string& value, const std::string& range) {
    return InvalidArgument(
        fmt::format("{} {} is outside what job template '{}' allows ({})", what, value, t.name, range));
  };
  if (spec.priority < t.min_priority || spec.priority > t.max_priority) {
    return outside("priority", std::to_string(spec.priority), fmt::format("{}-{}", t.min_priority, t.max_priority));
  }
  int cores = task.CoresPerNode();
  if ((t.min_cores && cores < t.min_cores) || (t.max_cores && cores > t.max_cores)) {
    return outside("cores per task", std::to_string(cores),
                   fmt::format("{}-{}", t.min_cores ? t.min_cores : 1,
                               t.max_cores ? std::to_string(t.max_cores) : std::string("any")));
  }
  if (t.max_memory_mb && task.MemoryPerNodeMb() > t.max_memory_mb) {
    return outside("memory", fmt::format("{} MB", task.MemoryPerNodeMb()), fmt::format("at most {} MB", t.max_memory_mb));
  }
  if (t.max_time_limit_ms && (task.time_limit_ms == kUnlimitedTime || task.time_limit_ms > t.max_time_limit_ms)) {
    return outside("time limit", FormatTimeLimit(task.time_limit_ms),
                   fmt::format("at most {}", FormatTimeLimit(t.max_time_limit_ms)));
  }
  if (!t.allowed_node_groups.empty()) {
    for (const auto& g : spec.node_groups) {
      if (std::find(t.allowed_node_groups.begin(), t.allowed_node_groups.end(), g) == t.allowed_node_groups.end()) {
        std::string allowed;
        for (const auto& a : t.allowed_node_groups) allowed += (allowed.empty() ? "" : ", ") + a;
        return outside("node group", g, "one of " + allowed);
      }
    }
  }
  spec.job_template = t.name;
  return Status::Ok();
}

}  // namespace drover::head
