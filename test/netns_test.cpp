// Separate hosts on one machine (the netns provider, root only): each instance in its own network
// namespace on a bridge. A compute node cut off the network during a sweep goes Unreachable, its
// tasks finish elsewhere, and when its link returns its stale results are ignored; a replaced head
// node comes back in a new namespace under the same name. Every namespace is removed afterwards.
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "deploy/providers/netns_network.h"
#include "deploy/stack_state.h"
#include "os/daemon.h"
#include "os/files.h"
#include "test/cli_fixture.h"
#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class Netns : public CliTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the netns provider needs root";
    CliTest::SetUp();
    stack_ = fmt::format("nt{}", ::getpid());
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    CliTest::TearDown();
    // Whatever happened in the test: no namespace, veth or bridge of this stack is left.
    for (const auto& ns : os::ListDir("/run/netns")) {
      EXPECT_NE(ns.rfind("drover-" + stack_ + "-", 0), 0u) << "left behind: " << ns;
    }
    EXPECT_FALSE(os::Exists("/sys/class/net/" + deploy::netns::BridgeName(stack_)));
  }

  deploy::Instance FindInstance(const std::string& id) {
    auto state = deploy::LoadStackState(deploy::PathsFor(home_, stack_));
    EXPECT_TRUE(state.ok());
    for (const auto& [_, r] : state->resources) {
      for (const auto& i : r.instances) {
        if (i.id == id) return i;
      }
    }
    ADD_FAILURE() << "no instance " << id;
    return {};
  }

  std::string stack_;
};

TEST_F(Netns, CutOffNodeIsRequeuedAndItsStaleResultsIgnored) {
  auto up = Drover(fmt::format("up {}/examples/netns.yaml --provider netns --stack {} --param HeartbeatTimeoutMs=2000",
                               DROVER_SOURCE_DIR, stack_));
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_TRUE(Contains(up.out, "3/3 nodes Online")) << up.out;
  // Each node is its own host: its address is only in its own namespace.
  deploy::Instance victim = FindInstance("compute-001");
  ASSERT_FALSE(victim.netns.empty());
  EXPECT_TRUE(Contains(Shell("ip -n " + victim.netns + " -4 addr show dev eth0").out, victim.address));
  EXPECT_FALSE(Contains(Shell("ip -4 addr").out, victim.address + "/"));

  auto submitted = Drover("submit --array 1-24 -o 'out.%a' -- sh -c 'sleep 1; echo task * >> ran.log; echo task *'");
  ASSERT_EQ(submitted.code, 0) << submitted.out;
  std::string id = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_TRUE(TestCluster::Eventually([&] { return Contains(Drover("nodes").out, "Online"); }, 10000));
  ASSERT_TRUE(TestCluster::Eventually(
      [&] { return Contains(Drover("job show " + id + " --tasks").out, "compute-001"); }, 20000));

  // Pull the cable: the head node stops hearing the node and requeues its tasks.
  ASSERT_TRUE(deploy::netns::SetLink(victim, false).ok());
  ASSERT_TRUE(TestCluster::Eventually([&] { return Contains(Drover("nodes").out, "Unreachable"); }, 20000))
      << Drover("nodes").out;
  ASSERT_TRUE(TestCluster::Eventually([&] { return Drover("job wait " + id).code == 0; }, 90000))
      << Drover("job show " + id).out;
  // Put it back: the node reconnects; what it finished while cut off is acknowledged and ignored.
  ASSERT_TRUE(deploy::netns::SetLink(victim, true).ok());
  ASSERT_TRUE(TestCluster::Eventually(
      [&] {
        auto nodes = Drover("nodes").out;
        return Contains(nodes, "compute-001") && !Contains(nodes, "Unreachable");
      },
      30000))
      << Drover("nodes").out;
  auto show = Drover("job show " + id + " --json");
  ASSERT_EQ(show.code, 0) << show.out;
  auto v = boost::json::parse(show.out);
  EXPECT_EQ(CountTasks(v, "Finished"), 24) << show.out;
  for (int i = 1; i <= 24; ++i) {
    auto lines = ReadLines(fmt::format("{}/work/out.{}", home_, i));
    ASSERT_EQ(lines.size(), 1u) << "task " << i;
  }
}

TEST_F(Netns, HeadNodeReplacedInANewNamespaceUnderTheSameName) {
  auto up = Drover(fmt::format("up {}/examples/netns.yaml --provider netns --stack {} --param ComputeNodes=2",
                               DROVER_SOURCE_DIR, stack_));
  ASSERT_EQ(up.code, 0) << up.out;
  auto submitted = Drover("submit --array 1-10 -o 'out.%a' -- sh -c 'sleep 0.5; echo task *'");
  ASSERT_EQ(submitted.code, 0) << submitted.out;
  std::string id = submitted.out.substr(0, submitted.out.find('\n'));
  deploy::Instance head = FindInstance("head-001");
  pid_t pid = os::RunningDaemon(head.dir + "/daemon.pid", "headnode");
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);
  ASSERT_TRUE(TestCluster::Eventually([&] { return Drover("job wait " + id).code == 0; }, 90000))
      << Drover("status --stack " + stack_).out;
  deploy::Instance replaced = FindInstance("head-002");
  EXPECT_NE(replaced.netns, head.netns);
  EXPECT_NE(replaced.address, head.address);
  EXPECT_FALSE(os::Exists("/run/netns/" + head.netns)) << "the old host is gone";
  auto hosts = os::ReadFile(home_ + "/stacks/" + stack_ + "/hosts");
  ASSERT_TRUE(hosts.ok());
  EXPECT_TRUE(Contains(*hosts, replaced.address + " head." + stack_ + ".cluster")) << *hosts;
  for (int i = 1; i <= 10; ++i) EXPECT_EQ(ReadLines(fmt::format("{}/work/out.{}", home_, i)).size(), 1u);
}

TEST(NetnsProvider, RefusedClearlyWithoutRoot) {
  if (::geteuid() == 0) GTEST_SKIP() << "runs as a user without root";
  EXPECT_NE(deploy::netns::CheckPrivileges().message().find("needs root"), std::string::npos);
}

}  // namespace
}  // namespace drover::testing
