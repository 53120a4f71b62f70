#include "common/codec.h"

#include <cmath>
#include <limits>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/constraint.h"
#include "common/hostlist.h"
#include "common/time_limit.h"
#include "common/job_control.h"

namespace drover {
namespace json = boost::json;

namespace {

// Field readers: each returns an error naming the field when the type is wrong.
// Absent fields leave the output untouched, so defaults stay.
Status ReadString(const json::object& o, std::string_view key, std::string& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_string()) return InvalidArgument(fmt::format("field '{}' must be a string", key));
  out = std::string(v->as_string());
  return Status::Ok();
}

template <typename Int>
Status ReadInt(const json::object& o, std::string_view key, Int& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  auto out_of_range = [&] {
    return InvalidArgument(fmt::format("field '{}' is out of range ({} to {})", key, std::numeric_limits<Int>::min(),
                                       std::numeric_limits<Int>::max()));
  };
  if (v->is_int64()) {
    if (!std::in_range<Int>(v->as_int64())) return out_of_range();
    out = static_cast<Int>(v->as_int64());
  } else if (v->is_uint64()) {
    if (!std::in_range<Int>(v->as_uint64())) return out_of_range();
    out = static_cast<Int>(v->as_uint64());
  } else if (v->is_double() && std::abs(v->as_double()) < 9.0e15 &&
             v->as_double() == static_cast<double>(static_cast<int64_t>(v->as_double()))) {
    int64_t i = static_cast<int64_t>(v->as_double());
    if (!std::in_range<Int>(i)) return out_of_range();
    out = static_cast<Int>(i);
  } else {
    return InvalidArgument(fmt::format("field '{}' must be an integer", key));
  }
  return Status::Ok();
}

// Rejects fields a reader does not know, so a misspelt one is an error rather than ignored.
Status CheckKnownFields(const json::object& o, std::initializer_list<std::string_view> known, std::string_view where) {
  for (const auto& [k, _] : o) {
    bool ok = false;
    for (auto name : known) ok = ok || k == name;
    if (!ok) return InvalidArgument(fmt::format("unknown field '{}' in {}", std::string_view(k), where));
  }
  return Status::Ok();
}

Status ReadBool(const json::object& o, std::string_view key, bool& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_bool()) return InvalidArgument(fmt::format("field '{}' must be true or false", key));
  out = v->as_bool();
  return Status::Ok();
}

// A list of strings; absent leaves `out` as it is.
Status ReadStrings(const json::object& o, std::string_view key, std::vector<std::string>& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_array()) return InvalidArgument(fmt::format("field '{}' must be an array of strings", key));
  out.clear();
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) return InvalidArgument(fmt::format("field '{}' must be an array of strings", key));
    out.emplace_back(e.as_string());
  }
  return Status::Ok();
}

json::array StringsJson(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

template <typename Int>
Status ReadOptionalInt(const json::object& o, std::string_view key, std::optional<Int>& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  Int x{};
  RETURN_IF_ERROR(ReadInt(o, key, x));
  out = x;
  return Status::Ok();
}

Status RequireObject(const json::value& v, std::string_view what) {
  if (!v.is_object()) return InvalidArgument(fmt::format("{} must be a JSON object", what));
  return Status::Ok();
}

}  // namespace

json::object ToJson(const TaskSpec& s) {
  json::object o;
  json::array argv;
  for (const auto& a : s.argv) argv.emplace_back(a);
  o["argv"] = std::move(argv);
  if (!s.script.empty()) o["script"] = s.script;
  o["working_dir"] = s.working_dir;
  json::object env;
  for (const auto& [k, v] : s.env) env[k] = v;
  o["env"] = std::move(env);
  o["stdout"] = s.stdout_path;
  o["stderr"] = s.stderr_path;
  o["cores"] = s.cores;
  o["max_retries"] = s.max_retries;
  // Resource fields only when set, so that specs stored before they existed read the same.
  if (s.memory_mb) o["memory_mb"] = s.memory_mb;
  if (s.memory_per_core_mb) o["memory_per_core_mb"] = s.memory_per_core_mb;
  if (s.gpus) o["gpus"] = s.gpus;
  if (s.nodes) o["nodes"] = s.nodes;
  if (s.tasks_per_node) o["tasks_per_node"] = s.tasks_per_node;
  if (s.exclusive) o["exclusive"] = true;
  if (s.time_limit_ms) o["time_limit_ms"] = s.time_limit_ms;
  if (s.signal) {
    o["signal"] = s.signal;
    o["signal_before_ms"] = s.signal_before_ms;
    if (s.signal_batch_only) o["signal_batch_only"] = true;
  }
  return o;
}

