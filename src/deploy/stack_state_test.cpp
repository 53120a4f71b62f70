#include "deploy/stack_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "deploy/providers/provider.h"

namespace drover::deploy {
namespace {

namespace json = boost::json;

class StackStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover-stack-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(StackStateTest, RoundTripsThroughItsFile) {
  StackPaths paths = PathsFor(dir_, "demo");
  EXPECT_EQ(LoadStackState(paths).status().code(), StatusCode::kNotFound);
  StackState s;
  s.name = "demo";
  s.status = "UP_COMPLETE";
  s.parameters["Nodes"] = 3;
  ResourceState& r = s.resources["Compute"];
  r.name = "Compute";
  r.type = "Drover::ComputeGroup";
  r.status = "CREATE_COMPLETE";
  r.properties["MinSize"] = 2;
  r.attributes["Size"] = 2;
  r.dependencies = {"HeadNode"};
  r.deletion_policy = DeletionPolicy::kRetain;
  r.instances.push_back({"compute-001", "127.64.0.2", "/x/compute-001", 42});
  r.next_instance = 2;
  s.AddEvent({7, "Compute", "CREATE_COMPLETE", ""});
  ASSERT_TRUE(SaveStackState(paths, s).ok());
  auto loaded = LoadStackState(paths);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(json::serialize(ToJson(*loaded)), json::serialize(ToJson(s)));
  EXPECT_EQ(loaded->Find("Compute")->instances.at(0).address, "127.64.0.2");
  EXPECT_EQ(loaded->Find("Compute")->deletion_policy, DeletionPolicy::kRetain);
}

TEST_F(StackStateTest, KeepsOnlyTheRecentEvents) {
  StackState s;
  for (size_t i = 0; i < StackState::kMaxEvents + 10; ++i) s.AddEvent({static_cast<TimeMs>(i), "", "X", ""});
  ASSERT_EQ(s.events.size(), StackState::kMaxEvents);
  EXPECT_EQ(s.events.front().time, 10);
}

TEST_F(StackStateTest, LockIsExclusiveAndNamesItsHolder) {
  StackPaths paths = PathsFor(dir_, "demo");
  auto first = StackLock::Acquire(paths, "drover up", false);
  ASSERT_TRUE(first.ok());
  auto second = StackLock::Acquire(paths, "drover down", false);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("drover up (pid"), std::string::npos) << second.status().message();
  { StackLock released = std::move(*first); }
  EXPECT_TRUE(StackLock::Acquire(paths, "drover down", false).ok());
}

TEST_F(StackStateTest, StackNamesAreCheckedAndAddressesDistinct) {
  EXPECT_TRUE(ValidateStackName("seed-1").ok());
  EXPECT_FALSE(ValidateStackName("../etc").ok());
  EXPECT_FALSE(ValidateStackName("").ok());
  std::set<std::string> seen;
  for (int n = 1; n <= 1000; ++n) {
    std::string a = LoopbackAddress("demo", n);
    EXPECT_EQ(a.rfind("127.", 0), 0u);
    EXPECT_TRUE(seen.insert(a).second) << a;
  }
}

TEST(StackPaths, ATagPerStackAndHome) {
  StackPaths a = PathsFor("/tmp/home-a", "seed"), b = PathsFor("/tmp/home-b", "seed");
  EXPECT_EQ(a.tag.size(), 8u);
  EXPECT_NE(a.tag, b.tag) << "stacks of one name in two homes share no names";
  EXPECT_NE(a.tag, PathsFor("/tmp/home-a", "seed2").tag);
  EXPECT_EQ(a.tag, PathsFor("/tmp/home-a/", "seed").tag);
  EXPECT_EQ(a.Context(), "/tmp/home-a/stacks/seed/context.json");
  EXPECT_NE(LoopbackAddress(a.tag, 1), LoopbackAddress(b.tag, 1));
}

TEST(CompareProperties, SaysWhatChangesAndHow) {
  json::object applied{{"MinSize", 2}, {"CoresPerNode", 1}};
  EXPECT_EQ(CompareProperties(applied, applied, {"MinSize"}).change, Change::kNone);
  Diff grow = CompareProperties(applied, json::object{{"MinSize", 3}, {"CoresPerNode", 1}}, {"MinSize"});
  EXPECT_EQ(grow.change, Change::kUpdate);
  ASSERT_EQ(grow.details.size(), 1u);
  EXPECT_EQ(grow.details[0], "MinSize: 2 -> 3");
  Diff cores = CompareProperties(applied, json::object{{"MinSize", 3}}, {"MinSize"});
  EXPECT_EQ(cores.change, Change::kReplace);
  EXPECT_EQ(cores.details.size(), 2u);
}

}  // namespace
}  // namespace drover::deploy
