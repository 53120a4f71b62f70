// Separate hosts on one machine (the netns provider, root only): each instance in its own network
// namespace on a bridge. A compute node cut off the network during a sweep goes Unreachable, its
// tasks finish elsewhere, and when its link returns its stale results are ignored; a replaced head
// node comes back in a new namespace under the same name. Every namespace is removed afterwards.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "deploy/providers/netns_network.h"
#include "deploy/stack_state.h"
#include "os/daemon.h"
#include "os/files.h"
#include "test/cli_fixture.h"
#include "test/harness.h"
#include "test/test_util.h"
#include "common/test_skips.h"

namespace drover::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class Netns : public CliTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) DROVER_SKIP() << "the netns provider needs root";
    CliTest::SetUp();
    static int tests = 0;  // a stack of its own per test: names and addresses are never reused
    stack_ = fmt::format("nt{}x{}", ::getpid(), ++tests);
  }
  void TearDown() override {
    if (::geteuid() != 0) return;
    deploy::StackPaths paths = deploy::PathsFor(home_, stack_);
    if (!other_home_.empty()) {  // a second home's stack of the same name
      (void)Shell(fmt::format("DROVER_HOME={} {} down --purge --stack {}", other_home_, DroverBinary(), stack_));
      deploy::StackState none;
      none.name = stack_;
      EXPECT_TRUE(deploy::netns::RemoveNetwork(deploy::PathsFor(other_home_, stack_), stack_, none).ok());
      std::error_code ec;
      std::filesystem::remove_all(other_home_, ec);
    }
    CliTest::TearDown();
    // Also when `down` could not finish: the stack's namespaces, links and bridge go.
    deploy::StackState none;
    none.name = stack_;
    EXPECT_TRUE(deploy::netns::RemoveNetwork(paths, stack_, none).ok());
    // Whatever happened in the test: no namespace, veth or bridge of this stack is left.
    for (const auto& ns : os::ListDir("/run/netns")) {
      EXPECT_NE(ns.rfind(deploy::netns::NamespacePrefix(stack_, paths), 0), 0u) << "left behind: " << ns;
    }
    EXPECT_FALSE(os::Exists("/sys/class/net/" + deploy::netns::BridgeName(paths)));
  }

  // Every instance's boot and daemon log, for a failure message.
  std::string InstanceLogs() {
    std::string out;
    std::string dir = home_ + "/stacks/" + stack_ + "/instances";
    for (const auto& i : os::ListDir(dir)) {
      for (const char* f : {"boot.log", "daemon.log"}) {
        auto text = os::ReadFile(dir + "/" + i + "/" + f);
        if (text.ok()) out += fmt::format("==> {}/{} <==\n{}\n", i, f, text->substr(text->size() > 3000 ? text->size() - 3000 : 0));
      }
    }
    return out;
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
  std::string other_home_;
};

TEST_F(Netns, CutOffNodeIsRequeuedAndItsStaleResultsIgnored) {
  auto up = Drover(fmt::format("up {}/examples/netns.yaml --provider netns --no-rollback --stack {} --param HeartbeatTimeoutMs=2000",
                               DROVER_SOURCE_DIR, stack_));
  ASSERT_EQ(up.code, 0) << up.out << InstanceLogs();
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
  // No --provider: the template says it is written for netns.
  auto up = Drover(fmt::format("up {}/examples/netns.yaml --no-rollback --stack {} --param ComputeNodes=2",
                               DROVER_SOURCE_DIR, stack_));
  ASSERT_EQ(up.code, 0) << up.out << InstanceLogs();
  EXPECT_FALSE(FindInstance("head-001").netns.empty()) << "the head node runs in a namespace of its own";
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
  if (::geteuid() == 0) GTEST_SKIP() << "runs as a user without root";  // root runs the rest
  EXPECT_NE(deploy::netns::CheckPrivileges().message().find("needs root"), std::string::npos);
}

}  // namespace
}  // namespace drover::testing

