// Every endpoint against every role: what each member may do, and the 401/403 answers for the rest.
// Also revocation, the audit log, and tasks running as their owner's Unix user.
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "common/codec.h"
#include "net/pki.h"
#include "os/files.h"
#include "test/harness.h"
#include "test/other_user.h"
#include "test/test_util.h"
#include "common/test_skips.h"

namespace drover::testing {
namespace json = boost::json;
namespace {

class Authorization : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<TestCluster>(ClusterOptions{.nodes = 0});
    cluster_->StartHead();
    for (auto [name, role] : {std::pair{"alice", "User"}, {"bob", "User"}, {"jadmin", "JobAdministrator"}}) {
      tls_[name] = AddMember(name, role);
    }
    tls_["admin"] = cluster_->AdminTls();
  }

  net::TlsIdentity AddMember(const std::string& name, const std::string& role) {
    auto key = pki::GenerateKey();
    auto csr = pki::CreateCsr(*key, {name, "member"});
    auto resp = cluster_->Post("/api/v1/members", json::object{{"name", name}, {"role", role}, {"csr", *csr}});
    net::TlsIdentity tls = cluster_->AdminTls();
    tls.cert_pem = std::string(resp.at("certificate").as_string());
    tls.key_pem = *key;
    return tls;
  }

  net::HttpResponse Call(const std::string& who, const std::string& method, const std::string& target,
                         const std::string& body = "") {
    auto r = cluster_->Raw(method, target, body, tls_.at(who));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : net::HttpResponse{0, "", ""};
  }

  int64_t SubmitAs(const std::string& who, const std::string& owner = "") {
    json::object spec = ShellJob("/tmp", "true");
    spec["owner"] = owner.empty() ? who : owner;
    auto r = Call(who, "POST", "/api/v1/jobs", json::serialize(spec));
    EXPECT_EQ(r.status, 201) << r.body;
    return ParseJson(r.body)->at("id").to_number<int64_t>();
  }

  std::unique_ptr<TestCluster> cluster_;
  std::map<std::string, net::TlsIdentity> tls_;
};

