#include "os/process.h"
#include "common/test_skips.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace drover::os {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kDeadline = 10s;  // every wait in these tests is bounded by this

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::set<std::string> Lines(const std::string& s) {
  std::set<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.insert(line);
  return out;
}

// Dead, or a zombie nobody reaps (orphans go to PID 1, which in a container may never reap).
bool DeadOrZombie(pid_t pid) {
  if (!ProcessAlive(pid)) return true;
  std::string stat = ReadAll("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;  // vanished meanwhile
  char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

template <typename Pred>
bool PollUntil(Pred pred) {
  auto deadline = steady_clock::now() + kDeadline;
  while (steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "drover_os_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = fs::canonical(tmpl);
  }
  void TearDown() override {
    // Leave no children behind for later tests.
    for (pid_t pid : launched_) {
      if (ProcessAlive(pid)) (void)launcher_->SignalGroup(pid, SIGKILL);
    }
    PollUntil([&] {
      for (const auto& e : launcher_->ReapExited()) exited_[e.pid] = e;
      for (pid_t pid : launched_) {
        if (!exited_.count(pid)) return false;
      }
      return true;
    });
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  LaunchSpec Spec(std::vector<std::string> argv) {
    LaunchSpec spec;
    spec.argv = std::move(argv);
    spec.env = {{"PATH", "/usr/bin:/bin"}};
    spec.working_dir = dir_.string();
    spec.stdout_path = (dir_ / "out.txt").string();
    spec.stderr_path = (dir_ / "err.txt").string();
    return spec;
  }

  pid_t MustLaunch(const LaunchSpec& spec) {
    Result<pid_t> r = launcher_->Launch(spec);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return -1;
    launched_.insert(*r);
    return *r;
  }

  // Polls ReapExited() until `pid` has exited; other children's exits are kept for later.
  std::optional<ExitInfo> WaitExit(pid_t pid) {
    PollUntil([&] {
      for (const auto& e : launcher_->ReapExited()) exited_[e.pid] = e;
      return exited_.count(pid) > 0;
    });
    auto it = exited_.find(pid);
    if (it == exited_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<ExitInfo> Run(const LaunchSpec& spec) {
    pid_t pid = MustLaunch(spec);
    if (pid < 0) return std::nullopt;
    return WaitExit(pid);
  }

  fs::path dir_;
  std::unique_ptr<ProcessLauncher> launcher_ = MakeSystemLauncher();
  std::set<pid_t> launched_;
  std::map<pid_t, ExitInfo> exited_;
};

TEST_F(ProcessTest, SeparateOutputFilesAndExitCode) {
  auto exit = Run(Spec({"sh", "-c", "echo out; echo err >&2; exit 3"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "out\n");
  EXPECT_EQ(ReadAll(dir_ / "err.txt"), "err\n");
}

TEST_F(ProcessTest, SameFileForStdoutAndStderrKeepsOrder) {
  LaunchSpec spec = Spec({"sh", "-c", "echo one; echo two >&2; echo three"});
  spec.stderr_path = spec.stdout_path;
  auto exit = Run(spec);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "one\ntwo\nthree\n");
}

TEST_F(ProcessTest, DifferentSpellingsOfOneFileShareIt) {
  LaunchSpec spec = Spec({"sh", "-c", "echo one; echo two >&2; echo three"});
  spec.stdout_path = "both.txt";  // relative: resolved in the working directory
  spec.stderr_path = "./both.txt";
  ASSERT_TRUE(Run(spec).has_value());
  EXPECT_EQ(ReadAll(dir_ / "both.txt"), "one\ntwo\nthree\n");
}

TEST_F(ProcessTest, OutputFilesAreTruncated) {
  std::ofstream(dir_ / "out.txt") << "old content that is longer\n";
  ASSERT_TRUE(Run(Spec({"echo", "new"})).has_value());
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "new\n");
}

TEST_F(ProcessTest, EmptyOutputPathsGoToDevNull) {
  LaunchSpec spec = Spec({"sh", "-c", "echo out; echo err >&2"});
  spec.stdout_path.clear();
  spec.stderr_path.clear();
  auto exit = Run(spec);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "out.txt"));
}

TEST_F(ProcessTest, EnvironmentIsExactlyTheSpec) {
  LaunchSpec spec = Spec({"env"});
  spec.env = {{"PATH", "/usr/bin:/bin"}, {"DROVER_JOB", "42"}, {"EMPTY", ""}};
  ASSERT_TRUE(Run(spec).has_value());
  EXPECT_EQ(Lines(ReadAll(dir_ / "out.txt")),
            (std::set<std::string>{"PATH=/usr/bin:/bin", "DROVER_JOB=42", "EMPTY="}));
}

TEST_F(ProcessTest, DefaultPathWhenEnvHasNone) {
  LaunchSpec spec = Spec({"sh", "-c", "echo ok"});
  spec.env = {{"ONLY", "this"}};
  auto exit = Run(spec);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "ok\n");
}

TEST_F(ProcessTest, CommandIsResolvedAgainstTheChildsPath) {
  fs::create_directories(dir_ / "bin");
  std::ofstream(dir_ / "bin" / "mytool") << "#!/bin/sh\necho mytool ran\n";
  fs::permissions(dir_ / "bin" / "mytool", fs::perms(0755));
  LaunchSpec spec = Spec({"mytool"});
  spec.env["PATH"] = (dir_ / "bin").string() + ":/usr/bin:/bin";
  auto exit = Run(spec);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "mytool ran\n");
}

TEST_F(ProcessTest, ScriptWithoutShebangRunsUnderSh) {
  std::ofstream(dir_ / "plain.sh") << "echo plain \"$1\"\n";
  fs::permissions(dir_ / "plain.sh", fs::perms(0755));
  auto exit = Run(Spec({"./plain.sh", "arg"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "plain arg\n");
}

TEST_F(ProcessTest, WorkingDirectoryIsHonored) {
  fs::create_directories(dir_ / "work");
  LaunchSpec spec = Spec({"pwd"});
  spec.working_dir = (dir_ / "work").string();
  spec.stdout_path = "pwd.txt";  // relative output paths land in the working directory
  ASSERT_TRUE(Run(spec).has_value());
  EXPECT_EQ(ReadAll(dir_ / "work" / "pwd.txt"), (dir_ / "work").string() + "\n");
}

TEST_F(ProcessTest, StdinIsDevNull) {
  // Give this process a stdin with data in it; the child must not see it.
  int saved = ::dup(0);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ASSERT_EQ(::write(p[1], "leaked\n", 7), 7);
  ::close(p[1]);
  ::dup2(p[0], 0);
  ::close(p[0]);
  auto exit = Run(Spec({"cat"}));
  ::dup2(saved, 0);
  ::close(saved);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "");
}

TEST_F(ProcessTest, ParentFdsAreNotInherited) {
  int fd = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(fd, 3);
  std::string n = std::to_string(fd);
  auto exit = Run(Spec({"sh", "-c", "if [ -e /proc/$$/fd/" + n + " ]; then echo leaked; else echo closed; fi"}));
  ::close(fd);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(ReadAll(dir_ / "out.txt"), "closed\n");
}

TEST_F(ProcessTest, SignalMaskAndDispositionsAreReset) {
  struct sigaction ign {}, old_term {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGTERM, &ign, &old_term), 0);
  sigset_t usr1, old_mask;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask), 0);

  auto exit = Run(Spec({"cat", "/proc/self/status"}));

  ::sigaction(SIGTERM, &old_term, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ASSERT_TRUE(exit.has_value());
  auto lines = Lines(ReadAll(dir_ / "out.txt"));
  EXPECT_TRUE(lines.count("SigBlk:\t0000000000000000")) << ReadAll(dir_ / "out.txt");
  EXPECT_TRUE(lines.count("SigIgn:\t0000000000000000")) << ReadAll(dir_ / "out.txt");
}

