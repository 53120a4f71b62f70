// The real ProcessLauncher: fork + exec with a CLOEXEC "exec status" pipe.
//
// Design notes (the parts that are easy to get wrong):
//  * Everything that allocates (PATH lookup, argv/envp arrays, paths) is done in the parent
//    before fork(). Between fork() and exec the child only makes async-signal-safe system
//    calls: the agent is multi-threaded, and another thread may have held the malloc lock at
//    the moment of fork.
//  * The "fork" is clone(CLONE_VM | CLONE_VFORK), as posix_spawn does: the child borrows the
//    agent's memory on a stack of its own until it execs, so no page tables are copied and no
//    copy-on-write faults are taken, and the calling thread sleeps until the exec (which it
//    waited for anyway). The child therefore writes nothing but its own stack, and changes its
//    credentials with the raw system calls: glibc's setuid() would signal the agent's other
//    threads, whose memory the child shares, and change theirs. Sanitizer builds use fork().
//  * Pre-exec failures travel back over a pipe whose write end is O_CLOEXEC: a successful exec
//    closes it (parent reads EOF), a failure writes a {step, errno} record and _exit(127)s. The
//    parent turns the record into a Status naming the path, and reaps that child itself so the
//    failure never surfaces as an exit code through ReapExited().
//  * wait4(-1) is process-wide, so the bookkeeping that keeps ReapExited() away from children
//    still inside Launch() is process-wide too (ReapState below), not per launcher instance.
#include "os/process.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace drover::os {
namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
constexpr int kChildFailureExit = 127;

// Which pre-exec step failed; sent from the child to the parent.
enum class Step : int32_t {
  kSetsid = 1,
  kDeathSignal,
  kChdir,
  kOpenStdin,
  kOpenStdout,
  kOpenStderr,
  kRedirect,
  kExec,
  kSetUser,
  kJoinCgroup,
};

struct ChildError {
  int32_t step;
  int32_t err;
};
static_assert(sizeof(ChildError) <= PIPE_BUF, "must be written atomically");

// Everything the child needs, prepared by the parent so the child never allocates.
struct ChildPlan {
  std::vector<std::string> argv_storage, env_storage, sh_argv_storage;
  std::vector<char*> argv, envp, sh_argv;  // null-terminated views of the storages
  std::string exec_path;                   // what execve() gets
  const char* working_dir = nullptr;
  const char* stdout_path = nullptr;       // "/dev/null" when the spec's path is empty
  const char* stderr_path = nullptr;
  bool stderr_same_as_stdout = false;
  bool new_session = true;
  bool kill_with_parent = true;
  bool switch_user = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  pid_t parent_pid = 0;
  sigset_t empty_mask;
  std::vector<const char*> cgroup_procs;  // cgroup.procs files to join
};

// Writes this process's pid to a cgroup.procs file: async-signal-safe, no allocation.
bool JoinCgroup(const char* procs) {
  char buf[24];
  char* p = buf + sizeof buf;
  unsigned long v = static_cast<unsigned long>(::getpid());
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  int fd = ::open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t want = buf + sizeof buf - p;
  ssize_t n = ::write(fd, p, static_cast<size_t>(want));
  int e = errno;
  ::close(fd);
  errno = e;
  return n == want;
}

