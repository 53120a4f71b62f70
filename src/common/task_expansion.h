// Turns a job's spec into one concrete task launch: sweep indexes substituted, output file
// patterns expanded, DROVER_* variables set.
//
//  - In a sweep's command line every `*` becomes the task's index (HPC Pack's form); `\*` keeps a
//    literal star.
//  - Output file names expand %j (job id), %A (job id), %t (task id), %a (sweep index),
//    %N (node name), %% (a percent sign).
//  - Without an output file, stdout goes to drover-%j.out (drover-%j_%a.out in a sweep) in the
//    working directory (drover-%j_%t.out for several tasks), and stderr goes to the same file as stdout.
#pragma once

#include <string>

#include "common/protocol.h"
#include "common/types.h"

namespace drover {

protocol::TaskLaunch ExpandTask(JobId job_id, const JobSpec& spec, TaskId task_id, uint32_t attempt,
                                const std::string& node_name);

std::string ExpandFilePattern(const std::string& pattern, JobId job_id, TaskId task_id, int64_t index,
                              const std::string& node_name);
std::string SubstituteSweepIndex(const std::string& arg, int64_t index);

}  // namespace drover
