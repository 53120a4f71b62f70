// Values written the way Slurm users write them: warning signals, points in time and elapsed
// times (memory sizes: cli/job_options.h; time limits: time_limit.h). Errors say what was expected.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace drover {

struct SignalSpec {
  int signal = 0;
  int64_t before_ms = 60'000;  // Slurm's default: 60 seconds
  bool batch_only = false;
};
// --signal: "[B:]SIG[@seconds]", SIG a number or a name with or without "SIG" (USR1, SIGTERM).
Result<SignalSpec> ParseSignal(const std::string& text);

// sacct's -S/-E (and sbatch's --begin, job_control.h): "YYYY-MM-DD[THH:MM[:SS]]" in local time,
// "now", "now[-+]N[unit]" with unit seconds (the default), minutes, hours, days or weeks (also their
// singular and short forms: s, m/min, h, d, w), "today" and "midnight" (the start of today),
// "noon". `now` is the current time in ms.
Result<TimeMs> ParseSlurmTime(const std::string& text, TimeMs now);

// "1-02:03:04" style elapsed time, as sacct prints it.
std::string FormatElapsed(int64_t ms);

}  // namespace drover
