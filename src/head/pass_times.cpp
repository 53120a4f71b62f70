#include "head/pass_times.h"

#include <algorithm>

#include <fmt/format.h>

namespace drover::head {

void PassTimes::Record(int64_t micros) {
  micros = std::max<int64_t>(0, micros);
  size_t i = std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), micros) - kBoundsUs.begin();
  ++buckets_[i];
  ++count_;
  sum_us_ += micros;
  max_us_ = std::max(max_us_, micros);
}

std::string PassTimes::Prometheus() const {
  std::string out = "# TYPE drover_scheduling_pass_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBoundsUs.size(); ++i) {
    cumulative += buckets_[i];
    out += fmt::format("drover_scheduling_pass_seconds_bucket{{le=\"{}\"}} {}\n", kBoundsUs[i] / 1e6, cumulative);
  }
  out += fmt::format("drover_scheduling_pass_seconds_bucket{{le=\"+Inf\"}} {}\n", count_);
  out += fmt::format("drover_scheduling_pass_seconds_sum {}\n", sum_us_ / 1e6);
  out += fmt::format("drover_scheduling_pass_seconds_count {}\n", count_);
  out += "# TYPE drover_scheduling_pass_seconds_max gauge\n";
  out += fmt::format("drover_scheduling_pass_seconds_max {}\n", max_us_ / 1e6);
  return out;
}

}  // namespace drover::head
