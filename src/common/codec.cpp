#include "common/codec.h"

#include <cmath>
#include <limits>
#include <utility>

#include <boost/json.hpp>
#include <fmt/format.h>

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
  if (!s.dependencies.empty()) o["dependency"] = FormatDependencies(s.dependencies, s.depend_any);
  if (s.hold) o["hold"] = true;
  if (s.begin_time) o["begin_time"] = s.begin_time;
  if (!s.prep_command.empty()) o["prep"] = s.prep_command;
  if (!s.release_command.empty()) o["release"] = s.release_command;
  if (!s.cancel_reason.empty()) o["cancel_reason"] = s.cancel_reason;
  if (s.nodes > 1) o["nodes"] = s.nodes;
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
                      {"bring_online", t.bring_online}};
}

Result<TaskSpec> TaskSpecFromJson(const json::value& v) {
  RETURN_IF_ERROR(RequireObject(v, "task"));
  const auto& o = v.as_object();
  RETURN_IF_ERROR(CheckKnownFields(
      o, {"argv", "script", "working_dir", "env", "stdout", "stderr", "cores", "max_retries"}, "task"));
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
                                   {"name", "owner", "priority", "task", "task_count", "sweep", "dependency", "hold",
                                    "begin_time", "prep", "release", "cancel_reason", "nodes", "groups"},
                                   "job"));
  JobSpec s;
  RETURN_IF_ERROR(ReadString(o, "name", s.name));
  RETURN_IF_ERROR(ReadString(o, "owner", s.owner));
  RETURN_IF_ERROR(ReadInt(o, "priority", s.priority));
  RETURN_IF_ERROR(ReadInt(o, "task_count", s.task_count));
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
  RETURN_IF_ERROR(ReadInt(o, "nodes", s.nodes));
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
  if (s.nodes > 1024) return InvalidArgument(fmt::format("a task may span at most 1024 nodes, not {}", s.nodes));
  if (s.nodes > 1 && (!s.prep_command.empty() || !s.release_command.empty())) {
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
  return Status::Ok();
}

}  // namespace drover
