// Scheduling policy as a pure function: a snapshot of nodes, running allocations and pending jobs
// goes in, placements come out. No I/O, no clock (the snapshot carries "now"), no shared state;
// unit tested and benchmarked without sockets.
//
// Resources per node: cores, memory (MiB) and GPUs (concrete indices, a bit mask). A task asks for
// `nodes` nodes (1 for an ordinary task) and, on each of them, `cores`, `memory_mb` and `gpus`; an
// exclusive task takes whole nodes. Memory 0 means the task reserves none.
//
// Order: jobs by effective priority (higher first) = priority + fair_share_weight x F(owner), where
// F is the owner's fair-share factor in (0, 1] (see fair_share.h); then FIFO (job id, task id).
// Each task goes to the eligible node with the fewest free cores that still fits it (best fit).
//
// Backfill: the first job (in that order) whose next task fits on some eligible node when it is
// empty but not now is the "top blocked job". It gets a reservation: the earliest time its task
// fits, from the expected ends (start + time limit) of the running allocations and of those placed
// earlier in this pass, on the nodes where that happens first. A lower job's task then starts now
// only if it fits now and does not take, from a reserved node, resources the reservation needs:
// either it ends (now + its time limit) by the reserved start, or the reserved node keeps enough
// for the top job anyway. A task without a limit ends "never" and so never backfills onto a
// reserved node's needed resources. When the reserved start cannot be known (the allocations in the
// way have no limit) nothing passes the top blocked job: strict priority order.
//
// Limits: per user, at most `max_running_jobs` jobs with running tasks and `max_cores` cores in use
// cluster-wide; per node group, the same two limits count only what the user runs on that group's
// nodes. A job held by a limit waits without blocking others.
//
// Backfill looks at most `backfill_depth` jobs past the top blocked job in one pass.
//
// Jobs that cannot run at all on the snapshot's nodes (no eligible node, or none large enough) are
// skipped and do not block.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"

namespace drover::scheduler {

inline constexpr TimeMs kNever = std::numeric_limits<TimeMs>::max();

struct NodeCapacity {
  uint32_t node = 0;  // caller's handle
  std::string name;
  int total_cores = 0;
  int free_cores = 0;
  int64_t total_memory_mb = 0;
  int64_t free_memory_mb = 0;
  int total_gpus = 0;       // indices 0..total_gpus-1 (at most 64)
  uint64_t free_gpus = 0;   // bit i set: GPU index i is free
  std::vector<std::string> groups;    // node groups (Slurm partitions)
  std::vector<std::string> features;  // for --constraint
};

// What one task asks for on each of its nodes.
struct Request {
  int nodes = 1;
  int cores = 1;
  int64_t memory_mb = 0;
  int gpus = 0;
  bool exclusive = false;
};

// Where a job may run. Empty fields do not restrict.
struct Eligibility {
  std::vector<std::string> groups;  // any of these node groups
  std::string constraint;           // feature expression (constraint.h); validated by the caller
  std::vector<std::string> include;  // only these nodes (-w)
  std::vector<std::string> exclude;  // never these nodes (-x)
};

struct PendingJob {
  uint64_t ref = 0;  // caller's handle
  int64_t job_id = 0;
  int priority = 0;
  uint32_t user = 0;         // index into Snapshot::users
  uint32_t eligibility = 0;  // index into Snapshot::eligibility; 0 when that is empty
  Request request;
  TimeMs time_limit_ms = 0;  // resolved by the caller; kNever when unlimited
  bool running = false;      // some task of the job runs already (for the running-jobs limit)
  std::vector<uint32_t> tasks;  // queued task ids, in order; the caller may pass only the first ones
};

// A running task's hold on one node.
struct RunningAllocation {
  uint32_t node_pos = 0;  // index into Snapshot::nodes; allocations on other nodes are left out
  int64_t job_id = 0;
  uint32_t user = 0;
  int cores = 0;
  int64_t memory_mb = 0;
  int gpus = 0;
  TimeMs expected_end = kNever;
};

struct Limits {
  int max_running_jobs = 0;  // per user; 0: no limit
  int max_cores = 0;         // per user; 0: no limit
};

struct Policy {
  double fair_share_weight = 500;  // < 1000 so it never lifts a job past the next HPC Pack priority level
  // Jobs looked at for backfill after the top blocked job (Slurm's bf_max_job_test); the rest
  // wait for the next pass. Keeps a pass short however long the queue.
  size_t backfill_depth = 10'000;
  Limits user_limits;                     // cluster-wide
  std::map<std::string, Limits> group_limits;  // per node group
};

struct User {
  std::string name;
  double fair_share = 1.0;  // F in (0, 1]
};

struct Snapshot {
  TimeMs now = 0;
  std::vector<NodeCapacity> nodes;  // schedulable nodes only
  std::vector<RunningAllocation> running;
  std::vector<PendingJob> queue;  // any order
  std::vector<Eligibility> eligibility;  // [0] must exist and be empty when any job uses 0
  std::vector<User> users;
  Policy policy;
};

struct Grant {
  uint32_t node = 0;  // caller's handle
  int cores = 0;
  int64_t memory_mb = 0;
  std::vector<int> gpus;  // GPU indices on that node
};

struct Placement {
  uint64_t ref = 0;  // the job's handle
  uint32_t task_id = 0;
  std::vector<Grant> grants;  // one per node; the first is where the task starts
};

// Why a job (or the rest of it) still waits after a pass.
enum class WaitReason : uint8_t {
  kNone,          // everything offered was placed
  kResources,     // waiting for resources to free up
  kPriority,      // held back so as not to delay a higher-priority job's reservation
  kNoNode,        // no schedulable node matches its node groups, constraint, node list and exclusions
  kTooLarge,      // eligible nodes exist but none is large enough (cores, memory or GPUs)
  kUserLimit,     // a per-user limit
  kGroupLimit,    // a per-node-group limit
};
const char* ToString(WaitReason r);

struct Outcome {
  std::vector<Placement> placements;
  std::vector<WaitReason> reasons;  // parallel to Snapshot::queue
  // The top blocked job's reservation, when there is one.
  uint64_t reserved_ref = 0;
  TimeMs reserved_start = 0;
};

Outcome Schedule(const Snapshot& snapshot);

}  // namespace drover::scheduler
