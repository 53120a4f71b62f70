// The processes a multi-node task starts on the nodes it holds. Part of Cluster (cluster.h).
//
// A task with TaskSpec::nodes = N > 1 (-N) is placed by the scheduler on N nodes (its grant on
// each: cores, memory, GPUs; see cluster_scheduling.cpp). Its command runs on the first node, with
// TaskLaunch::allocated_nodes and
//   DROVER_NODELIST        the N node names, its own first, comma-separated
//   DROVER_CORES_PER_NODE  the cores it holds on each node
//   DROVER_TASKS_PER_NODE  --ntasks-per-node (ranks per node), when the job gives it
//   DROVER_EXEC_TOKEN      a secret of this attempt
//   DROVER_HEAD_URL, DROVER_HEAD_CA   where the head node is, and the CA that signed it
// To start a process on another node of its allocation (Open MPI's orted, through `drover
// agent-exec` as its rsh agent), the task asks the head node with its token; the head sends the
// node's agent a launch under the reserved task id kExecTaskId and a fresh attempt number, within
// the task's grant on that node, and keeps its exit status for the asking command to collect. The
// token is valid only while the attempt runs, only for that task's nodes. When the task's process
// ends, its other nodes are freed and every process it started there is killed.
//
// Tokens and processes are kept in memory only: after a head node restart a running multi-node
// task can start no more processes.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/task_expansion.h"
#include "head/cluster.h"
#include "head/credentials.h"

namespace drover::head {

using protocol::TaskLaunch;
using protocol::TaskRef;

namespace {

// A token is a secret: never empty, compared in constant time.
bool SameSecret(const std::string& a, const std::string& b) { return !a.empty() && ConstantTimeEquals(a, b); }

uint64_t ExecId(JobId job, uint32_t attempt) { return (static_cast<uint64_t>(job) << 32) | attempt; }

}  // namespace

void Cluster::AddExecContact(const TaskRef& ref, TaskLaunch& l) {
  std::string token = GenerateToken();
  exec_tokens_[ref] = token;
  std::string list;
  for (const auto& n : l.allocated_nodes) list += (list.empty() ? "" : ",") + n;
  l.env["DROVER_NODELIST"] = list;
  l.env["DROVER_CORES_PER_NODE"] = std::to_string(l.cores);
  if (const Job* job = FindJob(ref.job_id); job && job->spec().task.tasks_per_node > 0) {
    l.env["DROVER_TASKS_PER_NODE"] = std::to_string(job->spec().task.tasks_per_node);
  }
  l.env["DROVER_EXEC_TOKEN"] = token;
  if (!api_url_.empty()) l.env["DROVER_HEAD_URL"] = api_url_;
  if (!ca_pem_.empty()) l.env["DROVER_HEAD_CA"] = ca_pem_;
  spdlog::info("task {}.{} spans {}", ref.job_id, ref.task_id, list);
}

bool Cluster::IsSpanExtra(const TaskRef& ref, int32_t node) const {
  auto it = spans_.find(ref);
  return it != spans_.end() && std::find(it->second.begin(), it->second.end(), node) != it->second.end();
}

void Cluster::EndExecs(const TaskRef& launcher) {
  if (!exec_tokens_.erase(launcher)) return;
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
  if (auto span = spans_.find(owner); span != spans_.end()) {
    for (int32_t idx : span->second) {
      if (nodes_[idx]->record.name == host) node = idx;
    }
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
  l.discard_empty_output = true;
  // Its processes use the task's cores on that node (held with the task's allocation there).
  l.cores = spec.task.CoresPerNode();
  if (auto held = n.allocations.find(owner); held != n.allocations.end()) {
    l.cores = held->second.cores;
    l.memory_limit_mb = held->second.memory_mb;
    for (int g = 0; g < 64; ++g) {
      if ((held->second.gpus >> g) & 1) l.gpus.push_back(g);
    }
  }
  uint64_t id = ExecId(job_id, l.ref.attempt);
  execs_[id] = Exec{owner, node, token, {}};
  Hold(n, l.ref, Allocation{});
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
