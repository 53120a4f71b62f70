#include "common/task_expansion.h"

namespace drover {

std::string SubstituteSweepIndex(const std::string& arg, int64_t index) {
  std::string out;
  std::string idx = std::to_string(index);
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] == '\\' && i + 1 < arg.size() && arg[i + 1] == '*') {
      out.push_back('*');
      ++i;
    } else if (arg[i] == '*') {
      out += idx;
    } else {
      out.push_back(arg[i]);
    }
  }
  return out;
}

std::string ExpandFilePattern(const std::string& pattern, JobId job_id, TaskId task_id, int64_t index,
                              const std::string& node_name) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%' || i + 1 == pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    char c = pattern[++i];
    switch (c) {
      case 'j':
      case 'A': out += std::to_string(job_id); break;
      case 't': out += std::to_string(task_id); break;
      case 'a': out += std::to_string(index); break;
      case 'N': out += node_name; break;
      case '%': out.push_back('%'); break;
      default:
        out.push_back('%');
        out.push_back(c);
    }
  }
  return out;
}

namespace {
std::string Absolute(const std::string& path, const std::string& dir) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return dir.back() == '/' ? dir + path : dir + "/" + path;
}
}  // namespace

protocol::TaskLaunch ExpandTask(JobId job_id, const JobSpec& spec, TaskId task_id, uint32_t attempt,
                                const std::string& node_name) {
  const TaskSpec& t = spec.task;
  int64_t index = spec.IndexOf(task_id);
  protocol::TaskLaunch l;
  l.ref = {job_id, task_id, attempt};
  l.user = spec.owner;
  const TaskGroup* group = spec.groups.empty() ? nullptr : &spec.groups[spec.GroupOf(task_id)];
  const auto& argv = group && !group->argv.empty() ? group->argv : t.argv;
  l.argv.reserve(argv.size());
  for (const auto& a : argv) l.argv.push_back(spec.sweep ? SubstituteSweepIndex(a, index) : a);
  l.script = group && !group->argv.empty() ? "" : t.script;  // a group's own command replaces a script
  l.working_dir = t.working_dir.empty() ? "/" : t.working_dir;
  l.env = t.env;
  l.env["DROVER_JOB_ID"] = std::to_string(job_id);
  l.env["DROVER_TASK_ID"] = std::to_string(task_id);
  l.env["DROVER_TASK_INDEX"] = std::to_string(index);
  l.env["DROVER_NODE"] = node_name;
  l.env["DROVER_ATTEMPT"] = std::to_string(attempt);
  l.env["DROVER_CORES"] = std::to_string(t.cores);
  if (group) l.env["DROVER_TASK_GROUP"] = group->name;
  std::string out = t.stdout_path;
  if (out.empty()) out = spec.sweep ? "drover-%j_%a.out" : spec.TotalTasks() > 1 ? "drover-%j_%t.out" : "drover-%j.out";
  std::string err = t.stderr_path.empty() ? out : t.stderr_path;
  l.stdout_path = Absolute(ExpandFilePattern(out, job_id, task_id, index, node_name), l.working_dir);
  l.stderr_path = Absolute(ExpandFilePattern(err, job_id, task_id, index, node_name), l.working_dir);
  l.cores = t.cores;
  // What the task holds on this node as the spec asks for it; the head's placement replaces the
  // limits with its grant (exclusive nodes, default time limits).
  l.memory_limit_mb = t.MemoryPerNodeMb();
  l.time_limit_ms = t.time_limit_ms > 0 ? t.time_limit_ms : 0;
  l.signal = t.signal;
  l.signal_before_ms = t.signal_before_ms;
  l.signal_batch_only = t.signal_batch_only;
  l.allocated_nodes = {node_name};
  if (l.memory_limit_mb) l.env["DROVER_MEM_MB"] = std::to_string(l.memory_limit_mb);
  return l;
}

}  // namespace drover
