#include "head/scheduling_config.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace drover::head {
namespace {

namespace json = boost::json;

TEST(SchedulingConfig, ReadsSlurmTimesAndLimits) {
  auto c = SchedulingConfigFromJson(json::parse(R"({
      "default_time_limit": "1-00:00:00",
      "fair_share": {"half_life": "7-00:00:00", "weight": 300, "gpu_weight": 4},
      "user_limits": {"max_running_jobs": 20, "max_cores": 512},
      "node_groups": {"gpu": {"default_time_limit": "4:00:00", "max_cores": 64}}})"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->default_time_limit_ms, 24LL * 3600 * 1000);
  EXPECT_EQ(c->fair_share.half_life_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(c->fair_share_weight, 300);
  EXPECT_EQ(c->fair_share.gpu_weight, 4);
  EXPECT_EQ(c->user_limits.max_running_jobs, 20);
  EXPECT_EQ(c->user_limits.max_cores, 512);
  EXPECT_EQ(c->node_groups.at("gpu").default_time_limit_ms, 4LL * 3600 * 1000);
  EXPECT_EQ(c->node_groups.at("gpu").limits.max_cores, 64);
  auto again = SchedulingConfigFromJson(ToJson(*c));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(json::serialize(ToJson(*again)), json::serialize(ToJson(*c)));
}

TEST(SchedulingConfig, DefaultsAndInfinite) {
  auto c = SchedulingConfigFromJson(json::parse(R"({"default_time_limit": "infinite"})"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->default_time_limit_ms, 0);
  EXPECT_EQ(c->fair_share_weight, 500);
  EXPECT_EQ(c->user_limits.max_cores, 0);
}

TEST(SchedulingConfig, ErrorsNameTheField) {
  auto expect = [](const char* text, const std::string& field) {
    auto c = SchedulingConfigFromJson(json::parse(text));
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(field), std::string::npos) << c.status().message();
  };
  expect(R"({"default_time_limit": "soon"})", "default_time_limit");
  expect(R"({"user_limits": {"max_cores": -1}})", "user_limits.max_cores");
  expect(R"({"node_groups": {"gpu": {"max_jobs": 1}}})", "node_groups.gpu.max_jobs");
  expect(R"({"fair_share": {"weight": "high"}})", "fair_share.weight");
  expect(R"({"limits": {}})", "limits");
}

}  // namespace
}  // namespace drover::head
