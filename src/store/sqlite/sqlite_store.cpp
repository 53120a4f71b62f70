// SQLite backend of Store. See sqlite_store.h for the on-disk layout.
//
// One connection: management.db is `main`, the other four files are ATTACHed under the schema
// names scheduler, reporting, diagnostics and monitoring. Every statement is prepared once, when
// the store opens, and reused (Commit is on the head node's hot path).
#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <span>

#include <fmt/format.h>

#include "common/codec.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_schema.h"

namespace drover {
namespace {

using sqlite::Db;
using sqlite::Stmt;
using sqlite::kStores;
using sqlite::StoreDef;
using sqlite::WithSchema;

// ---- Row helpers ------------------------------------------------------------------------------

int64_t ClampLimit(size_t limit) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(std::min<uint64_t>(limit, kMax));
}

bool FitsU32(int64_t v) { return v >= 0 && v <= std::numeric_limits<uint32_t>::max(); }

Status BadRow(std::string_view where, const std::string& row, const std::string& problem) {
  return DataLoss(fmt::format("{} row {}: {}", where, row, problem));
}

// Runs `f`, turning an exception (an allocation failure, say) into a Status: nothing thrown
// crosses the Store interface.
template <typename F>
auto NoThrow(std::string_view what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Internal(fmt::format("{}: {}", what, e.what()));
  } catch (...) {
    return Internal(fmt::format("{}: unknown exception", what));
  }
}

constexpr const char* kJobColumns =
    "id, state, submit_time, start_time, end_time, cancel_requested, spec";
constexpr const char* kTaskColumns =
    "job_id, task_id, state, attempt, node, exit_code, start_time, end_time, error";
constexpr const char* kNodeColumns =
    "name, state, template_name, hostname, cores, memory_mb, joined_time, last_seen, cert_serial";
constexpr const char* kAccountingColumns =
    "id, job_id, task_id, attempt, owner, job_name, node, state, exit_code, cores, submit_time, "
    "start_time, end_time, cpu_time_ms, max_rss_kb, group_name, gpus, memory_limit_mb, time_limit_ms, error";
constexpr const char* kMetricColumns = "node, time, load1, memory_used_mb, running_tasks";

Result<JobRecord> ReadJob(const Stmt& s) {
  JobRecord r;
  r.id = s.Int(0);
  auto state = ParseTaskState(s.TextView(1));
  if (!state) {
    return BadRow("scheduler.db table jobs", fmt::format("id={}", r.id),
                  fmt::format("unknown job state '{}'", s.TextView(1)));
  }
  r.state = *state;
  r.submit_time = s.Int(2);
  r.start_time = s.Int(3);
  r.end_time = s.Int(4);
  r.cancel_requested = s.Int(5) != 0;
  auto spec = DecodeJobSpec(s.TextView(6));
  if (!spec.ok()) {
    return BadRow("scheduler.db table jobs", fmt::format("id={}", r.id),
                  fmt::format("unreadable spec: {}", spec.status().message()));
  }
  r.spec = std::move(spec).value();
  return r;
}

Result<TaskRecord> ReadTask(const Stmt& s) {
  TaskRecord t;
  t.job_id = s.Int(0);
  int64_t task_id = s.Int(1);
  int64_t attempt = s.Int(3);
  auto row = [&] { return fmt::format("job_id={} task_id={}", t.job_id, task_id); };
  auto state = ParseTaskState(s.TextView(2));
  if (!state) {
    return BadRow("scheduler.db table tasks", row(), fmt::format("unknown task state '{}'", s.TextView(2)));
  }
  if (!FitsU32(task_id) || !FitsU32(attempt)) {
    return BadRow("scheduler.db table tasks", row(), fmt::format("attempt {} out of range", attempt));
  }
  t.task_id = static_cast<TaskId>(task_id);
  t.state = *state;
  t.attempt = static_cast<uint32_t>(attempt);
  t.node = s.Text(4);
  t.exit_code = static_cast<int>(s.Int(5));
  t.start_time = s.Int(6);
  t.end_time = s.Int(7);
  t.error = s.Text(8);
  return t;
}

