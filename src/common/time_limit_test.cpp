#include "common/time_limit.h"

#include <gtest/gtest.h>

namespace drover {
namespace {

constexpr int64_t kSec = 1000, kMin = 60 * kSec, kHour = 60 * kMin, kDay = 24 * kHour;

TEST(TimeLimit, SlurmForms) {
  EXPECT_EQ(*ParseTimeLimit("30"), 30 * kMin);
  EXPECT_EQ(*ParseTimeLimit("5:30"), 5 * kMin + 30 * kSec);
  EXPECT_EQ(*ParseTimeLimit("2:05:30"), 2 * kHour + 5 * kMin + 30 * kSec);
  EXPECT_EQ(*ParseTimeLimit("1-12"), kDay + 12 * kHour);
  EXPECT_EQ(*ParseTimeLimit("1-12:30"), kDay + 12 * kHour + 30 * kMin);
  EXPECT_EQ(*ParseTimeLimit("2-00:00:10"), 2 * kDay + 10 * kSec);
  EXPECT_EQ(*ParseTimeLimit("infinite"), kUnlimitedTime);
  EXPECT_EQ(*ParseTimeLimit("UNLIMITED"), kUnlimitedTime);
}

TEST(TimeLimit, Rejects) {
  for (const char* bad : {"", "0", "0:00", "abc", "1:2:3:4", "-5", "1-", "1-2:x", "5m", "1:-2"}) {
    auto r = ParseTimeLimit(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("time limit"), std::string::npos);
    }
  }
}

TEST(TimeLimit, FormatRoundTrips) {
  EXPECT_EQ(FormatTimeLimit(30 * kMin), "00:30:00");
  EXPECT_EQ(FormatTimeLimit(kDay + 2 * kHour + 3 * kMin + 4 * kSec), "1-02:03:04");
  EXPECT_EQ(FormatTimeLimit(kUnlimitedTime), "UNLIMITED");
  EXPECT_EQ(FormatTimeLimit(0), "");
  for (int64_t ms : {kSec, 59 * kMin, 3 * kDay + 5 * kSec}) EXPECT_EQ(*ParseTimeLimit(FormatTimeLimit(ms)), ms);
}

}  // namespace
}  // namespace drover
