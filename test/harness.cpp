#include "test/harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/codec.h"
#include "os/files.h"
#include "secrets/secret_store.h"

namespace drover::testing {
namespace json = boost::json;

std::string DroverBinary() {
  if (const char* b = std::getenv("DROVER_BINARY"); b && *b) return b;
  return DROVER_BINARY;
}

bool TestCluster::Eventually(const std::function<bool()>& done, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

TestCluster::TestCluster(ClusterOptions options)
    : options_(options), launcher_(os::MakeSystemLauncher()), node_pids_(options.nodes, 0) {
  char tmpl[] = "/tmp/drover-test-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  head_dir_ = dir_ + "/head";
}

TestCluster::~TestCluster() {
  // Compute nodes stop cleanly first, so that they remove their cgroups; then everything dies.
  // Only our own children not yet reaped: a reaped pid may already name someone else's process.
  std::vector<pid_t> alive;
  for (pid_t p : node_pids_) {
    if (p > 0 && ::waitpid(p, nullptr, WNOHANG) == 0 && ::kill(p, SIGTERM) == 0) alive.push_back(p);
  }
  for (pid_t p : alive) {
    for (int i = 0; i < 250; ++i) {
      pid_t r = ::waitpid(p, nullptr, WNOHANG);
      if (r == p) std::erase(all_pids_, p);  // reaped: never signal that pid again
      if (r == p || r < 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  for (pid_t p : all_pids_) ::kill(p, SIGKILL);
  Reap();
  std::error_code ec;
  if (!::testing::Test::HasFailure()) std::filesystem::remove_all(dir_, ec);
  else std::fprintf(stderr, "test cluster kept for inspection in %s\n", dir_.c_str());
}

void TestCluster::Reap() { (void)launcher_->ReapExited(); }

pid_t TestCluster::StartProcess(const std::vector<std::string>& args, const std::string& log) {
  os::LaunchSpec spec;
  spec.argv = {DroverBinary()};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}, {"HOME", dir_}};
  spec.working_dir = dir_;
  spec.stdout_path = log;
  spec.stderr_path = log;
  auto pid = launcher_->Launch(spec);
  EXPECT_TRUE(pid.ok()) << pid.status().ToString();
  if (!pid.ok()) return 0;
  all_pids_.push_back(*pid);
  return *pid;
}

void TestCluster::StartHead() {
  (void)os::RemoveFile(head_dir_ + "/headnode.url");
  (void)os::MakeDirs(head_dir_, 0700);
  std::vector<std::string> args = {"headnode", "--state-dir", head_dir_, "--port", std::to_string(port_),
                                   "--heartbeat-ms", std::to_string(options_.heartbeat_ms),
                                   "--heartbeat-timeout-ms", std::to_string(options_.heartbeat_timeout_ms)};
  if (options_.auto_approve) args.push_back("--auto-approve");
  if (!options_.database_url.empty()) {
    const std::string password_file = dir_ + "/database.password";
    ASSERT_TRUE(os::WriteFileAtomic(password_file, options_.database_password + "\n", 0600).ok());
    args.insert(args.end(), {"--database", options_.database_url, "--database-password-file", password_file});
  }
  head_pid_ = StartProcess(args, dir_ + "/headnode.log");
  std::string url_file = head_dir_ + "/headnode.url";
  ASSERT_TRUE(Eventually([&] { return os::Exists(url_file); }, 15000)) << "head node did not start";
  auto url = os::ReadFile(url_file);
  ASSERT_TRUE(url.ok());
  url_ = *url;
  while (!url_.empty() && std::isspace(static_cast<unsigned char>(url_.back()))) url_.pop_back();
  port_ = static_cast<uint16_t>(std::stoi(url_.substr(url_.rfind(':') + 1)));
  auto client = net::HttpsClient::Create(url_, AdminTls());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  client_ = std::move(*client);
}

void TestCluster::KillHead(int signal) {
  ::kill(head_pid_, signal);
  int status = 0;
  ::waitpid(head_pid_, &status, 0);
  client_.reset();
}

bool TestCluster::HeadAlive() const { return head_pid_ > 0 && ::kill(head_pid_, 0) == 0; }

std::string TestCluster::NodeName(int i) const { return fmt::format("cn{:02}", i + 1); }

std::string TestCluster::join_token() const {
  auto store = secrets::OpenWithKeyFile(head_dir_ + "/secrets", head_dir_ + "/secrets.key");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return "";
  auto token = (*store)->Get("/drover/join-token");
  EXPECT_TRUE(token.ok()) << token.status().ToString();
  return token.ok() ? *token : "";
}

void TestCluster::StartNode(int i) {
  std::string dir = fmt::format("{}/{}", dir_, NodeName(i));
  std::string token_file = dir_ + "/join-token";
  if (!os::Exists(token_file)) ASSERT_TRUE(os::WriteFileAtomic(token_file, join_token() + "\n", 0600).ok());
  std::vector<std::string> args = {"computenode", "--state-dir", dir, "--head", url_, "--name", NodeName(i),
                                   "--token-file", token_file, "--ca-file", head_dir_ + "/pki/ca.crt",
                                   "--cores", std::to_string(options_.cores_per_node)};
  args.insert(args.end(), options_.node_args.begin(), options_.node_args.end());
  node_pids_[i] = StartProcess(args, dir + ".log");
}

void TestCluster::KillNode(int i, int signal) {
  ::kill(node_pids_[i], signal);
  int status = 0;
  ::waitpid(node_pids_[i], &status, 0);
}

void TestCluster::StartAll() {
  StartHead();
  for (int i = 0; i < options_.nodes; ++i) StartNode(i);
  WaitForNodesOnline(options_.nodes);
}

void TestCluster::WaitForNodesOnline(int count, int timeout_ms) {
  bool ok = Eventually(
      [&] {
        auto v = Get("/api/v1/nodes");
        int online = 0;
        for (const auto& n : v.at("nodes").as_array()) {
          if (n.at("state") == "Online" && n.at("health") == "OK" && n.at("connected").as_bool()) ++online;
        }
        return online >= count;
      },
      timeout_ms);
  ASSERT_TRUE(ok) << "nodes did not come Online: " << json::serialize(Get("/api/v1/nodes"));
}

net::TlsIdentity TestCluster::AdminTls() const {
  net::TlsIdentity tls;
  tls.ca_cert_pem = *os::ReadFile(head_dir_ + "/pki/ca.crt");
  tls.cert_pem = *os::ReadFile(head_dir_ + "/pki/admin.crt");
  tls.key_pem = *os::ReadFile(head_dir_ + "/pki/admin.key");
  return tls;
}

Result<net::HttpResponse> TestCluster::Raw(const std::string& method, const std::string& target,
                                           const std::string& body, const net::TlsIdentity& tls) {
  ASSIGN_OR_RETURN(auto client, net::HttpsClient::Create(url_, tls));
  return client->Request(method, target, body);
}

json::value TestCluster::Get(const std::string& target, int timeout_ms) {
  if (!client_) client_ = std::move(net::HttpsClient::Create(url_, AdminTls())).value();
  auto r = client_->Request("GET", target, "", timeout_ms);
  EXPECT_TRUE(r.ok()) << target << ": " << r.status().ToString();
  if (!r.ok()) return json::object{};
  EXPECT_EQ(r->status, 200) << target << ": " << r->body;
  auto v = ParseJson(r->body);
  return v.ok() ? *v : json::value(json::object{});
}

json::value TestCluster::Post(const std::string& target, const json::value& body) {
  if (!client_) client_ = std::move(net::HttpsClient::Create(url_, AdminTls())).value();
  auto r = client_->Request("POST", target, json::serialize(body));
  EXPECT_TRUE(r.ok()) << target << ": " << r.status().ToString();
  if (!r.ok()) return json::object{};
  EXPECT_LT(r->status, 300) << target << ": " << r->body;
  auto v = ParseJson(r->body);
  return v.ok() ? *v : json::value(json::object{});
}

int64_t TestCluster::Submit(const json::object& spec) {
  auto v = Post("/api/v1/jobs", spec);
  return v.is_object() && v.as_object().contains("id") ? v.at("id").to_number<int64_t>() : 0;
}

json::value TestCluster::WaitForJob(int64_t id, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    auto v = Get(fmt::format("/api/v1/jobs/{}/wait?timeout_ms=5000", id), 15000);
    std::string state = v.is_object() && v.as_object().contains("state") ? std::string(v.at("state").as_string()) : "";
    if (state == "Finished" || state == "Failed" || state == "Canceled") break;
  }
  return Get(fmt::format("/api/v1/jobs/{}?tasks=all", id));
}

}  // namespace drover::testing