Result<NodeRecord> ReadNode(const Stmt& s) {
  NodeRecord n;
  n.name = s.Text(0);
  auto state = ParseNodeState(s.TextView(1));
  if (!state) {
    return BadRow("management.db table nodes", fmt::format("name='{}'", n.name),
                  fmt::format("unknown node state '{}'", s.TextView(1)));
  }
  n.state = *state;
  n.template_name = s.Text(2);
  n.hostname = s.Text(3);
  n.cores = static_cast<int>(s.Int(4));
  n.memory_mb = s.Int(5);
  n.joined_time = s.Int(6);
  n.last_seen = s.Int(7);
  n.cert_serial = s.Text(8);
  return n;
}

Result<AccountingRecord> ReadAccounting(const Stmt& s) {
  AccountingRecord a;
  int64_t id = s.Int(0);
  a.job_id = s.Int(1);
  int64_t task_id = s.Int(2);
  int64_t attempt = s.Int(3);
  auto state = ParseTaskState(s.TextView(7));
  if (!state) {
    return BadRow("reporting.db table accounting", fmt::format("id={}", id),
                  fmt::format("unknown task state '{}'", s.TextView(7)));
  }
  if (!FitsU32(task_id) || !FitsU32(attempt)) {
    return BadRow("reporting.db table accounting", fmt::format("id={}", id), "task id or attempt out of range");
  }
  a.task_id = static_cast<TaskId>(task_id);
  a.attempt = static_cast<uint32_t>(attempt);
  a.owner = s.Text(4);
  a.job_name = s.Text(5);
  a.node = s.Text(6);
  a.state = *state;
  a.exit_code = static_cast<int>(s.Int(8));
  a.cores = static_cast<int>(s.Int(9));
  a.submit_time = s.Int(10);
  a.start_time = s.Int(11);
  a.end_time = s.Int(12);
  a.cpu_time_ms = s.Int(13);
  a.max_rss_kb = s.Int(14);
  a.group = s.Text(15);
  a.gpus = static_cast<int>(s.Int(16));
  a.memory_limit_mb = s.Int(17);
  a.time_limit_ms = s.Int(18);
  a.error = s.Text(19);
  return a;
}

MetricSample ReadMetric(const Stmt& s) {
  MetricSample m;
  m.node = s.Text(0);
  m.time = s.Int(1);
  m.load1 = s.IsNull(2) ? std::numeric_limits<double>::quiet_NaN() : s.Real(2);
  m.memory_used_mb = s.Int(3);
  m.running_tasks = static_cast<int>(s.Int(4));
  return m;
}

// Steps `stmt` (already bound) and appends each row read by `read`.
template <typename T, typename Read>
Status CollectRows(Stmt& stmt, std::string_view what, Read read, std::vector<T>& out) {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step(what));
    if (!row) return Status::Ok();
    ASSIGN_OR_RETURN(T value, read(stmt));
    out.push_back(std::move(value));
  }
}

