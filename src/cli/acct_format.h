// How `drover acct` and `drover report` print the head node's accounting answers, in sacct's and
// sreport's words.
#pragma once

#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

#include "common/status.h"

namespace drover::cli {

// sacct field names Drover knows, as given to -o/--format (case-insensitive; "%N" widths allowed
// and ignored): JobID JobName User Group State ExitCode Submit Start End Elapsed NCPUS NTasks
// AllocGPUs ReqMem Timelimit TotalCPU CPUTime MaxRSS NodeList Reason.
inline constexpr const char* kDefaultAcctFormat = "JobID,JobName,User,State,ExitCode,Elapsed,NCPUS,TotalCPU,MaxRSS,NodeList";
Result<std::vector<std::string>> ParseAcctFormat(const std::string& format);

// The table for the answer of GET /api/v1/accounting: a line per job, then a line per task attempt
// ("JOB.TASK", "JOB.TASK#ATTEMPT" for a retried one). `parsable`: fields joined by '|' as sacct -P;
// otherwise aligned columns.
std::string FormatAcct(const boost::json::value& answer, const std::vector<std::string>& fields, bool parsable);

// The tables for the answer of GET /api/v1/accounting/report: usage per user, then per group.
std::string FormatReport(const boost::json::value& answer, bool parsable);

}  // namespace drover::cli
