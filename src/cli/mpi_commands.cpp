// MPI on Drover, with Open MPI:
//
//   drover mpirun -N 2 -n 8 [job options] -- ./app ARGS
//       submits a job of one task holding 2 nodes with ceil(8/2) ranks (--ntasks-per-node) of -c
//       cores each on each node, as `submit -N 2 -n 8` does, running
//       `drover mpi-launch -- mpirun -n 8 ./app ARGS` on the first node;
//   drover mpi-launch -- CMD ARGS   (inside such a task)
//       writes the allocation as an Open MPI hostfile ("NODE slots=N" lines, N the ranks per node,
//       else the cores per node; $DROVER_HOSTFILE),
//       points Open MPI at it and at `drover agent-exec` as its rsh agent (and, for a task running
//       as root, gives Open MPI its allowance for root, with a one-line warning), then runs CMD;
//   drover agent-exec HOST CMD...   (Open MPI's rsh agent)
//       asks the head node, with the task's DROVER_EXEC_TOKEN, to run CMD (as ssh would: the words
//       joined, through /bin/sh) on the allocated node HOST through that node's agent — never ssh —
//       stays in the foreground until it ends and exits with its status. Its output goes to
//       drover-JOB.exec.HOST.N.out in the job's working directory (the node's agent removes it when
//       the process succeeded and printed nothing), and is copied to standard error when the
//       process fails. A signal to agent-exec kills the remote process.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "cli/mpi_commands.h"
#include "common/codec.h"
#include "net/https_client.h"
#include "os/files.h"

extern char** environ;

