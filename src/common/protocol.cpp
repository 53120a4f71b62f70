#include "common/protocol.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/codec.h"

namespace drover::protocol {
namespace json = boost::json;

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// Reading helpers that throw DecodeError, caught at the top of each decoder: message fields are
// deeply nested and an exception keeps the field checks readable. Nothing escapes this file.
struct DecodeError {
  std::string message;
};

const json::value& Field(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) throw DecodeError{fmt::format("missing field '{}'", key)};
  return *v;
}
int64_t Int(const json::object& o, const char* key, int64_t dflt = 0) {
  auto* v = o.if_contains(key);
  if (!v) return dflt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) {
    double d = v->as_double();
    // Converting a double outside int64's range is undefined behaviour: refuse it.
    if (!(d >= -9.2e18 && d <= 9.2e18)) throw DecodeError{fmt::format("field '{}' is out of range", key)};
    return static_cast<int64_t>(d);
  }
  throw DecodeError{fmt::format("field '{}' must be a number", key)};
}
double Double(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  throw DecodeError{fmt::format("field '{}' must be a number", key)};
}
std::string Str(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return "";
  if (!v->is_string()) throw DecodeError{fmt::format("field '{}' must be a string", key)};
  return std::string(v->as_string());
}
const json::object& Obj(const json::value& v, const char* what) {
  if (!v.is_object()) throw DecodeError{fmt::format("{} must be an object", what)};
  return v.as_object();
}
const json::array& Arr(const json::object& o, const char* key) {
  static const json::array kEmpty;
  auto* v = o.if_contains(key);
  if (!v) return kEmpty;
  if (!v->is_array()) throw DecodeError{fmt::format("field '{}' must be an array", key)};
  return v->as_array();
}

bool Bool(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v) return false;
  if (!v->is_bool()) throw DecodeError{fmt::format("field '{}' must be true or false", key)};
  return v->as_bool();
}

json::array GpusJson(const std::vector<GpuInfo>& gpus) {
  json::array a;
  for (const auto& g : gpus) {
    a.push_back(json::object{{"index", g.index}, {"name", g.name}, {"uuid", g.uuid}, {"memory_mb", g.memory_mb}});
  }
  return a;
}
std::vector<GpuInfo> GpusFrom(const json::object& o, const char* key) {
  std::vector<GpuInfo> out;
  for (const auto& v : Arr(o, key)) {
    const auto& g = Obj(v, "gpu");
    out.push_back(GpuInfo{static_cast<int>(Int(g, "index")), Str(g, "name"), Str(g, "uuid"), Int(g, "memory_mb")});
  }
  return out;
}

json::object RefJson(const TaskRef& r) {
  return json::object{{"job", r.job_id}, {"task", r.task_id}, {"attempt", r.attempt}};
}
TaskRef RefFrom(const json::value& v) {
  const auto& o = Obj(v, "task reference");
  return TaskRef{Int(o, "job"), static_cast<TaskId>(Int(o, "task")), static_cast<uint32_t>(Int(o, "attempt"))};
}
json::array Refs(const std::vector<TaskRef>& refs) {
  json::array a;
  a.reserve(refs.size());
  for (const auto& r : refs) a.push_back(RefJson(r));
  return a;
}
std::vector<TaskRef> RefsFrom(const json::object& o, const char* key) {
  std::vector<TaskRef> out;
  for (const auto& v : Arr(o, key)) out.push_back(RefFrom(v));
  return out;
}

