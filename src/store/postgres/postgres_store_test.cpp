// PostgreSQL-specific behaviour of the PostgreSQL store: the five databases, schema versions,
// recovery of in-doubt commits, reconnecting after a server restart, and keeping the password out
// of sight. The Store contract itself is checked by store_conformance_test.
#include "store/postgres/postgres_store.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "store/postgres/postgres_testing.h"
#include "common/test_skips.h"

namespace drover {
namespace {

using testing::TestPostgresServer;

JobRecord MakeJob(JobId id) {
  JobRecord j;
  j.id = id;
  j.spec.name = "job" + std::to_string(id);
  j.spec.owner = "bob";
  j.spec.task.argv = {"/bin/true"};
  j.submit_time = 1000 + id;
  return j;
}

AccountingRecord MakeAccounting(JobId job) {
  AccountingRecord a;
  a.job_id = job;
  a.task_id = 1;
  a.attempt = 1;
  a.owner = "bob";
  a.state = TaskState::kFinished;
  a.end_time = 5000 + job;
  return a;
}

// A batch that touches Management, Scheduler, Reporting and Monitoring: a two-phase commit.
WriteBatch Batch(JobId id) {
  WriteBatch b;
  b.jobs = {MakeJob(id)};
  TaskRecord t;
  t.job_id = id;
  t.task_id = 1;
  t.state = TaskState::kFinished;
  b.tasks = {t};
  b.accounting = {MakeAccounting(id)};
  b.metrics = {MetricSample{"n1", id, 0.5, 10, 1}};
  b.audit = {AuditEntry{id, "bob", "job.submit", fmt::format("job {}", id), ""}};
  b.properties = {{"last", std::to_string(id)}};
  return b;
}

#define ASSERT_OK(expr)                         \
  do {                                          \
    const Status _st = (expr);                  \
    ASSERT_TRUE(_st.ok()) << _st.ToString();    \
  } while (0)

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = TestPostgresServer::MissingBinaries(); !why.empty()) {
      if (TestPostgresServer::Required()) FAIL() << why << " (DROVER_REQUIRE_POSTGRES=1)";
      DROVER_SKIP() << why;
    }
    auto server = testing::SharedTestPostgresServer();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = *server;
    static int counter = 0;
    prefix_ = fmt::format("p{}_{}", ::getpid(), ++counter);
    options_ = server_->Options(prefix_);
  }

  std::unique_ptr<Store> Open() {
    auto store = OpenPostgresStore(options_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::string Db(const char* suffix) const { return prefix_ + "_" + suffix; }
  std::string Query(const std::string& db, const std::string& sql) {
    auto r = server_->Query(db, sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : "";
  }
  // As the role drover, like the store itself (prepared transactions belong to their role).
  void ExecAsDrover(const std::string& db, const std::string& sql) {
    pqxx::connection conn(fmt::format("host=127.0.0.1 port={} user=drover dbname={} password={}", server_->port(), db,
                                      server_->password()));
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
  }
  size_t AccountingRows(Store& store) {
    auto rows = store.QueryAccounting({});
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    return rows.ok() ? rows->size() : 0;
  }

  TestPostgresServer* server_ = nullptr;
  std::string prefix_;
  PostgresOptions options_;
};

TEST(PostgresUrl, PathIsThePrefixAndPasswordsAreRefused) {
  auto o = ParsePostgresUrl("postgresql://drover@db1.cluster:6543/hpc1?sslmode=disable");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->prefix, "hpc1");
  EXPECT_EQ(o->connection, "postgresql://drover@db1.cluster:6543?sslmode=disable");
  auto defaults = ParsePostgresUrl("postgres://drover@localhost");
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->prefix, "drover");

  auto with_password = ParsePostgresUrl("postgresql://drover:s3cret-in-url@db1/hpc1");
  ASSERT_FALSE(with_password.ok());
  EXPECT_NE(with_password.status().message().find("--database-password-file"), std::string::npos);
  EXPECT_EQ(with_password.status().message().find("s3cret-in-url"), std::string::npos);
  EXPECT_EQ(ParsePostgresUrl("postgresql://drover@db1/?password=s3cret").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParsePostgresUrl("mysql://drover@db1/x").ok());
  auto bad_prefix = ParsePostgresUrl("postgresql://drover@db1/Bad-Name");
  ASSERT_FALSE(bad_prefix.ok());
  EXPECT_NE(bad_prefix.status().message().find("Bad-Name"), std::string::npos);
}

