// Tasks that span several nodes, and the processes they start on them. Part of Cluster (cluster.h).
//
// A job with JobSpec::nodes = N > 1 runs each task with `task.cores` cores on each of N nodes (a
// "task with an allocation"). The task's command runs on the first node, with
//   DROVER_NODELIST        the N node names, its own first, comma-separated
//   DROVER_CORES_PER_NODE  task.cores
//   DROVER_EXEC_TOKEN      a secret of this attempt
//   DROVER_HEAD_URL, DROVER_HEAD_CA   where the head node is, and the CA that signed it
// and TaskLaunch::allocated_nodes. To start a process on another node of its allocation (Open MPI's
// orted, through `drover agent-exec` as its rsh agent), the task asks the head node with its token;
// the head sends the node's agent a launch under the reserved task id kExecTaskId and a fresh attempt
// number, and keeps its exit status for the asking command to collect. The token is valid only while
// the attempt runs, only for that job's allocated nodes. When the task's process ends, its cores on
// the other nodes are freed and every process it started there is killed.
//
// Spanning tasks are placed before the rest of a scheduling pass, on the first N schedulable nodes
// (in join order) with the cores free. Kept in memory only: after a head node restart a running
// spanning task can start no more processes, and its cores on its other nodes are not counted.
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/task_expansion.h"
#include "head/cluster.h"

namespace drover::head {

using protocol::TaskLaunch;
using protocol::TaskRef;

namespace {

std::string NewToken() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: nothing is safe to do
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

bool SameSecret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

uint64_t ExecId(JobId job, uint32_t attempt) { return (static_cast<uint64_t>(job) << 32) | attempt; }

}  // namespace

void Cluster::ScheduleSpanningTasks() {
  TimeMs now = clock_.Now();
  std::map<int32_t, protocol::StartTasks> starts;
  std::vector<Job*> touched;
  for (const auto& [neg_prio, job_id] : runnable_) {
    Job* job = FindJob(job_id);
    if (!job || job->spec().nodes <= 1 || !job->wait_reason().empty()) continue;
    const int cores = job->spec().task.cores;
    bool placed_any = false;
    while (job->HasQueued()) {
      std::vector<int32_t> chosen;
      for (size_t i = 0; i < nodes_.size() && chosen.size() < job->spec().nodes; ++i) {
        const Node& n = *nodes_[i];
        if (Schedulable(n) && n.record.cores - n.used_cores >= cores) chosen.push_back(static_cast<int32_t>(i));
      }
      if (chosen.size() < job->spec().nodes) break;  // waits for room; jobs behind it may still fit
      TaskId id = *job->NextQueued();
      Task& t = job->task(id);
      job->TakeQueued(id);
      job->SetState(id, TaskState::kRunning);
      ++t.attempt;
      t.node = chosen[0];
      t.start_time = now;
      t.end_time = 0;
      t.exit_code = 0;
      TaskRef ref{job->id(), id, t.attempt};
      std::vector<std::string> names;
      for (int32_t idx : chosen) {
        nodes_[idx]->allocations[ref] = cores;
        nodes_[idx]->used_cores += cores;
        names.push_back(nodes_[idx]->record.name);
      }
      spans_[ref] = std::vector<int32_t>(chosen.begin() + 1, chosen.end());
      std::string token = NewToken();
      exec_tokens_[ref] = token;
      PersistTask(*job, id);
      TaskLaunch l = ExpandTask(job->id(), job->spec(), id, t.attempt, names[0]);
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ",") + n;
      l.env["DROVER_NODELIST"] = list;
      l.env["DROVER_CORES_PER_NODE"] = std::to_string(cores);
      l.env["DROVER_EXEC_TOKEN"] = token;
      if (!api_url_.empty()) l.env["DROVER_HEAD_URL"] = api_url_;
      if (!ca_pem_.empty()) l.env["DROVER_HEAD_CA"] = ca_pem_;
      l.allocated_nodes = names;
      starts[chosen[0]].tasks.push_back(std::move(l));
      ++tasks_dispatched_;
      placed_any = true;
      spdlog::info("task {}.{} spans {}", job->id(), id, list);
    }
    if (placed_any) touched.push_back(job);
  }
  for (Job* job : touched) {
    if (!job->HasQueued()) runnable_.erase({-job->spec().priority, job->id()});
    UpdateJobState(*job);
  }
  if (starts.empty()) return;
  persistence_.AfterCommit([this, starts = std::move(starts)]() mutable {
    for (auto& [idx, msg] : starts) {
      std::erase_if(msg.tasks, [&](const TaskLaunch& l) {
        Job* job = FindJob(l.ref.job_id);
        bool stands = job && job->HasTask(l.ref.task_id) && job->task(l.ref.task_id).state == TaskState::kRunning &&
                      job->task(l.ref.task_id).attempt == l.ref.attempt && job->task(l.ref.task_id).node == idx;
        if (!stands) {
          ReleaseAllocation(*nodes_[idx], l.ref);
          EndSpan(l.ref);
        }
        return !stands;
      });
      if (!msg.tasks.empty()) link_.Send(nodes_[idx]->record.name, std::move(msg));
    }
  });
}

bool Cluster::IsSpanExtra(const TaskRef& ref, int32_t node) const {
  auto it = spans_.find(ref);
  return it != spans_.end() && std::find(it->second.begin(), it->second.end(), node) != it->second.end();
}

