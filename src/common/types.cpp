#include "common/types.h"

#include <algorithm>

namespace drover {

std::string_view ToString(TaskState s) {
  switch (s) {
    case TaskState::kQueued: return "Queued";
    case TaskState::kRunning: return "Running";
    case TaskState::kFinished: return "Finished";
    case TaskState::kFailed: return "Failed";
    case TaskState::kCanceled: return "Canceled";
    case TaskState::kTimeout: return "Timeout";
    case TaskState::kOutOfMemory: return "OutOfMemory";
  }
  return "Unknown";
}

std::string_view ToString(NodeState s) {
  switch (s) {
    case NodeState::kUnapproved: return "Unapproved";
    case NodeState::kOffline: return "Offline";
    case NodeState::kOnline: return "Online";
    case NodeState::kDraining: return "Draining";
  }
  return "Unknown";
}

std::string_view ToString(NodeHealth s) {
  switch (s) {
    case NodeHealth::kOk: return "OK";
    case NodeHealth::kWarning: return "Warning";
    case NodeHealth::kError: return "Error";
    case NodeHealth::kUnreachable: return "Unreachable";
  }
  return "Unknown";
}

std::optional<TaskState> ParseTaskState(std::string_view s) {
  for (auto st : {TaskState::kQueued, TaskState::kRunning, TaskState::kFinished, TaskState::kFailed,
                  TaskState::kCanceled, TaskState::kTimeout, TaskState::kOutOfMemory}) {
    if (ToString(st) == s) return st;
  }
  return std::nullopt;
}

std::optional<NodeState> ParseNodeState(std::string_view s) {
  for (auto st : {NodeState::kUnapproved, NodeState::kOffline, NodeState::kOnline, NodeState::kDraining}) {
    if (ToString(st) == s) return st;
  }
  return std::nullopt;
}

std::string_view ToString(Role r) {
  switch (r) {
    case Role::kUser: return "User";
    case Role::kJobAdministrator: return "JobAdministrator";
    case Role::kAdministrator: return "Administrator";
  }
  return "Unknown";
}

std::optional<Role> ParseRole(std::string_view s) {
  for (auto r : {Role::kUser, Role::kJobAdministrator, Role::kAdministrator}) {
    if (ToString(r) == s) return r;
  }
  return std::nullopt;
}

std::string_view ToString(DependencyType t) {
  switch (t) {
    case DependencyType::kAfterOk: return "afterok";
    case DependencyType::kAfterNotOk: return "afternotok";
    case DependencyType::kAfterAny: return "afterany";
  }
  return "unknown";
}

std::optional<DependencyType> ParseDependencyType(std::string_view s) {
  for (auto t : {DependencyType::kAfterOk, DependencyType::kAfterNotOk, DependencyType::kAfterAny}) {
    if (ToString(t) == s) return t;
  }
  return std::nullopt;
}

uint32_t JobSpec::TotalTasks() const {
  if (!groups.empty()) {
    uint64_t n = 0;
    for (const auto& g : groups) n += g.count;
    return n > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(n);
  }
  if (!sweep) return task_count;
  if (sweep_step <= 0 || sweep_end < sweep_start) return 0;
  __int128 n = (static_cast<__int128>(sweep_end) - sweep_start) / sweep_step + 1;
  return n > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(n);
}

size_t JobSpec::GroupOf(TaskId id, TaskId* first) const {
  uint64_t start = 1;
  for (size_t i = 0; i < groups.size(); ++i) {
    if (id < start + groups[i].count || i + 1 == groups.size()) {
      if (first) *first = static_cast<TaskId>(start);
      return i;
    }
    start += groups[i].count;
  }
  if (first) *first = 1;
  return 0;
}

int64_t JobSpec::IndexOf(TaskId id) const {
  if (!groups.empty()) {
    TaskId first = 1;
    GroupOf(id, &first);
    return static_cast<int64_t>(id) - first;
  }
  if (!sweep) return static_cast<int64_t>(id) - 1;
  return sweep_start + (static_cast<int64_t>(id) - 1) * sweep_step;
}

}  // namespace drover

namespace drover {

int64_t TaskSpec::MemoryPerNodeMb() const {
  return std::max<int64_t>(memory_mb, memory_per_core_mb * CoresPerNode());
}

}  // namespace drover
