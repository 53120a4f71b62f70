// Runtime limits in Slurm's notation (sbatch -t): "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S",
// and "infinite" / "unlimited".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace drover {

// A limit given as unlimited on purpose (as opposed to 0: none given, the default applies).
inline constexpr int64_t kUnlimitedTime = -1;

// Milliseconds, or kUnlimitedTime. Zero ("0") is refused: a task needs some time to run.
Result<int64_t> ParseTimeLimit(std::string_view text);

// The inverse, in the D-HH:MM:SS form Slurm prints ("1-02:03:04", "00:30:00"); "UNLIMITED" for
// kUnlimitedTime and "" for 0. Milliseconds are rounded up to the second.
std::string FormatTimeLimit(int64_t ms);

}  // namespace drover
