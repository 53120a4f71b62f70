// Scheduling policy as a pure function: a snapshot of nodes and pending tasks goes in, placements
// come out. No I/O, no clock, no shared state; unit tested and benchmarked without sockets.
//
// Policy: tasks are taken in priority order (higher first), then FIFO (job id, then task id).
// Each task goes to the node with the fewest free cores that still fits it (best fit), which packs
// work onto as few nodes as possible. A task that does not fit anywhere now, but would fit on
// some node when it is empty, blocks every task behind it (strict order, no backfill yet). A task
// larger than every node is skipped: it cannot run on this cluster as it is.
#pragma once

#include <cstdint>
#include <vector>

namespace drover::scheduler {

struct NodeCapacity {
  uint32_t node = 0;      // caller's handle
  int total_cores = 0;
  int free_cores = 0;
};

struct PendingTask {
  uint64_t ref = 0;       // caller's handle
  int priority = 0;
  int64_t job_id = 0;
  uint32_t task_id = 0;
  int cores = 1;
  std::vector<uint32_t> excluded_nodes;  // caller's node handles this task must not be placed on
};

struct Snapshot {
  std::vector<NodeCapacity> nodes;  // schedulable nodes only
  std::vector<PendingTask> queue;   // any order
};

struct Placement {
  uint64_t ref = 0;
  uint32_t node = 0;
};

std::vector<Placement> Schedule(const Snapshot& snapshot);

}  // namespace drover::scheduler
