#include "agent/task_runner.h"

#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agent/gpu_detector.h"
#include "os/files.h"

namespace drover::agent {

using protocol::TaskRef;
using protocol::TaskResult;

namespace {

// A result's file: one line of protocol JSON (the "results" message with one entry).
std::string EncodeResult(const TaskResult& r) { return protocol::Encode(protocol::AgentMessage(protocol::Results{{r}})); }

std::optional<TaskResult> DecodeResult(const std::string& text) {
  auto m = protocol::DecodeAgentMessage(text);
  if (!m.ok()) return std::nullopt;
  auto* rs = std::get_if<protocol::Results>(&*m);
  if (!rs || rs->results.size() != 1) return std::nullopt;
  return rs->results[0];
}

// Small state files are written without fsync: they must survive the agent's crash, not the
// machine's (a machine that reboots has lost its tasks anyway).
void WriteSmallFile(const std::string& path, const std::string& content, unsigned mode = 0644) {
  FILE* f = std::fopen(path.c_str(), "we");
  if (!f) {
    spdlog::warn("cannot write {}: {}", path, std::strerror(errno));
    return;
  }
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  ::chmod(path.c_str(), mode);
}

// The start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 when
// it is gone: together with the pid it names one process, even after pids are reused.
unsigned long long ProcessStartTime(pid_t pid) {
  auto stat = os::ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!stat.ok()) return 0;
  auto close = stat->rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat->substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

// A batch script, readable by its task's user only from the moment it exists: created exclusively
// with mode 0700 (never following a planted link) and given to the user before its content is written.
Status WriteScript(const std::string& path, const std::string& content, const std::optional<os::RunAs>& owner) {
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
  if (fd < 0) return Unavailable(fmt::format("cannot create the script {}: {}", path, std::strerror(errno)));
  Status st;
  if (owner && ::fchown(fd, owner->uid, owner->gid) != 0) {
    st = Unavailable(fmt::format("cannot give the script {} to uid {}: {}", path, owner->uid, std::strerror(errno)));
  }
  size_t off = 0;
  while (st.ok() && off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) st = Unavailable(fmt::format("cannot write the script {}: {}", path, std::strerror(errno)));
    else off += static_cast<size_t>(n);
  }
  ::close(fd);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

// "1:30:00", "2-00:00:00", "45s" style is Slurm's; this says "90 s", "30 min", "2 h 5 min".
std::string FormatDurationMs(int64_t ms) {
  int64_t s = ms / 1000;
  if (s < 120) return fmt::format("{} s", s);
  if (s < 7200) return s % 60 ? fmt::format("{} min {} s", s / 60, s % 60) : fmt::format("{} min", s / 60);
  return (s / 60) % 60 ? fmt::format("{} h {} min", s / 3600, (s / 60) % 60) : fmt::format("{} h", s / 3600);
}

}  // namespace

TaskRunner::TaskRunner(os::ProcessLauncher& launcher, const Clock& clock, std::string state_dir,
                       std::string node_name, TaskRunnerOptions options)
    : launcher_(launcher),
      clock_(clock),
      node_name_(std::move(node_name)),
      tasks_dir_(os::JoinPath(state_dir, "tasks")),
      results_dir_(os::JoinPath(state_dir, "results")),
      scripts_dir_(os::JoinPath(state_dir, "scripts")),
      options_(options) {
  if (options_.cgroups && !options_.cgroups->available()) options_.cgroups = nullptr;
}

std::string TaskRunner::Key(const TaskRef& ref) const {
  return fmt::format("{}.{}.{}", ref.job_id, ref.task_id, ref.attempt);
}

Status TaskRunner::Recover() {
  RETURN_IF_ERROR(os::MakeDirs(tasks_dir_, 0700));
  RETURN_IF_ERROR(os::MakeDirs(results_dir_, 0700));
  // Traversable (not listable) by task users: each script inside is owned by its task's user.
  RETURN_IF_ERROR(os::MakeDirs(scripts_dir_, 0711));
  for (const auto& name : os::ListDir(tasks_dir_)) {
    std::string path = os::JoinPath(tasks_dir_, name);
    // "<pid> <start time>": the group is killed only if its leader is still the process we started
    // (after a reboot the pid may belong to something else entirely).
    auto record = os::ReadFile(path);
    pid_t p = 0;
    unsigned long long started = 0;
    if (record.ok() && std::sscanf(record->c_str(), "%d %llu", &p, &started) == 2 && p > 1 &&
        ProcessStartTime(p) == started) {
      spdlog::info("killing task {} (process group {}) left by a previous run", name, p);
      (void)launcher_.SignalGroup(p, SIGKILL);
    }
    (void)os::RemoveFile(path);
  }
  if (options_.cgroups) {
    // Whatever is left in this node's cgroups belongs to tasks of a previous run, including
    // processes that left their task's process group.
    for (const auto& name : options_.cgroups->Leftovers()) {
      auto group = options_.cgroups->Open(name);
      if (!group) continue;
      if (!group->Pids().empty()) spdlog::info("killing the processes left in cgroup {}", name);
      (void)group->Kill();
      RemoveCgroup(std::move(group));
    }
  }
  for (const auto& name : os::ListDir(scripts_dir_)) (void)os::RemoveFile(os::JoinPath(scripts_dir_, name));
  for (const auto& name : os::ListDir(results_dir_)) {
    std::string path = os::JoinPath(results_dir_, name);
    auto text = os::ReadFile(path);
    auto r = text.ok() ? DecodeResult(*text) : std::nullopt;
    if (!r) {
      spdlog::warn("discarding unreadable result file {}", path);
      (void)os::RemoveFile(path);
      continue;
    }
    unacked_[r->ref] = *r;
  }
  if (!unacked_.empty()) spdlog::info("{} result(s) wait for the head node's acknowledgement", unacked_.size());
  return Status::Ok();
}

// An agent running as root runs each task as its owner, with the owner's groups and home; one that
// is not root can only run tasks as itself.
Status TaskRunner::SetRunAs(const std::string& user, os::LaunchSpec& spec) const {
  if (::geteuid() != 0) return Status::Ok();
  if (user.empty()) return InvalidArgument("the job has no owner to run as");
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) {
    return FailedPrecondition(fmt::format("user '{}' has no account on node {}", user, node_name_));
  }
  os::RunAs as{pw.pw_uid, pw.pw_gid, {}};
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    ::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n);
  }
  groups.resize(static_cast<size_t>(std::max(n, 0)));
  as.groups = std::move(groups);
  spec.run_as = std::move(as);
  spec.env["USER"] = pw.pw_name;
  spec.env["LOGNAME"] = pw.pw_name;
  spec.env["HOME"] = pw.pw_dir;
  return Status::Ok();
}

