// Who may talk to the head node, and what bad input gets back.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "net/pki.h"
#include "os/files.h"
#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {

int WaitExit(pid_t pid, int timeout_ms) {
  int status = -1;
  bool exited = TestCluster::Eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, timeout_ms);
  if (!exited) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(Security, WrongJoinTokenIsRefusedWithAClearMessage) {
  TestCluster cluster({.nodes = 0});
  cluster.StartHead();
  std::string dir = cluster.dir() + "/intruder";
  ASSERT_TRUE(os::WriteFileAtomic(cluster.dir() + "/bad-token", "not-the-token\n", 0600).ok());
  pid_t pid = cluster.StartProcess({"computenode", "--state-dir", dir, "--head", cluster.url(), "--name", "intruder",
                                    "--token-file", cluster.dir() + "/bad-token", "--ca-file",
                                    cluster.head_dir() + "/pki/ca.crt"},
                                   dir + ".log");
  EXPECT_EQ(WaitExit(pid, 15000), 2);
  auto log = os::ReadFile(dir + ".log");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("join token is not valid"), std::string::npos) << *log;
  EXPECT_FALSE(os::Exists(dir + "/node.crt"));
  EXPECT_EQ(cluster.Get("/api/v1/nodes").at("nodes").as_array().size(), 0u);
}

// A join token in a file others can read is refused before it is used, saying why.
TEST(Security, JoinTokenFileOpenToOthersIsRefused) {
  TestCluster cluster({.nodes = 0});
  cluster.StartHead();
  std::string dir = cluster.dir() + "/careless", token_file = cluster.dir() + "/shared-token";
  ASSERT_TRUE(os::WriteFileAtomic(token_file, cluster.join_token() + "\n", 0644).ok());
  pid_t pid = cluster.StartProcess({"computenode", "--state-dir", dir, "--head", cluster.url(), "--name", "careless",
                                    "--token-file", token_file, "--ca-file", cluster.head_dir() + "/pki/ca.crt"},
                                   dir + ".log");
  EXPECT_NE(WaitExit(pid, 15000), 0);
  auto log = os::ReadFile(dir + ".log");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find(token_file + " is open to other users (mode 0644); make it 0600"), std::string::npos) << *log;
  EXPECT_FALSE(os::Exists(dir + "/node.crt"));
  EXPECT_EQ(cluster.Get("/api/v1/nodes").at("nodes").as_array().size(), 0u);
}

TEST(Security, CertificateFromAnotherCaIsRefused) {
  TestCluster cluster({.nodes = 0});
  cluster.StartHead();
  auto foreign_ca = pki::CreateCa("someone else");
  ASSERT_TRUE(foreign_ca.ok());
  auto key = pki::GenerateKey();
  pki::CertProfile profile;
  profile.subject = {"admin", "member"};
  profile.client_auth = true;
  auto cert = pki::IssueCertificate(*foreign_ca, *key, profile);
  ASSERT_TRUE(cert.ok());
  net::TlsIdentity tls = cluster.AdminTls();
  tls.cert_pem = *cert;
  tls.key_pem = *key;
  auto r = cluster.Raw("GET", "/api/v1/jobs", "", tls);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 401);
  EXPECT_NE(r->body.find("not issued by this cluster's CA"), std::string::npos) << r->body;

  // No certificate at all.
  net::TlsIdentity anonymous{cluster.AdminTls().ca_cert_pem, "", ""};
  auto r2 = cluster.Raw("GET", "/api/v1/jobs", "", anonymous);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->status, 401);

  // A compute node whose certificate the cluster did not issue cannot connect.
  std::string dir = cluster.dir() + "/forged";
  ASSERT_TRUE(os::MakeDirs(dir).ok());
  profile.subject = {"forged", "node"};
  auto node_key = pki::GenerateKey();
  auto node_cert = pki::IssueCertificate(*foreign_ca, *node_key, profile);
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/node.crt", *node_cert).ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/node.key", *node_key).ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/ca.crt", cluster.AdminTls().ca_cert_pem).ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/name", "forged\n").ok());
  pid_t pid = cluster.StartProcess({"computenode", "--state-dir", dir, "--head", cluster.url()}, dir + ".log");
  EXPECT_NE(WaitExit(pid, 15000), 0);
  auto log = os::ReadFile(dir + ".log");
  EXPECT_NE(log->find("not issued by this cluster's CA"), std::string::npos) << *log;
}