json::object ToJson(const JobSpec& s) {
  json::object o;
  o["name"] = s.name;
  o["owner"] = s.owner;
  o["priority"] = s.priority;
  o["task"] = ToJson(s.task);
  o["task_count"] = s.task_count;
  if (s.sweep) {
    o["sweep"] = json::object{{"start", s.sweep_start}, {"end", s.sweep_end}, {"step", s.sweep_step}};
  }
  if (!s.node_groups.empty()) o["node_groups"] = StringsJson(s.node_groups);
  if (!s.constraint.empty()) o["constraint"] = s.constraint;
  if (!s.nodelist.empty()) o["nodelist"] = s.nodelist;
  if (!s.exclude.empty()) o["exclude"] = s.exclude;
  if (!s.job_template.empty()) o["job_template"] = s.job_template;
  if (!s.dependencies.empty()) o["dependency"] = FormatDependencies(s.dependencies, s.depend_any);
  if (s.hold) o["hold"] = true;
  if (s.begin_time) o["begin_time"] = s.begin_time;
  if (!s.prep_command.empty()) o["prep"] = s.prep_command;
  if (!s.release_command.empty()) o["release"] = s.release_command;
  if (!s.cancel_reason.empty()) o["cancel_reason"] = s.cancel_reason;
  if (!s.groups.empty()) {
    json::array groups;
    for (const auto& g : s.groups) {
      json::array argv, deps;
      for (const auto& a : g.argv) argv.emplace_back(a);
      for (const auto& d : g.depends_on) deps.emplace_back(d);
      groups.push_back(json::object{{"name", g.name}, {"argv", std::move(argv)}, {"count", g.count},
                                    {"depends_on", std::move(deps)}});
    }
    o["groups"] = std::move(groups);
  }
  return o;
}

json::object ToJson(const TaskRecord& t) {
  json::object o;
  o["job_id"] = t.job_id;
  o["task_id"] = t.task_id;
  o["state"] = ToString(t.state);
  o["attempt"] = t.attempt;
  o["node"] = t.node;
  o["exit_code"] = t.exit_code;
  o["start_time"] = FormatTime(t.start_time);
  o["end_time"] = FormatTime(t.end_time);
  if (!t.error.empty()) o["error"] = t.error;
  return o;
}

json::object ToJson(const NodeTemplate& t) {
  return json::object{{"name", t.name},
                      {"description", t.description},
                      {"auto_approve", t.auto_approve},
                      {"bring_online", t.bring_online},
                      {"node_groups", StringsJson(t.node_groups)},
                      {"features", StringsJson(t.features)}};
}

json::object ToJson(const JobTemplate& t) {
  json::object o{{"name", t.name}, {"description", t.description}, {"members", StringsJson(t.members)}};
  json::object d;
  if (t.priority) d["priority"] = *t.priority;
  if (t.cores) d["cores"] = *t.cores;
  if (t.memory_mb) d["memory_mb"] = *t.memory_mb;
  if (t.time_limit_ms) d["time_limit_ms"] = *t.time_limit_ms;
  if (!t.node_groups.empty()) d["node_groups"] = StringsJson(t.node_groups);
  o["defaults"] = std::move(d);
  json::object r{{"min_priority", t.min_priority}, {"max_priority", t.max_priority}};
  if (t.min_cores) r["min_cores"] = t.min_cores;
  if (t.max_cores) r["max_cores"] = t.max_cores;
  if (t.max_memory_mb) r["max_memory_mb"] = t.max_memory_mb;
  if (t.max_time_limit_ms) r["max_time_limit_ms"] = t.max_time_limit_ms;
  if (!t.allowed_node_groups.empty()) r["node_groups"] = StringsJson(t.allowed_node_groups);
  o["limits"] = std::move(r);
  return o;
}

