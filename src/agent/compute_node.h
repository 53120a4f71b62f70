// `drover computenode`: joins the cluster once, then keeps a connection to the head node and runs
// the tasks it is given.
//
// <state>/
//   node.key node.crt ca.crt   its credential, from the join (key 0600)
//   name                       the node name it joined as
//   tasks/ results/ scripts/   see task_runner.h
#pragma once

#include <cstdint>
#include <string>

namespace drover::agent {

struct ComputeNodeConfig {
  std::string state_dir;
  std::string head_url;    // https://host:port
  std::string name;        // default: the host name
  std::string token;       // join token (only needed before the first join)
  std::string ca_file;     // the cluster CA certificate (only needed before the first join)
  std::string node_template;  // asked for at the join; the template must approve joining nodes
  int cores = 0;           // 0: detect
  int64_t memory_mb = 0;   // 0: detect
  int kill_grace_ms = 3000;  // SIGTERM, then SIGKILL this long after
  std::string cgroup_root = "/sys/fs/cgroup";  // where cgroups are mounted (v1 or v2); "" : none
  int64_t task_pids_max = 0;                   // per-task process limit; 0: none
  int fake_gpus = -1;  // >= 0: report this many made-up GPUs instead of detecting (for testing)
};

// Exit codes: 0 stopped by a signal; 1 bad configuration; 2 join refused; 3 connection refused by
// the head node (certificate not accepted).
int RunComputeNode(const ComputeNodeConfig& config);

}  // namespace drover::agent
