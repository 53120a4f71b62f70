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
  // Every node of the task's allocation, its own first, when it spans several; empty otherwise.
  std::vector<std::string> allocated_nodes;
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
};

struct Hello {
  int version = kVersion;
  std::string hostname;
  int cores = 0;
  int64_t memory_mb = 0;
  std::vector<TaskRef> running;
  std::vector<TaskResult> finished;  // results not yet acknowledged
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