TEST_F(ProcessTest, MissingWorkingDirectoryIsALaunchError) {
  LaunchSpec spec = Spec({"true"});
  spec.working_dir = (dir_ / "nope").string();
  Result<pid_t> r = launcher_->Launch(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(spec.working_dir), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("does not exist"), std::string::npos) << r.status().ToString();
  // The failed child was reaped by Launch itself; it must not surface as an exit code.
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(launcher_->ReapExited().empty());
}

TEST_F(ProcessTest, MissingCommandIsALaunchError) {
  Result<pid_t> r = launcher_->Launch(Spec({"drover-no-such-command"}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'drover-no-such-command' not found in PATH"), std::string::npos)
      << r.status().ToString();

  std::string missing = (dir_ / "no-such-binary").string();
  r = launcher_->Launch(Spec({missing}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(missing), std::string::npos) << r.status().ToString();
  EXPECT_TRUE(launcher_->ReapExited().empty());
}

TEST_F(ProcessTest, NonExecutableFileIsALaunchError) {
  fs::create_directories(dir_ / "bin");
  fs::path tool = dir_ / "bin" / "tool";
  std::ofstream(tool) << "#!/bin/sh\n";
  fs::permissions(tool, fs::perms(0644));

  Result<pid_t> r = launcher_->Launch(Spec({tool.string()}));  // by path: exec reports EACCES
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'" + tool.string() + "' is not executable"), std::string::npos)
      << r.status().ToString();

  LaunchSpec spec = Spec({"tool"});  // by name: found in PATH but not executable
  spec.env["PATH"] = (dir_ / "bin").string();
  r = launcher_->Launch(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not executable"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find(tool.string()), std::string::npos) << r.status().ToString();
}

TEST_F(ProcessTest, UnwritableOutputPathIsALaunchError) {
  LaunchSpec spec = Spec({"true"});
  spec.stdout_path = (dir_ / "missing-dir" / "out.txt").string();
  Result<pid_t> r = launcher_->Launch(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot open output file " + spec.stdout_path), std::string::npos)
      << r.status().ToString();

  spec = Spec({"true"});
  std::ofstream(dir_ / "a-file") << "x";
  spec.stderr_path = (dir_ / "a-file" / "err.txt").string();  // ENOTDIR, even for root
  r = launcher_->Launch(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(spec.stderr_path), std::string::npos) << r.status().ToString();

  if (::geteuid() != 0) {  // root ignores permission bits
    fs::create_directories(dir_ / "ro");
    fs::permissions(dir_ / "ro", fs::perms(0555));
    spec = Spec({"true"});
    spec.stdout_path = (dir_ / "ro" / "out.txt").string();
    r = launcher_->Launch(spec);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("Permission denied"), std::string::npos) << r.status().ToString();
  }
  EXPECT_TRUE(launcher_->ReapExited().empty());
}

// The child takes on the task user's identity; the launching process, all its threads, keeps its own.
TEST_F(ProcessTest, RunsAsTheGivenUserAndLeavesTheLauncherAsItWas) {
  if (::geteuid() != 0) DROVER_SKIP() << "only root can run tasks as another user";
  fs::permissions(dir_, fs::perms(0777));
  std::atomic<bool> stop{false};
  std::atomic<uid_t> seen_by_other_thread{0};
  std::thread other([&] {
    while (!stop) {
      if (uid_t e = ::geteuid(); e != 0) seen_by_other_thread = e;
    }
  });
  gid_t groups_before[256];
  int n_before = ::getgroups(256, groups_before);
  LaunchSpec spec = Spec({"sh", "-c", "id -u; id -g; id -G"});
  spec.run_as = RunAs{65534, 65534, {65534}};
  for (int i = 0; i < 20; ++i) {
    auto e = Run(spec);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->exit_code, 0) << ReadAll(dir_ / "err.txt");
    EXPECT_EQ(ReadAll(dir_ / "out.txt"), "65534\n65534\n65534\n");
  }
  stop = true;
  other.join();
  EXPECT_EQ(seen_by_other_thread.load(), 0u) << "another thread of the launcher changed identity";
  EXPECT_EQ(::geteuid(), 0u);
  EXPECT_EQ(::getegid(), 0u);
  gid_t groups_after[256];
  int n_after = ::getgroups(256, groups_after);
  ASSERT_EQ(n_after, n_before);
  EXPECT_TRUE(std::equal(groups_before, groups_before + n_before, groups_after));
}

TEST_F(ProcessTest, EmptyArgvIsInvalid) {
  Result<pid_t> r = launcher_->Launch(Spec({}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ProcessTest, SignalGroupKillsTheWholeGroup) {
  pid_t pid = MustLaunch(Spec({"sh", "-c",
                               "sleep 100 & echo $! > pids.tmp; sleep 100 & echo $! >> pids.tmp; "
                               "mv pids.tmp pids; wait"}));
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::getpgid(pid), pid);
  EXPECT_EQ(::getsid(pid), pid);
  ASSERT_TRUE(PollUntil([&] { return fs::exists(dir_ / "pids"); }));
  std::vector<pid_t> sleeps;
  for (const auto& line : Lines(ReadAll(dir_ / "pids"))) sleeps.push_back(std::stoi(line));
  ASSERT_EQ(sleeps.size(), 2u);
  for (pid_t s : sleeps) {
    EXPECT_TRUE(ProcessAlive(s));
    EXPECT_EQ(::getpgid(s), pid);
  }

  ASSERT_TRUE(launcher_->SignalGroup(pid, SIGKILL).ok());
  auto exit = WaitExit(pid);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 128 + SIGKILL);
  EXPECT_EQ(exit->signal, SIGKILL);
  for (pid_t s : sleeps) EXPECT_TRUE(PollUntil([&] { return DeadOrZombie(s); })) << s;

  // The group is gone now: signalling it again is not an error.
  EXPECT_TRUE(launcher_->SignalGroup(pid, SIGTERM).ok());
}

TEST_F(ProcessTest, SignalGroupRefusesOwnGroupAndAll) {
  EXPECT_FALSE(launcher_->SignalGroup(0, SIGTERM).ok());
  EXPECT_FALSE(launcher_->SignalGroup(-1, SIGTERM).ok());
}

TEST_F(ProcessTest, WithoutNewSessionChildStaysInOurGroup) {
  LaunchSpec spec = Spec({"sleep", "100"});
  spec.new_session = false;
  pid_t pid = MustLaunch(spec);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::getpgid(pid), ::getpgid(0));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);  // not SignalGroup: that would hit this test process
  ASSERT_TRUE(WaitExit(pid).has_value());
}

TEST_F(ProcessTest, ExitBySignalIs128PlusSignal) {
  auto exit = Run(Spec({"sh", "-c", "kill -9 $$"}));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 128 + 9);
  EXPECT_EQ(exit->signal, 9);
}