json::object ResultJson(const TaskResult& r) {
  json::object o = RefJson(r.ref);
  o["exit_code"] = r.exit_code;
  o["signal"] = r.signal;
  o["start"] = r.start_time;
  o["end"] = r.end_time;
  o["cpu_ms"] = r.cpu_time_ms;
  o["max_rss_kb"] = r.max_rss_kb;
  if (!r.error.empty()) o["error"] = r.error;
  if (r.timed_out) o["timed_out"] = true;
  if (r.out_of_memory) o["out_of_memory"] = true;
  return o;
}
TaskResult ResultFrom(const json::value& v) {
  const auto& o = Obj(v, "result");
  TaskResult r;
  r.ref = RefFrom(v);
  r.exit_code = static_cast<int>(Int(o, "exit_code"));
  r.signal = static_cast<int>(Int(o, "signal"));
  r.start_time = Int(o, "start");
  r.end_time = Int(o, "end");
  r.cpu_time_ms = Int(o, "cpu_ms");
  r.max_rss_kb = Int(o, "max_rss_kb");
  r.error = Str(o, "error");
  r.timed_out = Bool(o, "timed_out");
  r.out_of_memory = Bool(o, "out_of_memory");
  return r;
}
json::array ResultsJson(const std::vector<TaskResult>& rs) {
  json::array a;
  a.reserve(rs.size());
  for (const auto& r : rs) a.push_back(ResultJson(r));
  return a;
}
std::vector<TaskResult> ResultsFrom(const json::object& o, const char* key) {
  std::vector<TaskResult> out;
  for (const auto& v : Arr(o, key)) out.push_back(ResultFrom(v));
  return out;
}

json::object LaunchJson(const TaskLaunch& t) {
  json::object o = RefJson(t.ref);
  json::array argv;
  for (const auto& a : t.argv) argv.emplace_back(a);
  o["argv"] = std::move(argv);
  if (!t.script.empty()) o["script"] = t.script;
  o["user"] = t.user;
  o["dir"] = t.working_dir;
  json::object env;
  for (const auto& [k, v] : t.env) env[k] = v;
  o["env"] = std::move(env);
  o["stdout"] = t.stdout_path;
  o["stderr"] = t.stderr_path;
  o["cores"] = t.cores;
  if (t.memory_limit_mb) o["memory_limit_mb"] = t.memory_limit_mb;
  if (t.time_limit_ms) o["time_limit_ms"] = t.time_limit_ms;
  if (!t.gpus.empty()) {
    json::array g;
    for (int i : t.gpus) g.emplace_back(i);
    o["gpus"] = std::move(g);
  }
  if (!t.allocated_nodes.empty()) {
    json::array n;
    for (const auto& name : t.allocated_nodes) n.emplace_back(name);
    o["allocated_nodes"] = std::move(n);
  }
  if (t.signal) {
    o["signal"] = t.signal;
    o["signal_before_ms"] = t.signal_before_ms;
    if (t.signal_batch_only) o["signal_batch_only"] = true;
  }
  if (t.discard_empty_output) o["discard_empty_output"] = true;
  return o;
}
TaskLaunch LaunchFrom(const json::value& v) {
  const auto& o = Obj(v, "task");
  TaskLaunch t;
  t.ref = RefFrom(v);
  for (const auto& a : Arr(o, "argv")) {
    if (!a.is_string()) throw DecodeError{"field 'argv' must hold strings"};
    t.argv.emplace_back(a.as_string());
  }
  t.script = Str(o, "script");
  t.user = Str(o, "user");
  t.working_dir = Str(o, "dir");
  if (auto* env = o.if_contains("env")) {
    for (const auto& [k, val] : Obj(*env, "env")) {
      if (!val.is_string()) throw DecodeError{"field 'env' must hold strings"};
      t.env[std::string(k)] = std::string(val.as_string());
    }
  }
  t.stdout_path = Str(o, "stdout");
  t.stderr_path = Str(o, "stderr");
  t.cores = static_cast<int>(Int(o, "cores", 1));
  t.memory_limit_mb = Int(o, "memory_limit_mb");
  t.time_limit_ms = Int(o, "time_limit_ms");
  for (const auto& g : Arr(o, "gpus")) {
    if (!g.is_int64() && !g.is_uint64()) throw DecodeError{"field 'gpus' must hold GPU indexes"};
    t.gpus.push_back(static_cast<int>(g.to_number<int64_t>()));
  }
  for (const auto& n : Arr(o, "allocated_nodes")) {
    if (!n.is_string()) throw DecodeError{"field 'allocated_nodes' must hold strings"};
    t.allocated_nodes.emplace_back(n.as_string());
  }
  t.signal = static_cast<int>(Int(o, "signal"));
  t.signal_before_ms = Int(o, "signal_before_ms");
  t.signal_batch_only = Bool(o, "signal_batch_only");
  t.discard_empty_output = Bool(o, "discard_empty_output");
  if (t.memory_limit_mb < 0 || t.time_limit_ms < 0 || t.signal < 0 || t.signal >= 65 || t.signal_before_ms < 0) {
    throw DecodeError{"limits and signals must not be negative"};
  }
  return t;
}

}  // namespace

