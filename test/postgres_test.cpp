// A head node on PostgreSQL: a sweep runs through restarts of the database server, and every task
// completes exactly once; the password never shows on a command line or in the head node's log.
#include <dirent.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "os/files.h"
#include "store/postgres/postgres_testing.h"
#include "test/harness.h"
#include "test/test_util.h"
#include "common/test_skips.h"

namespace drover::testing {
namespace {

constexpr const char* kRecordingTask = "sleep 0.4; echo * >> done.log";

std::string QueryOrEmpty(TestPostgresServer& server, const std::string& db, const std::string& sql) {
  auto r = server.Query(db, sql);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

bool AnyCommandLineContains(const std::string& needle) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(fmt::format("/proc/{}/cmdline", e->d_name));
    std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    found |= line.find(needle) != std::string::npos;
  }
  ::closedir(proc);
  return found;
}

TEST(Postgres, SweepRunsThroughDatabaseRestartsExactlyOnce) {
  if (std::string why = TestPostgresServer::MissingBinaries(); !why.empty()) {
    if (TestPostgresServer::Required()) FAIL() << why << " (DROVER_REQUIRE_POSTGRES=1)";
    DROVER_SKIP() << why;
  }
  auto server = TestPostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  TestCluster cluster({.nodes = 2,
                       .cores_per_node = 4,
                       .heartbeat_timeout_ms = 5000,
                       .database_url = (*server)->Url() + "/sweep",
                       .database_password = (*server)->password()});
  cluster.StartAll();
  ASSERT_EQ(QueryOrEmpty(**server, "sweep_scheduler", "SELECT version FROM schema_version"),
            std::to_string(kSchemaVersion));
  EXPECT_FALSE(AnyCommandLineContains((*server)->password()));

  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  constexpr int kTasks = 60;
  int64_t id = cluster.Submit(SweepJob(work, kRecordingTask, 1, kTasks));
  ASSERT_GT(id, 0);
  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/done.log").size() >= 8; }, 30000));
  ASSERT_TRUE((*server)->Restart().ok());
  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/done.log").size() >= 20; }, 60000));
  // Down for a while this time. A job submitted meanwhile is acknowledged only once it is committed,
  // that is after the server is back; the sweep's results wait with it.
  ASSERT_TRUE((*server)->Stop().ok());
  std::atomic<bool> starting_again{false};
  std::thread starter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    starting_again = true;  // before the start: no commit can succeed earlier than this
    EXPECT_TRUE((*server)->StartAgain().ok());
  });
  int64_t during_outage = cluster.Submit(ShellJob(work, "echo outage >> outage.log"));
  EXPECT_TRUE(starting_again) << "a submission was acknowledged while the database was down";
  starter.join();
  ASSERT_GT(during_outage, id);

  auto job = cluster.WaitForJob(id, 120000);
  ASSERT_EQ(job.at("state"), "Finished") << boost::json::serialize(job.at("tasks"));
  EXPECT_EQ(CountTasks(job, "Finished"), kTasks);
  std::map<std::string, int> counts;
  for (const auto& l : ReadLines(work + "/done.log")) ++counts[l];
  ASSERT_EQ(counts.size(), static_cast<size_t>(kTasks));
  for (const auto& [index, n] : counts) EXPECT_EQ(n, 1) << "task index " << index << " completed " << n << " times";
  EXPECT_TRUE(cluster.HeadAlive());
  EXPECT_EQ(cluster.WaitForJob(during_outage, 60000).at("state"), "Finished");
  EXPECT_EQ(ReadLines(work + "/outage.log").size(), 1u);

  // Durable in PostgreSQL: a restarted head node reads the ended job back.
  EXPECT_EQ(QueryOrEmpty(**server, "sweep_scheduler", fmt::format("SELECT state FROM jobs WHERE id = {}", id)),
            "Finished");
  EXPECT_EQ(QueryOrEmpty(**server, "sweep_reporting", fmt::format("SELECT count(*) FROM accounting WHERE job_id = {}", id)),
            std::to_string(kTasks));
  auto log = os::ReadFile(cluster.dir() + "/headnode.log");
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->find((*server)->password()), std::string::npos);
  EXPECT_NE(log->find("cannot reach the database"), std::string::npos) << "the outage was never noticed";
  EXPECT_FALSE(AnyCommandLineContains((*server)->password()));
}

// A wrong password stops the head node at start with a message that names the server, not the
// password.
TEST(Postgres, HeadNodeWithAWrongPasswordSaysSoWithoutShowingIt) {
  if (std::string why = TestPostgresServer::MissingBinaries(); !why.empty()) {
    if (TestPostgresServer::Required()) FAIL() << why << " (DROVER_REQUIRE_POSTGRES=1)";
    DROVER_SKIP() << why;
  }
  auto server = testing::SharedTestPostgresServer();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  TestCluster cluster({.nodes = 0});
  const std::string wrong = "Not-The-Password-4471";
  const std::string password_file = cluster.dir() + "/wrong.password";
  ASSERT_TRUE(os::WriteFileAtomic(password_file, wrong + "\n", 0600).ok());
  const std::string log = cluster.dir() + "/wrong-password.log";
  pid_t pid = cluster.StartProcess({"headnode", "--state-dir", cluster.dir() + "/head", "--database",
                                    (*server)->Url() + "/wrongpw", "--database-password-file", password_file},
                                   log);
  ASSERT_GT(pid, 0);
  // The harness reaps it; here its log tells that it gave up.
  auto text = std::make_optional<std::string>();
  auto read_log = [&] {
    auto r = os::ReadFile(log);
    *text = r.ok() ? *r : "";
    return text->find("cannot open the database") != std::string::npos;
  };
  ASSERT_TRUE(TestCluster::Eventually(read_log, 60000)) << *text;
  EXPECT_NE(text->find("cannot open the database"), std::string::npos) << *text;
  EXPECT_NE(text->find("password authentication failed"), std::string::npos) << *text;
  EXPECT_NE(text->find(fmt::format("drover@127.0.0.1:{}", (*server)->port())), std::string::npos) << *text;
  EXPECT_EQ(text->find(wrong), std::string::npos) << *text;
}

}  // namespace
}  // namespace drover::testing