Result<JobTemplate> JobTemplateFromJson(const json::value& v) {
  RETURN_IF_ERROR(RequireObject(v, "job template"));
  const auto& o = v.as_object();
  RETURN_IF_ERROR(CheckKnownFields(o, {"name", "description", "members", "defaults", "limits"}, "job template"));
  JobTemplate t;
  RETURN_IF_ERROR(ReadString(o, "name", t.name));
  RETURN_IF_ERROR(ReadString(o, "description", t.description));
  RETURN_IF_ERROR(ReadStrings(o, "members", t.members));
  if (t.name.empty()) return InvalidArgument("field 'name' is required in a job template");
  if (auto* d = o.if_contains("defaults"); d && !d->is_null()) {
    RETURN_IF_ERROR(RequireObject(*d, "field 'defaults'"));
    const auto& dd = d->as_object();
    RETURN_IF_ERROR(CheckKnownFields(dd, {"priority", "cores", "memory_mb", "time_limit_ms", "node_groups"},
                                     "job template defaults"));
    RETURN_IF_ERROR(ReadOptionalInt(dd, "priority", t.priority).WithContext("defaults"));
    RETURN_IF_ERROR(ReadOptionalInt(dd, "cores", t.cores).WithContext("defaults"));
    RETURN_IF_ERROR(ReadOptionalInt(dd, "memory_mb", t.memory_mb).WithContext("defaults"));
    RETURN_IF_ERROR(ReadOptionalInt(dd, "time_limit_ms", t.time_limit_ms).WithContext("defaults"));
    RETURN_IF_ERROR(ReadStrings(dd, "node_groups", t.node_groups).WithContext("defaults"));
  }
  if (auto* l = o.if_contains("limits"); l && !l->is_null()) {
    RETURN_IF_ERROR(RequireObject(*l, "field 'limits'"));
    const auto& ll = l->as_object();
    RETURN_IF_ERROR(CheckKnownFields(ll, {"min_priority", "max_priority", "min_cores", "max_cores", "max_memory_mb",
                                          "max_time_limit_ms", "node_groups"},
                                     "job template limits"));
    RETURN_IF_ERROR(ReadInt(ll, "min_priority", t.min_priority).WithContext("limits"));
    RETURN_IF_ERROR(ReadInt(ll, "max_priority", t.max_priority).WithContext("limits"));
    RETURN_IF_ERROR(ReadInt(ll, "min_cores", t.min_cores).WithContext("limits"));
    RETURN_IF_ERROR(ReadInt(ll, "max_cores", t.max_cores).WithContext("limits"));
    RETURN_IF_ERROR(ReadInt(ll, "max_memory_mb", t.max_memory_mb).WithContext("limits"));
    RETURN_IF_ERROR(ReadInt(ll, "max_time_limit_ms", t.max_time_limit_ms).WithContext("limits"));
    RETURN_IF_ERROR(ReadStrings(ll, "node_groups", t.allowed_node_groups).WithContext("limits"));
  }
  if (t.min_priority < 0 || t.max_priority > 4000 || t.min_priority > t.max_priority) {
    return InvalidArgument(fmt::format("job template '{}': the priority range {}-{} is not within 0-4000", t.name,
                                       t.min_priority, t.max_priority));
  }
  if (t.max_cores && t.min_cores > t.max_cores) {
    return InvalidArgument(fmt::format("job template '{}': min_cores {} is above max_cores {}", t.name, t.min_cores,
                                       t.max_cores));
  }
  return t;
}