TEST_F(PostgresStoreTest, CreatesFiveDatabasesAndReusesThem) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Commit(Batch(1)));
  }
  EXPECT_EQ(Query("postgres", fmt::format("SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database "
                                          "WHERE datname LIKE '{}\\_%'",
                                          prefix_)),
            fmt::format("{0}_diagnostics,{0}_management,{0}_monitoring,{0}_reporting,{0}_scheduler", prefix_));
  for (const char* db : {"management", "scheduler", "reporting", "diagnostics", "monitoring"}) {
    EXPECT_EQ(Query(Db(db), "SELECT version FROM schema_version"), std::to_string(kSchemaVersion)) << db;
  }
  EXPECT_EQ(Query(Db("scheduler"), "SELECT count(*) FROM jobs"), "1");
  // The commit log keeps only commits whose outcome is not settled everywhere.
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto job = store->LoadJob(1);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ(AccountingRows(*store), 1u);
  EXPECT_EQ(Query(Db("management"), "SELECT count(*) FROM commit_log"), "0");
}

TEST_F(PostgresStoreTest, NewerSchemaVersionIsRefusedAndNothingChanges) {
  { ASSERT_NE(Open(), nullptr); }
  Query(Db("scheduler"), "UPDATE schema_version SET version = 99");
  Query(Db("monitoring"), "UPDATE schema_version SET version = 1");
  auto store = OpenPostgresStore(options_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find(fmt::format("Scheduler database {} on drover@127.0.0.1:{} has schema "
                                                      "version 99, newer than this drover's {}; upgrade drover",
                                                      Db("scheduler"), server_->port(), kSchemaVersion)),
            std::string::npos)
      << store.status().message();
  EXPECT_EQ(Query(Db("scheduler"), "SELECT version FROM schema_version"), "99");
  EXPECT_EQ(Query(Db("monitoring"), "SELECT version FROM schema_version"), "1");  // not migrated either
}

TEST_F(PostgresStoreTest, VersionOneManagementIsMigratedAndKeepsItsNodes) {
  { ASSERT_NE(Open(), nullptr); }
  Query(Db("management"),
        "DROP TABLE members, revoked_certificates, audit_log; ALTER TABLE nodes DROP COLUMN cert_serial; "
        "INSERT INTO nodes VALUES ('n1', 'Online', 'compute', 'n1.cluster', 8, 1000, 1, 2); "
        "UPDATE schema_version SET version = 1");
  Query(Db("monitoring"), "DROP TABLE node_metrics; UPDATE schema_version SET version = 0");
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto versions = store->SchemaVersions();
  ASSERT_TRUE(versions.ok());
  for (const auto& [name, v] : *versions) EXPECT_EQ(v, kSchemaVersion) << name;
  auto nodes = store->LoadNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ(nodes->at(0).hostname, "n1.cluster");
  EXPECT_EQ(nodes->at(0).cert_serial, "");
  WriteBatch b;
  b.members = {Member{"alice", Role::kUser, "a1", 1}};
  b.metrics = {MetricSample{"n1", 1, 1.0, 1, 1}};
  ASSERT_OK(store->Commit(b));
  EXPECT_EQ(store->LoadMembers()->size(), 1u);
  EXPECT_EQ(store->RecentMetrics("n1", 5)->size(), 1u);
}

TEST_F(PostgresStoreTest, MissingDatabaseIsRecreatedAndOthersKept) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(store->Commit(Batch(3)));
  }
  Query("postgres", fmt::format("DROP DATABASE {}", Db("monitoring")));
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->RecentMetrics("n1", 5)->empty());
  EXPECT_TRUE(store->LoadJob(3)->has_value());
  EXPECT_EQ(AccountingRows(*store), 1u);
}

TEST_F(PostgresStoreTest, ForeignDatabaseIsRefused) {
  Query("postgres", fmt::format("CREATE DATABASE {}", Db("reporting")));
  Query(Db("reporting"), "CREATE TABLE invoices (id int)");
  auto store = OpenPostgresStore(options_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("no schema_version table"), std::string::npos) << store.status().message();
}

