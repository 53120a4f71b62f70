#include "head/views.h"

#include <boost/json.hpp>

#include "common/codec.h"

namespace drover::head {
namespace json = boost::json;

json::object JobSummaryJson(const Job& job) {
  const JobRecord& r = job.record();
  json::object counts{{"total", job.size()},
                      {"queued", job.Count(TaskState::kQueued)},
                      {"running", job.Count(TaskState::kRunning)},
                      {"finished", job.Count(TaskState::kFinished)},
                      {"failed", job.Count(TaskState::kFailed)},
                      {"canceled", job.Count(TaskState::kCanceled)}};
  json::object o{{"id", r.id},
                 {"name", r.spec.name},
                 {"owner", r.spec.owner},
                 {"state", ToString(r.state)},
                 {"priority", r.spec.priority},
                 {"submit_time", FormatTime(r.submit_time)},
                 {"start_time", FormatTime(r.start_time)},
                 {"end_time", FormatTime(r.end_time)},
                 {"tasks", std::move(counts)}};
  // Why the job waits, or why the cluster itself ended it.
  std::string reason = job.wait_reason().empty() ? r.spec.cancel_reason : job.wait_reason();
  if (!reason.empty()) o["reason"] = reason;
  return o;
}

json::object JobDetailJson(const Job& job, const std::string& tasks, const Cluster& cluster,
                           const std::vector<TaskRecord>* rows) {
  json::object o = JobSummaryJson(job);
  o["spec"] = ToJson(job.spec());
  bool list = tasks == "all" || (tasks.empty() && job.size() <= 1000);
  if (!list) return o;
  json::array out;
  out.reserve(job.size());
  std::unordered_map<TaskId, const TaskRecord*> by_id;
  if (rows) {
    for (const auto& row : *rows) by_id[row.task_id] = &row;
  }
  for (TaskId id = 1; id <= job.size(); ++id) {
    const Task& t = job.task(id);
    std::string node;
    if (rows) {
      auto it = by_id.find(id);
      if (it != by_id.end()) node = it->second->node;
    } else if (t.node >= 0) {
      node = cluster.NodeName(t.node);
    }
    json::object to{{"task_id", id},
                    {"index", job.spec().IndexOf(id)},
                    {"state", ToString(t.state)},
                    {"attempt", t.attempt},
                    {"node", node},
                    {"exit_code", t.exit_code},
                    {"start_time", FormatTime(t.start_time)},
                    {"end_time", FormatTime(t.end_time)},
                    {"wall_ms", t.end_time && t.start_time ? t.end_time - t.start_time : 0}};
    std::string err = job.Error(id);
    if (!err.empty()) to["error"] = err;
    out.push_back(std::move(to));
  }
  o["task_list"] = std::move(out);
  return o;
}

json::object NodeJson(const Node& n) {
  return json::object{{"name", n.record.name},
                      {"state", ToString(n.record.state)},
                      {"health", ToString(n.health)},
                      {"template", n.record.template_name},
                      {"hostname", n.record.hostname},
                      {"cores", n.record.cores},
                      {"cores_used", n.used_cores},
                      {"memory_mb", n.record.memory_mb},
                      {"connected", n.connected},
                      {"running_tasks", n.allocations.size()},
                      {"load1", n.load.load1},
                      {"joined_time", FormatTime(n.record.joined_time)},
                      {"last_seen", FormatTime(n.record.last_seen)}};
}

}  // namespace drover::head