Result<TaskSpec> TaskSpecFromJson(const json::value& v) {
  RETURN_IF_ERROR(RequireObject(v, "task"));
  const auto& o = v.as_object();
  RETURN_IF_ERROR(CheckKnownFields(
      o,
      {"argv", "script", "working_dir", "env", "stdout", "stderr", "cores", "max_retries", "memory_mb",
       "memory_per_core_mb", "gpus", "nodes", "tasks_per_node", "exclusive", "time_limit_ms", "signal",
       "signal_before_ms", "signal_batch_only"},
      "task"));
  TaskSpec s;
  if (auto* argv = o.if_contains("argv"); argv && !argv->is_null()) {
    if (!argv->is_array()) return InvalidArgument("field 'task.argv' must be an array of strings");
    for (const auto& a : argv->as_array()) {
      if (!a.is_string()) return InvalidArgument("field 'task.argv' must be an array of strings");
      s.argv.emplace_back(a.as_string());
    }
  }
  RETURN_IF_ERROR(ReadString(o, "script", s.script).WithContext("task"));
  RETURN_IF_ERROR(ReadString(o, "working_dir", s.working_dir).WithContext("task"));
  RETURN_IF_ERROR(ReadString(o, "stdout", s.stdout_path).WithContext("task"));
  RETURN_IF_ERROR(ReadString(o, "stderr", s.stderr_path).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "cores", s.cores).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "max_retries", s.max_retries).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "memory_mb", s.memory_mb).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "memory_per_core_mb", s.memory_per_core_mb).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "gpus", s.gpus).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "nodes", s.nodes).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "tasks_per_node", s.tasks_per_node).WithContext("task"));
  RETURN_IF_ERROR(ReadBool(o, "exclusive", s.exclusive).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "time_limit_ms", s.time_limit_ms).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "signal", s.signal).WithContext("task"));
  RETURN_IF_ERROR(ReadInt(o, "signal_before_ms", s.signal_before_ms).WithContext("task"));
  RETURN_IF_ERROR(ReadBool(o, "signal_batch_only", s.signal_batch_only).WithContext("task"));
  if (auto* env = o.if_contains("env"); env && !env->is_null()) {
    if (!env->is_object()) return InvalidArgument("field 'task.env' must be an object of strings");
    for (const auto& [k, val] : env->as_object()) {
      if (!val.is_string()) {
        return InvalidArgument(fmt::format("field 'task.env.{}' must be a string", std::string_view(k)));
      }
      s.env[std::string(k)] = std::string(val.as_string());
    }
  }
  return s;
}

Result<JobSpec> JobSpecFromJson(const json::value& v) {
  RETURN_IF_ERROR(RequireObject(v, "job"));
  const auto& o = v.as_object();
  RETURN_IF_ERROR(CheckKnownFields(o,
                                   {"name", "owner", "priority", "task", "task_count", "sweep", "node_groups",
                                    "constraint", "nodelist", "exclude", "job_template", "dependency", "hold",
                                    "begin_time", "prep", "release", "cancel_reason", "groups"},
                                   "job"));
  JobSpec s;
  RETURN_IF_ERROR(ReadString(o, "name", s.name));
  RETURN_IF_ERROR(ReadString(o, "owner", s.owner));
  RETURN_IF_ERROR(ReadInt(o, "priority", s.priority));
  RETURN_IF_ERROR(ReadInt(o, "task_count", s.task_count));
  RETURN_IF_ERROR(ReadStrings(o, "node_groups", s.node_groups));
  RETURN_IF_ERROR(ReadString(o, "constraint", s.constraint));
  RETURN_IF_ERROR(ReadString(o, "nodelist", s.nodelist));
  RETURN_IF_ERROR(ReadString(o, "exclude", s.exclude));
  RETURN_IF_ERROR(ReadString(o, "job_template", s.job_template));
  auto* task = o.if_contains("task");
  if (!task) return InvalidArgument("field 'task' is required");
  ASSIGN_OR_RETURN(s.task, TaskSpecFromJson(*task));
  if (auto* sw = o.if_contains("sweep"); sw && !sw->is_null()) {
    RETURN_IF_ERROR(RequireObject(*sw, "field 'sweep'"));
    s.sweep = true;
    RETURN_IF_ERROR(CheckKnownFields(sw->as_object(), {"start", "end", "step"}, "sweep"));
    RETURN_IF_ERROR(ReadInt(sw->as_object(), "start", s.sweep_start).WithContext("sweep"));
    RETURN_IF_ERROR(ReadInt(sw->as_object(), "end", s.sweep_end).WithContext("sweep"));
    RETURN_IF_ERROR(ReadInt(sw->as_object(), "step", s.sweep_step).WithContext("sweep"));
  }
  std::string dependency;
  RETURN_IF_ERROR(ReadString(o, "dependency", dependency));
  if (!dependency.empty()) {
    ASSIGN_OR_RETURN(auto deps, ParseDependencies(dependency));
    s.dependencies = std::move(deps.items);
    s.depend_any = deps.any;
  }
  RETURN_IF_ERROR(ReadBool(o, "hold", s.hold));
  RETURN_IF_ERROR(ReadInt(o, "begin_time", s.begin_time));
  RETURN_IF_ERROR(ReadString(o, "prep", s.prep_command));
  RETURN_IF_ERROR(ReadString(o, "release", s.release_command));
  RETURN_IF_ERROR(ReadString(o, "cancel_reason", s.cancel_reason));
  if (auto* groups = o.if_contains("groups"); groups && !groups->is_null()) {
    if (!groups->is_array()) return InvalidArgument("field 'groups' must be an array of task groups");
    auto strings = [](const json::object& g, std::string_view key, std::vector<std::string>& out) -> Status {
      auto* v = g.if_contains(key);
      if (!v || v->is_null()) return Status::Ok();
      if (!v->is_array()) return InvalidArgument(fmt::format("field '{}' must be an array of strings", key));
      for (const auto& a : v->as_array()) {
        if (!a.is_string()) return InvalidArgument(fmt::format("field '{}' must be an array of strings", key));
        out.emplace_back(a.as_string());
      }
      return Status::Ok();
    };
    for (size_t i = 0; i < groups->as_array().size(); ++i) {
      const auto& gv = groups->as_array()[i];
      std::string where = fmt::format("groups[{}]", i);
      RETURN_IF_ERROR(RequireObject(gv, where));
      const auto& go = gv.as_object();
      RETURN_IF_ERROR(CheckKnownFields(go, {"name", "argv", "count", "depends_on"}, where));
      TaskGroup g;
      RETURN_IF_ERROR(ReadString(go, "name", g.name).WithContext(where));
      RETURN_IF_ERROR(ReadInt(go, "count", g.count).WithContext(where));
      RETURN_IF_ERROR(strings(go, "argv", g.argv).WithContext(where));
      RETURN_IF_ERROR(strings(go, "depends_on", g.depends_on).WithContext(where));
      s.groups.push_back(std::move(g));
    }
  }
  return s;
}

