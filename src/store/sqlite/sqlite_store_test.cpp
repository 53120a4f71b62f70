// SQLite-specific behaviour of the SQLite store: the on-disk layout, schema versions, WAL mode,
// damaged files and rollback. The behaviour every backend shares is in store_conformance_test.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

namespace drover {
namespace {

namespace fs = std::filesystem;

const char* const kFiles[] = {"management.db", "scheduler.db", "reporting.db", "diagnostics.db", "monitoring.db"};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover_sqlite_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Path(const std::string& file) const { return dir_ + "/" + file; }

  // Creates the store files and closes them again.
  void CreateStore() {
    auto store = OpenSqliteStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }

  // Runs SQL on one file with a separate connection, as an administrator (or damage) would.
  void ExecOn(const std::string& file, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(Path(file).c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << msg;
  }

  // The single text value SQL returns on one file.
  std::string QueryOn(const std::string& file, const std::string& sql) {
    sqlite3* db = nullptr;
    std::string out = "<error>";
    if (sqlite3_open(Path(file).c_str(), &db) == SQLITE_OK) {
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
        const unsigned char* text = sqlite3_column_text(stmt, 0);
        out = text ? reinterpret_cast<const char*>(text) : "<null>";
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return out;
  }

  std::string dir_;
};

TEST_F(SqliteStoreTest, CreatesOneFilePerStore) {
  auto store = OpenSqliteStore(dir_ + "/nested/data");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (const char* file : kFiles) EXPECT_TRUE(fs::is_regular_file(dir_ + "/nested/data/" + file)) << file;
}

TEST_F(SqliteStoreTest, FilesAreInWalModeWithTheirTables) {
  {
    auto store = OpenSqliteStore(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    WriteBatch b;
    b.jobs.push_back(JobRecord{});
    b.jobs.back().id = 1;
    ASSERT_TRUE((*store)->Commit(b).ok());
    EXPECT_TRUE(fs::exists(Path("scheduler.db-wal")));
  }
  for (const char* file : kFiles) {
    EXPECT_EQ(QueryOn(file, "PRAGMA journal_mode"), "wal") << file;
    EXPECT_EQ(QueryOn(file, "SELECT version FROM schema_version"), std::to_string(kSchemaVersion)) << file;
  }
  auto has_table = [&](const char* file, const char* table) {
    return QueryOn(file, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") + table + "'") == "1";
  };
  EXPECT_TRUE(has_table("management.db", "nodes"));
  EXPECT_TRUE(has_table("management.db", "node_templates"));
  EXPECT_TRUE(has_table("management.db", "properties"));
  EXPECT_TRUE(has_table("scheduler.db", "jobs"));
  EXPECT_TRUE(has_table("scheduler.db", "tasks"));
  EXPECT_TRUE(has_table("scheduler.db", "jobs_state"));
  EXPECT_TRUE(has_table("reporting.db", "accounting"));
  EXPECT_TRUE(has_table("diagnostics.db", "diagnostic_runs"));
  EXPECT_TRUE(has_table("monitoring.db", "node_metrics"));
  EXPECT_TRUE(has_table("monitoring.db", "node_metrics_node_time"));
  EXPECT_EQ(QueryOn("scheduler.db", "SELECT count(*) FROM jobs"), "1");
}

TEST_F(SqliteStoreTest, NewerSchemaVersionIsRefused) {
  CreateStore();
  ExecOn("scheduler.db", "UPDATE schema_version SET version = 99");
  auto store = OpenSqliteStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  const std::string& msg = store.status().message();
  EXPECT_NE(msg.find("Scheduler database at " + Path("scheduler.db") +
                     " has schema version 99, newer than this drover's " + std::to_string(kSchemaVersion) + "; upgrade drover"),
            std::string::npos)
      << msg;
  // Nothing was changed.
  EXPECT_EQ(QueryOn("scheduler.db", "SELECT version FROM schema_version"), "99");
}

TEST_F(SqliteStoreTest, VersionOneManagementGainsMembersAndKeepsItsNodes) {
  // A version 1 management.db: nodes, but no members, revoked certificates or audit log.
  {
    auto store = OpenSqliteStore(dir_);
    ASSERT_TRUE(store.ok());
    WriteBatch b;
    NodeRecord n;
    n.name = "cn01";
    n.cores = 4;
    b.nodes.push_back(n);
    ASSERT_TRUE((*store)->Commit(b).ok());
  }
  ExecOn("management.db", "DROP TABLE members; DROP TABLE revoked_certificates; DROP TABLE audit_log; "
                          "ALTER TABLE nodes DROP COLUMN cert_serial; UPDATE schema_version SET version = 1;");
  auto store = OpenSqliteStore(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(QueryOn("management.db", "SELECT version FROM schema_version"), std::to_string(kSchemaVersion));
  auto nodes = (*store)->LoadNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_EQ(nodes->at(0).cores, 4);
  WriteBatch b;
  b.members.push_back(Member{"alice", Role::kUser, "ab", 1});
  ASSERT_TRUE((*store)->Commit(b).ok());
  EXPECT_EQ((*store)->LoadMembers()->size(), 1u);
}

TEST_F(SqliteStoreTest, VersionTwoReportingGainsUsageColumnsAndKeepsItsRecords) {
  {
    auto store = OpenSqliteStore(dir_);
    ASSERT_TRUE(store.ok());
    WriteBatch b;
    AccountingRecord a;
    a.job_id = 7;
    a.task_id = 1;
    a.owner = "alice";
    a.cpu_time_ms = 1500;
    a.end_time = 1000;
    b.accounting.push_back(a);
    ASSERT_TRUE((*store)->Commit(b).ok());
  }
  // A version 2 reporting.db: the accounting table without the version 3 columns.
  ExecOn("reporting.db", "ALTER TABLE accounting DROP COLUMN group_name; ALTER TABLE accounting DROP COLUMN gpus; "
                         "ALTER TABLE accounting DROP COLUMN memory_limit_mb; "
                         "ALTER TABLE accounting DROP COLUMN time_limit_ms; ALTER TABLE accounting DROP COLUMN error; "
                         "UPDATE schema_version SET version = 2;");
  auto store = OpenSqliteStore(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(QueryOn("reporting.db", "SELECT version FROM schema_version"), std::to_string(kSchemaVersion));
  auto acct = (*store)->QueryAccounting({});
  ASSERT_TRUE(acct.ok()) << acct.status().ToString();
  ASSERT_EQ(acct->size(), 1u);
  EXPECT_EQ(acct->at(0).cpu_time_ms, 1500);
  EXPECT_EQ(acct->at(0).gpus, 0);
  EXPECT_EQ(acct->at(0).group, "");
  WriteBatch b;
  AccountingRecord gpu;
  gpu.job_id = 8;
  gpu.gpus = 2;
  gpu.group = "lab";
  gpu.end_time = 2000;
  b.accounting.push_back(gpu);
  ASSERT_TRUE((*store)->Commit(b).ok());
  acct = (*store)->QueryAccounting({});
  ASSERT_EQ(acct->size(), 2u);
  EXPECT_EQ(acct->at(1).gpus, 2);
  EXPECT_EQ(acct->at(1).group, "lab");
}

TEST_F(SqliteStoreTest, OlderSchemaVersionIsMigratedForward) {
  // A monitoring file at version 0: the version table but none of the version 1 tables.
  CreateStore();
  fs::remove(Path("monitoring.db"));
  ExecOn("monitoring.db", "CREATE TABLE schema_version (version INTEGER NOT NULL); "
                          "INSERT INTO schema_version VALUES (0);");
  auto store = OpenSqliteStore(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto versions = (*store)->SchemaVersions();
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->at(4), (std::pair<std::string, int>{"Monitoring", kSchemaVersion}));
  WriteBatch b;
  b.metrics.push_back(MetricSample{"n1", 5, 0.5, 10, 1});
  ASSERT_TRUE((*store)->Commit(b).ok());
  EXPECT_EQ((*store)->RecentMetrics("n1", 1)->size(), 1u);
}

TEST_F(SqliteStoreTest, MissingFileIsRecreatedAndOthersKept) {
  {
    auto store = OpenSqliteStore(dir_);
    ASSERT_TRUE(store.ok());
    WriteBatch b;
    b.properties = {{"k", "v"}};
    b.metrics.push_back(MetricSample{"n1", 5, 0.5, 10, 1});
    ASSERT_TRUE((*store)->Commit(b).ok());
  }
  fs::remove(Path("monitoring.db"));
  fs::remove(Path("monitoring.db-wal"));
  fs::remove(Path("monitoring.db-shm"));
  auto store = OpenSqliteStore(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->GetProperty("k").value(), "v");
  EXPECT_TRUE((*store)->RecentMetrics("n1", 1)->empty());
}

TEST_F(SqliteStoreTest, ForeignDatabaseIsRefused) {
  ExecOn("reporting.db", "CREATE TABLE something_else (x INTEGER)");
  auto store = OpenSqliteStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("no schema_version table"), std::string::npos)
      << store.status().message();
}

TEST_F(SqliteStoreTest, CorruptFileGivesAnErrorNotACrash) {
  CreateStore();
  for (const char* file : {"scheduler.db", "management.db"}) {
    SCOPED_TRACE(file);
    std::string backup = Path(file) + ".bak";
    fs::copy_file(Path(file), backup, fs::copy_options::overwrite_existing);
    {
      std::ofstream out(Path(file), std::ios::binary | std::ios::trunc);
      out << std::string(8192, 'x');
    }
    auto store = OpenSqliteStore(dir_);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), StatusCode::kDataLoss) << store.status().ToString();
    EXPECT_NE(store.status().message().find(Path(file)), std::string::npos) << store.status().message();
    EXPECT_NE(store.status().message().find("not a database"), std::string::npos) << store.status().message();
    fs::copy_file(backup, Path(file), fs::copy_options::overwrite_existing);
  }
  // Damaged inside: a valid header, garbage pages.
  {
    std::fstream f(Path("reporting.db"), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(100);
    f << std::string(3000, '\x7f');
  }
  auto store = OpenSqliteStore(dir_);
  EXPECT_FALSE(store.ok());
}

TEST_F(SqliteStoreTest, UnopenableFileGivesAnError) {
  fs::create_directories(Path("diagnostics.db"));  // a directory where the file should be
  auto store = OpenSqliteStore(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("Diagnostics"), std::string::npos) << store.status().message();
  EXPECT_NE(store.status().message().find(Path("diagnostics.db")), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, UncreatableDirectoryGivesAnError) {
  { std::ofstream(Path("plain-file")) << "x"; }
  auto store = OpenSqliteStore(Path("plain-file") + "/data");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("plain-file"), std::string::npos) << store.status().message();
}

TEST_F(SqliteStoreTest, UnknownStateIsDataLoss) {
  {
    auto store = OpenSqliteStore(dir_);
    ASSERT_TRUE(store.ok());
    WriteBatch b;
    b.jobs.push_back(JobRecord{});
    b.jobs.back().id = 7;
    b.jobs.back().spec.task.argv = {"/bin/true"};
    b.tasks.push_back(TaskRecord{});
    b.tasks.back().job_id = 7;
    b.tasks.back().task_id = 3;
    b.nodes.push_back(NodeRecord{});
    b.nodes.back().name = "n1";
    ASSERT_TRUE((*store)->Commit(b).ok());
  }
  ExecOn("scheduler.db", "UPDATE jobs SET state = 'Sleeping'; UPDATE tasks SET state = 'Dozing'");
  ExecOn("management.db", "UPDATE nodes SET state = 'Napping'");
  auto store = OpenSqliteStore(dir_);
  ASSERT_TRUE(store.ok());

  auto job = (*store)->LoadJob(7);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(job.status().message().find("jobs"), std::string::npos) << job.status().message();
  EXPECT_NE(job.status().message().find("id=7"), std::string::npos) << job.status().message();
  EXPECT_NE(job.status().message().find("'Sleeping'"), std::string::npos) << job.status().message();

  auto tasks = (*store)->LoadTasks(7);
  ASSERT_FALSE(tasks.ok());
  EXPECT_EQ(tasks.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(tasks.status().message().find("tasks"), std::string::npos) << tasks.status().message();
  EXPECT_NE(tasks.status().message().find("task_id=3"), std::string::npos) << tasks.status().message();

  auto nodes = (*store)->LoadNodes();
  ASSERT_FALSE(nodes.ok());
  EXPECT_EQ(nodes.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(nodes.status().message().find("name='n1'"), std::string::npos) << nodes.status().message();

  // A bad spec is DataLoss too.
  ExecOn("scheduler.db", "UPDATE jobs SET state = 'Queued', spec = '{not json'");
  auto active = (*store)->LoadActiveJobs();
  ASSERT_FALSE(active.ok());
  EXPECT_EQ(active.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(active.status().message().find("spec"), std::string::npos) << active.status().message();
}

TEST_F(SqliteStoreTest, FailedCommitRollsBackEveryFile) {
  CreateStore();
  // Make the reporting insert fail after the scheduler and management writes succeeded.
  ExecOn("reporting.db", "CREATE TRIGGER boom BEFORE INSERT ON accounting WHEN NEW.owner = 'boom' "
                         "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END;");
  auto store = OpenSqliteStore(dir_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  WriteBatch b;
  b.jobs.push_back(JobRecord{});
  b.jobs.back().id = 5;
  b.tasks.push_back(TaskRecord{});
  b.tasks.back().job_id = 5;
  b.tasks.back().task_id = 1;
  b.properties = {{"k", "v"}};
  b.accounting.push_back(AccountingRecord{});
  b.accounting.back().owner = "boom";
  Status st = (*store)->Commit(b);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("refused by test trigger"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("accounting"), std::string::npos) << st.message();

  EXPECT_FALSE((*store)->LoadJob(5)->has_value());
  EXPECT_TRUE((*store)->LoadTasks(5)->empty());
  EXPECT_FALSE((*store)->GetProperty("k")->has_value());
  EXPECT_EQ(*(*store)->MaxJobId(), 0);

  // The store is still usable.
  b.accounting.back().owner = "fine";
  st = (*store)->Commit(b);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE((*store)->LoadJob(5)->has_value());
  EXPECT_EQ((*store)->QueryAccounting({})->size(), 1u);
}

TEST_F(SqliteStoreTest, NanLoadIsKept) {
  auto store = OpenSqliteStore(dir_);
  ASSERT_TRUE(store.ok());
  WriteBatch b;
  b.metrics.push_back(MetricSample{"n1", 1, std::numeric_limits<double>::quiet_NaN(), 1, 0});
  ASSERT_TRUE((*store)->Commit(b).ok());
  auto m = (*store)->RecentMetrics("n1", 1);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_TRUE(std::isnan(m->at(0).load1));
}

}  // namespace
}  // namespace drover
