// When a queued job may start: its dependencies on other jobs (Slurm's --dependency), and its
// begin time (Slurm's --begin). Pure functions shared by the CLI (parsing what users type) and the
// head node (deciding).
//
// Dependencies: "TYPE:ID[:ID...]" items joined by ',' (every item must hold) or by '?' (one item
// must hold); the two separators cannot be mixed. TYPE is afterok, afternotok or afterany.
//   afterok:ID     ID ended Finished          never satisfied once it Failed or was Canceled
//   afternotok:ID  ID Failed or was Canceled  never satisfied once it Finished
//   afterany:ID    ID ended, however
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/types.h"

namespace drover {

struct DependencyList {
  std::vector<JobDependency> items;
  bool any = false;
};

// Parses Slurm's dependency syntax; an error names the bad part.
Result<DependencyList> ParseDependencies(std::string_view text);
// The inverse of ParseDependencies ("afterok:1:2,afterany:3"); "" for none.
std::string FormatDependencies(const std::vector<JobDependency>& items, bool any);

enum class DependencyState { kSatisfied, kPending, kNeverSatisfied };

struct DependencyVerdict {
  DependencyState state = DependencyState::kSatisfied;
  std::string detail;  // for kNeverSatisfied: which job ended how ("job 12 Failed")
};

// Decides the dependencies given each named job's state (nullopt: the job is unknown, which
// never satisfies an item).
DependencyVerdict EvaluateDependencies(const std::vector<JobDependency>& items, bool any,
                                       const std::function<std::optional<JobState>(JobId)>& state_of);

// Parses a --begin time, in the local time zone, relative to `now`: HH:MM[:SS] is today, or
// tomorrow when that time of day has passed; anything else as ParseSlurmTime (slurm_formats.h) reads
// it: now, now+N[unit], YYYY-MM-DD[THH:MM[:SS]] (midnight when no time is given), today, ...
Result<TimeMs> ParseBeginTime(std::string_view text, TimeMs now);

}  // namespace drover