void TaskRunner::Start(const protocol::TaskLaunch& l) {
  if (running_.count(l.ref) || unacked_.count(l.ref)) return;  // a repeated start message
  os::LaunchSpec spec;
  spec.argv = l.argv;
  spec.env = l.env;
  if (!spec.env.count("PATH")) spec.env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  spec.working_dir = l.working_dir;
  spec.stdout_path = l.stdout_path;
  spec.stderr_path = l.stderr_path;
  if (!l.gpus.empty() || options_.node_has_gpus) {
    for (auto& [k, v] : GpuEnvironment(l.gpus)) spec.env[k] = v;
  }
  if (!l.allocated_nodes.empty()) {
    std::string nodes;
    for (const auto& n : l.allocated_nodes) nodes += (nodes.empty() ? "" : ",") + n;
    spec.env["DROVER_NODES"] = nodes;
    spec.env["SLURM_JOB_NODELIST"] = nodes;
  }
  TimeMs now = clock_.Now();
  Result<pid_t> pid = Internal("not started");
  std::string script_path;
  std::unique_ptr<os::TaskCgroup> cgroup;
  Status limited;  // a task whose limits cannot be set up does not run
  if (options_.cgroups) {
    os::CgroupLimits limits{l.memory_limit_mb * 1024 * 1024, l.cores, options_.task_pids_max};
    auto made = options_.cgroups->Create(Key(l.ref), limits);
    if (made.ok()) {
      cgroup = std::move(*made);
      spec.cgroup_procs = cgroup->ProcsFiles();
    } else {
      limited = Status(made.status().code(), "cannot set up the task's limits: " + made.status().message());
    }
  }
  if (!limited.ok()) {
    pid = limited;
  } else if (Status who = SetRunAs(l.user, spec); !who.ok()) {
    pid = who;
  } else {
    if (!l.script.empty()) {
      // The script file belongs to the task's user, who must be able to execute it.
      script_path = os::JoinPath(scripts_dir_, Key(l.ref));
      if (Status st = WriteScript(script_path, l.script, spec.run_as); !st.ok()) {
        pid = st;
        script_path.clear();
      }
      spec.argv = {script_path};
      spec.argv.insert(spec.argv.end(), l.argv.begin(), l.argv.end());  // the script's arguments
    }
    if (l.script.empty() || !script_path.empty()) pid = launcher_.Launch(spec);
  }
  if (!pid.ok()) {
    TaskResult r;
    r.ref = l.ref;
    r.exit_code = -1;
    r.start_time = now;
    r.end_time = now;
    r.error = pid.status().message();
    if (!script_path.empty()) (void)os::RemoveFile(script_path);
    spdlog::info("task {} could not start: {}", Key(l.ref), r.error);
    if (cgroup) RemoveCgroup(std::move(cgroup));
    Finish(l.ref, r);
    immediate_.push_back(std::move(r));
    return;
  }
  RunningTask task;
  task.pid = *pid;
  task.start_time = now;
  task.script_path = script_path;
  task.cgroup = std::move(cgroup);
  task.memory_limit_mb = l.memory_limit_mb;
  task.time_limit_ms = l.time_limit_ms;
  if (l.discard_empty_output && !spec.stdout_path.empty()) {
    task.discard_if_empty = spec.stdout_path;
    task.output_owner = spec.run_as ? spec.run_as->uid : ::geteuid();
  }
  if (l.time_limit_ms > 0) {
    task.deadline = now + l.time_limit_ms;
    if (l.signal > 0) {
      task.warn_signal = l.signal;
      task.warn_at = std::max(now, task.deadline - l.signal_before_ms);
      task.warn_batch_only = l.signal_batch_only;
    }
  }
  running_[l.ref] = std::move(task);
  by_pid_[*pid] = l.ref;
  WriteSmallFile(os::JoinPath(tasks_dir_, Key(l.ref)), fmt::format("{} {}", *pid, ProcessStartTime(*pid)));
}