void Cluster::EndSpan(const TaskRef& launcher) {
  auto it = spans_.find(launcher);
  if (it == spans_.end()) return;
  for (int32_t idx : it->second) ReleaseAllocation(*nodes_[idx], launcher);
  spans_.erase(it);
  exec_tokens_.erase(launcher);
  std::map<std::string, std::vector<TaskRef>> kills;
  for (auto& [id, e] : execs_) {
    if (e.owner != launcher || e.status.done) continue;
    kills[nodes_[e.node]->record.name].push_back({launcher.job_id, kExecTaskId, static_cast<uint32_t>(id)});
  }
  if (!kills.empty()) {
    persistence_.AfterCommit([this, kills = std::move(kills)] {
      for (const auto& [node, refs] : kills) link_.Send(node, protocol::KillTasks{refs});
    });
  }
  // The statuses stay (a few bytes each) for the commands that may still ask for them.
}

Result<uint64_t> Cluster::StartExec(JobId job_id, TaskId task_id, const std::string& token, const std::string& host,
                                    const std::string& command) {
  Job* job = FindJob(job_id);
  auto denied = [&] {
    return PermissionDenied(fmt::format("task {}.{} is not running with that token", job_id, task_id));
  };
  if (!job || !job->HasTask(task_id)) return denied();
  const Task& t = job->task(task_id);
  TaskRef owner{job_id, task_id, t.attempt};
  auto tok = exec_tokens_.find(owner);
  if (t.state != TaskState::kRunning || tok == exec_tokens_.end() || !SameSecret(tok->second, token)) return denied();
  int32_t node = -1;
  if (nodes_[t.node]->record.name == host) node = t.node;
  for (int32_t idx : spans_[owner]) {
    if (nodes_[idx]->record.name == host) node = idx;
  }
  if (node < 0) {
    return PermissionDenied(fmt::format("node '{}' is not allocated to task {}.{}", host, job_id, task_id));
  }
  Node& n = *nodes_[node];
  if (!n.connected) return Unavailable(fmt::format("node '{}' is not connected", host));
  const JobSpec& spec = job->spec();
  TaskLaunch l;
  l.ref = {job_id, kExecTaskId, job->NextWorkAttempt(clock_.Now())};
  l.user = spec.owner;
  l.argv = {"/bin/sh", "-c", command};
  l.working_dir = spec.task.working_dir.empty() ? "/" : spec.task.working_dir;
  l.env = spec.task.env;
  l.env["DROVER_JOB_ID"] = std::to_string(job_id);
  l.env["DROVER_TASK_ID"] = std::to_string(task_id);
  l.env["DROVER_NODE"] = host;
  std::string dir = l.working_dir.back() == '/' ? l.working_dir : l.working_dir + "/";
  l.stdout_path = fmt::format("{}drover-{}.exec.{}.{}.out", dir, job_id, host, l.ref.attempt);
  l.stderr_path = l.stdout_path;
  l.cores = spec.task.cores;  // its processes use the task's cores on that node (allocated with the span)
  uint64_t id = ExecId(job_id, l.ref.attempt);
  execs_[id] = Exec{owner, node, token, {}};
  n.allocations[l.ref] = 0;
  spdlog::info("task {}.{} starts a process on {}", job_id, task_id, host);
  // Nothing durable changed, but keep the rule: agents hear only what follows a commit.
  persistence_.AfterCommit([this, node, l = std::move(l)]() mutable {
    if (!NodeWorkCurrent(l.ref, node)) {
      ReleaseAllocation(*nodes_[node], l.ref);
      return;
    }
    link_.Send(nodes_[node]->record.name, protocol::StartTasks{{std::move(l)}});
  });
  return id;
}

const Cluster::Exec* Cluster::FindExec(uint64_t id, const std::string& token) const {
  auto it = execs_.find(id);
  if (it == execs_.end() || !SameSecret(it->second.token, token)) return nullptr;
  return &it->second;
}

Result<Cluster::ExecStatus> Cluster::GetExec(uint64_t id, const std::string& token) const {
  const Exec* e = FindExec(id, token);
  if (!e) return NotFound(fmt::format("no process {} with that token", id));
  return e->status;
}

Status Cluster::KillExec(uint64_t id, const std::string& token) {
  const Exec* e = FindExec(id, token);
  if (!e) return NotFound(fmt::format("no process {} with that token", id));
  if (e->status.done) return Status::Ok();
  TaskRef ref{e->owner.job_id, kExecTaskId, static_cast<uint32_t>(id)};
  persistence_.AfterCommit([this, name = nodes_[e->node]->record.name, ref] {
    link_.Send(name, protocol::KillTasks{{ref}});
  });
  return Status::Ok();
}

void Cluster::ApplyExecResult(Node& node, const protocol::TaskResult& r) {
  int32_t idx = node_index_[node.record.name];
  if (!NodeWorkCurrent(r.ref, idx)) return;
  Exec& e = execs_[ExecId(r.ref.job_id, r.ref.attempt)];
  e.status.done = true;
  e.status.exit_code = r.signal ? 128 + r.signal : r.exit_code;
  e.status.error = r.error;
  spdlog::info("process {} of task {}.{} on {} ended: exit code {}", r.ref.attempt, e.owner.job_id,
               e.owner.task_id, node.record.name, e.status.exit_code);
}

}  // namespace drover::head
