// The default local cluster that `drover up` brings up with no template: one head node (SQLite)
// and compute nodes, each a process on this machine with its own state directory.
//
// $DROVER_HOME/
//   context.json              where the CLI finds the head node and its credential
//   local/cluster.json        the cluster's shape: port, node names, cores per node
//   local/head/               the head node's state directory, headnode.log, headnode.pid
//   local/nodes/<name>/       each compute node's state directory, computenode.log, computenode.pid
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace drover::deploy {

struct LocalClusterOptions {
  std::string home;       // $DROVER_HOME
  int nodes = 2;          // used when the cluster is first created
  int cores_per_node = 0; // 0: what the machine has
  int heartbeat_timeout_ms = 10000;
  int wait_timeout_ms = 60000;
};

// Starts whatever part of the local cluster is not running and waits until every node is Online.
// Idempotent: running processes are left alone. Progress lines go to `progress`.
Status LocalUp(const LocalClusterOptions& options, const std::function<void(const std::string&)>& progress);

// Stops every process of the local cluster; keeps its state (and jobs) for the next `up`.
// With `purge`, deletes the state too.
Status LocalDown(const std::string& home, bool purge, const std::function<void(const std::string&)>& progress);

}  // namespace drover::deploy