namespace drover::testing {
namespace {

// PostgreSQL as its own host: restarted in the middle of a sweep, the sweep completes with every task
// exactly once; `down` keeps its data and the next `up` reattaches the databases with the job in them.
TEST_F(Netns, PostgresRestartedMidSweepLosesNothing) {
  // The server runs as the postgres user, which must be able to enter DROVER_HOME.
  ASSERT_EQ(::chmod(home_.c_str(), 0711), 0);
  auto up = Drover(fmt::format("up {}/examples/postgres.yaml --provider netns --no-rollback --stack {} --param ComputeNodes=2",
                               DROVER_SOURCE_DIR, stack_));
  ASSERT_EQ(up.code, 0) << up.out << InstanceLogs();
  EXPECT_TRUE(Contains(up.out, "initialized a new PostgreSQL data directory")) << up.out;
  deploy::Instance db = FindInstance("db-001");
  ASSERT_FALSE(db.netns.empty());
  auto submitted = Drover("submit --array 1-30 -o 'out.%a' -- sh -c 'sleep 0.2; echo task *'");
  ASSERT_EQ(submitted.code, 0) << submitted.out;
  std::string id = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_TRUE(TestCluster::Eventually([&] { return Contains(Drover("job show " + id).out, "Running"); }, 20000));
  // A fast shutdown (SIGINT) cuts every connection; the supervisor starts the server again.
  pid_t postmaster = os::RunningDaemon(db.dir + "/daemon.pid", "postgres");
  ASSERT_GT(postmaster, 0);
  ::kill(postmaster, SIGINT);
  ASSERT_TRUE(TestCluster::Eventually([&] { return Drover("job wait " + id).code == 0; }, 120000))
      << Drover("status --stack " + stack_).out;
  EXPECT_TRUE(Contains(Drover("status --stack " + stack_).out, "PostgreSQL restarted")) << Drover("status --stack " + stack_).out;
  auto show = Drover("job show " + id + " --json");
  EXPECT_EQ(CountTasks(boost::json::parse(show.out), "Finished"), 30) << show.out;
  for (int i = 1; i <= 30; ++i) EXPECT_EQ(ReadLines(fmt::format("{}/work/out.{}", home_, i)).size(), 1u) << i;

  // The password never appears on a command line or in the stack's state.
  auto state = os::ReadFile(home_ + "/stacks/" + stack_ + "/state.json");
  ASSERT_TRUE(state.ok());
  auto password = Drover("secret get /" + stack_ + "/sql/service-account-password");
  ASSERT_EQ(password.code, 0);
  ASSERT_FALSE(password.out.empty());
  EXPECT_FALSE(Contains(*state, password.out));
  EXPECT_FALSE(Contains(Shell("ps -eo args").out, password.out));

  ASSERT_EQ(Drover("down --stack " + stack_).code, 0);
  auto again = Drover(fmt::format("up {}/examples/postgres.yaml --stack {}", DROVER_SOURCE_DIR, stack_));
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_TRUE(Contains(again.out, "reattaching the PostgreSQL data directory")) << again.out;
  EXPECT_TRUE(Contains(Drover("job show " + id).out, "Finished"));
}

}  // namespace
}  // namespace drover::testing