TEST(Security, MalformedRequestsGetFourHundredsAndTheHeadKeepsRunning) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 1});
  cluster.StartAll();
  auto tls = cluster.AdminTls();
  struct Case {
    std::string method, target, body;
    int status;
    std::string message;
  };
  std::vector<Case> cases = {
      {"POST", "/api/v1/jobs", "{not json", 400, "malformed JSON"},
      {"POST", "/api/v1/jobs", "[1,2]", 400, "must be a JSON object"},
      {"POST", "/api/v1/jobs", R"({"task": {"argv": "true"}})", 400, "task.argv"},
      {"POST", "/api/v1/jobs", R"({"task": {"argv": ["true"]}, "colour": 1})", 400, "unknown field 'colour'"},
      {"POST", "/api/v1/jobs", R"({"task": {"argv": ["true"], "cores": 0}})", 400, "cores must be at least 1"},
      {"POST", "/api/v1/jobs", R"({"task": {"argv": []}})", 400, "no command"},
      {"POST", "/api/v1/jobs", R"({"task": {"argv": ["true"]}, "sweep": {"start": 5, "end": 1}})", 400,
       "before its start"},
      {"GET", "/api/v1/jobs/abc", "", 400, "not a job id"},
      {"GET", "/api/v1/jobs/999999", "", 404, "does not exist"},
      {"GET", "/api/v1/nowhere", "", 404, "no endpoint"},
      {"DELETE", "/api/v1/jobs", "", 400, "not allowed"},
      {"POST", "/api/v1/nodes/cn01/explode", "{}", 404, "unknown node action"},
      {"POST", "/api/v1/nodes/nosuch/online", "{}", 404, "does not exist"},
      {"POST", "/api/v1/join", R"({"token": "x", "name": "n1"})", 401, "join token"},
      {"POST", "/api/v1/join", R"({"token": "x", "name": "evil\nline"})", 400, "node name is not valid"},
  };
  for (const auto& c : cases) {
    auto r = cluster.Raw(c.method, c.target, c.body, tls);
    ASSERT_TRUE(r.ok()) << c.target << ": " << r.status().ToString();
    EXPECT_EQ(r->status, c.status) << c.method << " " << c.target << " " << c.body << " -> " << r->body;
    EXPECT_NE(r->body.find(c.message), std::string::npos) << c.target << " " << c.body << " -> " << r->body;
    EXPECT_NE(r->body.find("\"error\""), std::string::npos);
  }
  EXPECT_TRUE(cluster.HeadAlive());
  // Nothing accepted was lost, and work still runs.
  auto job = cluster.WaitForJob(cluster.Submit(ShellJob(cluster.dir(), "true")));
  EXPECT_EQ(job.at("state"), "Finished");
}

// A name already in the cluster cannot be joined again (that would hand out an approved node's
// identity); an administrator removes the node, whose certificate then stops working, and only then
// may it join again.
TEST(NodeLifecycle, RejoinNeedsRemovalAndRemovalRevokesTheNodeCertificate) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 1});
  cluster.StartAll();
  auto key = pki::GenerateKey();
  auto csr = pki::CreateCsr(*key, {"cn01", "node"});
  std::string join = boost::json::serialize(
      boost::json::object{{"token", cluster.join_token()}, {"name", "cn01"}, {"hostname", "h"}, {"csr", *csr}});
  auto again = cluster.Raw("POST", "/api/v1/join", join, net::TlsIdentity{cluster.AdminTls().ca_cert_pem, "", ""});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_NE(again->body.find("remove it first"), std::string::npos) << again->body;

  EXPECT_EQ(cluster.Post("/api/v1/nodes/cn01/remove", boost::json::object{}).at("state"), "Removed");
  // The removed node's agent is disconnected and refused when it reconnects: it stops.
  EXPECT_EQ(WaitExit(cluster.NodePid(0), 15000), 3);
  auto log = os::ReadFile(cluster.dir() + "/cn01.log");
  EXPECT_NE(log->find("is not part of this cluster"), std::string::npos) << *log;
  EXPECT_EQ(cluster.Get("/api/v1/nodes").at("nodes").as_array().size(), 0u);

  auto rejoin = cluster.Raw("POST", "/api/v1/join", join, net::TlsIdentity{cluster.AdminTls().ca_cert_pem, "", ""});
  ASSERT_TRUE(rejoin.ok());
  EXPECT_EQ(rejoin->status, 200) << rejoin->body;
}

TEST(NodeLifecycle, UnapprovedUntilATemplateIsAssignedThenOnlineDrainOffline) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2, .auto_approve = false});
  cluster.StartHead();
  cluster.StartNode(0);
  ASSERT_TRUE(TestCluster::Eventually(
      [&] {
        auto n = cluster.Get("/api/v1/nodes");
        return n.at("nodes").as_array().size() == 1 && n.at("nodes").at(0).at("connected").as_bool();
      },
      15000));
  EXPECT_EQ(cluster.Get("/api/v1/nodes/cn01").at("state"), "Unapproved");
  // Work waits while no node is Online.
  int64_t id = cluster.Submit(ShellJob(cluster.dir(), "true"));
  EXPECT_EQ(cluster.Get(fmt::format("/api/v1/jobs/{}/wait?timeout_ms=500", id)).at("state"), "Queued");
  auto r = cluster.Raw("POST", "/api/v1/nodes/cn01/online", "{}", cluster.AdminTls());
  EXPECT_EQ(r->status, 409);
  EXPECT_NE(r->body.find("Unapproved"), std::string::npos);
  EXPECT_EQ(cluster.Post("/api/v1/nodes/cn01/approve", boost::json::object{{"template", "Default"}}).at("state"),
            "Online");
  EXPECT_EQ(cluster.WaitForJob(id).at("state"), "Finished");
  EXPECT_EQ(cluster.Post("/api/v1/nodes/cn01/drain", boost::json::object{}).at("state"), "Offline");
  int64_t waiting = cluster.Submit(ShellJob(cluster.dir(), "true"));
  EXPECT_EQ(cluster.Get(fmt::format("/api/v1/jobs/{}/wait?timeout_ms=500", waiting)).at("state"), "Queued");
  EXPECT_EQ(cluster.Post("/api/v1/nodes/cn01/online", boost::json::object{}).at("state"), "Online");
  EXPECT_EQ(cluster.WaitForJob(waiting).at("state"), "Finished");
}

}  // namespace
}  // namespace drover::testing
