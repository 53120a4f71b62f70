#include "cli/commands.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/api_client.h"
#include "common/codec.h"
#include "net/http.h"
#include "os/files.h"

extern char** environ;

namespace drover::cli {
namespace json = boost::json;

int Fail(const std::string& message) {
  std::fprintf(stderr, "drover: %s\n", message.c_str());
  return 1;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size());
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

namespace {

std::string Str(const json::value& v, const char* key) {
  auto* f = v.as_object().if_contains(key);
  if (!f) return "";
  if (f->is_string()) return std::string(f->as_string());
  return json::serialize(*f);
}


Result<std::string> ReadScript(const std::string& path) {
  auto text = os::ReadFile(path);
  if (!text.ok()) return text.status();
  return *text;
}

}  // namespace

namespace {
// A job spec from a JSON file; a relative or missing working directory is relative to the current
// one.
Result<JobSpec> JobSpecFromFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto text, os::ReadFile(path));
  auto v = ParseJson(text);
  if (!v.ok()) return v.status().WithContext(path);
  auto spec = JobSpecFromJson(*v);
  if (!spec.ok()) return spec.status().WithContext(path);
  if (spec->task.working_dir.empty() || spec->task.working_dir[0] != '/') {
    spec->task.working_dir = os::AbsolutePath(spec->task.working_dir.empty() ? "." : spec->task.working_dir);
  }
  // Like a job from flags, it runs as the user who submits it unless the file says otherwise.
  if (spec->owner.empty()) {
    if (const passwd* pw = ::getpwuid(::getuid())) spec->owner = pw->pw_name;
  }
  return spec;
}
}  // namespace

int SubmitCommand(const JobOptions& options, const std::vector<std::string>& args, bool explicit_command, bool json) {
  JobOptions o = options;
  if (!o.job_file.empty()) {
    if (!args.empty() || !o.wrap.empty()) return Fail("give either --job-file or a command, not both");
    auto spec = JobSpecFromFile(o.job_file);
    if (!spec.ok()) return Fail(spec.status().message());
    auto api = ApiClient::FromContext();
    if (!api.ok()) return Fail(api.status().message());
    auto resp = api->Post("/api/v1/jobs", ToJson(*spec));
    if (!resp.ok()) return Fail(resp.status().message());
    std::cout << (json ? json::serialize(*resp) : Str(*resp, "id")) << "\n";
    return 0;
  }
  std::string script;
  // A single path without '--' is a batch script: its #DROVER lines are read like #SBATCH lines,
  // and options on the command line win over them.
  if (!explicit_command && o.wrap.empty() && !args.empty() && os::Exists(args[0]) && ::access(args[0].c_str(), R_OK) == 0) {
    auto text = ReadScript(args[0]);
    if (!text.ok()) return Fail(text.status().message());
    script = *text;
    auto directives = ScriptDirectives(script);
    if (!directives.ok()) return Fail(fmt::format("{}: {}", args[0], directives.status().message()));
    JobOptions from_script;
    CLI::App parser("#DROVER");
    parser.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    AddJobOptions(parser, from_script);
    std::vector<std::string> reversed(directives->rbegin(), directives->rend());
    try {
      parser.parse(reversed);
    } catch (const CLI::ParseError& e) {
      return Fail(fmt::format("{}: #DROVER line: {}", args[0], e.what()));
    }
    // Command-line values override the script's.
    if (o.name.empty()) o.name = from_script.name;
    if (!o.ntasks) o.ntasks = from_script.ntasks;
    if (!o.cores) o.cores = from_script.cores;
    if (o.output.empty()) o.output = from_script.output;
    if (o.error.empty()) o.error = from_script.error;
    if (o.chdir.empty()) o.chdir = from_script.chdir;
    if (o.array.empty()) o.array = from_script.array;
    if (!o.priority) o.priority = from_script.priority;
    if (!o.retries) o.retries = from_script.retries;
    MergeResourceOptions(o.res, from_script.res);
    if (o.dependency.empty()) o.dependency = from_script.dependency;
    o.hold = o.hold || from_script.hold;
    if (o.begin.empty()) o.begin = from_script.begin;
    if (o.prep.empty()) o.prep = from_script.prep;
    if (o.release.empty()) o.release = from_script.release;
    if (o.name.empty()) {
      std::string base = args[0].substr(args[0].rfind('/') == std::string::npos ? 0 : args[0].rfind('/') + 1);
      o.name = base;
    }
  }
  auto spec = BuildJobSpec(o, args, script, environ);
  if (!spec.ok()) return Fail(spec.status().message());
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Post("/api/v1/jobs", SubmissionJson(*spec, o));
  if (!resp.ok()) return Fail(resp.status().message());
  if (json) {
    std::cout << json::serialize(*resp) << "\n";
  } else {
    std::cout << Str(*resp, "id") << "\n";
  }
  return 0;
}

