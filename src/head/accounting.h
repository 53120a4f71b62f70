// Accounting views over the Reporting store, as `drover acct` and `drover report` show them.
//
// The store holds one record per ended task attempt. A job's own line is derived from them (no row
// of its own): its state is the worst of its tasks' last attempts (Canceled, Failed, OutOfMemory,
// Timeout, then Finished); its start and end are the earliest start and latest end; CPU time is the
// sum over every attempt, peak memory the largest of any task. A job the head node still holds in
// memory and that has not ended shows as Running.
//
// Usage reports count every attempt (a requeued attempt used its node too), clipped to the period:
// core-hours are cores x the part of the attempt's run time inside the period, GPU-hours likewise;
// CPU time is counted whole for attempts that overlap the period.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

#include "common/types.h"

namespace drover::head {

struct JobAccounting {
  JobId job_id = 0;
  std::string job_name, owner, group;
  TaskState state = TaskState::kFinished;
  int exit_code = 0;
  uint32_t tasks = 0;  // distinct tasks with an ended attempt
  int cores = 0;       // per task
  int gpus = 0;        // per task
  int64_t memory_limit_mb = 0;
  int64_t time_limit_ms = 0;
  TimeMs submit_time = 0, start_time = 0, end_time = 0;
  int64_t cpu_time_ms = 0;
  int64_t max_rss_kb = 0;
  std::vector<std::string> nodes;  // sorted
  std::vector<AccountingRecord> steps;  // its task attempts, in end order
};

// Groups records (in end order) by job, in order of job id.
std::vector<JobAccounting> SummarizeJobs(const std::vector<AccountingRecord>& records);

struct Usage {
  std::string name;  // user or group
  std::set<JobId> jobs;
  uint64_t tasks = 0;  // task attempts
  double core_hours = 0, gpu_hours = 0, cpu_hours = 0;
};
struct UsageReport {
  std::vector<Usage> users, groups;  // sorted by name
  Usage total;
};
// `end` 0: no upper bound.
UsageReport Report(const std::vector<AccountingRecord>& records, TimeMs start, TimeMs end);

boost::json::object ToJson(const AccountingRecord& r);
boost::json::object ToJson(const JobAccounting& j);
boost::json::object ToJson(const Usage& u);

}  // namespace drover::head