// A crash between PREPARE and the decision: recovery at open rolls back a commit the log does not
// name, and commits one it names as committed.
TEST_F(PostgresStoreTest, InDoubtPreparedTransactionsAreResolvedAtOpen) {
  { ASSERT_NE(Open(), nullptr); }
  const std::string gid_undecided = fmt::format("drover:{}:00000000000000aa00000001", prefix_);
  const std::string gid_committed = fmt::format("drover:{}:00000000000000aa00000002", prefix_);
  ExecAsDrover(Db("scheduler"),
               "BEGIN; INSERT INTO jobs VALUES (41, 'j', 'bob', 0, 'Queued', 1, 0, 0, false, '{}'); "
               "PREPARE TRANSACTION '" + gid_undecided + ":scheduler'");
  ExecAsDrover(Db("scheduler"),
               "BEGIN; INSERT INTO jobs VALUES (42, 'j', 'bob', 0, 'Queued', 1, 0, 0, false, '{}'); "
               "PREPARE TRANSACTION '" + gid_committed + ":scheduler'");
  Query(Db("management"), "INSERT INTO commit_log VALUES ('" + gid_committed + "', true, 1)");
  ASSERT_EQ(Query("postgres", "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'drover:" + prefix_ + ":%'"), "2");

  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Query("postgres", "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'drover:" + prefix_ + ":%'"), "0");
  EXPECT_EQ(Query(Db("scheduler"), "SELECT string_agg(id::text, ',') FROM jobs"), "42");
  EXPECT_EQ(Query(Db("management"), "SELECT count(*) FROM commit_log"), "0");
}

TEST_F(PostgresStoreTest, ReconnectsAfterAServerRestart) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Commit(Batch(1)));
  ASSERT_OK(server_->Restart());
  auto job = store->LoadJob(1);  // every connection was cut; the store reconnects by itself
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_TRUE(job->has_value());
  ASSERT_OK(server_->Restart());
  Status st = store->Commit(Batch(2));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(AccountingRows(*store), 2u);
}

// While the server is down, Commit reports kUnavailable; the same batch given again once it is back
// is applied exactly once.
TEST_F(PostgresStoreTest, CommitWhileTheServerIsDownIsUnavailableAndItsRetryAppliesOnce) {
  options_.reconnect_timeout_ms = 300;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Commit(Batch(1)));
  ASSERT_OK(server_->Stop());
  Status down = store->Commit(Batch(2));
  EXPECT_EQ(down.code(), StatusCode::kUnavailable) << down.ToString();
  EXPECT_EQ(store->LoadJob(2).status().code(), StatusCode::kUnavailable);
  ASSERT_OK(server_->StartAgain());
  Status st = store->Commit(Batch(2));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(AccountingRows(*store), 2u);
  EXPECT_EQ(store->RecentMetrics("n1", 10)->size(), 2u);
  EXPECT_EQ(store->QueryAudit(0, 10)->size(), 2u);
}

// Restarts and crashes of the server hit the commit loop at random points (before, inside and between the two phases). Every
// batch is retried until it is acknowledged, as the head node's committer does; in the end each one
// is there exactly once, in every database.
TEST_F(PostgresStoreTest, RestartsDuringACommitLoopLoseAndDoubleNothing) {
  options_.reconnect_timeout_ms = 200;
  auto store = Open();
  ASSERT_NE(store, nullptr);
  std::atomic<bool> done{false};
  std::atomic<int> restarts{0};
  std::thread restarter_thread([&] {
    while (!done && restarts < 3) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      // Alternately a clean shutdown and a crash (immediate: no checkpoint, recovery from WAL).
      const bool crash = restarts % 2 == 1;
      if (server_->Stop(crash).ok() && server_->StartAgain().ok()) ++restarts;
    }
  });
  // Joined on every way out, a failed assertion included.
  struct Joiner {
    std::atomic<bool>& done;
    std::thread& thread;
    ~Joiner() {
      done = true;
      if (thread.joinable()) thread.join();
    }
  } restarter{done, restarter_thread};
  // At least 150 batches, and on until the restarts are over.
  JobId batches = 0;
  int unavailable = 0;
  for (JobId id = 1; id <= 150 || (restarts < 3 && id <= 100000); ++id) {
    const WriteBatch b = Batch(id);
    for (int tries = 0;; ++tries) {
      Status st = store->Commit(b);
      if (st.ok()) break;
      ASSERT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
      ASSERT_LT(tries, 500) << st.ToString();
      ++unavailable;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    batches = id;
  }
  done = true;
  restarter_thread.join();
  EXPECT_GE(restarts.load(), 3);
  std::printf("[ info     ] %d commits were retried after kUnavailable\n", unavailable);

  auto accounting = store->QueryAccounting({});
  ASSERT_TRUE(accounting.ok()) << accounting.status().ToString();
  std::multiset<JobId> jobs;
  for (const auto& a : accounting.value()) jobs.insert(a.job_id);
  for (JobId id = 1; id <= batches; ++id) EXPECT_EQ(jobs.count(id), 1u) << "accounting of batch " << id;
  EXPECT_EQ(accounting->size(), static_cast<size_t>(batches));
  EXPECT_EQ(store->RecentMetrics("n1", 100000)->size(), accounting->size());
  EXPECT_EQ(store->QueryAudit(0, 100000)->size(), accounting->size());
  EXPECT_EQ(store->MaxJobId().value(), batches);
  EXPECT_EQ(Query("postgres", "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'drover:" + prefix_ + ":%'"), "0");
}

