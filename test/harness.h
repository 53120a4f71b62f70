// A real cluster for integration tests: a head node and compute nodes as separate `drover`
// processes on loopback, each with its own state directory under a temporary directory, killable
// at will. Everything is torn down in the destructor (processes are killed with the test process).
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/status.h"
#include "net/https_client.h"
#include "os/process.h"

namespace drover::testing {

struct ClusterOptions {
  int nodes = 2;
  int cores_per_node = 4;
  bool auto_approve = true;
  int heartbeat_ms = 200;
  int heartbeat_timeout_ms = 2000;
  // PostgreSQL for the head node (`--database`), with its password passed in a 0600 file; empty: SQLite.
  std::string database_url;
  std::string database_password;
  std::vector<std::string> node_args;  // more `drover computenode` flags for every node
};

class TestCluster {
 public:
  explicit TestCluster(ClusterOptions options = {});
  ~TestCluster();

  void StartHead();
  void KillHead(int signal = 9);
  // Starts compute node `i` (0-based), joining with the cluster's token the first time.
  void StartNode(int i);
  void KillNode(int i, int signal = 9);
  pid_t NodePid(int i) const { return node_pids_[i]; }
  pid_t HeadPid() const { return head_pid_; }
  std::string NodeName(int i) const;
  // Starts a compute node with explicit settings; returns its pid. Output goes to `log`.
  pid_t StartProcess(const std::vector<std::string>& args, const std::string& log);

  // Starts the head and every node and waits until all nodes are Online.
  void StartAll();
  void WaitForNodesOnline(int count, int timeout_ms = 20000);

  // REST calls with the administrator's credential. Failures fail the test.
  boost::json::value Get(const std::string& target, int timeout_ms = 30000);
  boost::json::value Post(const std::string& target, const boost::json::value& body);
  Result<net::HttpResponse> Raw(const std::string& method, const std::string& target, const std::string& body,
                                const net::TlsIdentity& tls);
  // Submits a spec (JSON) and returns the job id.
  int64_t Submit(const boost::json::object& spec);
  // Waits until the job has ended (long poll); returns its detail with every task.
  boost::json::value WaitForJob(int64_t id, int timeout_ms = 120000);

  net::TlsIdentity AdminTls() const;
  const std::string& dir() const { return dir_; }
  const std::string& head_dir() const { return head_dir_; }
  const std::string& url() const { return url_; }
  std::string join_token() const;
  bool HeadAlive() const;

  // Polls `done` every 20 ms until true or `timeout_ms` passes (the cluster runs in other
  // processes: there is no event to wait on). Returns whether it became true.
  static bool Eventually(const std::function<bool()>& done, int timeout_ms);

 private:
  void Reap();

  ClusterOptions options_;
  std::string dir_;
  std::string head_dir_;
  std::string url_;
  uint16_t port_ = 0;
  std::unique_ptr<os::ProcessLauncher> launcher_;
  pid_t head_pid_ = 0;
  std::vector<pid_t> node_pids_;
  std::vector<pid_t> all_pids_;
  std::unique_ptr<net::HttpsClient> client_;
};

std::string DroverBinary();

}  // namespace drover::testing
