// The agent protocol: JSON messages over one WebSocket per compute node, on mutual TLS.
// Every message is an object with "type"; the agent's first message is "hello" with the protocol
// version. Results carry the attempt number they belong to: the head ignores results whose
// attempt is not the task's current one (fencing), and acknowledges every result it has
// committed so the agent can forget it.
//
//   agent -> head: hello, heartbeat, results
//   head -> agent: welcome, heartbeat_ack, start, kill, ack
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace drover::protocol {

inline constexpr int kVersion = 1;

struct TaskRef {
  JobId job_id = 0;
  TaskId task_id = 0;
  uint32_t attempt = 0;
  bool operator==(const TaskRef&) const = default;
  auto operator<=>(const TaskRef&) const = default;
};

// A GPU of a compute node, as the driver numbers it.
struct GpuInfo {
  int index = 0;
  std::string name;
  std::string uuid;
  int64_t memory_mb = 0;
  bool operator==(const GpuInfo&) const = default;
};

// A task ready to run: every pattern already expanded by the head node.
struct TaskLaunch {
  TaskRef ref;
  std::string user;  // the job's owner: the Unix user the task runs as when the agent is root
  std::vector<std::string> argv;
  std::string script;
  std::string working_dir;
  std::map<std::string, std::string> env;
  std::string stdout_path;
  std::string stderr_path;
  int cores = 1;
  int64_t memory_limit_mb = 0;  // 0: none; the task's memory per node, enforced through its cgroup
  int64_t time_limit_ms = 0;    // 0: none; the agent ends the task at the limit (SIGTERM, then SIGKILL)
  std::vector<int> gpus;        // GPU indices on this node granted to the task (CUDA_VISIBLE_DEVICES)
  // Every node the task holds, this one first (several for a multi-node task, -N).
  std::vector<std::string> allocated_nodes;
  // A signal sent signal_before_ms before the time limit (0: none); to the batch shell only when
  // signal_batch_only, else to the task's whole process group.
  int signal = 0;
  int64_t signal_before_ms = 0;
  bool signal_batch_only = false;
  // Output Drover named for itself (a node's preparation, a process a task started on another
  // node): stdout_path is removed when the process succeeded and wrote nothing to it.
  bool discard_empty_output = false;
};

struct TaskResult {
  TaskRef ref;
  int exit_code = 0;
  int signal = 0;
  TimeMs start_time = 0;
  TimeMs end_time = 0;
  int64_t cpu_time_ms = 0;
  int64_t max_rss_kb = 0;
  std::string error;  // the task could not be started, or was killed; empty otherwise
  bool timed_out = false;      // ended by the agent at its time limit
  bool out_of_memory = false;  // the kernel killed it at its memory limit
};

struct Hello {
  int version = kVersion;
  std::string hostname;
  int cores = 0;
  int64_t memory_mb = 0;
  std::vector<TaskRef> running;
  std::vector<TaskResult> finished;  // results not yet acknowledged
  std::vector<GpuInfo> gpus;
  std::string limits;  // how task limits are enforced ("cgroup v1 (...)"), or why they are not
};

struct Heartbeat {
  double load1 = 0;
  int64_t memory_used_mb = 0;
  int running_tasks = 0;
};

struct Results {
  std::vector<TaskResult> results;
};

struct Welcome {
  std::string node_name;
  int heartbeat_ms = 1000;
};

struct HeartbeatAck {};

struct StartTasks {
  std::vector<TaskLaunch> tasks;
};

struct KillTasks {
  std::vector<TaskRef> tasks;
};

struct Ack {
  std::vector<TaskRef> tasks;
};

using AgentMessage = std::variant<Hello, Heartbeat, Results>;
using HeadMessage = std::variant<Welcome, HeartbeatAck, StartTasks, KillTasks, Ack>;

std::string Encode(const AgentMessage& m);
std::string Encode(const HeadMessage& m);
Result<AgentMessage> DecodeAgentMessage(std::string_view text);
Result<HeadMessage> DecodeHeadMessage(std::string_view text);

}  // namespace drover::protocol
