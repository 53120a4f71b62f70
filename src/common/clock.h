// Time is injected. Components read time through Clock so that state machines (heartbeats, timeouts)
// are tested by advancing a FakeClock instead of sleeping. Timers that drive those checks live on the
// component's event loop and call into the logic with Clock::Now().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace drover {

// Milliseconds since the Unix epoch.
using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimeMs Now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimeMs start = 1'700'000'000'000) : now_(start) {}
  TimeMs Now() const override { return now_.load(); }
  void Advance(TimeMs ms) { now_ += ms; }
  void Set(TimeMs ms) { now_ = ms; }

 private:
  std::atomic<TimeMs> now_;
};

// Formats a time as ISO 8601 UTC with milliseconds ("2026-11-26T08:00:00.123Z"); 0 gives "".
std::string FormatTime(TimeMs t);

}  // namespace drover
