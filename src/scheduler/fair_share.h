// Fair share between users over a decaying usage window.
//
// Usage is what a user's tasks consumed: core-seconds, plus GPU-seconds times `gpu_weight`, added
// when a task ends. It decays with a half-life: usage recorded `h` ago counts half, `2h` ago a
// quarter. Every user weighed has an equal share S = 1 / N (N: the users weighed together). With
// U = the user's decayed usage / all users' decayed usage, the factor is
//
//     F = 2 ^ (-U / S)            (F = 1 when nobody has used anything yet)
//
// so a user who used exactly their share gets 0.5, one who used nothing 1, one who used it all
// about 2^-N. The scheduler orders jobs by priority + fair_share_weight x F (scheduler.h).
// Pure: time is passed in. Not thread-safe; the head node's loop owns it.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"

namespace drover::scheduler {

struct FairShareConfig {
  TimeMs half_life_ms = 7LL * 24 * 3600 * 1000;
  double gpu_weight = 8.0;  // one GPU-second counts as this many core-seconds
};

class FairShare {
 public:
  explicit FairShare(FairShareConfig config = {}) : config_(config) {}

  // Records a task that held `cores` cores and `gpus` GPUs from `start` to `end`.
  void AddTask(const std::string& user, int cores, int gpus, TimeMs start, TimeMs end);
  // Adds raw usage (core-seconds equivalent) at time `at`.
  void AddUsage(const std::string& user, double usage, TimeMs at);
  // The user's usage decayed to `now`.
  double Usage(const std::string& user, TimeMs now) const;
  // F for each of `users` (in that order), weighing them and every user with usage together.
  std::vector<double> Factors(const std::vector<std::string>& users, TimeMs now) const;

  const FairShareConfig& config() const { return config_; }
  void set_config(FairShareConfig c) { config_ = c; }

 private:
  double Decay(TimeMs from, TimeMs to) const;

  struct Entry {
    double usage = 0;
    TimeMs at = 0;
  };
  FairShareConfig config_;
  std::unordered_map<std::string, Entry> usage_;
};

}  // namespace drover::scheduler
