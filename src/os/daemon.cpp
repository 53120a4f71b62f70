#include "os/daemon.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "os/files.h"
#include "os/process.h"

namespace drover::os {

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "drover";
  return std::string(buf, static_cast<size_t>(n));
}

Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path,
                          const std::string& pid_path, const std::string& input, const std::string& netns) {
  int ns_fd = -1;
  if (!netns.empty()) {
    ns_fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0) return Unavailable(fmt::format("cannot open network namespace {}: {}", netns, std::strerror(errno)));
  }
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return Unavailable(fmt::format("cannot open log {}: {}", log_path, std::strerror(errno)));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Double fork: the daemon is re-parented to init at once, so the caller never has to reap it.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    ::close(log);
    return Unavailable(fmt::format("pipe: {}", std::strerror(errno)));
  }
  // The input fits in the pipe's buffer (64 KiB), so it is written before the child runs.
  int in_fd = -1;
  if (!input.empty()) {
    int inpipe[2];
    if (input.size() > 60000 || ::pipe2(inpipe, O_CLOEXEC) != 0) {
      ::close(log);
      return Unavailable("cannot hand the input to the daemon");
    }
    ssize_t w = ::write(inpipe[1], input.data(), input.size());
    ::close(inpipe[1]);
    if (w != static_cast<ssize_t>(input.size())) {
      ::close(inpipe[0]);
      ::close(log);
      return Unavailable("cannot hand the input to the daemon");
    }
    in_fd = inpipe[0];
  }
  pid_t first = ::fork();
  if (first < 0) {
    ::close(log);
    return Unavailable(fmt::format("fork: {}", std::strerror(errno)));
  }
  if (first == 0) {
    ::setsid();
    pid_t second = ::fork();
    if (second != 0) {
      (void)!::write(pipefd[1], &second, sizeof second);
      ::_exit(second < 0 ? 1 : 0);
    }
    if (ns_fd >= 0 && ::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(126);
    int in = in_fd >= 0 ? in_fd : ::open("/dev/null", O_RDONLY);
    ::dup2(in, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    if (::chdir("/") != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  ::close(log);
  if (in_fd >= 0) ::close(in_fd);
  if (ns_fd >= 0) ::close(ns_fd);
  pid_t daemon = 0;
  ssize_t n = ::read(pipefd[0], &daemon, sizeof daemon);
  // The daemon's copy of the pipe closes when it execs: waiting for end of file means that once this
  // returns, /proc/<pid>/cmdline is the daemon's own (RunningDaemon can recognise it).
  for (char drain;;) {
    ssize_t r = ::read(pipefd[0], &drain, 1);
    if (r > 0 || (r < 0 && errno == EINTR)) continue;
    break;
  }
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(first, &status, 0);
  if (n != sizeof daemon || daemon <= 0) return Unavailable(fmt::format("could not start {}", argv[0]));
  RETURN_IF_ERROR(WriteFileAtomic(pid_path, std::to_string(daemon) + "\n"));
  return daemon;
}

pid_t RunningDaemon(const std::string& pid_path, const std::string& marker) {
  auto text = ReadFile(pid_path);
  if (!text.ok()) return 0;
  pid_t pid = 0;
  try {
    pid = static_cast<pid_t>(std::stol(*text));
  } catch (const std::exception&) {
    return 0;
  }
  if (pid <= 1 || !ProcessAlive(pid)) return 0;
  // A process in the middle of an exec shows an empty command line for a moment: look again.
  Result<std::string> cmdline = std::string();
  for (int attempt = 0; attempt < 20; ++attempt) {
    cmdline = ReadFile(fmt::format("/proc/{}/cmdline", pid));
    if (!cmdline.ok() || !cmdline->empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!cmdline.ok()) return 0;
  for (auto& c : *cmdline) {
    if (c == '\0') c = ' ';
  }
  if (cmdline->find(marker) == std::string::npos) return 0;
  // A zombie is not running.
  auto stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  if (stat.ok()) {
    auto close = stat->rfind(')');
    if (close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] == 'Z') return 0;
  }
  return pid;
}

Status StopDaemon(const std::string& pid_path, const std::string& marker, int grace_ms) {
  pid_t pid = RunningDaemon(pid_path, marker);
  if (pid > 0) {
    ::kill(pid, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (RunningDaemon(pid_path, marker) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (RunningDaemon(pid_path, marker)) {
      ::kill(pid, SIGKILL);
      for (int i = 0; i < 250 && RunningDaemon(pid_path, marker); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  return RemoveFile(pid_path);
}

}  // namespace drover::os