std::vector<char*> CStrings(std::vector<std::string>& storage) {
  std::vector<char*> out;
  out.reserve(storage.size() + 1);
  for (auto& s : storage) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

bool IsAbsolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

// The child resolves relative paths after chdir(working_dir); the parent must check the same file.
std::string AsSeenByChild(const std::string& working_dir, const std::string& path) {
  if (IsAbsolute(path)) return path;
  return working_dir + "/" + path;
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsExecutable(const std::string& path) {
  // AT_EACCESS: exec checks the effective ids, not the real ones.
  return ::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) == 0;
}

// execvpe-like lookup, but against the child's PATH rather than ours. Relative PATH entries
// (including the empty one, meaning ".") are relative to the working directory, as they would
// be for the child. Directories and non-executable files are skipped, like execvp does.
Result<std::string> ResolveCommand(const std::string& name, const LaunchSpec& spec) {
  if (name.empty()) return InvalidArgument("empty command name (argv[0])");
  if (name.find('/') != std::string::npos) return name;  // exec() reports problems with it
  auto it = spec.env.find("PATH");
  const std::string path = it != spec.env.end() ? it->second : kDefaultPath;
  std::string not_executable;
  size_t start = 0;
  while (true) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    std::string check = AsSeenByChild(spec.working_dir, candidate);
    if (IsRegularFile(check)) {
      if (IsExecutable(check)) return candidate;
      if (not_executable.empty()) not_executable = candidate;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!not_executable.empty()) return InvalidArgument("'" + not_executable + "' is not executable");
  return InvalidArgument("command '" + name + "' not found in PATH (" + path + ")");
}

// Moves fd to a number >= 3 (keeping O_CLOEXEC), so that dup2() onto 0..2 never has source ==
// target: dup2(fd, fd) is a no-op that would leave O_CLOEXEC set on a standard stream.
// The original low fd is left open on purpose; dup2() onto 0..2 replaces it.
int AboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  return ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

[[noreturn]] void ChildFail(int errfd, Step step, int err) {
  ChildError rec{static_cast<int32_t>(step), err};
  ssize_t n;
  do {
    n = ::write(errfd, &rec, sizeof rec);
  } while (n < 0 && errno == EINTR);
  ::_exit(kChildFailureExit);
}

// Runs in the child between fork() and exec: async-signal-safe calls only, no allocation.
[[noreturn]] void RunChild(const ChildPlan& plan, int errfd) {
  // Join the task's cgroups before anything else, still as root: every process the task starts
  // from here on is born inside them, so none escapes the limits or the kill.
  for (const char* procs : plan.cgroup_procs) {
    if (!JoinCgroup(procs)) ChildFail(errfd, Step::kJoinCgroup, errno);
  }
  if (plan.new_session && ::setsid() < 0) ChildFail(errfd, Step::kSetsid, errno);

  // Become the task's user first: the working directory and output files are then checked with
  // its permissions, and a credential change clears the death signal, which is set after it.
  if (plan.switch_user) {
    if (::syscall(SYS_setgroups, plan.groups.size(), plan.groups.data()) < 0) {
      ChildFail(errfd, Step::kSetUser, errno);
    }
    if (::syscall(SYS_setgid, plan.gid) < 0) ChildFail(errfd, Step::kSetUser, errno);
    if (::syscall(SYS_setuid, plan.uid) < 0) ChildFail(errfd, Step::kSetUser, errno);
  }

  if (plan.kill_with_parent) {
    // Caveat: the death signal fires when the *thread* that forked exits, not the process.
    // Launch() must therefore be called from a long-lived thread (the agent's main loop).
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) ChildFail(errfd, Step::kDeathSignal, errno);
    // The parent may have died before prctl(); then no signal would ever come.
    if (::getppid() != plan.parent_pid) ::_exit(kChildFailureExit);
  }

  // The task must not inherit the agent's ignored signals (e.g. SIGPIPE) or handlers. The mask
  // is still fully blocked here (see Launch), so no handler can run during the reset.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for libc-reserved signals
  }
  ::sigprocmask(SIG_SETMASK, &plan.empty_mask, nullptr);

  if (::chdir(plan.working_dir) < 0) ChildFail(errfd, Step::kChdir, errno);

  // Relative output paths are therefore relative to the working directory.
  int in = AboveStdio(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (in < 0) ChildFail(errfd, Step::kOpenStdin, errno);
  constexpr int kOutFlags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC;
  int out = AboveStdio(::open(plan.stdout_path, kOutFlags, 0644));
  if (out < 0) ChildFail(errfd, Step::kOpenStdout, errno);
  int err = out;
  if (!plan.stderr_same_as_stdout) {
    err = AboveStdio(::open(plan.stderr_path, kOutFlags, 0644));
    if (err < 0) ChildFail(errfd, Step::kOpenStderr, errno);
    // Different spellings of one file ("a" vs "./a") must share one open file description too,
    // or the two streams would overwrite each other from separate offsets.
    struct stat so, se;
    if (::fstat(out, &so) == 0 && ::fstat(err, &se) == 0 && S_ISREG(so.st_mode) &&
        so.st_dev == se.st_dev && so.st_ino == se.st_ino) {
      ::close(err);
      err = out;
    }
  }
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) {
    ChildFail(errfd, Step::kRedirect, errno);
  }

  // Close everything the agent had open (sockets, database, other tasks' files) except the
  // status pipe, which is O_CLOEXEC and goes away by itself at exec.
  bool closed = true;
  if (errfd > 3 && ::close_range(3, static_cast<unsigned>(errfd - 1), 0) < 0) closed = false;
  if (closed && ::close_range(static_cast<unsigned>(errfd + 1), ~0U, 0) < 0) closed = false;
  if (!closed) {  // close_range() unavailable (kernel < 5.9): close the hard way
    struct rlimit rl;
    int max_fd = (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                  rl.rlim_cur < (1u << 20))
                     ? static_cast<int>(rl.rlim_cur)
                     : 65536;
    for (int fd = 3; fd < max_fd; ++fd) {
      if (fd != errfd) ::close(fd);
    }
  }

  ::execve(plan.exec_path.c_str(), plan.argv.data(), plan.envp.data());
  int exec_errno = errno;
  if (exec_errno == ENOEXEC) {
    // Like execvp: a file without a recognized format (a script with no #! line) runs under sh.
    ::execve("/bin/sh", plan.sh_argv.data(), plan.envp.data());
  }
  ChildFail(errfd, Step::kExec, exec_errno);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kShareMemoryWithChild = false;  // the sanitizers' runtimes expect a real fork
