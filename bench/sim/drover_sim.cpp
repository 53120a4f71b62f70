// drover_sim: drives a real head node with many simulated compute nodes (see sim_nodes.h) and
// measures it. It starts `drover headnode` in a scratch directory, joins every node through the
// real /api/v1/join (one CSR each), connects them all over mutual TLS, submits one sweep through the
// head node's local socket, waits until every task has been reported and acknowledged, and prints
// `metric value unit` lines: join and connection rates, submission time, dispatch rate, scheduling
// pass time quantiles (from the head node's drover_scheduling_pass_seconds histogram), and the
// head node's CPU time and resident memory. The head node is stopped at the end.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "net/https_client.h"
#include "net/pki.h"
#include "secrets/secret_store.h"
#include "sim_nodes.h"

namespace drover::sim {
namespace {

namespace json = boost::json;

struct Options {
  std::string drover = "build/drover";
  int nodes = 10000;
  int cores = 32;
  uint32_t tasks = 1'000'000;
  int64_t task_ms = 5000;
  int join_threads = 8;
  int connect_in_flight = 64;
  int heartbeat_ms = 10000;
  int timeout_s = 1800;
  std::string work_dir;
  bool keep = false;
};

void Metric(const std::string& name, double value, const std::string& unit) {
  fmt::print("{} {} {}\n", name, std::abs(value - std::round(value)) < 1e-9 ? fmt::format("{:.0f}", value)
                                                                          : fmt::format("{:.2f}", value), unit);
  std::fflush(stdout);
}
void Log(const std::string& text) { fmt::print(stderr, "[sim {:%T}] {}\n", std::chrono::system_clock::now(), text); }

[[noreturn]] void Die(const std::string& text) {
  fmt::print(stderr, "drover_sim: {}\n", text);
  std::exit(1);
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The head node's process: CPU seconds (user + system) and memory from /proc.
struct ProcStats {
  double cpu_s = 0;
  int64_t rss_kb = 0;
  int64_t hwm_kb = 0;
};
ProcStats ReadProc(pid_t pid) {
  ProcStats s;
  std::string stat = ReadAll(fmt::format("/proc/{}/stat", pid));
  auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(stat.substr(close + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14) utime = std::stol(field);
      if (i == 15) stime = std::stol(field);
    }
    s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  std::istringstream status(ReadAll(fmt::format("/proc/{}/status", pid)));
  std::string key;
  int64_t value;
  while (status >> key) {
    if (key == "VmRSS:" && status >> value) s.rss_kb = value;
    else if (key == "VmHWM:" && status >> value) s.hwm_kb = value;
  }
  return s;
}
double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

pid_t StartHead(const Options& o, const std::string& dir) {
  std::vector<std::string> args = {o.drover, "headnode", "--state-dir", dir, "--port", "0", "--auto-approve",
                                   "--heartbeat-ms", std::to_string(o.heartbeat_ms), "--heartbeat-timeout-ms",
                                   std::to_string(o.heartbeat_ms * 6), "--log-level", "warn"};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int log = open((dir + "/head.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Parses the cumulative buckets of drover_scheduling_pass_seconds (upper bound in s -> count).
std::map<double, double> PassBuckets(const std::string& metrics) {
  std::map<double, double> out;
  std::istringstream in(metrics);
  std::string line;
  const std::string prefix = "drover_scheduling_pass_seconds_bucket{le=\"";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    auto q = line.find('"', prefix.size());
    std::string le = line.substr(prefix.size(), q - prefix.size());
    double bound = le == "+Inf" ? INFINITY : std::stod(le);
    out[bound] = std::stod(line.substr(line.rfind(' ') + 1));
  }
  return out;
}
double MetricValue(const std::string& metrics, const std::string& name) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return NAN;
}
// The q-quantile of the passes between two scrapes, interpolated linearly inside its bucket.
double Quantile(const std::map<double, double>& before, const std::map<double, double>& after, double q) {
  double total = after.rbegin()->second - (before.empty() ? 0 : before.rbegin()->second);
  if (total <= 0) return NAN;
  double rank = q * total, lower = 0, below = 0;
  for (const auto& [bound, cum] : after) {
    double n = cum - (before.count(bound) ? before.at(bound) : 0);
    if (n >= rank) {
      if (std::isinf(bound)) return lower;
      double in_bucket = n - below;
      return lower + (bound - lower) * (in_bucket > 0 ? (rank - below) / in_bucket : 1);
    }
    below = n;
    lower = bound;
  }
  return lower;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app("Drives a real Drover head node with simulated compute nodes");
  app.add_option("--drover", o.drover, "The drover binary");
  app.add_option("--nodes", o.nodes, "Simulated compute nodes");
  app.add_option("--cores", o.cores, "Cores per node");
  app.add_option("--tasks", o.tasks, "Tasks in the sweep");
  app.add_option("--task-ms", o.task_ms, "Simulated run time of each task");
  app.add_option("--join-threads", o.join_threads, "Joins in parallel");
  app.add_option("--connect-in-flight", o.connect_in_flight, "TLS handshakes in flight at once");
  app.add_option("--heartbeat-ms", o.heartbeat_ms, "Heartbeat interval the head node asks for");
  app.add_option("--timeout-s", o.timeout_s, "Give up after this long");
  app.add_option("--work-dir", o.work_dir, "Scratch directory for the head node (default: a new one in /tmp)");
  app.add_flag("--keep", o.keep, "Keep the scratch directory");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);

  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  if (nofile.rlim_cur < static_cast<rlim_t>(o.nodes) + 100) {
    Die(fmt::format("{} nodes need more open files than this process may have ({})", o.nodes, nofile.rlim_cur));
  }
  std::string dir = o.work_dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/drover-sim-XXXXXX";
    if (!mkdtemp(tmpl)) Die("cannot create a scratch directory");
    dir = tmpl;
  }
  pid_t head = StartHead(o, dir);
  auto stop_head = [&] {
    kill(head, SIGTERM);
    int status = 0;
    waitpid(head, &status, 0);
    if (!o.keep && o.work_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  std::string url;
  for (int i = 0; i < 600 && url.empty(); ++i) {
    url = ReadAll(dir + "/headnode.url");
    while (!url.empty() && std::isspace(static_cast<unsigned char>(url.back()))) url.pop_back();
    if (url.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int st;
    if (waitpid(head, &st, WNOHANG) == head) Die("the head node exited; see " + dir + "/head.log");
  }
  if (url.empty()) Die("the head node did not start in 30 s");
  auto port = std::stoi(url.substr(url.rfind(':') + 1));
  std::string ca = ReadAll(dir + "/pki/ca.crt");
  auto secrets = secrets::OpenWithKeyFile(dir + "/secrets", dir + "/secrets.key");
  if (!secrets.ok()) Die(secrets.status().message());
  auto token = (*secrets)->Get("/drover/join-token");
  if (!token.ok()) Die(token.status().message());
  auto local = net::HttpsClient::CreateLocal(dir + "/headnode.sock");
  if (!local.ok()) Die(local.status().message());
  auto scrape = [&] {
    auto r = (*local)->Request("GET", "/metrics");
    if (!r.ok() || r->status != 200) Die("cannot read the head node's /metrics");
    return r->body;
  };
  Log(fmt::format("head node pid {} at {}; {} nodes x {} cores, {} tasks of {} ms", head, url, o.nodes, o.cores,
                  o.tasks, o.task_ms));

  // Join: one CSR per node, all with one key, through the real endpoint.
  auto key = pki::GenerateKey();
  if (!key.ok()) Die(key.status().message());
  std::vector<SimNodeIdentity> ids(static_cast<size_t>(o.nodes));
  std::atomic<int> next{0}, join_failures{0};
  auto t_join = std::chrono::steady_clock::now();
  ProcStats before_join = ReadProc(head);
  double head_cpu_0 = before_join.cpu_s;
  std::vector<std::thread> joiners;
  for (int t = 0; t < o.join_threads; ++t) {
    joiners.emplace_back([&] {
      auto client = net::HttpsClient::Create(url, net::TlsIdentity{ca, "", ""});
      if (!client.ok()) Die(client.status().message());
      for (int i; (i = next++) < o.nodes;) {
        std::string name = fmt::format("sim{:05d}", i);
        auto csr = pki::CreateCsr(*key, {name, "node"});
        if (!csr.ok()) Die(csr.status().message());
        json::object body{{"token", *token}, {"name", name}, {"hostname", name}, {"csr", *csr}};
        auto r = (*client)->Request("POST", "/api/v1/join", json::serialize(body));
        if (!r.ok() || r->status != 200) {
          join_failures++;
          fmt::print(stderr, "join of {} failed: {}\n", name, r.ok() ? r->body : r.status().message());
          continue;
        }
        auto v = json::parse(r->body);
        ids[static_cast<size_t>(i)] = {name, std::string(v.at("certificate").as_string())};
      }
    });
  }
  for (auto& t : joiners) t.join();
  if (join_failures > 0) {
    stop_head();
    Die(fmt::format("{} joins failed", join_failures.load()));
  }
  double join_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_join).count();
  Metric("sim_nodes", o.nodes, "nodes");
  Metric("sim_join_seconds", join_s, "s");
  Metric("sim_join_rate", o.nodes / join_s, "nodes/s");

  // Connect every node; the loop runs on its own thread from here on.
  SimConfig sc;
  sc.port = port;
  sc.ca_pem = ca;
  sc.key_pem = *key;
  sc.cores = o.cores;
  sc.task_ms = o.task_ms;
  sc.connect_in_flight = o.connect_in_flight;
  std::string error;
  auto sim = SimCluster::Create(sc, std::move(ids), &error);
  if (!sim) Die(error);
  auto t_connect = std::chrono::steady_clock::now();
  double head_cpu_1 = ReadProc(head).cpu_s;
  double sim_cpu_1 = SelfCpuSeconds();
  std::thread io([&] { sim->Run(); });
  const SimCounters& c = sim->counters();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_s);
  auto fail = [&](const std::string& why) {
    sim->Stop();
    io.join();
    stop_head();
    Die(why);
  };
  while (c.online < static_cast<uint64_t>(o.nodes)) {
    if (std::chrono::steady_clock::now() > deadline) fail(fmt::format("only {} nodes online", c.online.load()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  double connect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_connect).count();
  ProcStats after_connect = ReadProc(head);
  Metric("sim_connect_seconds", connect_s, "s");
  Metric("sim_connect_rate", o.nodes / connect_s, "nodes/s");
  Metric("sim_connect_failures", static_cast<double>(c.connect_failures), "count");
  Metric("head_cpu_join_connect", after_connect.cpu_s - head_cpu_0, "s");
  Metric("head_cpu_per_connection_ms", (after_connect.cpu_s - head_cpu_1) * 1000 / o.nodes, "ms");
  Metric("sim_cpu_connect", SelfCpuSeconds() - sim_cpu_1, "s");
  Metric("head_rss_connected", after_connect.rss_kb / 1024.0, "MiB");
  Metric("head_rss_per_connected_node_kib",
         static_cast<double>(after_connect.rss_kb - before_join.rss_kb) / static_cast<double>(o.nodes), "KiB");

  // Submit the sweep and run it to the end.
  auto before = PassBuckets(scrape());
  double passes_before = MetricValue(scrape(), "drover_scheduling_pass_seconds_count");
  json::object spec{{"name", "sim-sweep"},
                    {"task", json::object{{"argv", json::array{"/bin/true"}}}},
                    {"task_count", o.tasks}};
  double head_cpu_2 = ReadProc(head).cpu_s, sim_cpu_2 = SelfCpuSeconds();
  int64_t t_submit = SteadyMs();
  auto r = (*local)->Request("POST", "/api/v1/jobs", json::serialize(spec), 120000);
  int64_t t_accepted = SteadyMs();
  if (!r.ok() || r->status / 100 != 2) fail("the sweep was refused: " + (r.ok() ? r->body : r.status().message()));
  Metric("sim_sweep_accept_ms", static_cast<double>(t_accepted - t_submit), "ms");
  int64_t peak_rss = 0;
  std::string at_last_dispatch;
  std::vector<std::pair<int64_t, uint64_t>> samples;  // (ms, started)
  while (c.acknowledged < o.tasks) {
    if (std::chrono::steady_clock::now() > deadline) {
      fail(fmt::format("timed out: {} started, {} acknowledged", c.started.load(), c.acknowledged.load()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    peak_rss = std::max(peak_rss, ReadProc(head).rss_kb);
    samples.emplace_back(SteadyMs(), c.started.load());
    if (at_last_dispatch.empty() && c.started >= o.tasks) at_last_dispatch = scrape();
  }
  int64_t t_done = SteadyMs();
  ProcStats end = ReadProc(head);
  double sim_cpu = SelfCpuSeconds() - sim_cpu_2;
  if (at_last_dispatch.empty()) at_last_dispatch = scrape();
  auto after = PassBuckets(at_last_dispatch);
  sim->Stop();
  io.join();

  double dispatch_s = static_cast<double>(c.last_start_ms - t_accepted) / 1000.0;
  double run_s = static_cast<double>(t_done - t_submit) / 1000.0;
  // Sustained rate: the best 5 s window and the median of 1 s windows while tasks were dispatched.
  double best5 = 0;
  std::vector<double> per_second;
  for (size_t i = 0, j = 0; i < samples.size(); ++i) {
    while (j < samples.size() && samples[j].first - samples[i].first < 5000) ++j;
    if (j < samples.size()) {
      best5 = std::max(best5, (samples[j].second - samples[i].second) * 1000.0 /
                                  static_cast<double>(samples[j].first - samples[i].first));
    }
    if (i + 4 < samples.size() && samples[i + 4].second < o.tasks) {
      per_second.push_back((samples[i + 4].second - samples[i].second) * 1000.0 /
                           static_cast<double>(samples[i + 4].first - samples[i].first));
    }
  }
  std::sort(per_second.begin(), per_second.end());
  Metric("sim_tasks", o.tasks, "tasks");
  Metric("sim_task_ms", static_cast<double>(o.task_ms), "ms");
  Metric("sim_slot_limited_rate", static_cast<double>(o.nodes) * o.cores * 1000.0 / static_cast<double>(o.task_ms),
         "tasks/s");
  Metric("sim_dispatch_rate", o.tasks / dispatch_s, "tasks/s");
  Metric("sim_dispatch_rate_median_1s", per_second.empty() ? NAN : per_second[per_second.size() / 2], "tasks/s");
  Metric("sim_dispatch_rate_best_5s", best5, "tasks/s");
  Metric("sim_first_dispatch_ms", static_cast<double>(c.first_start_ms - t_accepted), "ms");
  Metric("sim_run_seconds", run_s, "s");
  Metric("sim_completion_rate", o.tasks / run_s, "tasks/s");
  Metric("sched_passes", MetricValue(at_last_dispatch, "drover_scheduling_pass_seconds_count") - passes_before,
         "count");
  // Quantiles are interpolated inside their bucket; none can exceed the longest pass seen.
  double max_ms = MetricValue(at_last_dispatch, "drover_scheduling_pass_seconds_max") * 1000;
  Metric("sched_pass_p50_ms", std::min(max_ms, Quantile(before, after, 0.50) * 1000), "ms");
  Metric("sched_pass_p99_ms", std::min(max_ms, Quantile(before, after, 0.99) * 1000), "ms");
  Metric("sched_pass_max_ms", max_ms, "ms");
  Metric("head_cpu_run", end.cpu_s - head_cpu_2, "s");
  Metric("head_cpu_run_util", (end.cpu_s - head_cpu_2) / run_s * 100, "%");
  Metric("sim_cpu_run", sim_cpu, "s");
  Metric("head_rss_peak_run", peak_rss / 1024.0, "MiB");
  Metric("head_rss_hwm", end.hwm_kb / 1024.0, "MiB");
  Metric("sim_disconnects", static_cast<double>(c.disconnects), "count");
  Metric("sim_kills", static_cast<double>(c.killed), "count");
  stop_head();
  return c.disconnects == 0 ? 0 : 2;
}

}  // namespace
}  // namespace drover::sim

int main(int argc, char** argv) { return drover::sim::Main(argc, argv); }