// ---- The store --------------------------------------------------------------------------------

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string dir) : dir_(std::move(dir)) {}

  Status Init();

  Result<std::vector<NodeRecord>> LoadNodes() override {
    return NoThrow("loading nodes", [&]() -> Result<std::vector<NodeRecord>> {
      Stmt::Use use(load_nodes_);
      std::vector<NodeRecord> out;
      RETURN_IF_ERROR(CollectRows<NodeRecord>(load_nodes_, "loading nodes from management.db", ReadNode, out));
      return out;
    });
  }

  Result<std::vector<NodeTemplate>> LoadNodeTemplates() override {
    return NoThrow("loading node templates", [&]() -> Result<std::vector<NodeTemplate>> {
      Stmt::Use use(load_templates_);
      std::vector<NodeTemplate> out;
      auto read = [](const Stmt& s) -> Result<NodeTemplate> {
        return NodeTemplate{s.Text(0), s.Text(1), s.Int(2) != 0, s.Int(3) != 0};
      };
      RETURN_IF_ERROR(CollectRows<NodeTemplate>(load_templates_, "loading node templates from management.db",
                                                read, out));
      return out;
    });
  }

  Result<std::vector<Member>> LoadMembers() override {
    return NoThrow("loading members", [&]() -> Result<std::vector<Member>> {
      Stmt::Use use(load_members_);
      std::vector<Member> out;
      auto read = [](const Stmt& s) -> Result<Member> {
        auto role = ParseRole(s.Text(1));
        if (!role) return DataLoss(fmt::format("management.db members: member '{}' has unknown role '{}'", s.Text(0), s.Text(1)));
        return Member{s.Text(0), *role, s.Text(2), s.Int(3)};
      };
      RETURN_IF_ERROR(CollectRows<Member>(load_members_, "loading members from management.db", read, out));
      return out;
    });
  }

  Result<std::vector<RevokedCertificate>> LoadRevokedCertificates() override {
    return NoThrow("loading revoked certificates", [&]() -> Result<std::vector<RevokedCertificate>> {
      Stmt::Use use(load_revoked_);
      std::vector<RevokedCertificate> out;
      auto read = [](const Stmt& s) -> Result<RevokedCertificate> {
        return RevokedCertificate{s.Text(0), s.Text(1), s.Int(2)};
      };
      RETURN_IF_ERROR(CollectRows<RevokedCertificate>(load_revoked_, "loading revoked certificates from management.db",
                                                      read, out));
      return out;
    });
  }

  Result<std::vector<AuditEntry>> QueryAudit(TimeMs since, size_t limit) override {
    return NoThrow("reading the audit log", [&]() -> Result<std::vector<AuditEntry>> {
      Stmt::Use use(query_audit_);
      RETURN_IF_ERROR(query_audit_.Bind("binding the audit query", since, static_cast<int64_t>(limit)));
      std::vector<AuditEntry> out;
      auto read = [](const Stmt& s) -> Result<AuditEntry> {
        return AuditEntry{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4)};
      };
      RETURN_IF_ERROR(CollectRows<AuditEntry>(query_audit_, "reading the audit log from management.db", read, out));
      std::reverse(out.begin(), out.end());
      return out;
    });
  }

  Result<std::optional<std::string>> GetProperty(const std::string& key) override {
    return NoThrow("reading a property", [&]() -> Result<std::optional<std::string>> {
      Stmt::Use use(get_property_);
      RETURN_IF_ERROR(get_property_.Bind("binding a property key", key));
      ASSIGN_OR_RETURN(bool row, get_property_.Step(fmt::format("reading property '{}'", key)));
      if (!row) return std::optional<std::string>();
      return std::optional<std::string>(get_property_.Text(0));
    });
  }

  Result<std::vector<JobRecord>> LoadActiveJobs() override {
    return NoThrow("loading active jobs", [&]() -> Result<std::vector<JobRecord>> {
      Stmt::Use use(load_active_jobs_);
      std::vector<JobRecord> out;
      RETURN_IF_ERROR(CollectRows<JobRecord>(load_active_jobs_, "loading active jobs from scheduler.db",
                                             ReadJob, out));
      return out;
    });
  }

  Result<std::optional<JobRecord>> LoadJob(JobId id) override {
    return NoThrow("loading a job", [&]() -> Result<std::optional<JobRecord>> {
      Stmt::Use use(load_job_);
      RETURN_IF_ERROR(load_job_.Bind("binding a job id", id));
      ASSIGN_OR_RETURN(bool row, load_job_.Step(fmt::format("loading job {} from scheduler.db", id)));
      if (!row) return std::optional<JobRecord>();
      ASSIGN_OR_RETURN(JobRecord job, ReadJob(load_job_));
      return std::optional<JobRecord>(std::move(job));
    });
  }

  Result<std::vector<TaskRecord>> LoadTasks(JobId job_id) override {
    return NoThrow("loading tasks", [&]() -> Result<std::vector<TaskRecord>> {
      Stmt::Use use(load_tasks_);
      RETURN_IF_ERROR(load_tasks_.Bind("binding a job id", job_id));
      std::vector<TaskRecord> out;
      RETURN_IF_ERROR(CollectRows<TaskRecord>(
          load_tasks_, fmt::format("loading the tasks of job {} from scheduler.db", job_id), ReadTask, out));
      return out;
    });
  }

  Result<JobId> MaxJobId() override {
    return NoThrow("reading the largest job id", [&]() -> Result<JobId> {
      Stmt::Use use(max_job_id_);
      ASSIGN_OR_RETURN(bool row, max_job_id_.Step("reading the largest job id from scheduler.db"));
      if (!row || max_job_id_.IsNull(0)) return JobId{0};
      return JobId{max_job_id_.Int(0)};
    });
  }

  Result<std::vector<AccountingRecord>> QueryAccounting(const AccountingQuery& q) override {
    return NoThrow("querying accounting", [&]() -> Result<std::vector<AccountingRecord>> {
      int variant = (q.job_id ? 1 : 0) | (q.owner ? 2 : 0);
      Stmt& stmt = accounting_[variant];
      if (!stmt) {
        // Parameters keep their numbers in every variant, so all bind the same way.
        std::string sql = fmt::format("SELECT {} FROM reporting.accounting WHERE end_time >= ?1{}{} "
                                      "AND (?5 = 0 OR start_time <= ?5) ORDER BY end_time, id LIMIT ?4",
                                      kAccountingColumns, q.job_id ? " AND job_id = ?2" : "",
                                      q.owner ? " AND owner = ?3" : "");
        ASSIGN_OR_RETURN(stmt, db_.Prepare(sql, "the accounting query"));
      }
      Stmt::Use use(stmt);
      const std::string no_owner;
      RETURN_IF_ERROR(stmt.Bind("binding the accounting query", q.start_after, q.job_id.value_or(0),
                                q.owner ? *q.owner : no_owner, ClampLimit(q.limit), q.end_before));
      std::vector<AccountingRecord> out;
      RETURN_IF_ERROR(CollectRows<AccountingRecord>(stmt, "querying reporting.db accounting", ReadAccounting, out));
      return out;
    });
  }

  Result<std::vector<MetricSample>> RecentMetrics(const std::string& node, size_t limit) override {
    return NoThrow("reading metrics", [&]() -> Result<std::vector<MetricSample>> {
      Stmt::Use use(recent_metrics_);
      RETURN_IF_ERROR(recent_metrics_.Bind("binding the metrics query", node, ClampLimit(limit)));
      std::vector<MetricSample> out;
      auto read = [](const Stmt& s) -> Result<MetricSample> { return ReadMetric(s); };
      RETURN_IF_ERROR(CollectRows<MetricSample>(
          recent_metrics_, fmt::format("reading metrics of node '{}' from monitoring.db", node), read, out));
      return out;
    });
  }

  Status Commit(const WriteBatch& batch) override {
    if (batch.empty()) return Status::Ok();
    Status st = NoThrow("committing a batch", [&] { return CommitInTransaction(batch); });
    if (!st.ok() && db_.InTransaction()) {
      Stmt::Use use(rollback_);
      Status rb = rollback_.Run("rolling back");
      if (!rb.ok()) {
        return Status(st.code(), fmt::format("{} (and then {})", st.message(), rb.message()));
      }
    }
    return st;
  }

  Result<std::vector<std::pair<std::string, int>>> SchemaVersions() override {
    return NoThrow("reading schema versions", [&]() -> Result<std::vector<std::pair<std::string, int>>> {
      std::vector<std::pair<std::string, int>> out;
      for (const auto& def : kStores) {
        ASSIGN_OR_RETURN(int v, ReadVersion(def));
        out.emplace_back(def.name, v);
      }
      return out;
    });
  }

 private:
  std::string PathOf(const StoreDef& def) const { return (std::filesystem::path(dir_) / def.file).string(); }

  Status Configure(const StoreDef& def);
  Result<int> ReadVersion(const StoreDef& def);
  Status Migrate(const StoreDef& def, int from);
  Status PrepareStatements();
  Status CommitInTransaction(const WriteBatch& batch);

  std::string dir_;
  Db db_;  // declared before the statements, so it is destroyed after them
  Stmt begin_, commit_, rollback_;
  Stmt upsert_job_, upsert_task_, upsert_node_, delete_node_, upsert_template_, upsert_property_;
  Stmt insert_accounting_, insert_metric_;
  Stmt load_nodes_, load_templates_, get_property_, load_active_jobs_, load_job_, load_tasks_, max_job_id_;
  Stmt recent_metrics_;
  Stmt upsert_member_, delete_member_, upsert_revoked_, insert_audit_, load_members_, load_revoked_, query_audit_;
  Stmt accounting_[4];  // by which filters are set: bit 0 job_id, bit 1 owner; prepared on first use
};