namespace drover::cli {
namespace json = boost::json;

namespace {

std::atomic<int> g_signal{0};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string TempDir() { return Env("TMPDIR").empty() ? "/tmp" : Env("TMPDIR"); }

std::string SelfPath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "drover";
  return std::string(buf, static_cast<size_t>(n));
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    if (comma > pos) out.push_back(s.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

Result<json::value> Call(net::HttpsClient& http, const std::string& target, const json::object& body) {
  ASSIGN_OR_RETURN(auto resp, http.Request("POST", target, json::serialize(body), 30000));
  if (resp.status >= 300) return net::StatusFromErrorResponse(resp);
  return ParseJson(resp.body);
}

}  // namespace

int MpiRunCommand(const JobOptions& options, const std::vector<std::string>& command) {
  if (command.empty()) return Fail("no program: drover mpirun -N NODES -n RANKS -- PROGRAM ARGS");
  JobOptions o = options;
  if (!o.res.nodes) o.res.nodes = 1;  // one task holding the nodes, whatever -n says
  int nodes = *o.res.nodes;
  uint32_t ranks = o.ntasks.value_or(static_cast<uint32_t>(nodes * o.res.ntasks_per_node.value_or(1)));
  o.ntasks = ranks;
  std::vector<std::string> argv = {SelfPath(), "mpi-launch", "--", "mpirun", "-n", std::to_string(ranks)};
  argv.insert(argv.end(), command.begin(), command.end());
  if (o.name.empty()) o.name = command[0].substr(command[0].rfind('/') == std::string::npos ? 0 : command[0].rfind('/') + 1);
  auto spec = BuildJobSpec(o, argv, "", environ);
  if (!spec.ok()) return Fail(spec.status().message());
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());
  auto resp = api->Post("/api/v1/jobs", SubmissionJson(*spec, o));
  if (!resp.ok()) return Fail(resp.status().message());
  std::printf("%lld\n", static_cast<long long>(resp->at("id").to_number<int64_t>()));
  return 0;
}

int MpiLaunchCommand(const std::vector<std::string>& command) {
  if (command.empty()) return Fail("mpi-launch: no command");
  std::vector<std::string> nodes = SplitList(Env("DROVER_NODELIST"));
  std::string slots = Env("DROVER_TASKS_PER_NODE");
  if (slots.empty()) slots = Env("DROVER_CORES_PER_NODE");
  if (nodes.empty() || slots.empty()) {
    return Fail("mpi-launch runs inside a Drover task spanning nodes (DROVER_NODELIST is not set)");
  }
  std::string hostfile = fmt::format("{}/drover-hosts.{}.{}.{}", TempDir(), Env("DROVER_JOB_ID"), Env("DROVER_TASK_ID"),
                                     ::getpid());
  std::string text;
  for (const auto& n : nodes) text += fmt::format("{} slots={}\n", n, slots);
  if (Status st = os::WriteFileAtomic(hostfile, text, 0644); !st.ok()) return Fail(st.message());
  ::setenv("DROVER_HOSTFILE", hostfile.c_str(), 1);
  ::setenv("OMPI_MCA_orte_default_hostfile", hostfile.c_str(), 1);
  ::setenv("OMPI_MCA_plm_rsh_agent", (SelfPath() + " agent-exec").c_str(), 1);
  ::setenv("OMPI_MCA_plm_rsh_no_tree_spawn", "1", 1);
  // Keep each remote daemon in the foreground of its agent-exec (no --daemonize), so that the
  // process Drover started there is the daemon and lives as long as it.
  ::setenv("OMPI_MCA_orte_leave_session_attached", "1", 1);
  // Open MPI refuses to run as root unless told twice; a task runs as root only where its owner is
  // root (the default local cluster, run by root), who asked for it by submitting.
  if (::geteuid() == 0 && Env("OMPI_ALLOW_RUN_AS_ROOT").empty()) {
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    std::fprintf(stderr, "drover mpi-launch: warning: running Open MPI as root (this task's user)\n");
  }
  std::vector<char*> argv;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  return Fail(fmt::format("mpi-launch: cannot run {}: {}", command[0], std::strerror(errno)));
}

int AgentExecCommand(int argc, char** argv) {
  // Open MPI calls the agent as `AGENT [options] HOST COMMAND...`; options (ssh's) are ignored.
  int i = 0;
  while (i < argc && argv[i][0] == '-') ++i;
  if (argc - i < 2) return Fail("usage: drover agent-exec HOST COMMAND...");
  std::string host = argv[i++];
  std::string command;
  for (; i < argc; ++i) command += (command.empty() ? "" : " ") + std::string(argv[i]);
  // Open MPI keeps a session directory per host name and job under its tmpdir base, and its
  // shared-memory transport names its segments by host name, job and local rank (in /dev/shm):
  // nodes that share one machine (the local cluster) would collide on both, and ranks crash on
  // each other's segments. One tmpdir base and one segment directory per node.
  // The remote node's shell makes both, fresh and the user's own (mktemp -d: a directory left by
  // an earlier job of the same number, or planted by another user, is never used), the segment
  // directory in /dev/shm where that node has one, and removes them when the daemon ends.
  std::string name = fmt::format("drover-ompi.{}.{}", Env("DROVER_JOB_ID"), host);
  command = fmt::format(
      "base=$(mktemp -d '{0}/{1}.XXXXXX') || exit 1\n"
      "if [ -d /dev/shm ] && shm=$(mktemp -d '/dev/shm/{1}.XXXXXX'); then :; "
      "else shm=\"$base/shm\"; mkdir \"$shm\" || {{ rm -rf \"$base\"; exit 1; }}; fi\n"
      "export OMPI_MCA_orte_tmpdir_base=\"$base\" OMPI_MCA_btl_vader_backing_directory=\"$shm\"\n"
      "{2}\n"
      "status=$?; rm -rf \"$base\" \"$shm\"; exit $status",
      TempDir(), name, command);
  std::string token = Env("DROVER_EXEC_TOKEN"), url = Env("DROVER_HEAD_URL");
  if (token.empty() || url.empty()) {
    return Fail("agent-exec runs inside a Drover task spanning nodes (DROVER_EXEC_TOKEN is not set)");
  }
  net::TlsIdentity tls;
  tls.ca_cert_pem = Env("DROVER_HEAD_CA");
  auto http = net::HttpsClient::Create(url, tls);
  if (!http.ok()) return Fail(http.status().message());
  int64_t job = std::atoll(Env("DROVER_JOB_ID").c_str()), task = std::atoll(Env("DROVER_TASK_ID").c_str());
  auto started = Call(**http, "/api/v1/exec",
                      json::object{{"job", job}, {"task", task}, {"token", token}, {"host", host}, {"command", command}});
  if (!started.ok()) return Fail(fmt::format("cannot start a process on {}: {}", host, started.status().message()));
  uint64_t id = started->at("id").to_number<uint64_t>();

  struct sigaction sa {};
  sa.sa_handler = [](int sig) { g_signal = sig; };
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  bool killed = false;
  for (int delay_ms = 20;; delay_ms = std::min(delay_ms * 2, 250)) {
    if (g_signal && !killed) {
      killed = true;
      (void)Call(**http, fmt::format("/api/v1/exec/{}/kill", id), json::object{{"token", token}});
    }
    auto st = Call(**http, fmt::format("/api/v1/exec/{}/status", id), json::object{{"token", token}});
    if (!st.ok()) return Fail(fmt::format("process on {}: {}", host, st.status().message()));
    if (st->at("done").as_bool()) {
      int code = static_cast<int>(st->at("exit_code").to_number<int64_t>());
      std::string error(st->at("error").as_string());
      if (!error.empty()) std::fprintf(stderr, "drover agent-exec: %s: %s\n", host.c_str(), error.c_str());
      if (code != 0) {
        std::string out = fmt::format("drover-{}.exec.{}.{}.out", job, host, static_cast<uint32_t>(id));
        if (auto text = os::ReadFile(out); text.ok()) std::fputs(text->c_str(), stderr);
      }
      if (code < 0 || code > 255) code = 255;
      return killed && code == 0 ? 128 + g_signal : code;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  }
}

}  // namespace drover::cli