std::string Encode(const AgentMessage& m) {
  json::object o = std::visit(
      Overloaded{
          [](const Hello& h) {
            return json::object{{"type", "hello"},        {"version", h.version},
                                {"hostname", h.hostname}, {"cores", h.cores},
                                {"memory_mb", h.memory_mb}, {"gpus", GpusJson(h.gpus)},
                                {"limits", h.limits},       {"running", Refs(h.running)},
                                {"finished", ResultsJson(h.finished)}};
          },
          [](const Heartbeat& h) {
            return json::object{{"type", "heartbeat"},
                                {"load1", h.load1},
                                {"memory_used_mb", h.memory_used_mb},
                                {"running_tasks", h.running_tasks}};
          },
          [](const Results& r) { return json::object{{"type", "results"}, {"results", ResultsJson(r.results)}}; },
      },
      m);
  return json::serialize(o);
}

std::string Encode(const HeadMessage& m) {
  json::object o = std::visit(
      Overloaded{
          [](const Welcome& w) {
            return json::object{{"type", "welcome"}, {"node", w.node_name}, {"heartbeat_ms", w.heartbeat_ms}};
          },
          [](const HeartbeatAck&) { return json::object{{"type", "heartbeat_ack"}}; },
          [](const StartTasks& s) {
            json::array tasks;
            tasks.reserve(s.tasks.size());
            for (const auto& t : s.tasks) tasks.push_back(LaunchJson(t));
            return json::object{{"type", "start"}, {"tasks", std::move(tasks)}};
          },
          [](const KillTasks& k) { return json::object{{"type", "kill"}, {"tasks", Refs(k.tasks)}}; },
          [](const Ack& a) { return json::object{{"type", "ack"}, {"tasks", Refs(a.tasks)}}; },
      },
      m);
  return json::serialize(o);
}

Result<AgentMessage> DecodeAgentMessage(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  try {
    const auto& o = Obj(v, "message");
    std::string type = Str(o, "type");
    if (type == "hello") {
      Hello h;
      h.version = static_cast<int>(Int(o, "version"));
      h.hostname = Str(o, "hostname");
      h.cores = static_cast<int>(Int(o, "cores"));
      h.memory_mb = Int(o, "memory_mb");
      h.gpus = GpusFrom(o, "gpus");
      h.limits = Str(o, "limits");
      h.running = RefsFrom(o, "running");
      h.finished = ResultsFrom(o, "finished");
      return AgentMessage(std::move(h));
    }
    if (type == "heartbeat") {
      return AgentMessage(Heartbeat{Double(o, "load1"), Int(o, "memory_used_mb"),
                                    static_cast<int>(Int(o, "running_tasks"))});
    }
    if (type == "results") return AgentMessage(Results{ResultsFrom(o, "results")});
    (void)Field(o, "type");
    return InvalidArgument(fmt::format("unknown agent message type '{}'", type));
  } catch (const DecodeError& e) {
    return InvalidArgument("malformed agent message: " + e.message);
  }
}

Result<HeadMessage> DecodeHeadMessage(std::string_view text) {
  ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  try {
    const auto& o = Obj(v, "message");
    std::string type = Str(o, "type");
    if (type == "welcome") {
      return HeadMessage(Welcome{Str(o, "node"), static_cast<int>(Int(o, "heartbeat_ms", 1000))});
    }
    if (type == "heartbeat_ack") return HeadMessage(HeartbeatAck{});
    if (type == "start") {
      StartTasks s;
      for (const auto& t : Arr(o, "tasks")) s.tasks.push_back(LaunchFrom(t));
      return HeadMessage(std::move(s));
    }
    if (type == "kill") return HeadMessage(KillTasks{RefsFrom(o, "tasks")});
    if (type == "ack") return HeadMessage(Ack{RefsFrom(o, "tasks")});
    return InvalidArgument(fmt::format("unknown head node message type '{}'", type));
  } catch (const DecodeError& e) {
    return InvalidArgument("malformed head node message: " + e.message);
  }
}

}  // namespace drover::protocol