Status SqliteStore::Init() {
  const std::string main_path = PathOf(kStores[0]);
  ASSIGN_OR_RETURN(db_, Db::Open(main_path));
  sqlite3_busy_timeout(db_.get(), 5000);
  RETURN_IF_ERROR(db_.Exec("PRAGMA foreign_keys = OFF", "disabling foreign keys"));
  // Configure each file as soon as it is on the connection: the first read of a damaged file
  // fails there, so the error names the right file (ATTACH reads the main file's schema too).
  RETURN_IF_ERROR(Configure(kStores[0]));
  for (const auto& def : std::span(kStores).subspan(1)) {
    const std::string path = PathOf(def);
    const std::string what = fmt::format("attaching {} database {}", def.name, path);
    ASSIGN_OR_RETURN(Stmt attach, db_.Prepare(fmt::format("ATTACH DATABASE ?1 AS {}", def.schema), what));
    RETURN_IF_ERROR(attach.Bind(what, path));
    RETURN_IF_ERROR(attach.Run(what));
    RETURN_IF_ERROR(Configure(def));
  }

  // Check every version before changing anything, so a refused directory is left as it was.
  int versions[std::size(kStores)];
  for (size_t i = 0; i < std::size(kStores); ++i) {
    ASSIGN_OR_RETURN(versions[i], ReadVersion(kStores[i]));
    if (versions[i] > kSchemaVersion) {
      return FailedPrecondition(fmt::format(
          "{} database at {} has schema version {}, newer than this drover's {}; upgrade drover",
          kStores[i].name, PathOf(kStores[i]), versions[i], kSchemaVersion));
    }
  }
  for (size_t i = 0; i < std::size(kStores); ++i) {
    if (versions[i] < kSchemaVersion) RETURN_IF_ERROR(Migrate(kStores[i], versions[i]));
  }
  return PrepareStatements();
}