TEST_F(ProcessTest, ResourceUsageIsReported) {
  // Real work (about half a second of CPU on a 2020s core), measured twice: by the launcher and by
  // this process's own account of the children it reaped meanwhile (only this one).
  rusage before{}, after{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &before), 0);
  auto exit = Run(Spec({"sh", "-c", "i=0; while [ $i -lt 600000 ]; do i=$((i+1)); done"}));
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &after), 0);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  auto ms = [](const timeval& t) { return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_usec / 1000; };
  int64_t user = ms(after.ru_utime) - ms(before.ru_utime), system = ms(after.ru_stime) - ms(before.ru_stime);
  EXPECT_GE(exit->user_cpu_ms + exit->system_cpu_ms, 100) << "the loop's CPU time was not counted";
  EXPECT_NEAR(exit->user_cpu_ms, user, 2);
  EXPECT_NEAR(exit->system_cpu_ms, system, 2);
  EXPECT_GT(exit->max_rss_kb, 0);
}

TEST_F(ProcessTest, ChildDiesWithItsParent) {
  // An intermediate process launches a task and exits; PR_SET_PDEATHSIG must kill the task.
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t mid = ::fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {
    ::close(p[0]);
    auto launcher = MakeSystemLauncher();
    LaunchSpec spec = Spec({"sleep", "100"});
    Result<pid_t> r = launcher->Launch(spec);
    pid_t child = r.ok() ? *r : -1;
    (void)!::write(p[1], &child, sizeof child);
    ::_exit(0);
  }
  ::close(p[1]);
  pid_t task = -1;
  ASSERT_EQ(::read(p[0], &task, sizeof task), static_cast<ssize_t>(sizeof task));
  ::close(p[0]);
  ASSERT_EQ(::waitpid(mid, nullptr, 0), mid);
  ASSERT_GT(task, 0);
  EXPECT_TRUE(PollUntil([&] { return DeadOrZombie(task); }));
}