int QueueCommand(bool all, bool as_json) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Get(all ? "/api/v1/jobs?all=1" : "/api/v1/jobs");
  if (!resp.ok()) return Fail(resp.status().message());
  if (as_json) {
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"JOBID", "NAME", "OWNER", "STATE", "PRIO", "TASKS", "QUEUED",
                                                  "RUNNING", "DONE", "FAILED", "TIME_LIMIT", "SUBMITTED", "REASON"}};
  for (const auto& j : resp->at("jobs").as_array()) {
    const auto& t = j.at("tasks");
    std::string limit = "-", reason = Str(j, "reason");
    if (auto* r = j.as_object().if_contains("resources"); r && r->is_object()) limit = Str(*r, "time_limit");
    // The reason's first word (Resources, Priority, TooLarge, ...), as squeue prints it.
    if (auto colon = reason.find(':'); colon != std::string::npos) reason = reason.substr(0, colon);
    rows.push_back({Str(j, "id"), Str(j, "name"), Str(j, "owner"), Str(j, "state"), Str(j, "priority"),
                    Str(t, "total"), Str(t, "queued"), Str(t, "running"), Str(t, "finished"), Str(t, "failed"), limit,
                    Str(j, "submit_time"), reason.empty() ? "-" : reason});
  }
  PrintTable(rows);
  return 0;
}

int JobShowCommand(const std::string& id, bool tasks, bool as_json) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Get(fmt::format("/api/v1/jobs/{}{}", id, tasks ? "?tasks=all" : ""));
  if (!resp.ok()) return Fail(resp.status().message());
  if (as_json) {
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  const auto& j = *resp;
  const auto& t = j.at("tasks");
  std::cout << fmt::format("Job {}  {}\n", Str(j, "id"), Str(j, "name"));
  std::cout << fmt::format("  State:     {}\n  Owner:     {}\n  Priority:  {}\n", Str(j, "state"), Str(j, "owner"),
                           Str(j, "priority"));
  if (!Str(j, "reason").empty()) std::cout << fmt::format("  Reason:    {}\n", Str(j, "reason"));
  if (const auto* spec = j.as_object().if_contains("spec"); spec && spec->is_object()) {
    if (!Str(*spec, "dependency").empty()) std::cout << fmt::format("  Depends:   {}\n", Str(*spec, "dependency"));
    if (auto* begin = spec->as_object().if_contains("begin_time"); begin && begin->is_int64()) {
      std::cout << fmt::format("  Begin:     {}\n", FormatTime(begin->as_int64()));
    }
  }
  std::cout << fmt::format("  Submitted: {}\n  Started:   {}\n  Ended:     {}\n", Str(j, "submit_time"),
                           Str(j, "start_time"), Str(j, "end_time"));
  std::cout << fmt::format("  Tasks:     {} total, {} queued, {} running, {} finished, {} failed, {} canceled\n",
                           Str(t, "total"), Str(t, "queued"), Str(t, "running"), Str(t, "finished"),
                           Str(t, "failed"), Str(t, "canceled"));
  if (auto* r = j.as_object().if_contains("resources"); r && r->is_object()) {
    std::cout << fmt::format("  Resources: {} node(s) x {} cores, {} MB, {} GPUs{}; time limit {}\n", Str(*r, "nodes"),
                             Str(*r, "cores_per_node"), Str(*r, "memory_mb_per_node"), Str(*r, "gpus_per_node"),
                             Str(*r, "exclusive") == "true" ? ", exclusive" : "", Str(*r, "time_limit"));
  }
  if (!Str(j, "reason").empty()) std::cout << fmt::format("  Waiting:   {}\n", Str(j, "reason"));
  if (!Str(j, "expected_start").empty()) std::cout << fmt::format("  Expected:  {}\n", Str(j, "expected_start"));
  if (auto* list = j.as_object().if_contains("task_list")) {
    std::vector<std::vector<std::string>> rows = {
        {"TASK", "INDEX", "STATE", "ATTEMPT", "NODE", "EXIT", "START", "WALL_MS", "ERROR"}};
    for (const auto& x : list->as_array()) {
      rows.push_back({Str(x, "task_id"), Str(x, "index"), Str(x, "state"), Str(x, "attempt"), Str(x, "node"),
                      Str(x, "exit_code"), Str(x, "start_time"), Str(x, "wall_ms"), Str(x, "error")});
    }
    PrintTable(rows);
  }
  return 0;
}