// WAL and full sync for one file. journal_mode is persistent in the file; synchronous is not.
Status SqliteStore::Configure(const StoreDef& def) {
  const std::string path = PathOf(def);
  const std::string what = fmt::format("setting WAL mode on {} database {}", def.name, path);
  ASSIGN_OR_RETURN(Stmt wal, db_.Prepare(fmt::format("PRAGMA {}.journal_mode = WAL", def.schema), what));
  ASSIGN_OR_RETURN(bool row, wal.Step(what));
  std::string mode = row ? wal.Text(0) : "";
  wal.Reset();
  if (mode != "wal") {
    return FailedPrecondition(fmt::format("{}: SQLite kept journal mode '{}' (the file system may not support "
                                          "WAL)", what, mode));
  }
  return db_.Exec(fmt::format("PRAGMA {}.synchronous = FULL", def.schema),
                  fmt::format("setting synchronous=FULL on {} database {}", def.name, path));
}

// The version in the file's schema_version table; 0 for a new (empty) file.
Result<int> SqliteStore::ReadVersion(const StoreDef& def) {
  const std::string path = PathOf(def);
  const std::string what = fmt::format("reading the schema version of {} database {}", def.name, path);
  ASSIGN_OR_RETURN(Stmt tables, db_.Prepare(fmt::format("SELECT count(*), count(CASE WHEN name = 'schema_version' "
                                                        "THEN 1 END) FROM {}.sqlite_master WHERE type = 'table'",
                                                        def.schema),
                                            what));
  ASSIGN_OR_RETURN(bool row, tables.Step(what));
  const int64_t table_count = row ? tables.Int(0) : 0;
  const bool has_version_table = row && tables.Int(1) > 0;
  tables.Reset();
  if (!has_version_table) {
    if (table_count == 0) return 0;
    return FailedPrecondition(fmt::format("{} database at {} has tables but no schema_version table; "
                                          "it was not written by drover",
                                          def.name, path));
  }
  ASSIGN_OR_RETURN(Stmt version,
                   db_.Prepare(fmt::format("SELECT count(*), max(version) FROM {}.schema_version", def.schema), what));
  ASSIGN_OR_RETURN(row, version.Step(what));
  if (!row || version.Int(0) != 1) {
    return DataLoss(fmt::format("{} database at {}: schema_version table has {} rows, expected 1", def.name, path,
                                row ? version.Int(0) : 0));
  }
  const int64_t v = version.Int(1);
  if (v < 0 || v > std::numeric_limits<int>::max()) {
    return DataLoss(fmt::format("{} database at {}: invalid schema version {}", def.name, path, v));
  }
  return static_cast<int>(v);
}

