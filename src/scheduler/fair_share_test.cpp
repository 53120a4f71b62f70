#include "scheduler/fair_share.h"

#include <cmath>

#include <gtest/gtest.h>

#include "scheduler/scheduler.h"

namespace drover::scheduler {
namespace {

constexpr TimeMs kMin = 60'000;
constexpr TimeMs kDay = 24 * 60 * kMin;

TEST(FairShare, UsageDecaysByHalfLife) {
  FairShare fs({.half_life_ms = kDay, .gpu_weight = 8});
  fs.AddTask("alice", 4, 0, 0, 1000 * 1000);  // 4 cores x 1000 s
  EXPECT_DOUBLE_EQ(fs.Usage("alice", 1000 * 1000), 4000);
  EXPECT_NEAR(fs.Usage("alice", 1000 * 1000 + kDay), 2000, 1e-6);
  EXPECT_NEAR(fs.Usage("alice", 1000 * 1000 + 2 * kDay), 1000, 1e-6);
  fs.AddTask("bob", 1, 1, 0, 1000);  // 1 s of one core and one GPU
  EXPECT_DOUBLE_EQ(fs.Usage("bob", 1000), 9);
  EXPECT_EQ(fs.Usage("carol", 0), 0);
}

TEST(FairShare, FactorFollowsTheFormula) {
  FairShare fs({.half_life_ms = kDay});
  EXPECT_EQ(fs.Factors({"a", "b"}, 0), (std::vector<double>{1.0, 1.0}));
  fs.AddUsage("a", 300, 0);
  fs.AddUsage("b", 100, 0);
  auto f = fs.Factors({"a", "b", "c"}, 0);
  // N = 3 users weighed, S = 1/3; U(a) = 0.75, U(b) = 0.25, U(c) = 0.
  EXPECT_NEAR(f[0], std::exp2(-0.75 * 3), 1e-9);
  EXPECT_NEAR(f[1], std::exp2(-0.25 * 3), 1e-9);
  EXPECT_EQ(f[2], 1.0);
}

// Two users with equal shares, both with more work than the cluster runs. Alice submitted first, so
// without fair share FIFO gives her everything; with it their usage ends up about equal.
double SimulatedShareOfFirstUser(double weight) {
  FairShare fs({.half_life_ms = 7 * kDay});
  Snapshot s;
  s.now = 0;
  s.policy.fair_share_weight = weight;
  s.eligibility.emplace_back();
  s.users = {{"alice", 1}, {"bob", 1}};
  NodeCapacity node;
  node.node = 0;
  node.name = "n0";
  node.total_cores = 8;
  PendingJob alice;
  alice.ref = 0;
  alice.job_id = 1;
  alice.priority = 2000;
  alice.time_limit_ms = 10 * kMin;
  alice.user = 0;
  PendingJob bob = alice;
  bob.ref = 1;
  bob.job_id = 2;
  bob.user = 1;
  uint32_t next_task[2] = {1, 1};
  std::vector<RunningAllocation> running;
  for (int step = 0; step < 3000; ++step) {
    s.now = step * kMin;
    std::erase_if(running, [&](const RunningAllocation& a) {
      if (a.expected_end > s.now) return false;
      fs.AddTask(s.users[a.user].name, a.cores, a.gpus, a.expected_end - 10 * kMin, a.expected_end);
      return true;
    });
    int used = 0;
    for (const auto& a : running) used += a.cores;
    node.free_cores = node.total_cores - used;
    s.nodes = {node};
    s.running = running;
    auto f = fs.Factors({"alice", "bob"}, s.now);
    s.users[0].fair_share = f[0];
    s.users[1].fair_share = f[1];
    alice.tasks.clear();
    bob.tasks.clear();
    for (uint32_t k = 0; k < 8; ++k) {
      alice.tasks.push_back(next_task[0] + k);
      bob.tasks.push_back(next_task[1] + k);
    }
    s.queue = {alice, bob};
    for (const auto& p : Schedule(s).placements) {
      ++next_task[p.ref];
      running.push_back({0, static_cast<int64_t>(p.ref + 1), static_cast<uint32_t>(p.ref), 1, 0, 0, s.now + 10 * kMin});
    }
  }
  double a = fs.Usage("alice", s.now), b = fs.Usage("bob", s.now);
  return a / (a + b);
}

TEST(FairShare, TwoEqualUsersConverge) {
  EXPECT_NEAR(SimulatedShareOfFirstUser(500), 0.5, 0.05);
  EXPECT_GT(SimulatedShareOfFirstUser(0), 0.99);  // the same loop without fair share: FIFO
}

}  // namespace
}  // namespace drover::scheduler