int JobWaitCommand(const std::string& id) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  for (;;) {
    auto resp = api->Get(fmt::format("/api/v1/jobs/{}/wait?timeout_ms=20000", id), 30000);
    if (!resp.ok()) return Fail(resp.status().message());
    std::string state = Str(*resp, "state");
    if (state == "Finished") return 0;
    if (state == "Failed" || state == "Canceled") {
      std::fprintf(stderr, "drover: job %s %s\n", id.c_str(), state.c_str());
      return 1;
    }
  }
}

int CancelCommand(const std::vector<std::string>& ids) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  int rc = 0;
  for (const auto& id : ids) {
    auto resp = api->Post(fmt::format("/api/v1/jobs/{}/cancel", id), json::object{});
    if (!resp.ok()) {
      rc = Fail(fmt::format("cannot cancel job {}: {}", id, resp.status().message()));
    } else {
      std::cout << fmt::format("job {} canceled\n", id);
    }
  }
  return rc;
}

int JobControlCommand(const std::string& action, const std::vector<std::string>& ids) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  int rc = 0;
  for (const auto& id : ids) {
    auto resp = api->Post(fmt::format("/api/v1/jobs/{}/{}", net::PercentEncode(id), action), json::object{});
    if (!resp.ok()) {
      rc = Fail(fmt::format("cannot {} job {}: {}", action, id, resp.status().message()));
      continue;
    }
    std::string reason = Str(*resp, "reason");
    std::cout << fmt::format("job {}: {}{}\n", id, Str(*resp, "state"), reason.empty() ? "" : " (" + reason + ")");
  }
  return rc;
}

int NodesCommand(bool as_json) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Get("/api/v1/nodes");
  if (!resp.ok()) return Fail(resp.status().message());
  if (as_json) {
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "STATE", "HEALTH", "TEMPLATE", "CORES", "USED", "MEMORY_MB",
                                                  "MEM_USED", "GPUS", "GROUPS", "TASKS", "HOSTNAME", "LAST_SEEN"}};
  std::vector<std::string> unenforced;
  for (const auto& n : resp->at("nodes").as_array()) {
    std::string gpus = "0";
    if (auto* g = n.as_object().if_contains("gpus"); g && g->is_array()) {
      gpus = fmt::format("{}/{}", Str(n, "gpus_used"), g->as_array().size());
    }
    std::string groups;
    if (auto* g = n.as_object().if_contains("node_groups"); g && g->is_array()) {
      for (const auto& e : g->as_array()) groups += (groups.empty() ? "" : ",") + std::string(e.as_string());
    }
    rows.push_back({Str(n, "name"), Str(n, "state"), Str(n, "health"), Str(n, "template"), Str(n, "cores"),
                    Str(n, "cores_used"), Str(n, "memory_mb"), Str(n, "memory_used_mb"), gpus,
                    groups.empty() ? "-" : groups, Str(n, "running_tasks"), Str(n, "hostname"), Str(n, "last_seen")});
    if (Str(n, "limits").rfind("not enforced", 0) == 0) unenforced.push_back(Str(n, "name"));
  }
  PrintTable(rows);
  if (!unenforced.empty()) {
    std::string names;
    for (const auto& u : unenforced) names += (names.empty() ? "" : ", ") + u;
    std::cout << fmt::format("note: memory and core limits are not enforced on {} (no usable cgroups; see "
                             "'drover nodes --json')\n", names);
  }
  return 0;
}

int NodeActionCommand(const std::string& action, const std::string& name, const std::string& template_name) {
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  json::object body;
  if (!template_name.empty()) body["template"] = template_name;
  auto resp = api->Post(fmt::format("/api/v1/nodes/{}/{}", net::PercentEncode(name), action), body);
  if (!resp.ok()) return Fail(resp.status().message());
  std::cout << fmt::format("node {}: {}\n", name, Str(*resp, "state"));
  return 0;
}

}  // namespace drover::cli