// Runs the steps after `from`, all in one transaction on that file.
Status SqliteStore::Migrate(const StoreDef& def, int from) {
  const std::string path = PathOf(def);
  const std::string s = def.schema;
  auto run = [&]() -> Status {
    RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE", fmt::format("starting migration of {} database {}", def.name, path)));
    RETURN_IF_ERROR(db_.Exec(fmt::format("CREATE TABLE IF NOT EXISTS {0}.schema_version (version INTEGER NOT NULL);"
                                         "INSERT INTO {0}.schema_version SELECT 0 WHERE NOT EXISTS "
                                         "(SELECT 1 FROM {0}.schema_version);",
                                         s),
                             fmt::format("creating the schema_version table of {} database {}", def.name, path)));
    for (const auto& step : def.steps) {
      if (step.to_version <= from) continue;
      const std::string what =
          fmt::format("migrating {} database {} to schema version {}", def.name, path, step.to_version);
      RETURN_IF_ERROR(db_.Exec(WithSchema(step.sql, s), what));
      RETURN_IF_ERROR(db_.Exec(fmt::format("UPDATE {}.schema_version SET version = {}", s, step.to_version), what));
    }
    return db_.Exec("COMMIT", fmt::format("committing migration of {} database {}", def.name, path));
  };
  Status st = run();
  if (!st.ok() && db_.InTransaction()) (void)db_.Exec("ROLLBACK", "rolling back a migration");
  return st;
}

