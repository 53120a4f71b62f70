// The head node's scheduling settings, kept as the cluster property "scheduler" (JSON):
//
//   {"default_time_limit": "1-00:00:00",          // for tasks without -t; "infinite" (the default)
//    "fair_share": {"half_life": "7-00:00:00", "weight": 500, "gpu_weight": 8},
//    "user_limits": {"max_running_jobs": 20, "max_cores": 512},   // per user, cluster-wide
//    "node_groups": {"gpu": {"default_time_limit": "4:00:00",     // per node group
//                            "max_running_jobs": 2, "max_cores": 64}}}
//
// Times use Slurm's notation (time_limit.h). Every field is optional; 0 limits do not limit.
#pragma once

#include <map>
#include <string>

#include <boost/json/fwd.hpp>

#include "common/status.h"
#include "scheduler/fair_share.h"
#include "scheduler/scheduler.h"

namespace drover::head {

struct NodeGroupConfig {
  int64_t default_time_limit_ms = 0;  // 0: the cluster's default
  scheduler::Limits limits;           // per user, counting only what runs on this group's nodes
};

struct SchedulingConfig {
  int64_t default_time_limit_ms = 0;  // 0: unlimited
  scheduler::FairShareConfig fair_share;
  double fair_share_weight = 500;
  scheduler::Limits user_limits;
  std::map<std::string, NodeGroupConfig> node_groups;
};

boost::json::object ToJson(const SchedulingConfig& c);
// Errors name the field ("node_groups.gpu.max_cores must be a non-negative integer").
Result<SchedulingConfig> SchedulingConfigFromJson(const boost::json::value& v);

}  // namespace drover::head
