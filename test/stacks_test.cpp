// Several stacks in one DROVER_HOME, and stacks brought up again after faults: each stack keeps what
// it owns to itself (its CA key, its names), commands without --stack mean the stack brought up last,
// and an up never trips over what an earlier fault left behind.
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "os/daemon.h"
#include "os/files.h"
#include "test/cli_fixture.h"
#include "test/harness.h"

namespace drover::testing {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class Stacks : public CliTest {
 protected:
  // A name of its own per stack (instances elsewhere on this machine never share it).
  static std::string Name(const char* what) { return fmt::format("{}{}", what, ::getpid()); }
  std::string Up(const std::string& stack) {
    return fmt::format("up --nodes 1 --cores 1 --stack {}", stack);
  }
  std::string Dir(const std::string& stack) { return home_ + "/stacks/" + stack; }
  pid_t Daemon(const std::string& stack, const std::string& instance, const char* marker) {
    return os::RunningDaemon(Dir(stack) + "/instances/" + instance + "/daemon.pid", marker);
  }
};

TEST_F(Stacks, TwoStacksInOneHomeKeepTheirOwnCaKeys) {
  std::string a = Name("ca"), b = Name("cb");
  auto up = Drover(Up(a));
  ASSERT_EQ(up.code, 0) << up.out;
  ASSERT_EQ(Drover("down --stack " + a).code, 0);
  up = Drover(Up(b));
  ASSERT_EQ(up.code, 0) << up.out;
  ASSERT_EQ(Drover("down --stack " + b).code, 0);
  // The first stack's retained head node starts again with its own CA.
  up = Drover(Up(a));
  ASSERT_EQ(up.code, 0) << up.out << Drover("logs HeadNode --stack " + a).out;
  auto run = Drover("run -n 1 -- sh -c 'echo ran'");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_TRUE(Contains(run.out, "ran")) << run.out;
  auto list = Drover("secret --local list");
  for (const auto& s : {a, b}) {
    EXPECT_TRUE(Contains(list.out, "/drover/stacks/" + s + "/cluster-ca/private-key")) << list.out;
    EXPECT_TRUE(Contains(list.out, "/drover/stacks/" + s + "/join-token")) << list.out;
  }
}

TEST_F(Stacks, CommandsWithoutStackMeanTheOneBroughtUpLast) {
  std::string retained = Name("old"), running = Name("new");
  ASSERT_EQ(Drover(Up(retained)).code, 0);
  ASSERT_EQ(Drover("down --stack " + retained).code, 0);
  auto up = Drover(Up(running));
  ASSERT_EQ(up.code, 0) << up.out;
  auto status = Drover("status");
  EXPECT_EQ(status.code, 0) << status.out;
  EXPECT_TRUE(Contains(status.out, "Stack " + running + ": UP_COMPLETE")) << status.out;

  auto down = Drover("down");
  ASSERT_EQ(down.code, 0) << down.out;
  EXPECT_TRUE(Contains(Drover("status --stack " + running).out, "DOWN_COMPLETE"));
  EXPECT_EQ(Daemon(running, "head-001", "headnode"), 0) << "the running stack's head node was stopped";

  // Both down, neither current: the command lists them and says how to choose.
  auto ambiguous = Drover("status");
  EXPECT_NE(ambiguous.code, 0);
  EXPECT_TRUE(Contains(ambiguous.out, "--stack")) << ambiguous.out;
  EXPECT_TRUE(Contains(ambiguous.out, retained) && Contains(ambiguous.out, running)) << ambiguous.out;
}

// A compute node and the head node killed (and replaced by the supervisor), the stack taken down and
// brought up again: the new instances start afresh, not from a replaced instance's leftovers.
TEST_F(Stacks, UpAfterReplacedInstancesStartsAfresh) {
  std::string stack = Name("re");
  auto up = Drover(Up(stack));
  ASSERT_EQ(up.code, 0) << up.out;
  pid_t node = Daemon(stack, "compute-001", "computenode");
  ASSERT_GT(node, 0);
  ::kill(node, SIGKILL);
  ASSERT_TRUE(TestCluster::Eventually(
      [&] { return Contains(Drover("status --stack " + stack).out, "replaced compute-001 by"); }, 60000))
      << Drover("status --stack " + stack).out;
  pid_t head = Daemon(stack, "head-001", "headnode");
  ASSERT_GT(head, 0);
  ::kill(head, SIGKILL);
  ASSERT_TRUE(TestCluster::Eventually(
      [&] { return Contains(Drover("status --stack " + stack).out, "replaced head-001 by"); }, 60000))
      << Drover("status --stack " + stack).out;

  auto down = Drover("down --stack " + stack);
  ASSERT_EQ(down.code, 0) << down.out;
  auto again = Drover(Up(stack));
  ASSERT_EQ(again.code, 0) << again.out << Drover("logs Compute --stack " + stack).out;
  auto run = Drover("run -n 1 -- sh -c 'echo ran'");
  EXPECT_EQ(run.code, 0) << run.out;
}

}  // namespace
}  // namespace drover::testing