Result<NodeTemplate> NodeTemplateFromJson(const json::value& v) {
  RETURN_IF_ERROR(RequireObject(v, "node template"));
  const auto& o = v.as_object();
  NodeTemplate t;
  RETURN_IF_ERROR(ReadString(o, "name", t.name));
  RETURN_IF_ERROR(ReadString(o, "description", t.description));
  RETURN_IF_ERROR(ReadBool(o, "auto_approve", t.auto_approve));
  RETURN_IF_ERROR(ReadBool(o, "bring_online", t.bring_online));
  RETURN_IF_ERROR(ReadStrings(o, "node_groups", t.node_groups));
  RETURN_IF_ERROR(ReadStrings(o, "features", t.features));
  if (t.name.empty()) return InvalidArgument("field 'name' is required in a node template");
  return t;
}

std::string EncodeJobSpec(const JobSpec& spec) { return json::serialize(ToJson(spec)); }

Result<JobSpec> DecodeJobSpec(std::string_view text) {
  ASSIGN_OR_RETURN(auto v, ParseJson(text));
  return JobSpecFromJson(v);
}

Result<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return InvalidArgument(fmt::format("malformed JSON: {}", ec.message()));
  return v;
}

Status ValidateJobSpec(const JobSpec& s) {
  if (s.task.argv.empty() && s.task.script.empty()) {
    return InvalidArgument("the job has no command: give a command, --wrap or a script");
  }
  if (!s.task.argv.empty() && s.task.argv[0].empty()) return InvalidArgument("the command is empty");
  if (s.task.cores < 1) return InvalidArgument(fmt::format("cores must be at least 1, got {}", s.task.cores));
  if (s.task.max_retries < 0) return InvalidArgument("max_retries must not be negative");
  if (s.task.signal < 0 || s.task.signal > 64) {
    return InvalidArgument(fmt::format("signal must be a signal number from 1 to 64, got {}", s.task.signal));
  }
  if (s.task.signal_before_ms < 0) return InvalidArgument("signal_before_ms must not be negative");
  if (s.priority < 0 || s.priority > 4000) {
    return InvalidArgument(fmt::format("priority must be between 0 and 4000, got {}", s.priority));
  }
  if (!s.task.working_dir.empty() && s.task.working_dir[0] != '/') {
    return InvalidArgument(fmt::format("working directory '{}' must be an absolute path", s.task.working_dir));
  }
  if (s.sweep) {
    if (s.sweep_step < 1) return InvalidArgument("sweep step must be at least 1");
    if (s.sweep_end < s.sweep_start) {
      return InvalidArgument(
          fmt::format("sweep end {} is before its start {}", s.sweep_end, s.sweep_start));
    }
  } else if (s.task_count < 1) {
    return InvalidArgument("a job needs at least one task");
  }
  if (s.sweep) {
    // 128-bit: the width of a sweep over the whole int64 range does not fit in 64 bits.
    __int128 width = static_cast<__int128>(s.sweep_end) - s.sweep_start;
    if (width / s.sweep_step >= 10'000'000) return InvalidArgument("a job may hold at most 10,000,000 tasks");
  }
  if (s.task_count > 10'000'000) return InvalidArgument("a job may hold at most 10,000,000 tasks");
  if (s.task.NodeCount() > 1 && (!s.prep_command.empty() || !s.release_command.empty())) {
    return InvalidArgument("node preparation and release are not available for tasks that span nodes");
  }
  if (!s.groups.empty()) {
    if (s.sweep || s.task_count > 1) return InvalidArgument("task groups cannot be combined with a sweep or a task count");
    uint64_t total = 0;
    for (size_t i = 0; i < s.groups.size(); ++i) {
      const TaskGroup& g = s.groups[i];
      if (g.name.empty()) return InvalidArgument(fmt::format("task group {} needs a name", i + 1));
      if (g.count < 1) return InvalidArgument(fmt::format("task group '{}' needs at least one task", g.name));
      if (!g.argv.empty() && g.argv[0].empty()) return InvalidArgument(fmt::format("task group '{}': the command is empty", g.name));
      total += g.count;
      for (size_t j = 0; j < i; ++j) {
        if (s.groups[j].name == g.name) return InvalidArgument(fmt::format("two task groups are named '{}'", g.name));
      }
      for (const auto& d : g.depends_on) {
        bool earlier = false;
        for (size_t j = 0; j < i; ++j) earlier = earlier || s.groups[j].name == d;
        if (!earlier) {
          return InvalidArgument(fmt::format(
              "task group '{}' depends on '{}', which is not a group before it (groups depend on earlier groups)",
              g.name, d));
        }
      }
    }
    if (total > 10'000'000) return InvalidArgument("a job may hold at most 10,000,000 tasks");
  }
  for (const auto& [k, _] : s.task.env) {
    if (k.empty() || k.find('=') != std::string::npos) {
      return InvalidArgument(fmt::format("environment variable name '{}' is invalid", k));
    }
  }
  return ValidateResources(s);
}