TEST_F(PostgresStoreTest, ServerWithoutPreparedTransactionsIsRefusedWithAClearMessage) {
  Query("postgres", "ALTER SYSTEM SET max_prepared_transactions = 0");
  ASSERT_OK(server_->Restart());
  auto store = OpenPostgresStore(options_);
  Query("postgres", "ALTER SYSTEM RESET max_prepared_transactions");
  ASSERT_OK(server_->Restart());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("has max_prepared_transactions = 0; drover commits across its five "
                                          "databases with two-phase commit and needs at least 3"),
            std::string::npos)
      << store.status().message();
}

// The Management connection dies after the other parts are prepared and before the decision: the
// prepared parts are rolled back, the batch is applied again on fresh connections, once.
TEST_F(PostgresStoreTest, ConnectionLostBeforeTheDecisionRollsBackThePreparedPartsAndRetriesOnce) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Commit(Batch(1)));

  pqxx::connection admin(server_->SuperuserConnection(Db("management")));
  pqxx::nontransaction blocker(admin);
  blocker.exec("BEGIN; LOCK TABLE commit_log IN EXCLUSIVE MODE");  // the decision's INSERT waits here
  bool terminated = false;
  std::thread cut([&] {
    pqxx::connection watcher(server_->SuperuserConnection("postgres"));
    pqxx::nontransaction tx(watcher);
    const std::string waiting = fmt::format(
        "SELECT pid FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'drover' "
        "AND wait_event_type = 'Lock'",
        Db("management"));
    for (int i = 0; i < 1000; ++i) {
      auto r = tx.exec(waiting);
      if (!r.empty()) {
        EXPECT_EQ(Query("postgres", "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'drover:" + prefix_ + ":%'"),
                  "3");  // Scheduler, Reporting and Monitoring are prepared
        tx.exec("SELECT pg_terminate_backend(" + std::string(r[0][0].c_str()) + ")");
        terminated = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    blocker.exec("COMMIT");
  });
  Status st = store->Commit(Batch(2));
  cut.join();
  ASSERT_TRUE(terminated) << "the commit never waited for the decision's lock";
  ASSERT_OK(st);
  EXPECT_EQ(AccountingRows(*store), 2u);
  EXPECT_EQ(store->RecentMetrics("n1", 10)->size(), 2u);
  EXPECT_EQ(store->QueryAudit(0, 10)->size(), 2u);
  EXPECT_EQ(Query("postgres", "SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE 'drover:" + prefix_ + ":%'"), "0");
  // The aborted attempt's decision (committed = false) is cleaned up by the next commit.
  ASSERT_OK(store->Commit(Batch(3)));
  EXPECT_EQ(Query(Db("management"), "SELECT count(*) FROM commit_log WHERE NOT committed"), "0");
}

std::vector<std::string> AllCommandLines() {
  std::vector<std::string> out;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(fmt::format("/proc/{}/cmdline", e->d_name));
    std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    out.push_back(line);
  }
  ::closedir(proc);
  return out;
}

TEST_F(PostgresStoreTest, PasswordIsNeverOnACommandLineOrInAMessage) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Commit(Batch(1)));
  auto lines = AllCommandLines();
  ASSERT_FALSE(lines.empty());
  for (const auto& l : lines) EXPECT_EQ(l.find(server_->password()), std::string::npos) << l;

  PostgresOptions wrong = options_;
  wrong.password = "Wrong-Secret-7781";
  auto refused = OpenPostgresStore(wrong);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("Wrong-Secret-7781"), std::string::npos) << refused.status().message();

  // An unreachable server: the message names user, host and port, never the password.
  PostgresOptions down = server_->Options(prefix_);
  ASSERT_OK(server_->Stop());
  down.open_wait_ms = 100;
  auto unreachable = OpenPostgresStore(down);
  ASSERT_OK(server_->StartAgain());
  ASSERT_FALSE(unreachable.ok());
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable) << unreachable.status().ToString();
  EXPECT_NE(unreachable.status().message().find(fmt::format("drover@127.0.0.1:{}", server_->port())),
            std::string::npos)
      << unreachable.status().message();
  EXPECT_EQ(unreachable.status().message().find(server_->password()), std::string::npos);
}

}  // namespace
}  // namespace drover
