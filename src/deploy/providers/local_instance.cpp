#include "deploy/providers/local_instance.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "common/clock.h"
#include "net/cluster_context.h"
#include "os/files.h"

namespace drover::deploy {

std::string PidFile(const Instance& instance) { return os::JoinPath(instance.dir, "daemon.pid"); }
std::string DaemonLog(const Instance& instance) { return os::JoinPath(instance.dir, "daemon.log"); }

Status RunBootScript(const Instance& instance, const std::string& script,
                     const std::map<std::string, std::string>& env, int timeout_ms) {
  std::string log = os::JoinPath(instance.dir, "boot.log");
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Unavailable(fmt::format("cannot open {}", log));
  std::string header = fmt::format("=== boot of {} at {} ===\n", instance.id, FormatTime(SystemClock().Now()));
  if (::write(fd, header.data(), header.size()) < 0) {
    // The header is informative; the script's own output still goes to the log.
  }
  // The script holds resolved secrets: it never goes on a command line (any local user reads those
  // in /proc) nor into a file. It is an anonymous, sealed in-memory file of this process, which the
  // shell opens by its /proc path (open only to this user and root); no descriptor of it is
  // inherited by the script or what it starts.
  int script_fd = ::memfd_create("drover-boot-script", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (script_fd < 0) {
    ::close(fd);
    return Unavailable(fmt::format("cannot hold the boot script of {}: {}", instance.id, std::strerror(errno)));
  }
  struct CloseScript {
    int fd;
    ~CloseScript() { ::close(fd); }
  } close_script{script_fd};
  for (size_t done = 0; done < script.size();) {
    ssize_t n = ::write(script_fd, script.data() + done, script.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Unavailable(fmt::format("cannot hold the boot script of {}: {}", instance.id, std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  (void)::fcntl(script_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  std::string script_path = fmt::format("/proc/{}/fd/{}", ::getpid(), script_fd);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return Unavailable("fork failed");
  }
  if (pid == 0) {
    ::setsid();
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::chdir(instance.dir.c_str()) != 0) ::_exit(126);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!instance.netns.empty()) {  // the instance's own host: its network namespace
      ::execl("/usr/sbin/ip", "ip", "netns", "exec", instance.netns.c_str(), "/bin/sh", "-e", script_path.c_str(),
              static_cast<char*>(nullptr));
    } else {
      ::execl("/bin/sh", "sh", "-e", script_path.c_str(), static_cast<char*>(nullptr));
    }
    ::_exit(127);
  }
  ::close(fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return FailedPrecondition(
          fmt::format("the boot script of {} ran longer than {} ms; see {}", instance.id, timeout_ms, log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  std::string how = WIFEXITED(status) ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                      : fmt::format("was killed by signal {}", WTERMSIG(status));
  return FailedPrecondition(fmt::format("the boot script of {} {}; see {}", instance.id, how, log));
}

Status WaitUntil(int timeout_ms, const std::function<Status()>& check) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    Status st = check();
    if (st.ok() || st.code() != StatusCode::kUnavailable || std::chrono::steady_clock::now() >= deadline) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<std::unique_ptr<net::HttpsClient>> HeadClient(StackRuntime& stack, const std::string& head) {
  ASSIGN_OR_RETURN(auto a, stack.Attributes(head));
  auto str = [&](const char* k) {
    auto* v = a.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (str("AdminUrl").empty()) return Unavailable(fmt::format("head node {} is not running", head));
  net::ClusterContext ctx{str("AdminUrl"), str("CaFile"), str("CertFile"), str("KeyFile")};
  return net::ConnectToCluster(ctx);
}

}  // namespace drover::deploy