void TaskRunner::Signal(const TaskRef& ref, int signal) {
  auto it = running_.find(ref);
  if (it == running_.end()) return;
  it->second.signaled = true;
  if (signal == SIGKILL) {
    KillTree(it->second);
  } else {
    (void)launcher_.SignalGroup(it->second.pid, signal);
  }
}

void TaskRunner::KillTree(RunningTask& task) {
  (void)launcher_.SignalGroup(task.pid, SIGKILL);
  if (task.cgroup) (void)task.cgroup->Kill();
}

void TaskRunner::RemoveCgroup(std::unique_ptr<os::TaskCgroup> cgroup) {
  if (!cgroup->Remove().ok()) to_remove_.push_back(std::move(cgroup));  // processes still exiting
}

void TaskRunner::Tick() {
  TimeMs now = clock_.Now();
  for (auto& [ref, t] : running_) {
    if (t.cgroup) t.cgroup->SampleMemory();
    if (t.warn_at && now >= t.warn_at) {
      t.warn_at = 0;
      spdlog::info("task {}: signal {} before its time limit", Key(ref), t.warn_signal);
      if (t.warn_batch_only) {
        ::kill(t.pid, t.warn_signal);
      } else {
        (void)launcher_.SignalGroup(t.pid, t.warn_signal);
      }
    }
    if (t.deadline && now >= t.deadline && !t.timed_out) {
      t.timed_out = true;
      t.kill_at = now + options_.kill_grace_ms;
      spdlog::info("task {} reached its time limit of {} ms; terminating it", Key(ref), t.time_limit_ms);
      (void)launcher_.SignalGroup(t.pid, SIGTERM);
    }
    if (t.kill_at && now >= t.kill_at) {
      t.kill_at = 0;
      KillTree(t);
    }
  }
  std::vector<std::unique_ptr<os::TaskCgroup>> retry;
  retry.swap(to_remove_);
  for (auto& g : retry) RemoveCgroup(std::move(g));
}

