// Nothing keeps running without its home: a head node or compute node whose state directory is
// removed stops on its own (killing its tasks), and the benchmarks' teardown stops every process it
// started even when `drover down` fails.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "os/files.h"
#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {

namespace fs = std::filesystem;

// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
bool Alive(pid_t pid) {
  auto stat = os::ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!stat.ok()) return false;
  auto paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Teardown, DaemonsStopWhenTheirStateDirectoryIsRemoved) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 1});
  cluster.StartAll();
  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  cluster.Submit(ShellJob(work, "echo $$ > task.pid; exec sleep 300"));
  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/task.pid").size() == 1; }, 20000));
  pid_t task = std::stoi(ReadLines(work + "/task.pid")[0]);
  ASSERT_TRUE(Alive(task));

  fs::remove_all(cluster.dir() + "/" + cluster.NodeName(0));
  pid_t node = cluster.NodePid(0);
  EXPECT_TRUE(TestCluster::Eventually([&] { return !Alive(node); }, 15000)) << "the compute node runs on";
  EXPECT_TRUE(TestCluster::Eventually([&] { return !Alive(task); }, 15000)) << "its task runs on";
  auto log = os::ReadFile(cluster.dir() + "/" + cluster.NodeName(0) + ".log");
  EXPECT_TRUE(log.ok() && Contains(*log, "the state directory " + cluster.dir() + "/cn01 was removed; stopping"))
      << (log.ok() ? *log : "");
  siginfo_t exit{};  // its exit status, leaving it for the cluster to reap
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(node), &exit, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(exit.si_code, CLD_EXITED);
  EXPECT_EQ(exit.si_status, 1);

  // The head node's directory removed and made again at the same path is not its own any more.
  pid_t head = cluster.HeadPid();
  ASSERT_TRUE(Alive(head));
  fs::rename(cluster.head_dir(), cluster.dir() + "/old-head");
  ASSERT_TRUE(os::MakeDirs(cluster.head_dir(), 0700).ok());
  EXPECT_TRUE(TestCluster::Eventually([&] { return !Alive(head); }, 15000)) << "the head node runs on";
  auto head_log = os::ReadFile(cluster.dir() + "/headnode.log");
  EXPECT_TRUE(head_log.ok() && Contains(*head_log, "was removed and replaced by another; stopping"))
      << (head_log.ok() ? *head_log : "");
}

// The benchmarks' teardown (bench/lib.sh cluster_down) with a `down` that fails: the stack's lock is
// held, as a stuck `up` would hold it. Every daemon of the cluster is gone when it returns.
TEST(Teardown, BenchTeardownStopsEverythingItStartedWhenDownFails) {
  char tmpl[] = "/tmp/drover-teardown-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string script = fmt::format(R"(set -eu
export TMPDIR={dir}
DROVER={drover}
source {source}/bench/lib.sh
cluster_up 1 1
cat "$DROVER_HOME"/stacks/local/instances/*/daemon.pid "$DROVER_HOME"/stacks/local/supervisor.pid > {dir}/pids
exec 9>"$DROVER_HOME/stacks/local/lock"
flock 9
cluster_down
trap - EXIT
echo teardown returned
)",
                                   fmt::arg("dir", dir), fmt::arg("drover", DroverBinary()),
                                   fmt::arg("source", DROVER_SOURCE_DIR));
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/teardown.sh", script).ok());
  std::string out;
  FILE* p = ::popen(fmt::format("bash {}/teardown.sh 2>&1", dir).c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  // Checked at once: a daemon still alive now outlived the teardown.
  std::vector<pid_t> alive;
  auto pids = ReadLines(dir + "/pids");
  for (const auto& line : pids) {
    if (Alive(std::stoi(line))) alive.push_back(std::stoi(line));
  }
  for (pid_t pid : alive) ::kill(pid, SIGKILL);
  ASSERT_EQ(status, 0) << out;
  EXPECT_GE(pids.size(), 3u) << "head node, compute node, supervisor";
  EXPECT_TRUE(alive.empty()) << fmt::format("{} processes outlived the teardown\n", alive.size()) << out;
  EXPECT_TRUE(Contains(out, "drover down failed")) << out;
  EXPECT_TRUE(Contains(out, "teardown returned")) << out;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace drover::testing