TEST_F(ProcessTest, ConcurrentReapingNeverSeesFailedLaunches) {
  // A reaper thread races Launch(): children that fail before exec must never be reported, and
  // children that exec and exit at once must be reported exactly once.
  std::mutex mu;
  std::vector<ExitInfo> seen;
  std::atomic<bool> stop{false};
  std::thread reaper([&] {
    while (!stop) {
      auto batch = launcher_->ReapExited();
      std::lock_guard lock(mu);
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
  });
  std::set<pid_t> ok;
  for (int i = 0; i < 20; ++i) {
    LaunchSpec bad = Spec({"true"});
    bad.working_dir = (dir_ / "nope").string();
    EXPECT_FALSE(launcher_->Launch(bad).ok());
    Result<pid_t> r = launcher_->Launch(Spec({"true"}));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ok.insert(*r);
  }
  bool all = PollUntil([&] {
    std::lock_guard lock(mu);
    return seen.size() >= ok.size();
  });
  stop = true;
  reaper.join();
  EXPECT_TRUE(all);
  std::set<pid_t> reported;
  for (const auto& e : seen) {
    EXPECT_EQ(e.exit_code, 0) << e.pid;
    EXPECT_TRUE(ok.count(e.pid)) << e.pid;
    EXPECT_TRUE(reported.insert(e.pid).second) << "reported twice: " << e.pid;
  }
  EXPECT_EQ(reported, ok);
}

TEST_F(ProcessTest, ProcessAlive) {
  EXPECT_TRUE(ProcessAlive(::getpid()));
  EXPECT_FALSE(ProcessAlive(0));
  EXPECT_FALSE(ProcessAlive(-1));
  pid_t pid = MustLaunch(Spec({"true"}));
  ASSERT_TRUE(WaitExit(pid).has_value());
  EXPECT_FALSE(ProcessAlive(pid));  // reaped (pid reuse this fast is vanishingly unlikely)
}

}  // namespace
}  // namespace drover::os
