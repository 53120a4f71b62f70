// Values written the way Slurm users write them: memory sizes, time limits, GPU counts, warning
// signals and points in time. Errors say what was expected.
#pragma once

#include <cstdint>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace drover::cli {

// --mem: "500" (MiB), "500M", "4G", "1T", "512K" (rounded up to whole MiB). Returns MiB.
Result<int64_t> ParseMemoryMb(const std::string& text);

// -t/--time: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
// "days-hours:minutes", "days-hours:minutes:seconds". Returns milliseconds; 0 and "UNLIMITED" are 0.
Result<int64_t> ParseTimeLimitMs(const std::string& text);

// --gpus: "N" or "TYPE:N". Returns N.
Result<int> ParseGpuCount(const std::string& text);

struct SignalSpec {
  int signal = 0;
  int64_t before_ms = 60'000;  // Slurm's default: 60 seconds
  bool batch_only = false;
};
// --signal: "[B:]SIG[@seconds]", SIG a number or a name with or without "SIG" (USR1, SIGTERM).
Result<SignalSpec> ParseSignal(const std::string& text);

// sacct's -S/-E: "YYYY-MM-DD[THH:MM[:SS]]" in local time, "now", "now[-+]N[unit]" with unit
// seconds (the default), minutes, hours, days or weeks (also their singular and short forms: s, min,
// h, d, w), "today" and "midnight" (the start of today), "noon". `now` is the current time in ms.
Result<TimeMs> ParseSlurmTime(const std::string& text, TimeMs now);

// "1-02:03:04" style elapsed time, as sacct prints it.
std::string FormatElapsed(int64_t ms);

}  // namespace drover::cli