#else
constexpr bool kShareMemoryWithChild = true;
#endif

struct ChildArgs {
  const ChildPlan* plan;
  int errfd;
};

int ChildEntry(void* arg) {
  auto* a = static_cast<ChildArgs*>(arg);
  RunChild(*a->plan, a->errfd);
}

// Starts RunChild in a new process and returns its pid (-1 and errno on failure). With a shared
// address space the calling thread resumes once the child has exec'd or exited.
pid_t SpawnChild(const ChildPlan& plan, int errfd) {
  if (!kShareMemoryWithChild) {
    pid_t pid = ::fork();
    if (pid == 0) RunChild(plan, errfd);
    return pid;
  }
  constexpr size_t kStackSize = 64 * 1024;  // RunChild needs a few hundred bytes; libc wrappers little more
  auto stack = std::make_unique_for_overwrite<std::byte[]>(kStackSize);
  ChildArgs args{&plan, errfd};
  // The stack grows down: pass its (16-byte aligned) top.
  return ::clone(ChildEntry, stack.get() + kStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
}

Status ChildErrorToStatus(const ChildError& rec, const LaunchSpec& spec, const ChildPlan& plan) {
  const int e = rec.err;
  const std::string why = std::strerror(e);
  switch (static_cast<Step>(rec.step)) {
    case Step::kChdir:
      if (e == ENOENT) return FailedPrecondition("working directory " + spec.working_dir + " does not exist");
      if (e == ENOTDIR) {
        return FailedPrecondition("working directory " + spec.working_dir + " is not a directory");
      }
      return FailedPrecondition("cannot enter working directory " + spec.working_dir + ": " + why);
    case Step::kOpenStdout:
      return FailedPrecondition(std::string("cannot open output file ") + plan.stdout_path + ": " + why);
    case Step::kOpenStderr:
      return FailedPrecondition(std::string("cannot open output file ") + plan.stderr_path + ": " + why);
    case Step::kExec: {
      const std::string& p = plan.exec_path;
      if (e == ENOENT) {
        // The file may exist while its #! interpreter or ELF loader does not.
        if (IsRegularFile(AsSeenByChild(spec.working_dir, p))) {
          return InvalidArgument("cannot execute '" + p + "': its interpreter or loader was not found");
        }
        return InvalidArgument("command '" + p + "' not found");
      }
      if (e == EACCES) return InvalidArgument("'" + p + "' is not executable");
      return InvalidArgument("cannot execute '" + p + "': " + why);
    }
    case Step::kSetsid: return Internal("setsid() failed in child: " + why);
    case Step::kJoinCgroup: {
      std::string files;
      for (const auto& f : spec.cgroup_procs) files += (files.empty() ? "" : ", ") + f;
      return Unavailable("cannot join the task's cgroup (" + files + "): " + why);
    }
    case Step::kSetUser:
      return PermissionDenied("cannot switch to uid " + std::to_string(plan.uid) + ": " + why);
    case Step::kDeathSignal: return Internal("prctl(PR_SET_PDEATHSIG) failed in child: " + why);
    case Step::kOpenStdin: return Internal("cannot open /dev/null for stdin: " + why);
    case Step::kRedirect: return Internal("cannot redirect standard streams: " + why);
  }
  return Internal("child failed before exec at unknown step " + std::to_string(rec.step) + ": " + why);
}

// Process-wide, because wait4(-1) is. A child is "in flight" from fork() until Launch() has
// learned whether exec succeeded. If ReapExited() reaps such a child (it exec'd and exited
// quickly, or it failed pre-exec), the result is parked in `parked` instead of being returned;
// Launch() then discards it (failed launch) or moves it to `pending` (real exit).
struct ReapState {
  std::mutex mu;
  std::set<pid_t> in_flight;
  std::map<pid_t, ExitInfo> parked;
  std::vector<ExitInfo> pending;
};

ReapState& Reaping() {
  static ReapState* state = new ReapState();  // never destroyed: usable during static teardown
  return *state;
}

ExitInfo MakeExitInfo(pid_t pid, int status, const struct rusage& ru) {
  ExitInfo info;
  info.pid = pid;
  if (WIFSIGNALED(status)) {
    info.signal = WTERMSIG(status);
    info.exit_code = 128 + info.signal;
  } else {
    info.exit_code = WEXITSTATUS(status);
  }
  auto ms = [](const struct timeval& tv) {
    return static_cast<int64_t>(tv.tv_sec) * 1000 + static_cast<int64_t>(tv.tv_usec) / 1000;
  };
  info.user_cpu_ms = ms(ru.ru_utime);
  info.system_cpu_ms = ms(ru.ru_stime);
  info.max_rss_kb = ru.ru_maxrss;  // kilobytes on Linux
  return info;
}

// Closes the fd on scope exit unless it was reset to -1.
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// While it lives, file checks made by the calling thread use the task user's rights, so looking a
// command up in PATH tells the user nothing about directories they cannot read. Only root can
// switch; for anyone else it does nothing.
//
// The switch is made with the raw system calls, which change only the calling thread's
// credentials: glibc's seteuid() and friends change every thread's, by signalling each one and
// waiting for it, which costs a scheduling round trip per call on a busy machine and would hand
// the task user's rights to the process's other threads for that moment.
class ActingAs {
 public:
  explicit ActingAs(const std::optional<RunAs>& as) {
    if (!as || ::geteuid() != 0) return;
    int n = ::getgroups(0, nullptr);
    saved_groups_.resize(static_cast<size_t>(std::max(n, 0)));
    if (n > 0) ::getgroups(n, saved_groups_.data());
    saved_gid_ = ::getegid();
    active_ = ::syscall(SYS_setgroups, as->groups.size(), as->groups.data()) == 0 &&
              ::syscall(SYS_setresgid, -1, as->gid, -1) == 0 && ::syscall(SYS_setresuid, -1, as->uid, -1) == 0;
    switched_ = true;
  }
  ~ActingAs() {
    if (!switched_) return;
    (void)::syscall(SYS_setresuid, -1, 0, -1);
    (void)::syscall(SYS_setresgid, -1, saved_gid_, -1);
    (void)::syscall(SYS_setgroups, saved_groups_.size(), saved_groups_.data());
  }
  bool ok() const { return !switched_ || active_; }

 private:
  std::vector<gid_t> saved_groups_;
  gid_t saved_gid_ = 0;
  bool switched_ = false;
  bool active_ = false;
};

class SystemLauncher final : public ProcessLauncher {
 public:
  Result<pid_t> Launch(const LaunchSpec& spec) override {
    if (spec.argv.empty()) return InvalidArgument("empty argv");
    if (spec.working_dir.empty()) return InvalidArgument("working directory not set");

    ChildPlan plan;
    {
      ActingAs as_owner(spec.run_as);
      if (!as_owner.ok()) return PermissionDenied("cannot take on the task user's identity to find its command");
      ASSIGN_OR_RETURN(plan.exec_path, ResolveCommand(spec.argv[0], spec));
    }
    plan.argv_storage = spec.argv;
    plan.argv = CStrings(plan.argv_storage);
    for (const auto& [k, v] : spec.env) plan.env_storage.push_back(k + "=" + v);
    plan.envp = CStrings(plan.env_storage);
    plan.sh_argv_storage.push_back("/bin/sh");
    plan.sh_argv_storage.push_back(plan.exec_path);
    plan.sh_argv_storage.insert(plan.sh_argv_storage.end(), spec.argv.begin() + 1, spec.argv.end());
    plan.sh_argv = CStrings(plan.sh_argv_storage);
    plan.working_dir = spec.working_dir.c_str();
    plan.stdout_path = spec.stdout_path.empty() ? "/dev/null" : spec.stdout_path.c_str();
    plan.stderr_path = spec.stderr_path.empty() ? "/dev/null" : spec.stderr_path.c_str();
    plan.stderr_same_as_stdout = spec.stderr_path == spec.stdout_path;
    plan.new_session = spec.new_session;
    plan.kill_with_parent = spec.kill_with_parent;
    if (spec.run_as) {
      plan.switch_user = true;
      plan.uid = spec.run_as->uid;
      plan.gid = spec.run_as->gid;
      plan.groups = spec.run_as->groups;
    }
    plan.parent_pid = ::getpid();
    for (const auto& f : spec.cgroup_procs) plan.cgroup_procs.push_back(f.c_str());
    sigemptyset(&plan.empty_mask);

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) < 0) return Internal(std::string("pipe2: ") + std::strerror(errno));
    FdCloser rd{AboveStdio(fds[0])}, wr{AboveStdio(fds[1])};
    if (rd.fd != fds[0]) ::close(fds[0]);
    if (wr.fd != fds[1]) ::close(fds[1]);
    if (rd.fd < 0 || wr.fd < 0) return Internal(std::string("fcntl: ") + std::strerror(errno));

    // Block every signal across fork so that none of the agent's handlers can run in the child
    // before it resets dispositions; the child unblocks after the reset.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    ReapState& rs = Reaping();
    pid_t pid;
    int fork_errno = 0;
    {
      // Holding the lock across fork() guarantees the pid is in_flight before any wait4 sees it.
      std::lock_guard lock(rs.mu);
      pid = SpawnChild(plan, wr.fd);
      fork_errno = errno;
      if (pid > 0) rs.in_flight.insert(pid);
    }
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) return Unavailable(std::string("fork: ") + std::strerror(fork_errno));

    ::close(wr.fd);
    wr.fd = -1;
    ChildError rec{};
    size_t got = 0;
    while (got < sizeof rec) {
      ssize_t n = ::read(rd.fd, reinterpret_cast<char*>(&rec) + got, sizeof rec - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }

    std::lock_guard lock(rs.mu);
    rs.in_flight.erase(pid);
    auto parked = rs.parked.find(pid);
    if (got == 0) {  // EOF: exec succeeded
      if (parked != rs.parked.end()) {
        rs.pending.push_back(parked->second);
        rs.parked.erase(parked);
      }
      return pid;
    }
    // The child failed before exec (or the record is truncated, which should not happen).
    // Reap it here so that it never shows up in ReapExited().
    if (parked != rs.parked.end()) {
      rs.parked.erase(parked);
    } else {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    if (got != sizeof rec) return Internal("child failed before exec; truncated status record");
    return ChildErrorToStatus(rec, spec, plan);
  }

  Status SignalGroup(pid_t pgid, int signal) override {
    // killpg(0) or (-1) would signal the agent's own group, or everything: never intended.
    if (pgid <= 1) return InvalidArgument("refusing to signal process group " + std::to_string(pgid));
    if (::killpg(pgid, signal) == 0 || errno == ESRCH) return Status::Ok();
    const int e = errno;
    std::string msg = "killpg(" + std::to_string(pgid) + ", " + std::to_string(signal) +
                      "): " + std::strerror(e);
    if (e == EPERM) return PermissionDenied(msg);
    if (e == EINVAL) return InvalidArgument(msg);
    return Internal(msg);
  }

  std::vector<ExitInfo> ReapExited() override {
    ReapState& rs = Reaping();
    std::lock_guard lock(rs.mu);
    std::vector<ExitInfo> out = std::move(rs.pending);
    rs.pending.clear();
    while (true) {
      int status = 0;
      struct rusage ru;
      std::memset(&ru, 0, sizeof ru);
      pid_t pid = ::wait4(-1, &status, WNOHANG, &ru);
      if (pid < 0 && errno == EINTR) continue;
      if (pid <= 0) break;  // 0: children remain but none has exited; ECHILD: no children
      ExitInfo info = MakeExitInfo(pid, status, ru);
      if (rs.in_flight.count(pid)) {
        rs.parked[pid] = info;
      } else {
        out.push_back(info);
      }
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<ProcessLauncher> MakeSystemLauncher() { return std::make_unique<SystemLauncher>(); }

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;  // kill(0) / kill(-1) address groups, not a process
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace drover::os
