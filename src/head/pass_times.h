// How long the head node's scheduling passes take, as a Prometheus histogram
// (drover_scheduling_pass_seconds). Buckets are fixed and cumulative in the output, so a reader
// can take two scrapes, subtract them, and estimate quantiles over the interval between them.
// Not thread-safe: recorded and read on the head node's loop.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace drover::head {

class PassTimes {
 public:
  // Upper bounds of the buckets, in microseconds; a last bucket (+Inf) holds the rest.
  static constexpr std::array<int64_t, 17> kBoundsUs = {50,     100,    250,     500,     1000,    2500,
                                                        5000,   10000,  25000,   50000,   100000,  250000,
                                                        500000, 1000000, 2500000, 5000000, 10000000};

  void Record(int64_t micros);
  uint64_t count() const { return count_; }
  int64_t max_us() const { return max_us_; }
  // The histogram in Prometheus text format, with its # TYPE line.
  std::string Prometheus() const;

 private:
  std::array<uint64_t, kBoundsUs.size() + 1> buckets_{};  // not cumulative
  uint64_t count_ = 0;
  int64_t sum_us_ = 0;
  int64_t max_us_ = 0;
};

}  // namespace drover::head
