#include "head/accounting.h"

#include <algorithm>

#include <boost/json.hpp>

namespace drover::head {
namespace json = boost::json;
namespace {

// Higher is worse: the job shows its worst task.
int Severity(TaskState s) {
  switch (s) {
    case TaskState::kCanceled: return 5;
    case TaskState::kFailed: return 4;
    case TaskState::kOutOfMemory: return 3;
    case TaskState::kTimeout: return 2;
    case TaskState::kFinished: return 1;
    default: return 0;
  }
}

double HoursInside(const AccountingRecord& r, TimeMs start, TimeMs end) {
  TimeMs from = std::max(r.start_time, start);
  TimeMs to = end > 0 ? std::min(r.end_time, end) : r.end_time;
  return to > from ? static_cast<double>(to - from) / 3'600'000.0 : 0.0;
}

void Add(Usage& u, const AccountingRecord& r, TimeMs start, TimeMs end) {
  double h = HoursInside(r, start, end);
  u.jobs.insert(r.job_id);
  ++u.tasks;
  u.core_hours += h * r.cores;
  u.gpu_hours += h * r.gpus;
  u.cpu_hours += static_cast<double>(r.cpu_time_ms) / 3'600'000.0;
}

json::array Names(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

}  // namespace

std::vector<JobAccounting> SummarizeJobs(const std::vector<AccountingRecord>& records) {
  std::map<JobId, JobAccounting> jobs;
  std::map<JobId, std::map<TaskId, const AccountingRecord*>> last;  // each task's last attempt
  for (const auto& r : records) {
    JobAccounting& j = jobs[r.job_id];
    if (j.steps.empty()) {
      j.job_id = r.job_id;
      j.job_name = r.job_name;
      j.owner = r.owner;
      j.group = r.group;
      j.cores = r.cores;
      j.gpus = r.gpus;
      j.memory_limit_mb = r.memory_limit_mb;
      j.time_limit_ms = r.time_limit_ms;
      j.submit_time = r.submit_time;
      j.start_time = r.start_time;
    }
    j.steps.push_back(r);
    if (r.start_time && (j.start_time == 0 || r.start_time < j.start_time)) j.start_time = r.start_time;
    j.end_time = std::max(j.end_time, r.end_time);
    j.cpu_time_ms += r.cpu_time_ms;
    j.max_rss_kb = std::max(j.max_rss_kb, r.max_rss_kb);
    if (!r.node.empty() && std::find(j.nodes.begin(), j.nodes.end(), r.node) == j.nodes.end()) j.nodes.push_back(r.node);
    auto& prev = last[r.job_id][r.task_id];
    if (!prev || r.attempt >= prev->attempt) prev = &r;
  }
  std::vector<JobAccounting> out;
  for (auto& [id, j] : jobs) {
    std::sort(j.nodes.begin(), j.nodes.end());
    int worst = 0;
    for (const auto& [task, r] : last[id]) {
      ++j.tasks;
      j.exit_code = std::max(j.exit_code, r->exit_code);
      if (Severity(r->state) > worst) {
        worst = Severity(r->state);
        j.state = r->state;
      }
    }
    out.push_back(std::move(j));
  }
  return out;
}

UsageReport Report(const std::vector<AccountingRecord>& records, TimeMs start, TimeMs end) {
  std::map<std::string, Usage> users, groups;
  UsageReport out;
  out.total.name = "total";
  for (const auto& r : records) {
    Usage& u = users[r.owner];
    u.name = r.owner;
    Add(u, r, start, end);
    Usage& g = groups[r.group];
    g.name = r.group;
    Add(g, r, start, end);
    Add(out.total, r, start, end);
  }
  for (auto& [_, u] : users) out.users.push_back(std::move(u));
  for (auto& [_, g] : groups) out.groups.push_back(std::move(g));
  return out;
}

json::object ToJson(const AccountingRecord& r) {
  return json::object{{"job_id", r.job_id},
                      {"task_id", r.task_id},
                      {"attempt", r.attempt},
                      {"job_name", r.job_name},
                      {"user", r.owner},
                      {"group", r.group},
                      {"node", r.node},
                      {"state", ToString(r.state)},
                      {"exit_code", r.exit_code},
                      {"cores", r.cores},
                      {"gpus", r.gpus},
                      {"memory_limit_mb", r.memory_limit_mb},
                      {"time_limit_ms", r.time_limit_ms},
                      {"submit_ms", r.submit_time},
                      {"start_ms", r.start_time},
                      {"end_ms", r.end_time},
                      {"elapsed_ms", r.end_time > r.start_time && r.start_time ? r.end_time - r.start_time : 0},
                      {"cpu_time_ms", r.cpu_time_ms},
                      {"max_rss_kb", r.max_rss_kb},
                      {"error", r.error}};
}

json::object ToJson(const JobAccounting& j) {
  json::array steps;
  for (const auto& s : j.steps) steps.push_back(ToJson(s));
  return json::object{{"job_id", j.job_id},
                      {"job_name", j.job_name},
                      {"user", j.owner},
                      {"group", j.group},
                      {"state", ToString(j.state)},
                      {"exit_code", j.exit_code},
                      {"tasks", j.tasks},
                      {"cores", j.cores},
                      {"gpus", j.gpus},
                      {"memory_limit_mb", j.memory_limit_mb},
                      {"time_limit_ms", j.time_limit_ms},
                      {"submit_ms", j.submit_time},
                      {"start_ms", j.start_time},
                      {"end_ms", j.end_time},
                      {"elapsed_ms", j.end_time > j.start_time && j.start_time ? j.end_time - j.start_time : 0},
                      {"cpu_time_ms", j.cpu_time_ms},
                      {"max_rss_kb", j.max_rss_kb},
                      {"nodes", Names(j.nodes)},
                      {"steps", std::move(steps)}};
}

json::object ToJson(const Usage& u) {
  return json::object{{"name", u.name},
                      {"jobs", u.jobs.size()},
                      {"tasks", u.tasks},
                      {"core_hours", u.core_hours},
                      {"gpu_hours", u.gpu_hours},
                      {"cpu_hours", u.cpu_hours}};
}

}  // namespace drover::head