Status ValidateResources(const JobSpec& s) {
  const TaskSpec& t = s.task;
  if (t.memory_mb < 0) return InvalidArgument(fmt::format("field 'task.memory_mb' must not be negative, got {}", t.memory_mb));
  if (t.memory_per_core_mb < 0) {
    return InvalidArgument(
        fmt::format("field 'task.memory_per_core_mb' must not be negative, got {}", t.memory_per_core_mb));
  }
  if (t.memory_mb && t.memory_per_core_mb) {
    return InvalidArgument("fields 'task.memory_mb' (--mem) and 'task.memory_per_core_mb' (--mem-per-cpu) exclude each other");
  }
  if (t.gpus < 0 || t.gpus > 64) return InvalidArgument(fmt::format("field 'task.gpus' must be 0 to 64, got {}", t.gpus));
  if (t.nodes < 0 || t.nodes > 100'000) {
    return InvalidArgument(fmt::format("field 'task.nodes' must be 0 to 100000, got {}", t.nodes));
  }
  if (t.tasks_per_node < 0) {
    return InvalidArgument(fmt::format("field 'task.tasks_per_node' must not be negative, got {}", t.tasks_per_node));
  }
  if (t.tasks_per_node > 0 && static_cast<int64_t>(t.tasks_per_node) * t.cores > 1'000'000) {
    return InvalidArgument("fields 'task.tasks_per_node' x 'task.cores' are too large");
  }
  if (t.time_limit_ms < 0 && t.time_limit_ms != kUnlimitedTime) {
    return InvalidArgument(
        fmt::format("field 'task.time_limit_ms' must be positive, 0 (the default) or -1 (unlimited), got {}",
                    t.time_limit_ms));
  }
  for (const auto& g : s.node_groups) {
    if (g.empty() || g.find_first_of(" ,\t") != std::string::npos) {
      return InvalidArgument(fmt::format("field 'node_groups': '{}' is not a node group name", g));
    }
  }
  if (auto c = Constraint::Parse(s.constraint); !c.ok()) return c.status().WithContext("field 'constraint'");
  if (auto h = ExpandHostlist(s.nodelist); !h.ok()) return h.status().WithContext("field 'nodelist'");
  if (auto h = ExpandHostlist(s.exclude); !h.ok()) return h.status().WithContext("field 'exclude'");
  return Status::Ok();
}

}  // namespace drover
