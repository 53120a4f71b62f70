#include "common/slurm_formats.h"

#include <signal.h>

#include <ctime>

#include <gtest/gtest.h>

namespace drover {
namespace {

TEST(SlurmFormatsTest, Signals) {
  auto s = ParseSignal("USR1@120");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->signal, SIGUSR1);
  EXPECT_EQ(s->before_ms, 120'000);
  EXPECT_FALSE(s->batch_only);
  s = ParseSignal("B:SIGTERM");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->signal, SIGTERM);
  EXPECT_EQ(s->before_ms, 60'000);
  EXPECT_TRUE(s->batch_only);
  EXPECT_EQ(ParseSignal("10")->signal, 10);
  for (const char* bad : {"", "NOPE", "USR1@", "USR1@x", "99"}) EXPECT_FALSE(ParseSignal(bad).ok()) << bad;
}

TEST(SlurmFormatsTest, PointsInTime) {
  const TimeMs now = 1'764'000'000'000;
  EXPECT_EQ(*ParseSlurmTime("now", now), now);
  EXPECT_EQ(*ParseSlurmTime("now-1day", now), now - 86'400'000);
  EXPECT_EQ(*ParseSlurmTime("now-1days", now), now - 86'400'000);
  EXPECT_EQ(*ParseSlurmTime("now-3hours", now), now - 3 * 3'600'000);
  EXPECT_EQ(*ParseSlurmTime("now-90", now), now - 90'000);
  EXPECT_EQ(*ParseSlurmTime("now+2weeks", now), now + 14 * 86'400'000LL);
  EXPECT_EQ(*ParseSlurmTime("now+5m", now), now + 5 * 60'000);
  struct tm tm {};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 26;
  tm.tm_hour = 8;
  tm.tm_min = 30;
  tm.tm_isdst = -1;
  TimeMs local = static_cast<TimeMs>(::mktime(&tm)) * 1000;
  EXPECT_EQ(*ParseSlurmTime("2026-11-26T08:30", now), local);
  EXPECT_EQ(*ParseSlurmTime("2026-11-26T08:30:15", now), local + 15'000);
  EXPECT_EQ(*ParseSlurmTime("2026-11-26", now), local - (8 * 3600 + 30 * 60) * 1000LL);
  EXPECT_LE(*ParseSlurmTime("today", now), now);
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-02-30", "2026-11-26T8", "2026-11-26 08:30",
                          "now-1fortnight", "2026-11-26T08:30:15x"}) {
    EXPECT_FALSE(ParseSlurmTime(bad, now).ok()) << bad;
  }
}

TEST(SlurmFormatsTest, Elapsed) {
  EXPECT_EQ(FormatElapsed(0), "00:00:00");
  EXPECT_EQ(FormatElapsed(3'723'000), "01:02:03");
  EXPECT_EQ(FormatElapsed((86400 + 7384) * 1000LL), "1-02:03:04");
}

}  // namespace
}  // namespace drover
