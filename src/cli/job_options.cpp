#include "cli/job_options.h"

#include <pwd.h>
#include <unistd.h>

#include <string_view>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/option_checks.h"
#include "common/slurm_formats.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/job_control.h"
#include "common/time_limit.h"
#include "os/files.h"

namespace drover::cli {

void AddJobOptions(CLI::App& app, JobOptions& o) {
  app.add_option("-J,--job-name", o.name, "Name of the job");
  WholeNumber(app.add_option("-n,--ntasks", o.ntasks, "Number of tasks, each running the command"), 1);
  WholeNumber(app.add_option("-c,--cpus-per-task", o.cores, "Cores per task"), 1);
  app.add_option("-o,--output", o.output, "Standard output file (%j job, %t task, %a index, %N node)");
  app.add_option("-e,--error", o.error, "Standard error file (default: with the output)");
  app.add_option("-D,--chdir", o.chdir, "Working directory of the tasks (default: the current one)");
  app.add_option("-a,--array", o.array, "Parametric sweep START-END[:STEP]: one task per index");
  app.add_option("--wrap", o.wrap, "Run this shell command line");
  WholeNumber(app.add_option("--priority", o.priority, "Priority 0-4000 (default 2000)"), 0, 4000);
  WholeNumber(app.add_option("--retries", o.retries, "Requeues after node failures before a task fails (default 3)"), 0);
  app.add_option("--export", o.export_env, "Environment to pass: ALL (default) or NONE");
  app.add_option("-d,--dependency", o.dependency,
                 "Start after other jobs: afterok|afternotok|afterany:ID[:ID...], joined by ',' (all) or '?' (any)");
  app.add_flag("-H,--hold", o.hold, "Submit the job held: it starts only after 'drover release ID'");
  app.add_option("--begin", o.begin, "Start no sooner than HH:MM[:SS], YYYY-MM-DD[THH:MM[:SS]] or now+N[units]");
  app.add_option("--prep", o.prep, "Node preparation: shell command run on each node before the job's tasks there");
  app.add_option("--release", o.release, "Node release: shell command run on each node after the job's tasks there");
  app.add_option("--job-file", o.job_file, "Submit the job spec in this JSON file (task groups and all; see docs/api.md)");
  ResourceOptions& r = o.res;
  app.add_option("--mem", r.mem, "Memory per node, e.g. 4G or 4096 (MB)");
  app.add_option("--mem-per-cpu", r.mem_per_cpu, "Memory per core, e.g. 2G");
  WholeNumber(app.add_option("--gpus", r.gpus, "GPUs per node of each task"), 0);
  WholeNumber(app.add_option("-N,--nodes", r.nodes, "Nodes each task holds (a multi-node allocation)"), 1);
  app.add_flag("--exclusive", r.exclusive, "The task's nodes run nothing else");
  WholeNumber(app.add_option("--ntasks-per-node", r.ntasks_per_node, "Ranks per node of a multi-node task"), 1);
  app.add_option("-p,--partition", r.partition, "Node groups the job may use, A[,B]");
  app.add_option("--constraint", r.constraint, "Node features required: a&b (all), a|b (any)");
  app.add_option("-w,--nodelist", r.nodelist, "Only these nodes, e.g. node[01-04]");
  app.add_option("-x,--exclude", r.exclude, "Never these nodes, e.g. node[05-08]");
  app.add_option("-t,--time", r.time, "Time limit: MIN, MM:SS, HH:MM:SS, D-HH[:MM[:SS]] or infinite");
  app.add_option("--signal", r.signal, "[B:]SIG[@seconds]: send SIG this long (default 60 s) before the time limit");
  app.add_option("--template", r.job_template, "Job template (default: Default)");
}

boost::json::object SubmissionJson(const JobSpec& spec, const JobOptions& o) {
  boost::json::object j = ToJson(spec);
  if (!o.priority) j.erase("priority");
  if (!o.cores) j["task"].as_object().erase("cores");
  return j;
}

void MergeResourceOptions(ResourceOptions& into, const ResourceOptions& from) {
  if (into.mem.empty()) into.mem = from.mem;
  if (into.mem_per_cpu.empty()) into.mem_per_cpu = from.mem_per_cpu;
  if (!into.gpus) into.gpus = from.gpus;
  if (!into.nodes) into.nodes = from.nodes;
  into.exclusive = into.exclusive || from.exclusive;
  if (!into.ntasks_per_node) into.ntasks_per_node = from.ntasks_per_node;
  if (into.partition.empty()) into.partition = from.partition;
  if (into.constraint.empty()) into.constraint = from.constraint;
  if (into.nodelist.empty()) into.nodelist = from.nodelist;
  if (into.exclude.empty()) into.exclude = from.exclude;
  if (into.time.empty()) into.time = from.time;
  if (into.signal.empty()) into.signal = from.signal;
  if (into.job_template.empty()) into.job_template = from.job_template;
}

Result<int64_t> ParseMemorySize(const std::string& text, const std::string& option) {
  auto bad = [&] {
    return InvalidArgument(fmt::format("{} '{}' is not a size such as 4096, 512M, 4G or 1T", option, text));
  };
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return bad();
  size_t pos = 0;
  int64_t n = 0;
  try {
    n = std::stoll(text, &pos);
  } catch (const std::exception&) {
    return bad();
  }
  std::string unit = text.substr(pos);
  if (unit == "B" || unit == "b") unit.clear();  // not a unit sbatch knows either
  int64_t mb = 0;
  if (unit.empty() || unit == "M" || unit == "m" || unit == "MB") {
    mb = n;
  } else if (unit == "K" || unit == "k" || unit == "KB") {
    mb = (n + 1023) / 1024;
  } else if ((unit == "G" || unit == "g" || unit == "GB") && n <= (int64_t{1} << 40)) {
    mb = n * 1024;
  } else if ((unit == "T" || unit == "t" || unit == "TB") && n <= (int64_t{1} << 30)) {
    mb = n * 1024 * 1024;
  } else {
    return bad();
  }
  return mb;
}

Status ApplyResourceOptions(const JobOptions& o, JobSpec& spec) {
  const ResourceOptions& r = o.res;
  TaskSpec& t = spec.task;
  if (!r.mem.empty() && !r.mem_per_cpu.empty()) return InvalidArgument("--mem and --mem-per-cpu exclude each other");
  if (!r.mem.empty()) {
    ASSIGN_OR_RETURN(t.memory_mb, ParseMemorySize(r.mem, "--mem"));
  }
  if (!r.mem_per_cpu.empty()) {
    ASSIGN_OR_RETURN(t.memory_per_core_mb, ParseMemorySize(r.mem_per_cpu, "--mem-per-cpu"));
  }
  if (r.gpus) t.gpus = *r.gpus;
  t.exclusive = r.exclusive;
  // Multi-node tasks, as sbatch reads -N, -n and --ntasks-per-node: the job is one task holding
  // N nodes, and -n counts the ranks it runs across them.
  if (r.nodes || r.ntasks_per_node) {
    if (!o.array.empty()) return InvalidArgument("--array cannot be combined with -N or --ntasks-per-node");
    int ranks = o.ntasks ? static_cast<int>(*o.ntasks) : 0;
    int nodes = r.nodes ? *r.nodes : 0;
    int per_node = r.ntasks_per_node ? *r.ntasks_per_node : 0;
    if (!nodes) nodes = ranks && per_node ? (ranks + per_node - 1) / per_node : 1;
    if (!per_node && ranks) per_node = (ranks + nodes - 1) / nodes;
    if (ranks && per_node && static_cast<int64_t>(per_node) * nodes < ranks) {
      return InvalidArgument(
          fmt::format("-n {} ranks do not fit in -N {} nodes x --ntasks-per-node {}", ranks, nodes, per_node));
    }
    t.nodes = nodes;
    t.tasks_per_node = per_node;
    spec.task_count = 1;
  }
  if (!r.partition.empty()) {
    std::string rest = r.partition;
    size_t pos = 0;
    while (pos <= rest.size()) {
      size_t comma = rest.find(',', pos);
      std::string g = rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (g.empty()) return InvalidArgument(fmt::format("--partition '{}' has an empty node group name", r.partition));
      spec.node_groups.push_back(g);
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  spec.constraint = r.constraint;
  spec.nodelist = r.nodelist;
  spec.exclude = r.exclude;
  spec.job_template = r.job_template;
  if (!r.time.empty()) {
    auto limit = ParseTimeLimit(r.time);
    if (!limit.ok()) return limit.status().WithContext("--time");
    t.time_limit_ms = *limit;
  }
  // Without -t the signal counts back from the limit that applies (a template's or node group's).
  if (!r.signal.empty()) {
    ASSIGN_OR_RETURN(SignalSpec sig, ParseSignal(r.signal));
    t.signal = sig.signal;
    t.signal_before_ms = sig.before_ms;
    t.signal_batch_only = sig.batch_only;
  }
  return ValidateResources(spec);
}

Result<SweepRange> ParseArray(const std::string& text) {
  SweepRange r;
  auto bad = [&] {
    return InvalidArgument(fmt::format("--array '{}' is not START-END[:STEP] (for example 1-100 or 0-99:2)", text));
  };
  try {
    size_t pos = 0;
    r.start = std::stoll(text, &pos);
    if (pos == text.size()) {
      r.end = r.start;
      return r;
    }
    if (text[pos] != '-') return bad();
    std::string rest = text.substr(pos + 1);
    size_t used = 0;
    r.end = std::stoll(rest, &used);
    if (used < rest.size()) {
      if (rest[used] != ':') return bad();
      std::string step = rest.substr(used + 1);
      size_t sused = 0;
      r.step = std::stoll(step, &sused);
      if (sused != step.size()) return bad();
    }
  } catch (const std::exception&) {
    return bad();
  }
  if (r.step < 1) return InvalidArgument(fmt::format("--array '{}': the step must be at least 1", text));
  if (r.end < r.start) return InvalidArgument(fmt::format("--array '{}': the end is before the start", text));
  return r;
}

Result<std::vector<std::string>> SplitWords(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size() &&
                 std::string_view("\"\\$`").find(line[i + 1]) != std::string_view::npos) {
        // Inside double quotes a backslash escapes only " \ $ ` (POSIX); elsewhere it stays.
        cur.push_back(line[++i]);
      } else {
        cur.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur.push_back(line[++i]);
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (quote) return InvalidArgument(fmt::format("unbalanced {} quote", quote));
  if (in_word) out.push_back(std::move(cur));
  return out;
}

Result<std::vector<std::string>> ScriptDirectives(const std::string& script) {
  std::vector<std::string> args;
  size_t pos = 0;
  int line_no = 0;
  while (pos < script.size()) {
    size_t nl = script.find('\n', pos);
    std::string line = script.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? script.size() : nl + 1;
    ++line_no;
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    if (line[first] != '#') break;  // the first command ends the directives, as with #SBATCH
    if (line.compare(first, 7, "#DROVER") != 0) continue;
    if (first + 7 < line.size() && !std::isspace(static_cast<unsigned char>(line[first + 7]))) continue;  // #DROVERX
    auto words = SplitWords(line.substr(first + 7));
    if (!words.ok()) return InvalidArgument(fmt::format("script line {}: {}", line_no, words.status().message()));
    args.insert(args.end(), words->begin(), words->end());
  }
  return args;
}

Result<JobSpec> BuildJobSpec(const JobOptions& o, const std::vector<std::string>& command, const std::string& script,
                             char** environ_ptr) {
  JobSpec spec;
  TaskSpec& t = spec.task;
  if (!o.wrap.empty()) {
    if (!command.empty()) return InvalidArgument("give either --wrap or a command, not both");
    t.argv = {"/bin/sh", "-c", o.wrap};
  } else if (!script.empty()) {
    t.script = script;
    t.argv.assign(command.begin() + (command.empty() ? 0 : 1), command.end());  // the script's arguments
  } else {
    if (command.empty()) return InvalidArgument("no command: give a command after '--', --wrap, or a script");
    t.argv = command;
  }
  spec.name = o.name;
  if (spec.name.empty()) {
    std::string first = !o.wrap.empty() ? "wrap" : command.empty() ? "job" : command[0];
    spec.name = first.substr(first.rfind('/') == std::string::npos ? 0 : first.rfind('/') + 1);
  }
  if (o.ntasks) spec.task_count = *o.ntasks;
  if (o.cores) t.cores = *o.cores;
  if (o.priority) spec.priority = *o.priority;
  if (o.retries) t.max_retries = *o.retries;
  t.stdout_path = o.output;
  t.stderr_path = o.error;
  t.working_dir = os::AbsolutePath(o.chdir.empty() ? "." : o.chdir);
  if (!o.array.empty()) {
    if (o.ntasks && *o.ntasks > 1) return InvalidArgument("--array and --ntasks cannot be combined");
    ASSIGN_OR_RETURN(auto range, ParseArray(o.array));
    spec.sweep = true;
    spec.sweep_start = range.start;
    spec.sweep_end = range.end;
    spec.sweep_step = range.step;
  }
  if (o.export_env == "ALL") {
    for (char** e = environ_ptr; e && *e; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) continue;
      std::string key = kv.substr(0, eq);
      // The task's own identity comes from the cluster, never from the submitter's shell.
      if (key.rfind("DROVER_", 0) == 0) continue;
      t.env[key] = kv.substr(eq + 1);
    }
  } else if (o.export_env != "NONE") {
    return InvalidArgument(fmt::format("--export '{}': use ALL or NONE", o.export_env));
  }
  if (!o.dependency.empty()) {
    auto deps = ParseDependencies(o.dependency);
    if (!deps.ok()) return deps.status().WithContext("--dependency");
    spec.dependencies = std::move(deps->items);
    spec.depend_any = deps->any;
  }
  spec.hold = o.hold;
  if (!o.begin.empty()) {
    ASSIGN_OR_RETURN(spec.begin_time, ParseBeginTime(o.begin, SystemClock().Now()));
  }
  spec.prep_command = o.prep;
  spec.release_command = o.release;
  RETURN_IF_ERROR(ApplyResourceOptions(o, spec));
  if (const passwd* pw = ::getpwuid(::getuid())) spec.owner = pw->pw_name;
  return spec;
}

}  // namespace drover::cli