Status SqliteStore::PrepareStatements() {
  struct Entry {
    Stmt* stmt;
    std::string sql;
  };
  const Entry entries[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&upsert_job_,
       "INSERT OR REPLACE INTO scheduler.jobs (id, name, owner, priority, state, submit_time, start_time, end_time, "
       "cancel_requested, spec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
      {&upsert_task_, fmt::format("INSERT OR REPLACE INTO scheduler.tasks ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                  "?8, ?9)",
                                  kTaskColumns)},
      {&upsert_node_,
       fmt::format("INSERT OR REPLACE INTO main.nodes ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", kNodeColumns)},
      {&delete_node_, "DELETE FROM main.nodes WHERE name = ?1"},
      {&upsert_template_,
       "INSERT OR REPLACE INTO main.node_templates (name, description, auto_approve, bring_online) "
       "VALUES (?1, ?2, ?3, ?4)"},
      {&upsert_property_, "INSERT OR REPLACE INTO main.properties (key, value) VALUES (?1, ?2)"},
      {&insert_accounting_,
       "INSERT INTO reporting.accounting (job_id, task_id, attempt, owner, job_name, node, state, exit_code, cores, "
       "submit_time, start_time, end_time, cpu_time_ms, max_rss_kb, group_name, gpus, memory_limit_mb, "
       "time_limit_ms, error) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"},
      {&insert_metric_,
       fmt::format("INSERT INTO monitoring.node_metrics ({}) VALUES (?1, ?2, ?3, ?4, ?5)", kMetricColumns)},
      {&load_nodes_, fmt::format("SELECT {} FROM main.nodes ORDER BY name", kNodeColumns)},
      {&load_templates_,
       "SELECT name, description, auto_approve, bring_online FROM main.node_templates ORDER BY name"},
      {&get_property_, "SELECT value FROM main.properties WHERE key = ?1"},
      {&load_active_jobs_, fmt::format("SELECT {} FROM scheduler.jobs WHERE state IN ('Queued', 'Running') "
                                       "ORDER BY id",
                                       kJobColumns)},
      {&load_job_, fmt::format("SELECT {} FROM scheduler.jobs WHERE id = ?1", kJobColumns)},
      {&load_tasks_, fmt::format("SELECT {} FROM scheduler.tasks WHERE job_id = ?1 ORDER BY task_id", kTaskColumns)},
      {&max_job_id_, "SELECT max(id) FROM scheduler.jobs"},
      {&upsert_member_,
       "INSERT OR REPLACE INTO main.members (name, role, cert_serial, created_time) VALUES (?1, ?2, ?3, ?4)"},
      {&delete_member_, "DELETE FROM main.members WHERE name = ?1"},
      {&upsert_revoked_,
       "INSERT OR REPLACE INTO main.revoked_certificates (serial, member, revoked_time) VALUES (?1, ?2, ?3)"},
      {&insert_audit_, "INSERT INTO main.audit_log (time, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&load_members_, "SELECT name, role, cert_serial, created_time FROM main.members ORDER BY name"},
      {&load_revoked_, "SELECT serial, member, revoked_time FROM main.revoked_certificates ORDER BY serial"},
      {&query_audit_, "SELECT time, actor, action, target, detail FROM main.audit_log WHERE time >= ?1 "
                      "ORDER BY id DESC LIMIT ?2"},
      {&recent_metrics_, fmt::format("SELECT {} FROM monitoring.node_metrics WHERE node = ?1 "
                                     "ORDER BY time DESC, rowid DESC LIMIT ?2",
                                     kMetricColumns)},
  };
  for (const auto& e : entries) {
    ASSIGN_OR_RETURN(*e.stmt, db_.Prepare(e.sql, fmt::format("statement \"{}\"", e.sql)));
  }
  return Status::Ok();
}