TEST_F(Authorization, EveryEndpointForEveryRole) {
  int64_t bobs = SubmitAs("bob");
  struct Case {
    std::string method, target, body;
    std::map<std::string, int> expect;  // role -> status
  };
  const std::string other_owner = json::serialize([] {
    auto s = ShellJob("/tmp", "true");
    s["owner"] = "bob";
    return s;
  }());
  const std::string tmpl = R"({"name": "T", "auto_approve": false})";
  const std::string csr_body = [] {
    auto key = pki::GenerateKey();
    return json::serialize(json::object{{"name", "carol"}, {"role", "User"}, {"csr", *pki::CreateCsr(*key, {"carol", "member"})}});
  }();
  std::vector<Case> cases = {
      {"GET", "/api/v1/cluster", "", {{"alice", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"GET", "/metrics", "", {{"alice", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"GET", "/api/v1/jobs", "", {{"alice", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"POST", "/api/v1/jobs", other_owner, {{"alice", 403}, {"jadmin", 403}, {"admin", 201}}},
      {"GET", fmt::format("/api/v1/jobs/{}", bobs), "", {{"alice", 403}, {"bob", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"GET", fmt::format("/api/v1/jobs/{}/wait?timeout_ms=1", bobs), "",
       {{"alice", 403}, {"bob", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"POST", fmt::format("/api/v1/jobs/{}/cancel", bobs), "", {{"alice", 403}}},
      {"GET", "/api/v1/nodes", "", {{"alice", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"GET", "/api/v1/nodes/none", "", {{"alice", 404}, {"admin", 404}}},
      {"POST", "/api/v1/nodes/none/drain", "{}", {{"alice", 403}, {"jadmin", 403}, {"admin", 404}}},
      {"POST", "/api/v1/nodes/none/approve", "{}", {{"alice", 403}, {"jadmin", 403}, {"admin", 404}}},
      {"GET", "/api/v1/node-templates", "", {{"alice", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"POST", "/api/v1/node-templates", tmpl, {{"alice", 403}, {"jadmin", 403}, {"admin", 201}}},
      {"GET", "/api/v1/members", "", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
      {"POST", "/api/v1/members", csr_body, {{"alice", 403}, {"jadmin", 403}, {"admin", 201}}},
      {"POST", "/api/v1/members/carol/remove", "{}", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
      {"GET", "/api/v1/audit", "", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
      {"POST", "/api/v1/secrets/app/token", R"({"value": "s3"})", {{"alice", 403}, {"jadmin", 403}, {"admin", 201}}},
      {"GET", "/api/v1/secrets", "", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
      {"GET", "/api/v1/secrets/app/token", "", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
      {"DELETE", "/api/v1/secrets/app/token", "", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
      // Drover's own secrets are nobody's through the API, an Administrator's included.
      {"GET", "/api/v1/secrets/drover/cluster-ca/private-key", "", {{"alice", 403}, {"jadmin", 403}, {"admin", 403}}},
      {"POST", "/api/v1/secrets/drover/cluster-ca/private-key", R"({"value": "x"})",
       {{"alice", 403}, {"jadmin", 403}, {"admin", 403}}},
      {"DELETE", "/api/v1/secrets/drover/join-token", "", {{"alice", 403}, {"jadmin", 403}, {"admin", 403}}},
      {"GET", "/api/v1/job-templates", "", {{"alice", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"POST", "/api/v1/job-templates", R"({"name": "J"})", {{"alice", 403}, {"jadmin", 403}, {"admin", 201}}},
      {"POST", "/api/v1/job-templates/J/delete", "{}", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
      {"GET", "/api/v1/scheduler", "", {{"alice", 200}, {"jadmin", 200}, {"admin", 200}}},
      {"POST", "/api/v1/scheduler", "{}", {{"alice", 403}, {"jadmin", 403}, {"admin", 200}}},
  };
  for (const auto& c : cases) {
    for (const auto& [who, status] : c.expect) {
      auto r = Call(who, c.method, c.target, c.body);
      EXPECT_EQ(r.status, status) << who << " " << c.method << " " << c.target << " -> " << r.body;
      if (status == 403) EXPECT_NE(r.body.find("PermissionDenied"), std::string::npos) << r.body;
    }
  }
  // Cancelling: a User only their own job; a JobAdministrator anyone's.
  EXPECT_EQ(Call("bob", "POST", fmt::format("/api/v1/jobs/{}/cancel", bobs)).status, 200);
  int64_t alices = SubmitAs("alice");
  EXPECT_EQ(Call("jadmin", "POST", fmt::format("/api/v1/jobs/{}/cancel", alices)).status, 200);
  // A User's job list holds only their own jobs.
  SubmitAs("bob");
  auto list = ParseJson(Call("alice", "GET", "/api/v1/jobs?all=1").body);
  for (const auto& j : list->at("jobs").as_array()) EXPECT_EQ(j.at("owner"), "alice");
  auto all = ParseJson(Call("jadmin", "GET", "/api/v1/jobs?all=1").body);
  EXPECT_GE(all->at("jobs").as_array().size(), 3u);
}

TEST_F(Authorization, RemovedMemberIsRevokedAtOnceAndReAddingReplacesTheCredential) {
  EXPECT_EQ(Call("bob", "GET", "/api/v1/jobs").status, 200);
  cluster_->Post("/api/v1/members/bob/remove", json::object{});
  auto r = Call("bob", "GET", "/api/v1/jobs");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("revoked"), std::string::npos) << r.body;

  auto old_alice = tls_["alice"];
  tls_["alice"] = AddMember("alice", "JobAdministrator");
  EXPECT_EQ(Call("alice", "GET", fmt::format("/api/v1/jobs/{}", SubmitAs("jadmin"))).status, 200);
  tls_["old"] = old_alice;
  EXPECT_EQ(Call("old", "GET", "/api/v1/jobs").status, 401);

  // Revocations survive a head node restart.
  cluster_->KillHead();
  cluster_->StartHead();
  EXPECT_EQ(Call("bob", "GET", "/api/v1/jobs").status, 401);
  EXPECT_EQ(Call("old", "GET", "/api/v1/jobs").status, 401);
  EXPECT_EQ(Call("alice", "GET", "/api/v1/jobs").status, 200);
}

TEST_F(Authorization, TheInitialAdministratorIsNotAUnixNameAndStaysRemoved) {
  auto members = cluster_->Get("/api/v1/members").at("members").as_array();
  bool found = false;
  for (const auto& m : members) found = found || (m.at("name") == "admin@drover" && m.at("role") == "Administrator");
  EXPECT_TRUE(found);
  // Another Administrator removes the initial one; it does not come back at the next start.
  tls_["root2"] = AddMember("ops", "Administrator");
  EXPECT_EQ(Call("root2", "POST", "/api/v1/members/admin@drover/remove", "{}").status, 200);
  cluster_->KillHead();
  cluster_->StartHead();
  EXPECT_EQ(Call("admin", "GET", "/api/v1/jobs").status, 401);
  auto after = ParseJson(Call("root2", "GET", "/api/v1/members").body);
  for (const auto& m : after->at("members").as_array()) EXPECT_NE(m.at("name"), "admin@drover");
  // root cannot be made a member: as one it would run tasks as root.
  auto key = pki::GenerateKey();
  auto r = Call("root2", "POST", "/api/v1/members",
                json::serialize(json::object{{"name", "root"}, {"csr", *pki::CreateCsr(*key, {"root", "member"})}}));
  EXPECT_EQ(r.status, 400) << r.body;
}

// Drover's own secrets cannot be read, replaced or deleted over REST, and they still work after the
// attempts; every read of a value is audited by name and version, never the value.
TEST_F(Authorization, ReservedSecretsAreRefusedAndReadsAreAudited) {
  auto key_read = Call("admin", "GET", "/api/v1/secrets/drover/cluster-ca/private-key");
  EXPECT_EQ(key_read.status, 403);
  EXPECT_NE(key_read.body.find("one of Drover's own secrets"), std::string::npos) << key_read.body;
  EXPECT_EQ(key_read.body.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(Call("admin", "POST", "/api/v1/secrets/drover/cluster-ca/private-key", R"({"value": "x"})").status, 403);
  EXPECT_EQ(Call("admin", "DELETE", "/api/v1/secrets/drover/join-token").status, 403);
  // The CA is untouched: a new member's credential is still issued and accepted.
  tls_["carol"] = AddMember("carol", "User");
  EXPECT_EQ(Call("carol", "GET", "/api/v1/jobs").status, 200);

  EXPECT_EQ(Call("admin", "POST", "/api/v1/secrets/app/api-key", R"({"value": "value-one"})").status, 201);
  EXPECT_EQ(Call("admin", "POST", "/api/v1/secrets/app/api-key", R"({"value": "value-two"})").status, 201);
  auto read = Call("admin", "GET", "/api/v1/secrets/app/api-key?version=1");
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_NE(read.body.find("value-one"), std::string::npos);
  EXPECT_EQ(Call("admin", "GET", "/api/v1/secrets/app/api-key").status, 200);
  auto entries = cluster_->Get("/api/v1/audit").at("entries").as_array();
  int puts = 0;
  std::set<std::string> reads;
  for (const auto& e : entries) {
    EXPECT_EQ(json::serialize(e).find("value-"), std::string::npos) << e;
    if (e.at("target") != "/app/api-key") continue;
    if (e.at("action") == "secret.put") ++puts;
    if (e.at("action") == "secret.get") reads.insert(std::string(e.at("detail").as_string()));
  }
  EXPECT_EQ(puts, 2);
  EXPECT_EQ(reads, (std::set<std::string>{"version 1", "latest version"}));
}

TEST_F(Authorization, ChangesAreAudited) {
  int64_t id = SubmitAs("alice");
  Call("alice", "POST", fmt::format("/api/v1/jobs/{}/cancel", id));
  auto entries = cluster_->Get("/api/v1/audit").at("entries").as_array();
  auto has = [&](const std::string& actor, const std::string& action, const std::string& target) {
    for (const auto& e : entries) {
      if (e.at("actor") == actor.c_str() && e.at("action") == action.c_str() && e.at("target") == target.c_str()) {
        return !std::string(e.at("time").as_string()).empty();
      }
    }
    return false;
  };
  EXPECT_TRUE(has("admin@drover", "member.add", "alice"));
  EXPECT_TRUE(has("alice", "job.submit", fmt::format("job {}", id)));
  EXPECT_TRUE(has("alice", "job.cancel", fmt::format("job {}", id)));
  // Node changes are audited too: a join, and an administrator's drain.
  TestCluster nodes({.nodes = 1, .cores_per_node = 1});
  nodes.StartAll();
  nodes.Post("/api/v1/nodes/cn01/drain", json::object{});
  auto node_entries = nodes.Get("/api/v1/audit").at("entries").as_array();
  bool joined = false, drained = false;
  for (const auto& e : node_entries) {
    joined = joined || (e.at("action") == "node.join" && e.at("target") == "cn01");
    drained = drained || (e.at("action") == "node.drain" && e.at("actor") == "admin@drover");
  }
  EXPECT_TRUE(joined);
  EXPECT_TRUE(drained);
}

// Tasks run as their owner's Unix user when the compute node runs as root.
TEST(RunAsOwner, TasksRunWithTheOwnersUid) {
  if (::geteuid() != 0) DROVER_SKIP() << "needs root: the agent switches users only as root";
  std::string user = fmt::format("drvt{}", ::getpid() % 100000);
  ASSERT_EQ(std::system(fmt::format("useradd -M -s /bin/sh {} 2>/dev/null", user).c_str()), 0);
  struct Cleanup {
    std::string user;
    ~Cleanup() { (void)std::system(fmt::format("userdel {} 2>/dev/null", user).c_str()); }
  } cleanup{user};
  const passwd* pw = ::getpwnam(user.c_str());
  ASSERT_NE(pw, nullptr);
  uid_t uid = pw->pw_uid;

  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir() + "/shared";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  ::chmod(cluster.dir().c_str(), 0711);  // the owner must be able to reach its working directory
  ::chmod(work.c_str(), 01777);
  auto spec = ShellJob(work, "id -u; echo $USER");
  spec["owner"] = user;
  auto job = cluster.WaitForJob(cluster.Submit(spec));
  ASSERT_EQ(job.at("state"), "Finished") << json::serialize(job);
  auto lines = ReadLines(work + "/out.1");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], std::to_string(uid));
  EXPECT_EQ(lines[1], user);
  struct stat st;
  ASSERT_EQ(::stat((work + "/out.1").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid) << "the output file is created by the task's user";

  // A batch script runs as the owner too, with its arguments.
  auto script = ShellJob(work, "");
  script["task"].as_object()["argv"] = json::array{"first-arg"};
  script["task"].as_object()["script"] = "#!/bin/sh\necho \"$(id -u) $1\"\n";
  script["task"].as_object()["stdout"] = "script.out";
  script["owner"] = user;
  auto script_job = cluster.WaitForJob(cluster.Submit(script));
  ASSERT_EQ(script_job.at("state"), "Finished") << json::serialize(script_job);
  EXPECT_EQ(ReadLines(work + "/script.out"), (std::vector<std::string>{std::to_string(uid) + " first-arg"}));

  // The command is looked up with the owner's rights: a file in a directory only root can read is
  // "not found", not "not executable".
  std::string hidden_dir = cluster.dir() + "/root-only";
  ASSERT_TRUE(os::MakeDirs(hidden_dir, 0700).ok());
  ASSERT_TRUE(os::WriteFileAtomic(hidden_dir + "/hidden", "data", 0644).ok());
  auto probe = ShellJob(work, "");
  probe["task"].as_object()["argv"] = json::array{"hidden"};
  probe["task"].as_object()["env"] = json::object{{"PATH", hidden_dir}};
  probe["owner"] = user;
  auto probed = cluster.WaitForJob(cluster.Submit(probe));
  ASSERT_EQ(probed.at("state"), "Failed");
  std::string probe_error(probed.at("task_list").at(0).at("error").as_string());
  EXPECT_NE(probe_error.find("not found"), std::string::npos) << probe_error;
  EXPECT_EQ(probe_error.find("not executable"), std::string::npos) << probe_error;

  auto nobody = ShellJob(work, "true");
  nobody["owner"] = "no-such-user-here";
  auto failed = cluster.WaitForJob(cluster.Submit(nobody));
  EXPECT_EQ(failed.at("state"), "Failed");
  std::string error(failed.at("task_list").at(0).at("error").as_string());
  EXPECT_NE(error.find("has no account on node"), std::string::npos) << error;
}

}  // namespace
}  // namespace drover::testing

namespace drover::testing {
namespace {

// Runs `drover <args>` as Unix user `user` against the head node's local socket; a user other than
// root runs a copy of the binary in the cluster's directory (the checkout may be closed to them).
std::string DroverAs(const std::string& user, const TestCluster& cluster, const std::string& args, int* code) {
  auto o = DroverAsUser(user, cluster.dir(), cluster.head_dir() + "/headnode.sock", args);
  *code = o.code;
  return o.out;
}

// On the head node's machine the local socket knows callers by uid: root is Administrator, a
// member gets their role, anyone else is refused.
TEST(LocalSocket, CallersAreKnownByTheirUid) {
  if (::geteuid() != 0) DROVER_SKIP() << "needs root: creates Unix users";
  std::string member = fmt::format("drvm{}", ::getpid() % 100000), stranger = fmt::format("drvs{}", ::getpid() % 100000);
  for (const auto& u : {member, stranger}) {
    ASSERT_EQ(std::system(fmt::format("useradd -M -s /bin/sh {} 2>/dev/null", u).c_str()), 0);
  }
  struct Cleanup {
    std::vector<std::string> users;
    ~Cleanup() {
      for (const auto& u : users) (void)std::system(fmt::format("userdel {} 2>/dev/null", u).c_str());
    }
  } cleanup{{member, stranger}};

  TestCluster cluster({.nodes = 0});
  cluster.StartHead();
  ::chmod(cluster.dir().c_str(), 0711);
  ::chmod(cluster.head_dir().c_str(), 0711);
  auto key = pki::GenerateKey();
  cluster.Post("/api/v1/members",
               json::object{{"name", member}, {"role", "User"}, {"csr", *pki::CreateCsr(*key, {member, "member"})}});

  int code = 0;
  std::string out = DroverAs("root", cluster, "member list", &code);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(member), std::string::npos) << out;

  out = DroverAs(member, cluster, "submit --wrap true", &code);
  ASSERT_EQ(code, 0) << out;
  std::string id = out.substr(0, out.find('\n'));
  EXPECT_EQ(cluster.Get("/api/v1/jobs/" + id).at("owner"), member.c_str()) << "the job belongs to the caller";
  out = DroverAs(member, cluster, "member list", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("needs the Administrator role"), std::string::npos) << out;

  out = DroverAs(stranger, cluster, "queue", &code);
  EXPECT_NE(code, 0);
  EXPECT_NE(out.find("is not a member of this cluster"), std::string::npos) << out;
}

}  // namespace
}  // namespace drover::testing

namespace drover::testing {
namespace {

// `member add` run as root writes into the member's home as the member: a link the member planted
// there cannot make root hand them a directory they do not own.
TEST(LocalSocket, MemberAddDoesNotFollowTheMembersLinksAsRoot) {
  if (::geteuid() != 0) DROVER_SKIP() << "needs root: creates Unix users";
  std::string user = fmt::format("drvh{}", ::getpid() % 100000);
  ASSERT_EQ(std::system(fmt::format("useradd -m -s /bin/sh {} 2>/dev/null", user).c_str()), 0);
  struct Cleanup {
    std::string user;
    ~Cleanup() { (void)std::system(fmt::format("userdel -r {} 2>/dev/null", user).c_str()); }
  } cleanup{user};
  TestCluster cluster({.nodes = 0});
  cluster.StartHead();
  std::string target = cluster.dir() + "/root-owned";
  ASSERT_TRUE(os::MakeDirs(target, 0755).ok());
  const passwd* pw = ::getpwnam(user.c_str());
  std::string home = pw->pw_dir;
  ASSERT_EQ(::symlink(target.c_str(), (home + "/.drover").c_str()), 0);

  int code = 0;
  std::string out = DroverAs("root", cluster, "member add " + user, &code);
  struct stat st;
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u) << "root handed the member's link target over: " << out;
  EXPECT_FALSE(os::Exists(target + "/credentials/client.key")) << out;

  // Without the link, the credential lands in the member's home, owned by the member.
  ASSERT_EQ(::unlink((home + "/.drover").c_str()), 0);
  out = DroverAs("root", cluster, "member add " + user, &code);
  ASSERT_EQ(code, 0) << out;
  ASSERT_EQ(::stat((home + "/.drover/credentials/client.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, pw->pw_uid);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace drover::testing
