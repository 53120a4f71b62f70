#include "scheduler/fair_share.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace drover::scheduler {

double FairShare::Decay(TimeMs from, TimeMs to) const {
  if (to <= from || config_.half_life_ms <= 0) return 1.0;
  return std::exp2(-static_cast<double>(to - from) / static_cast<double>(config_.half_life_ms));
}

void FairShare::AddTask(const std::string& user, int cores, int gpus, TimeMs start, TimeMs end) {
  if (end <= start) return;
  double seconds = static_cast<double>(end - start) / 1000.0;
  AddUsage(user, seconds * (std::max(0, cores) + config_.gpu_weight * std::max(0, gpus)), end);
}

void FairShare::AddUsage(const std::string& user, double usage, TimeMs at) {
  Entry& e = usage_[user];
  if (at >= e.at) {
    e.usage = e.usage * Decay(e.at, at) + usage;
    e.at = at;
  } else {
    e.usage += usage * Decay(at, e.at);  // recorded late: decay it to the entry's time
  }
}

double FairShare::Usage(const std::string& user, TimeMs now) const {
  auto it = usage_.find(user);
  if (it == usage_.end()) return 0;
  return it->second.usage * Decay(it->second.at, now);
}

std::vector<double> FairShare::Factors(const std::vector<std::string>& users, TimeMs now) const {
  std::unordered_set<std::string> weighed(users.begin(), users.end());
  double total = 0;
  for (const auto& [name, e] : usage_) {
    double u = e.usage * Decay(e.at, now);
    if (u <= 0) continue;
    total += u;
    weighed.insert(name);
  }
  std::vector<double> out(users.size(), 1.0);
  if (total <= 0) return out;
  double n = static_cast<double>(weighed.size());
  for (size_t i = 0; i < users.size(); ++i) out[i] = std::exp2(-(Usage(users[i], now) / total) * n);
  return out;
}

}  // namespace drover::scheduler