namespace drover::testing {
namespace {

// Two homes, one stack name, both on netns at once: each stack has its own namespaces, bridge and
// addresses, and each runs work.
TEST_F(Netns, StacksOfOneNameInTwoHomesSideBySide) {
  char tmpl[] = "/tmp/drover-cli-XXXXXX";
  other_home_ = ::mkdtemp(tmpl);
  ASSERT_TRUE(os::MakeDirs(other_home_ + "/work").ok());
  std::string up = fmt::format("up {}/examples/netns.yaml --provider netns --stack {} --param ComputeNodes=1",
                               DROVER_SOURCE_DIR, stack_);
  auto first = Drover(up);
  ASSERT_EQ(first.code, 0) << first.out << InstanceLogs();
  std::string other = fmt::format("cd {}/work && DROVER_HOME={} {} ", other_home_, other_home_, DroverBinary());
  auto second = Shell(other + up);
  ASSERT_EQ(second.code, 0) << second.out;
  deploy::StackPaths mine = deploy::PathsFor(home_, stack_), theirs = deploy::PathsFor(other_home_, stack_);
  EXPECT_NE(deploy::netns::BridgeName(mine), deploy::netns::BridgeName(theirs));
  EXPECT_TRUE(os::Exists("/sys/class/net/" + deploy::netns::BridgeName(mine)));
  EXPECT_TRUE(os::Exists("/sys/class/net/" + deploy::netns::BridgeName(theirs)));
  auto a = deploy::LoadStackState(mine), b = deploy::LoadStackState(theirs);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->subnet, b->subnet);
  EXPECT_NE(a->Find("HeadNode")->instances.front().netns, b->Find("HeadNode")->instances.front().netns);
  auto run = Drover("run -n 1 -- sh -c 'echo ran'");
  EXPECT_EQ(run.code, 0) << run.out;
  auto run2 = Shell(other + "run -n 1 -- sh -c 'echo ran'");
  EXPECT_EQ(run2.code, 0) << run2.out;
  // Taking one down leaves the other running.
  ASSERT_EQ(Drover("down --stack " + stack_).code, 0);
  EXPECT_TRUE(os::Exists("/sys/class/net/" + deploy::netns::BridgeName(theirs)));
  EXPECT_EQ(Shell(other + "run -n 1 -- sh -c 'echo still'").code, 0);
}

// An up refuses a bridge or namespace that is not its own, and leaves it alone; a down whose stack
// lost its state still removes the stack's namespaces (and what runs in them) and its bridge.
TEST_F(Netns, UpRefusesForeignHostsAndDownRemovesWhatALostStateLeft) {
  deploy::StackPaths paths = deploy::PathsFor(home_, stack_);
  std::string up = fmt::format("up {}/examples/netns.yaml --provider netns --stack {} --param ComputeNodes=1",
                               DROVER_SOURCE_DIR, stack_);
  std::string bridge = deploy::netns::BridgeName(paths);
  ASSERT_EQ(Shell("ip link add " + bridge + " type bridge").code, 0);
  auto refused = Drover(up);
  EXPECT_NE(refused.code, 0);
  EXPECT_TRUE(Contains(refused.out, "network bridge " + bridge + " already exists")) << refused.out;
  EXPECT_TRUE(os::Exists("/sys/class/net/" + bridge)) << "a bridge that is not the stack's is left alone";
  ASSERT_EQ(Shell("ip link delete " + bridge).code, 0);

  std::string ns = deploy::netns::NamespacePrefix(stack_, paths) + "head-001";
  ASSERT_EQ(Shell("ip netns add " + ns).code, 0);
  refused = Drover(up);
  EXPECT_NE(refused.code, 0);
  EXPECT_TRUE(Contains(refused.out, "network namespace " + ns + " already exists")) << refused.out;
  EXPECT_TRUE(os::Exists("/run/netns/" + ns)) << "a namespace the stack did not make is left alone";
  ASSERT_EQ(Shell("ip netns delete " + ns).code, 0);

  auto ok = Drover(up);
  ASSERT_EQ(ok.code, 0) << ok.out << InstanceLogs();
  auto state = deploy::LoadStackState(paths);
  ASSERT_TRUE(state.ok());
  deploy::Instance head = state->Find("HeadNode")->instances.front();
  pid_t head_pid = os::RunningDaemon(head.dir + "/daemon.pid", "headnode");
  ASSERT_GT(head_pid, 0);
  // The state is lost (and with it the supervisor's reason to run): down still removes everything.
  ASSERT_TRUE(os::RemoveFile(paths.State()).ok());
  auto down = Drover("down --stack " + stack_);
  EXPECT_EQ(down.code, 0) << down.out;
  EXPECT_FALSE(os::Exists("/run/netns/" + head.netns)) << down.out;
  EXPECT_FALSE(os::Exists("/sys/class/net/" + bridge)) << down.out;
  EXPECT_TRUE(TestCluster::Eventually([&] { return ::kill(head_pid, 0) != 0; }, 10000)) << "the head node still runs";
}

}  // namespace
}  // namespace drover::testing
