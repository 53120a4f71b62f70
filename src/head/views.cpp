#include "head/views.h"

#include <boost/json.hpp>

#include <bit>

#include "common/codec.h"
#include "common/time_limit.h"

namespace drover::head {
namespace json = boost::json;

json::object ResourcesJson(const JobSpec& s) {
  const TaskSpec& t = s.task;
  json::object o{{"nodes", t.NodeCount()},
                 {"cores_per_node", t.CoresPerNode()},
                 {"memory_mb_per_node", t.MemoryPerNodeMb()},
                 {"gpus_per_node", t.gpus},
                 {"exclusive", t.exclusive},
                 {"time_limit", t.time_limit_ms ? FormatTimeLimit(t.time_limit_ms) : std::string("default")}};
  if (!s.node_groups.empty()) o["node_groups"] = json::array(s.node_groups.begin(), s.node_groups.end());
  return o;
}

json::object JobSummaryJson(const Job& job) {
  const JobRecord& r = job.record();
  json::object counts{{"total", job.size()},
                      {"queued", job.Count(TaskState::kQueued)},
                      {"running", job.Count(TaskState::kRunning)},
                      {"finished", job.Count(TaskState::kFinished)},
                      // Every failure; timeout and out_of_memory say how many of them ended so.
                      {"failed", job.Count(TaskState::kFailed) + job.Count(TaskState::kTimeout) +
                                     job.Count(TaskState::kOutOfMemory)},
                      {"canceled", job.Count(TaskState::kCanceled)},
                      {"timeout", job.Count(TaskState::kTimeout)},
                      {"out_of_memory", job.Count(TaskState::kOutOfMemory)}};
  // Why the job may not start yet (held, dependencies, begin time), else why its queued tasks wait
  // for the scheduler, else why the cluster itself ended it.
  std::string reason = !job.hold_reason().empty() ? job.hold_reason()
                       : job.HasQueued()          ? job.wait_reason()
                                                  : r.spec.cancel_reason;
  return json::object{{"id", r.id},
                      {"name", r.spec.name},
                      {"owner", r.spec.owner},
                      {"state", ToString(r.state)},
                      {"priority", r.spec.priority},
                      {"submit_time", FormatTime(r.submit_time)},
                      {"start_time", FormatTime(r.start_time)},
                      {"end_time", FormatTime(r.end_time)},
                      {"tasks", std::move(counts)},
                      {"resources", ResourcesJson(r.spec)},
                      {"reason", reason},
                      {"expected_start", FormatTime(job.HasQueued() ? job.expected_start() : 0)}};
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

json::object NodeJson(const Node& n, const NodeTemplate* t) {
  json::object o = NodeJson(n);
  json::array gpus;
  for (const auto& g : n.gpus) {
    gpus.push_back(json::object{{"index", g.index}, {"name", g.name}, {"uuid", g.uuid}, {"memory_mb", g.memory_mb},
                                {"used", g.index >= 0 && g.index < 64 && ((n.used_gpus >> g.index) & 1) != 0}});
  }
  o["gpus"] = std::move(gpus);
  o["gpus_used"] = n.unknown_gpu_holds ? static_cast<int>(n.gpus.size()) : std::popcount(n.used_gpus);
  o["node_groups"] = t ? json::array(t->node_groups.begin(), t->node_groups.end()) : json::array();
  o["features"] = t ? json::array(t->features.begin(), t->features.end()) : json::array();
  return o;
}

json::object NodeJson(const Node& n) {
  return json::object{{"name", n.record.name},
                      {"limits", n.limits},
                      {"state", ToString(n.record.state)},
                      {"health", ToString(n.health)},
                      {"template", n.record.template_name},
                      {"hostname", n.record.hostname},
                      {"cores", n.record.cores},
                      {"cores_used", n.used_cores},
                      {"memory_mb", n.record.memory_mb},
                      {"memory_used_mb", n.used_memory_mb},
                      {"connected", n.connected},
                      {"running_tasks", n.allocations.size()},
                      {"load1", n.load.load1},
                      {"joined_time", FormatTime(n.record.joined_time)},
                      {"last_seen", FormatTime(n.record.last_seen)}};
}

}  // namespace drover::head
