#include "head/pass_times.h"

#include <gtest/gtest.h>

namespace drover::head {
namespace {

TEST(PassTimes, BucketsAreCumulativeAndBoundsInclusive) {
  PassTimes t;
  t.Record(50);       // exactly on the first bound
  t.Record(51);       // the second bucket
  t.Record(3000);     // 5 ms bucket
  t.Record(20'000'000);  // beyond every bound
  std::string text = t.Prometheus();
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_bucket{le=\"5e-05\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_bucket{le=\"0.0001\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_bucket{le=\"0.0025\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_bucket{le=\"0.005\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_bucket{le=\"10\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_count 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("drover_scheduling_pass_seconds_max 20\n"), std::string::npos) << text;
  EXPECT_EQ(t.count(), 4u);
}

TEST(PassTimes, NegativeDurationsCountAsZero) {
  PassTimes t;
  t.Record(-5);
  EXPECT_EQ(t.max_us(), 0);
  EXPECT_NE(t.Prometheus().find("drover_scheduling_pass_seconds_bucket{le=\"5e-05\"} 1\n"), std::string::npos);
}

}  // namespace
}  // namespace drover::head