std::vector<TaskResult> TaskRunner::Reap() {
  std::vector<TaskResult> out;
  for (const auto& e : launcher_.ReapExited()) {
    auto pit = by_pid_.find(e.pid);
    if (pit == by_pid_.end()) continue;
    TaskRef ref = pit->second;
    by_pid_.erase(pit);
    auto it = running_.find(ref);
    if (it == running_.end()) continue;
    // The group leader is gone: make sure nothing it started outlives the task, not even
    // processes that left its process group (they are still in its cgroup).
    KillTree(it->second);
    TaskResult r;
    r.ref = ref;
    r.exit_code = e.exit_code;
    r.signal = e.signal;
    r.start_time = it->second.start_time;
    r.end_time = clock_.Now();
    r.cpu_time_ms = e.user_cpu_ms + e.system_cpu_ms;
    r.max_rss_kb = e.max_rss_kb;
    bool succeeded = e.exit_code == 0 && e.signal == 0;
    if (it->second.cgroup) {
      // The group counts every process of the task, not only the children the leader waited for.
      os::CgroupUsage u = it->second.cgroup->ReadUsage();
      r.cpu_time_ms = std::max(r.cpu_time_ms, u.cpu_time_ms);
      r.max_rss_kb = std::max(r.max_rss_kb, u.peak_memory_bytes / 1024);
      // A task that recovered from a killed helper and succeeded is not failed for it.
      r.out_of_memory = u.oom_killed && !succeeded;
    }
    if (it->second.timed_out) {
      r.timed_out = true;
      r.error = fmt::format("time limit of {} exceeded", FormatDurationMs(it->second.time_limit_ms));
    } else if (r.out_of_memory) {
      r.error = fmt::format("out of memory (limit {} MiB)", it->second.memory_limit_mb);
    } else if (it->second.signaled) {
      r.error = "killed on request";
    }
    if (it->second.cgroup) RemoveCgroup(std::move(it->second.cgroup));
    if (!it->second.script_path.empty()) (void)os::RemoveFile(it->second.script_path);
    if (succeeded && !it->second.discard_if_empty.empty()) {
      // Never a link, nor a file someone else put in a shared directory under that name.
      struct stat st;
      const std::string& out = it->second.discard_if_empty;
      if (::lstat(out.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
          st.st_uid == it->second.output_owner) {
        (void)::unlink(out.c_str());
      }
    }
    running_.erase(it);
    (void)os::RemoveFile(os::JoinPath(tasks_dir_, Key(ref)));
    Finish(ref, r);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<TaskResult> TaskRunner::TakeImmediateResults() { return std::exchange(immediate_, {}); }

void TaskRunner::Finish(const TaskRef& ref, TaskResult result) {
  WriteSmallFile(os::JoinPath(results_dir_, Key(ref)), EncodeResult(result));
  unacked_[ref] = std::move(result);
}

std::vector<TaskRef> TaskRunner::Running() const {
  std::vector<TaskRef> out;
  for (const auto& [ref, _] : running_) out.push_back(ref);
  return out;
}

std::vector<TaskResult> TaskRunner::Unacknowledged() const {
  std::vector<TaskResult> out;
  for (const auto& [_, r] : unacked_) out.push_back(r);
  return out;
}

void TaskRunner::Acknowledge(const std::vector<TaskRef>& refs) {
  for (const auto& ref : refs) {
    if (unacked_.erase(ref)) (void)os::RemoveFile(os::JoinPath(results_dir_, Key(ref)));
  }
}

void TaskRunner::KillAll() {
  for (auto& [ref, r] : running_) {
    r.signaled = true;
    KillTree(r);
  }
}

}  // namespace drover::agent