// Applies the batch in one BEGIN IMMEDIATE ... COMMIT. Order: jobs, tasks, templates, nodes,
// deleted nodes (so a node both upserted and deleted in one batch ends up deleted), properties,
// accounting, metrics. On error the caller rolls back.
Status SqliteStore::CommitInTransaction(const WriteBatch& b) {
  {
    Stmt::Use use(begin_);
    RETURN_IF_ERROR(begin_.Run("starting the commit transaction"));
  }
  auto fail = [](const Status& st, std::string context) { return st.WithContext(std::move(context)); };

  for (const auto& j : b.jobs) {
    Stmt::Use use(upsert_job_);
    const std::string spec = EncodeJobSpec(j.spec);
    Status st = upsert_job_.Bind("binding", j.id, j.spec.name, j.spec.owner, j.spec.priority, ToString(j.state),
                                 j.submit_time, j.start_time, j.end_time, j.cancel_requested, spec);
    if (st.ok()) st = upsert_job_.Run("writing scheduler.jobs");
    if (!st.ok()) return fail(st, fmt::format("job {}", j.id));
  }
  for (const auto& t : b.tasks) {
    Stmt::Use use(upsert_task_);
    Status st = upsert_task_.Bind("binding", t.job_id, t.task_id, ToString(t.state), t.attempt, t.node,
                                  t.exit_code, t.start_time, t.end_time, t.error);
    if (st.ok()) st = upsert_task_.Run("writing scheduler.tasks");
    if (!st.ok()) return fail(st, fmt::format("task {}.{}", t.job_id, t.task_id));
  }
  for (const auto& t : b.node_templates) {
    Stmt::Use use(upsert_template_);
    Status st = upsert_template_.Bind("binding", t.name, t.description, t.auto_approve, t.bring_online);
    if (st.ok()) st = upsert_template_.Run("writing management node_templates");
    if (!st.ok()) return fail(st, fmt::format("node template '{}'", t.name));
  }
  for (const auto& n : b.nodes) {
    Stmt::Use use(upsert_node_);
    Status st = upsert_node_.Bind("binding", n.name, ToString(n.state), n.template_name, n.hostname, n.cores,
                                  n.memory_mb, n.joined_time, n.last_seen, n.cert_serial);
    if (st.ok()) st = upsert_node_.Run("writing management nodes");
    if (!st.ok()) return fail(st, fmt::format("node '{}'", n.name));
  }
  for (const auto& name : b.deleted_nodes) {
    Stmt::Use use(delete_node_);
    Status st = delete_node_.Bind("binding", name);
    if (st.ok()) st = delete_node_.Run("deleting from management nodes");
    if (!st.ok()) return fail(st, fmt::format("node '{}'", name));
  }
  for (const auto& [key, value] : b.properties) {
    Stmt::Use use(upsert_property_);
    Status st = upsert_property_.Bind("binding", key, value);
    if (st.ok()) st = upsert_property_.Run("writing management properties");
    if (!st.ok()) return fail(st, fmt::format("property '{}'", key));
  }
  for (const auto& a : b.accounting) {
    Stmt::Use use(insert_accounting_);
    Status st = insert_accounting_.Bind("binding", a.job_id, a.task_id, a.attempt, a.owner, a.job_name, a.node,
                                        ToString(a.state), a.exit_code, a.cores, a.submit_time, a.start_time,
                                        a.end_time, a.cpu_time_ms, a.max_rss_kb, a.group, a.gpus, a.memory_limit_mb,
                                        a.time_limit_ms, a.error);
    if (st.ok()) st = insert_accounting_.Run("writing reporting accounting");
    if (!st.ok()) return fail(st, fmt::format("accounting record of task {}.{} attempt {}", a.job_id, a.task_id,
                                              a.attempt));
  }
  for (const auto& m : b.metrics) {
    Stmt::Use use(insert_metric_);
    Status st = std::isnan(m.load1)
                    ? insert_metric_.Bind("binding", m.node, m.time, nullptr, m.memory_used_mb, m.running_tasks)
                    : insert_metric_.Bind("binding", m.node, m.time, m.load1, m.memory_used_mb, m.running_tasks);
    if (st.ok()) st = insert_metric_.Run("writing monitoring node_metrics");
    if (!st.ok()) return fail(st, fmt::format("metric sample of node '{}' at {}", m.node, m.time));
  }

  for (const auto& m : b.members) {
    Stmt::Use use(upsert_member_);
    Status st = upsert_member_.Bind("binding", m.name, ToString(m.role), m.cert_serial, m.created_time);
    if (st.ok()) st = upsert_member_.Run("writing management members");
    if (!st.ok()) return fail(st, fmt::format("member '{}'", m.name));
  }
  for (const auto& name : b.deleted_members) {
    Stmt::Use use(delete_member_);
    Status st = delete_member_.Bind("binding", name);
    if (st.ok()) st = delete_member_.Run("deleting from management members");
    if (!st.ok()) return fail(st, fmt::format("member '{}'", name));
  }
  for (const auto& r : b.revoked) {
    Stmt::Use use(upsert_revoked_);
    Status st = upsert_revoked_.Bind("binding", r.serial, r.member, r.revoked_time);
    if (st.ok()) st = upsert_revoked_.Run("writing management revoked_certificates");
    if (!st.ok()) return fail(st, fmt::format("revoked certificate {}", r.serial));
  }
  for (const auto& a : b.audit) {
    Stmt::Use use(insert_audit_);
    Status st = insert_audit_.Bind("binding", a.time, a.actor, a.action, a.target, a.detail);
    if (st.ok()) st = insert_audit_.Run("writing management audit_log");
    if (!st.ok()) return fail(st, fmt::format("audit entry '{}'", a.action));
  }

  Stmt::Use use(commit_);
  return commit_.Run(fmt::format("committing a batch of {} changes", b.size()));
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& dir) {
  return NoThrow("opening the SQLite store", [&]() -> Result<std::unique_ptr<Store>> {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return FailedPrecondition(fmt::format("creating store directory {}: {}", dir, ec.message()));
    auto store = std::make_unique<SqliteStore>(dir);
    RETURN_IF_ERROR(store->Init().WithContext(fmt::format("opening the SQLite store in {}", dir)));
    return std::unique_ptr<Store>(std::move(store));
  });
}

}  // namespace drover
