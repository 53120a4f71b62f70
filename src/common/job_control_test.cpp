#include "common/job_control.h"

#include <gtest/gtest.h>

#include <ctime>
#include <map>

namespace drover {
namespace {

TEST(Dependencies, ParsesSlurmSyntax) {
  auto d = ParseDependencies("afterok:12:13,afterany:7");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->any);
  EXPECT_EQ(d->items, (std::vector<JobDependency>{{DependencyType::kAfterOk, 12},
                                                   {DependencyType::kAfterOk, 13},
                                                   {DependencyType::kAfterAny, 7}}));
  EXPECT_EQ(FormatDependencies(d->items, d->any), "afterok:12:13,afterany:7");

  auto any = ParseDependencies("afternotok:3?afterok:4");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->any);
  EXPECT_EQ(any->items.size(), 2u);
  EXPECT_EQ(FormatDependencies(any->items, any->any), "afternotok:3?afterok:4");
}

TEST(Dependencies, RejectsBadInputNamingThePart) {
  for (const char* bad : {"", "afterok", "afterok:", "afterok:x", "later:3", "afterok:1,afterany:2?afterok:3",
                          "afterok:0", "afterok:1,,afterok:2", "afterok:-4"}) {
    auto d = ParseDependencies(bad);
    EXPECT_FALSE(d.ok()) << bad;
  }
  EXPECT_NE(ParseDependencies("later:3").status().message().find("later"), std::string::npos);
  EXPECT_NE(ParseDependencies("afterok:1,afterok:2?afterok:3").status().message().find("mixes"), std::string::npos);
}

TEST(Dependencies, Evaluation) {
  std::map<JobId, JobState> states{{1, JobState::kFinished}, {2, JobState::kFailed}, {3, JobState::kRunning},
                                   {4, JobState::kCanceled}};
  auto of = [&](JobId id) -> std::optional<JobState> {
    auto it = states.find(id);
    if (it == states.end()) return std::nullopt;
    return it->second;
  };
  using enum DependencyType;
  auto eval = [&](std::vector<JobDependency> d, bool any = false) { return EvaluateDependencies(d, any, of).state; };
  EXPECT_EQ(eval({}), DependencyState::kSatisfied);
  EXPECT_EQ(eval({{kAfterOk, 1}}), DependencyState::kSatisfied);
  EXPECT_EQ(eval({{kAfterOk, 3}}), DependencyState::kPending);
  EXPECT_EQ(eval({{kAfterOk, 2}}), DependencyState::kNeverSatisfied);
  EXPECT_EQ(eval({{kAfterOk, 4}}), DependencyState::kNeverSatisfied);
  EXPECT_EQ(eval({{kAfterNotOk, 2}}), DependencyState::kSatisfied);
  EXPECT_EQ(eval({{kAfterNotOk, 4}}), DependencyState::kSatisfied);
  EXPECT_EQ(eval({{kAfterNotOk, 1}}), DependencyState::kNeverSatisfied);
  EXPECT_EQ(eval({{kAfterAny, 2}}), DependencyState::kSatisfied);
  EXPECT_EQ(eval({{kAfterAny, 3}}), DependencyState::kPending);
  EXPECT_EQ(eval({{kAfterAny, 99}}), DependencyState::kNeverSatisfied);
  // ',': all must hold; one never satisfied decides at once.
  EXPECT_EQ(eval({{kAfterOk, 1}, {kAfterOk, 3}}), DependencyState::kPending);
  EXPECT_EQ(eval({{kAfterOk, 3}, {kAfterOk, 2}}), DependencyState::kNeverSatisfied);
  // '?': one must hold; never satisfied only when none can.
  EXPECT_EQ(eval({{kAfterOk, 2}, {kAfterOk, 3}}, true), DependencyState::kPending);
  EXPECT_EQ(eval({{kAfterOk, 2}, {kAfterNotOk, 2}}, true), DependencyState::kSatisfied);
  EXPECT_EQ(eval({{kAfterOk, 2}, {kAfterNotOk, 1}}, true), DependencyState::kNeverSatisfied);
  auto v = EvaluateDependencies({{kAfterOk, 2}}, false, of);
  EXPECT_EQ(v.detail, "afterok needs job 2 to finish, and it Failed");
}

TimeMs Local(int y, int mo, int d, int h, int mi, int s) {
  std::tm t{};
  t.tm_year = y - 1900, t.tm_mon = mo - 1, t.tm_mday = d, t.tm_hour = h, t.tm_min = mi, t.tm_sec = s;
  t.tm_isdst = -1;
  return static_cast<TimeMs>(std::mktime(&t)) * 1000;
}

TEST(BeginTime, RelativeTimes) {
  TimeMs now = Local(2026, 11, 26, 10, 0, 0) + 123;
  EXPECT_EQ(*ParseBeginTime("now", now), now);
  EXPECT_EQ(*ParseBeginTime("now+30", now), now + 30'000);
  EXPECT_EQ(*ParseBeginTime("now+30seconds", now), now + 30'000);
  EXPECT_EQ(*ParseBeginTime("now+5minutes", now), now + 300'000);
  EXPECT_EQ(*ParseBeginTime("now+1hour", now), now + 3'600'000);
  EXPECT_EQ(*ParseBeginTime("now+2days", now), now + 2 * 86'400'000);
  EXPECT_EQ(*ParseBeginTime("now+2h", now), now + 2 * 3'600'000);
  EXPECT_EQ(*ParseBeginTime("now+3weeks", now), now + 21 * 86'400'000LL);
}

TEST(BeginTime, TimesOfDayAndDates) {
  TimeMs now = Local(2026, 11, 26, 10, 0, 0);
  EXPECT_EQ(*ParseBeginTime("16:30", now), Local(2026, 11, 26, 16, 30, 0));
  EXPECT_EQ(*ParseBeginTime("16:30:15", now), Local(2026, 11, 26, 16, 30, 15));
  // Passed today: tomorrow.
  EXPECT_EQ(*ParseBeginTime("09:00", now), Local(2026, 11, 27, 9, 0, 0));
  EXPECT_EQ(*ParseBeginTime("2026-12-24", now), Local(2026, 12, 24, 0, 0, 0));
  EXPECT_EQ(*ParseBeginTime("2026-12-24T18:05", now), Local(2026, 12, 24, 18, 5, 0));
  EXPECT_EQ(*ParseBeginTime("2026-12-24T18:05:09", now), Local(2026, 12, 24, 18, 5, 9));
  for (const char* bad : {"tomorrow", "25:00", "10:61", "2026-02-30", "2026-13-01", "now-5", "12",
                          "2026-12-24 18:05"}) {
    auto t = ParseBeginTime(bad, now);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) EXPECT_NE(t.status().message().find(bad), std::string::npos) << t.status().message();
  }
}

}  // namespace
}  // namespace drover
