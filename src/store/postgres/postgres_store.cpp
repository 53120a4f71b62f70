// PostgreSQL backend of Store. See postgres_store.h for the layout, the two-phase commit and what
// happens when the connection is lost.
#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <thread>
#include <functional>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/codec.h"
#include "store/postgres/postgres_rows.h"
#include "store/postgres/postgres_schema.h"
#include "store/postgres/postgres_server.h"

namespace drover {
namespace {

using postgres::Connection;
using postgres::FromException;
using postgres::IsConnectionLoss;
using postgres::kStoreCount;
using postgres::kStores;
using postgres::Server;
using postgres::StoreIndex;

bool ValidPrefix(const std::string& p) {
  if (p.empty() || p.size() > 40 || !(p[0] >= 'a' && p[0] <= 'z')) return false;
  return std::all_of(p.begin(), p.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A commit prepares at most three parts (Scheduler, Reporting, Monitoring) at once.
constexpr int kMinPreparedTransactions = 3;

// A commit whose parts are not all finished yet.
struct OpenCommit {
  std::string gid;
  std::vector<StoreIndex> prepared;  // parts that may hold a prepared transaction under gid
  bool decided = false;              // known from Management's COMMIT or commit_log
  bool committed = false;
};

class PostgresStore final : public Store {
 public:
  PostgresStore(PostgresOptions options, Server server) : options_(std::move(options)), server_(std::move(server)) {
    for (int i = 0; i < kStoreCount; ++i) names_[i] = fmt::format("{}_{}", options_.prefix, kStores[i].suffix);
    std::random_device rd;
    gid_seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(NowMs());
  }

  Status Init();

  Result<std::vector<NodeRecord>> LoadNodes() override {
    return Read<std::vector<NodeRecord>>(postgres::kManagement, "loading nodes", [&](pqxx::transaction_base& tx) {
      return postgres::ReadNodes(tx.exec(postgres::kLoadNodesSql), names_[postgres::kManagement]);
    });
  }
  Result<std::vector<NodeTemplate>> LoadNodeTemplates() override {
    return Read<std::vector<NodeTemplate>>(postgres::kManagement, "loading node templates",
                                           [&](pqxx::transaction_base& tx) -> Result<std::vector<NodeTemplate>> {
                                             return postgres::ReadTemplates(tx.exec(postgres::kLoadTemplatesSql));
                                           });
  }
  Result<std::optional<std::string>> GetProperty(const std::string& key) override {
    return Read<std::optional<std::string>>(
        postgres::kManagement, "reading a property",
        [&](pqxx::transaction_base& tx) -> Result<std::optional<std::string>> {
          auto r = tx.exec_params("SELECT value FROM properties WHERE key = $1", key);
          if (r.empty()) return std::optional<std::string>();
          return std::optional<std::string>(r[0][0].c_str());
        });
  }
  Result<std::vector<Member>> LoadMembers() override {
    return Read<std::vector<Member>>(postgres::kManagement, "loading members", [&](pqxx::transaction_base& tx) {
      return postgres::ReadMembers(tx.exec(postgres::kLoadMembersSql), names_[postgres::kManagement]);
    });
  }
  Result<std::vector<RevokedCertificate>> LoadRevokedCertificates() override {
    return Read<std::vector<RevokedCertificate>>(
        postgres::kManagement, "loading revoked certificates",
        [&](pqxx::transaction_base& tx) -> Result<std::vector<RevokedCertificate>> {
          return postgres::ReadRevoked(tx.exec(postgres::kLoadRevokedSql));
        });
  }
  Result<std::vector<AuditEntry>> QueryAudit(TimeMs since, size_t limit) override {
    return Read<std::vector<AuditEntry>>(postgres::kManagement, "querying the audit log",
                                         [&](pqxx::transaction_base& tx) -> Result<std::vector<AuditEntry>> {
                                           return postgres::ReadAudit(
                                               tx.exec_params(postgres::kQueryAuditSql, since, ClampLimit(limit)));
                                         });
  }
  Result<std::vector<JobRecord>> LoadActiveJobs() override {
    return Read<std::vector<JobRecord>>(postgres::kScheduler, "loading active jobs", [&](pqxx::transaction_base& tx) {
      return postgres::ReadJobs(tx.exec(postgres::kLoadActiveJobsSql), names_[postgres::kScheduler]);
    });
  }
  Result<std::optional<JobRecord>> LoadJob(JobId id) override {
    return Read<std::optional<JobRecord>>(
        postgres::kScheduler, "loading a job", [&](pqxx::transaction_base& tx) -> Result<std::optional<JobRecord>> {
          ASSIGN_OR_RETURN(auto jobs, postgres::ReadJobs(tx.exec_params(postgres::kLoadJobSql, id),
                                                         names_[postgres::kScheduler]));
          if (jobs.empty()) return std::optional<JobRecord>();
          return std::optional<JobRecord>(std::move(jobs.front()));
        });
  }
  Result<std::vector<TaskRecord>> LoadTasks(JobId job_id) override {
    return Read<std::vector<TaskRecord>>(postgres::kScheduler, "loading tasks", [&](pqxx::transaction_base& tx) {
      return postgres::ReadTasks(tx.exec_params(postgres::kLoadTasksSql, job_id), names_[postgres::kScheduler]);
    });
  }
  Result<JobId> MaxJobId() override {
    return Read<JobId>(postgres::kScheduler, "reading the largest job id",
                       [&](pqxx::transaction_base& tx) -> Result<JobId> {
                         return JobId{tx.exec("SELECT coalesce(max(id), 0) FROM jobs")[0][0].as<int64_t>()};
                       });
  }
  Result<std::vector<AccountingRecord>> QueryAccounting(const AccountingQuery& q) override {
    return Read<std::vector<AccountingRecord>>(
        postgres::kReporting, "querying accounting",
        [&](pqxx::transaction_base& tx) -> Result<std::vector<AccountingRecord>> {
          std::string sql = fmt::format(
              "SELECT {} FROM accounting WHERE end_time >= $1{}{} AND ($5 = 0 OR start_time <= $5) "
              "ORDER BY end_time, id LIMIT $4",
              postgres::kAccountingColumns, q.job_id ? " AND job_id = $2" : " AND $2 = $2",
              q.owner ? " AND owner = $3" : " AND $3 = $3");
          return postgres::ReadAccounting(tx.exec_params(sql, q.start_after, q.job_id.value_or(0),
                                                         q.owner.value_or(""), ClampLimit(q.limit), q.end_before),
                                          names_[postgres::kReporting]);
        });
  }
  Result<std::vector<MetricSample>> RecentMetrics(const std::string& node, size_t limit) override {
    return Read<std::vector<MetricSample>>(postgres::kMonitoring, "reading metrics",
                                           [&](pqxx::transaction_base& tx) -> Result<std::vector<MetricSample>> {
                                             return postgres::ReadMetrics(
                                                 tx.exec_params(postgres::kRecentMetricsSql, node, ClampLimit(limit)));
                                           });
  }

  Status Commit(const WriteBatch& batch) override;

  Result<std::vector<std::pair<std::string, int>>> SchemaVersions() override {
    std::vector<std::pair<std::string, int>> out;
    for (int i = 0; i < kStoreCount; ++i) {
      auto db = static_cast<StoreIndex>(i);
      ASSIGN_OR_RETURN(int v, Read<int>(db, "reading the schema version",
                                        [&](pqxx::transaction_base& tx) { return ReadVersion(tx, db); }));
      out.emplace_back(kStores[i].name, v);
    }
    return out;
  }

 private:
  static int64_t ClampLimit(size_t limit) {
    return static_cast<int64_t>(std::min<uint64_t>(limit, std::numeric_limits<int64_t>::max()));
  }

  // The connection to `db`, (re)connecting within the bounded wait.
  Result<pqxx::connection_base*> Conn(StoreIndex db) {
    if (!conns_[db]) {
      ASSIGN_OR_RETURN(conns_[db], server_.Connect(names_[db], options_.reconnect_timeout_ms));
    }
    return &conns_[db]->get();
  }
  // A lost connection usually means the server restarted, which cut every connection: drop them
  // all, so that none is found dead in the middle of a later commit.
  void DropConnections() {
    for (auto& c : conns_) c.reset();
  }

  // Runs `f` on `db` in autocommit. A lost connection is dropped and the read tried once more.
  template <typename T, typename F>
  Result<T> Read(StoreIndex db, std::string_view what, F&& f) {
    for (int attempt = 0;; ++attempt) {
      RETURN_IF_ERROR(FinishOpenCommit());
      Status failure;
      try {
        ASSIGN_OR_RETURN(pqxx::connection_base * conn, Conn(db));
        pqxx::nontransaction tx(*conn);
        return f(tx);
      } catch (const std::exception& e) {
        failure = FromException(e, fmt::format("{} from {}", what, names_[db]));
        if (!IsConnectionLoss(e)) return failure;
      }
      DropConnections();
      if (attempt == 1) return failure;
    }
  }

  Result<int> ReadVersion(pqxx::transaction_base& tx, StoreIndex db);
  Status Migrate(StoreIndex db, int from);
  Status RecoverPreparedTransactions();

  // Resolves and finishes open_, if any. kUnavailable when the server cannot be reached.
  Status FinishOpenCommit();
  Status Decide(OpenCommit& c);
  Status FinishParts(OpenCommit& c);
  Status CommitTwoPhase(const WriteBatch& b);
  Status ApplyPart(pqxx::transaction_base& tx, StoreIndex db, const WriteBatch& b);

  std::string NewGid() { return fmt::format("drover:{}:{:016x}{:08x}", options_.prefix, gid_seed_, ++gid_counter_); }
  // Prepared transaction ids are unique server-wide: each part has its own, named after its store.
  static std::string PartGid(const std::string& gid, StoreIndex db) { return gid + ":" + kStores[db].suffix; }
  std::string GidPrefix() const { return fmt::format("drover:{}:", options_.prefix); }

  PostgresOptions options_;
  Server server_;
  std::string names_[kStoreCount];
  std::unique_ptr<Connection> conns_[kStoreCount];
  std::optional<OpenCommit> open_;
  // Set when a Commit returned kUnavailable with its outcome unknown; the next Commit is its retry.
  bool retry_pending_ = false;
  std::optional<bool> retry_outcome_;      // the outcome of that commit, once resolved
  bool finished_committed_ = false;          // the outcome of the commit FinishOpenCommit last settled
  std::vector<std::string> finished_gids_;  // commit_log rows to delete with the next Management commit
  uint64_t gid_seed_ = 0;
  uint32_t gid_counter_ = 0;
};

// ---- Open: databases, versions, migrations, recovery ----------------------------------------------

Result<int> PostgresStore::ReadVersion(pqxx::transaction_base& tx, StoreIndex db) {
  // pg_tables lists every table, also those this role may not read (information_schema hides them).
  auto tables = tx.exec("SELECT count(*), count(*) FILTER (WHERE tablename = 'schema_version') "
                        "FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'commit_log'");
  const int64_t table_count = tables[0][0].as<int64_t>();
  if (tables[0][1].as<int64_t>() == 0) {
    if (table_count == 0) return 0;
    return FailedPrecondition(fmt::format("{} database {} has tables but no schema_version table; it was not "
                                          "written by drover",
                                          kStores[db].name, names_[db]));
  }
  auto version = tx.exec("SELECT count(*), max(version) FROM schema_version");
  if (version[0][0].as<int64_t>() != 1) {
    return DataLoss(fmt::format("{} database {}: schema_version table has {} rows, expected 1", kStores[db].name,
                                names_[db], version[0][0].as<int64_t>()));
  }
  const int64_t v = version[0][1].as<int64_t>();
  if (v < 0 || v > std::numeric_limits<int>::max()) {
    return DataLoss(fmt::format("{} database {}: invalid schema version {}", kStores[db].name, names_[db], v));
  }
  return static_cast<int>(v);
}

// Runs the steps after `from` in one transaction (PostgreSQL's DDL is transactional).
Status PostgresStore::Migrate(StoreIndex db, int from) {
  const auto& def = kStores[db];
  ASSIGN_OR_RETURN(pqxx::connection_base * conn, Conn(db));
  try {
    pqxx::work tx(*conn);
    tx.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
            "INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)");
    for (const auto& step : def.steps) {
      if (step.to_version <= from) continue;
      if (step.sql[0] != '\0') tx.exec(step.sql);
      tx.exec("UPDATE schema_version SET version = " + std::to_string(step.to_version));
    }
    tx.commit();
  } catch (const std::exception& e) {
    if (IsConnectionLoss(e)) DropConnections();
    return FromException(e, fmt::format("migrating {} database {} from schema version {} to {}", def.name,
                                        names_[db], from, kSchemaVersion));
  }
  return Status::Ok();
}

Status PostgresStore::Init() {
  // Connect to every database, creating the absent ones from the maintenance database.
  for (int i = 0; i < kStoreCount; ++i) {
    auto db = static_cast<StoreIndex>(i);
    auto conn = server_.Connect(names_[i], options_.open_wait_ms);
    if (!conn.ok() && conn.status().code() == StatusCode::kNotFound) {
      ASSIGN_OR_RETURN(auto admin, server_.Connect(options_.maintenance_database, options_.open_wait_ms));
      try {
        pqxx::nontransaction tx(admin->get());
        tx.exec("CREATE DATABASE " + tx.quote_name(names_[i]) + " ENCODING 'UTF8' TEMPLATE template0");
      } catch (const pqxx::sql_error& e) {
        if (e.sqlstate() != "42P04") {  // duplicate_database: someone else created it meanwhile
          return FromException(e, fmt::format("creating database {} for the {} store", names_[i], kStores[i].name));
        }
      } catch (const std::exception& e) {
        return FromException(e, fmt::format("creating database {} for the {} store", names_[i], kStores[i].name));
      }
      conn = server_.Connect(names_[i], options_.open_wait_ms);
    }
    if (!conn.ok()) return conn.status();
    conns_[db] = std::move(conn).value();
  }

  try {
    pqxx::nontransaction tx(conns_[postgres::kManagement]->get());
    const int max_prepared = tx.exec("SHOW max_prepared_transactions")[0][0].as<int>();
    if (max_prepared < kMinPreparedTransactions) {
      return FailedPrecondition(fmt::format(
          "the PostgreSQL server at {} has max_prepared_transactions = {}; drover commits across its five databases "
          "with two-phase commit and needs at least {}: set max_prepared_transactions (for example to 16) in "
          "postgresql.conf and restart the server",
          server_.describe(), max_prepared, kMinPreparedTransactions));
    }
  } catch (const std::exception& e) {
    return FromException(e, "reading the server's max_prepared_transactions");
  }

  // Check every version before changing anything, so a refused set of databases is left as it was.
  int versions[kStoreCount];
  for (int i = 0; i < kStoreCount; ++i) {
    auto db = static_cast<StoreIndex>(i);
    try {
      pqxx::nontransaction tx(conns_[i]->get());
      ASSIGN_OR_RETURN(versions[i], ReadVersion(tx, db));
    } catch (const std::exception& e) {
      return FromException(e, fmt::format("reading the schema version of {} database {}", kStores[i].name, names_[i]));
    }
    if (versions[i] > kSchemaVersion) {
      return FailedPrecondition(fmt::format(
          "{} database {} on {} has schema version {}, newer than this drover's {}; upgrade drover", kStores[i].name,
          names_[i], server_.describe(), versions[i], kSchemaVersion));
    }
  }
  for (int i = 0; i < kStoreCount; ++i) {
    if (versions[i] < kSchemaVersion) RETURN_IF_ERROR(Migrate(static_cast<StoreIndex>(i), versions[i]));
  }
  try {
    pqxx::nontransaction tx(conns_[postgres::kManagement]->get());
    tx.exec(postgres::kCommitLogDdl);
  } catch (const std::exception& e) {
    return FromException(e, fmt::format("creating the commit log in {}", names_[postgres::kManagement]));
  }
  return RecoverPreparedTransactions();
}

// Resolves every prepared transaction a previous run of this prefix left behind, then empties the
// commit log: with no commit in flight, none of its rows is needed any more.
Status PostgresStore::RecoverPreparedTransactions() {
  std::vector<OpenCommit> in_doubt;
  try {
    pqxx::nontransaction tx(conns_[postgres::kManagement]->get());
    auto rows = tx.exec_params("SELECT gid, database FROM pg_prepared_xacts WHERE starts_with(gid, $1) ORDER BY gid",
                               GidPrefix());
    for (const auto& row : rows) {
      const std::string part_gid = row[0].c_str();
      const std::string gid = part_gid.substr(0, part_gid.rfind(':'));
      const std::string database = row[1].c_str();
      if (in_doubt.empty() || in_doubt.back().gid != gid) in_doubt.push_back(OpenCommit{gid, {}, false, false});
      for (int i = 0; i < kStoreCount; ++i) {
        if (names_[i] == database) in_doubt.back().prepared.push_back(static_cast<StoreIndex>(i));
      }
    }
  } catch (const std::exception& e) {
    return FromException(e, "listing prepared transactions");
  }
  for (auto& c : in_doubt) {
    RETURN_IF_ERROR(Decide(c));
    RETURN_IF_ERROR(FinishParts(c).WithContext(fmt::format("recovering the in-doubt commit {}", c.gid)));
  }
  try {
    pqxx::nontransaction tx(conns_[postgres::kManagement]->get());
    tx.exec("DELETE FROM commit_log");
  } catch (const std::exception& e) {
    return FromException(e, "emptying the commit log");
  }
  return Status::Ok();
}

// ---- Resolving a commit whose outcome is open ----------------------------------------------------

// Decides an undecided commit from commit_log. The abort row's INSERT waits for a Management
// transaction that is still inserting the same gid, so the decision cannot race a late COMMIT.
Status PostgresStore::Decide(OpenCommit& c) {
  if (c.decided) return Status::Ok();
  try {
    ASSIGN_OR_RETURN(pqxx::connection_base * conn, Conn(postgres::kManagement));
    // A Management transaction of a connection the server has not yet noticed is gone could hold
    // the row for long: give up after a while (kUnavailable), and try again on the next call.
    pqxx::work tx(*conn);
    tx.exec("SET LOCAL lock_timeout = '5s'");
    tx.exec_params("INSERT INTO commit_log (gid, committed, time) VALUES ($1, false, $2) ON CONFLICT (gid) DO NOTHING",
                   c.gid, NowMs());
    auto r = tx.exec_params("SELECT committed FROM commit_log WHERE gid = $1", c.gid);
    tx.commit();
    c.committed = !r.empty() && r[0][0].as<bool>();
    c.decided = true;
    return Status::Ok();
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "55P03") {  // lock_not_available
      return Unavailable(fmt::format("deciding the outcome of commit {}: a transaction still holds it", c.gid));
    }
    if (IsConnectionLoss(e)) DropConnections();
    return FromException(e, fmt::format("deciding the outcome of commit {}", c.gid));
  } catch (const std::exception& e) {
    if (IsConnectionLoss(e)) DropConnections();
    return FromException(e, fmt::format("deciding the outcome of commit {}", c.gid));
  }
}

// Commits or rolls back the decided commit's prepared parts that still exist. Another session of
// the same prefix (a head node and the stack's supervisor, both recovering after a restart) may be
// finishing the same part: the server answers "busy" (55000) until it is done, or "does not exist"
// (42704) after; both mean wait for it or count it done, never an error.
Status PostgresStore::FinishParts(OpenCommit& c) {
  auto busy_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!c.prepared.empty()) {
    StoreIndex db = c.prepared.back();
    try {
      ASSIGN_OR_RETURN(pqxx::connection_base * conn, Conn(db));
      pqxx::nontransaction tx(*conn);
      const std::string gid = PartGid(c.gid, db);
      auto r = tx.exec_params("SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()", gid);
      if (!r.empty()) tx.exec((c.committed ? "COMMIT PREPARED " : "ROLLBACK PREPARED ") + tx.quote(gid));
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == "55000" && std::chrono::steady_clock::now() < busy_until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;  // look again: gone once the other session has finished it
      }
      if (e.sqlstate() != "42704") {
        if (IsConnectionLoss(e)) DropConnections();
        return FromException(e, fmt::format("finishing commit {} in {}", c.gid, names_[db]));
      }
    } catch (const std::exception& e) {
      if (IsConnectionLoss(e)) DropConnections();
      return FromException(e, fmt::format("finishing commit {} in {}", c.gid, names_[db]));
    }
    c.prepared.pop_back();
  }
  return Status::Ok();
}

Status PostgresStore::FinishOpenCommit() {
  if (!open_) return Status::Ok();
  RETURN_IF_ERROR(Decide(*open_));
  RETURN_IF_ERROR(FinishParts(*open_));
  if (retry_pending_) retry_outcome_ = open_->committed;
  finished_committed_ = open_->committed;
  finished_gids_.push_back(open_->gid);
  open_.reset();
  return Status::Ok();
}

// ---- Commit ----------------------------------------------------------------------------------

Status PostgresStore::Commit(const WriteBatch& batch) {
  if (batch.empty()) return Status::Ok();
  if (retry_pending_) {
    // This is the retry of a commit whose outcome was open: apply it only if it was not applied.
    RETURN_IF_ERROR(FinishOpenCommit());
    const bool applied = retry_outcome_.value_or(false);
    retry_pending_ = false;
    retry_outcome_.reset();
    if (applied) return Status::Ok();
  }
  RETURN_IF_ERROR(FinishOpenCommit());

  for (int attempt = 1;; ++attempt) {
    Status st;
    try {
      st = CommitTwoPhase(batch);
    } catch (const std::exception& e) {
      st = Internal(fmt::format("committing a batch of {} changes: {}", batch.size(), e.what()));
    }
    if (st.ok()) return st;
    // Some part may be prepared, or Management's COMMIT went out unanswered: settle it now if the
    // server is back within the wait.
    const Status failure = st;
    if (Status settled = FinishOpenCommit(); settled.ok()) {
      if (finished_committed_) return Status::Ok();
      // Nothing was applied. A connection that died while idle (a server restart) is only found
      // out by using it; the connections are fresh now, so try once more.
      if (failure.code() == StatusCode::kUnavailable && attempt == 1) continue;
      return failure.code() == StatusCode::kUnavailable
                 ? Unavailable(fmt::format("{}; nothing of the batch was applied, retry it", failure.message()))
                 : failure;
    }
    if (open_->decided && open_->committed) return Status::Ok();  // durable; the parts finish on the next call
    if (failure.code() == StatusCode::kUnavailable) retry_pending_ = true;
    return failure;
  }
}

// Phase 1: prepare every part but Management's; phase 2: Management's part and the commit_log row,
// committed (the decision); phase 3: commit the prepared parts. open_ tracks the commit throughout,
// so that a failure at any point leaves what Commit needs to settle it.
Status PostgresStore::CommitTwoPhase(const WriteBatch& b) {
  std::vector<StoreIndex> parts;
  if (!b.jobs.empty() || !b.tasks.empty()) parts.push_back(postgres::kScheduler);
  if (!b.accounting.empty()) parts.push_back(postgres::kReporting);
  if (!b.metrics.empty()) parts.push_back(postgres::kMonitoring);
  open_ = OpenCommit{NewGid(), {}, false, false};
  const std::string gid = open_->gid;
  const std::string what = fmt::format("committing a batch of {} changes", b.size());

  // Runs `body` in an explicit transaction on `db`; on an error the transaction is rolled back
  // (or the connection dropped) and the error returned with the step that failed.
  auto in_transaction = [&](StoreIndex db, const std::function<void(pqxx::transaction_base&, std::string&)>& body,
                            const std::string& end) -> Status {
    ASSIGN_OR_RETURN(pqxx::connection_base * conn, Conn(db));
    pqxx::nontransaction tx(*conn);
    std::string step = "starting a transaction";
    try {
      tx.exec("BEGIN");
      body(tx, step);
      step = end;
      tx.exec(end);
      return Status::Ok();
    } catch (const std::exception& e) {
      Status st = FromException(e, fmt::format("{}: {} in {}", what, step, names_[db]));
      if (IsConnectionLoss(e)) {
        DropConnections();
      } else {
        try {
          tx.exec("ROLLBACK");
        } catch (const std::exception&) {
          DropConnections();
        }
      }
      return st;
    }
  };

  for (StoreIndex db : parts) {
    RETURN_IF_ERROR(in_transaction(
        db,
        [&](pqxx::transaction_base& tx, std::string& step) {
          postgres::WritePart(tx, db, b, step);
          open_->prepared.push_back(db);  // from here on the part may be prepared, whatever is heard back
        },
        "PREPARE TRANSACTION '" + PartGid(gid, db) + "'"));  // drover:<prefix>:<hex>:<store>, nothing to quote
  }
  RETURN_IF_ERROR(in_transaction(
      postgres::kManagement,
      [&](pqxx::transaction_base& tx, std::string& step) {
        postgres::WritePart(tx, postgres::kManagement, b, step);
        step = "writing commit_log";
        if (!finished_gids_.empty()) {
          postgres::ArrayLiteral done;
          for (const auto& g : finished_gids_) done.Add(g);
          tx.exec_params("DELETE FROM commit_log WHERE gid = ANY($1::text[])", done.Take());
        }
        tx.exec_params("INSERT INTO commit_log (gid, committed, time) VALUES ($1, true, $2)", gid, NowMs());
      },
      "COMMIT"));
  open_->decided = true;
  open_->committed = true;
  finished_gids_.clear();
  RETURN_IF_ERROR(FinishParts(*open_));
  finished_gids_.push_back(gid);
  open_.reset();
  return Status::Ok();
}

}  // namespace

Result<PostgresOptions> ParsePostgresUrl(const std::string& url) {
  constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};
  std::string_view rest;
  for (auto scheme : kSchemes) {
    if (url.rfind(scheme, 0) == 0) rest = std::string_view(url).substr(scheme.size());
  }
  if (rest.data() == nullptr) {
    return InvalidArgument("the database URL must start with postgresql://");
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos) {
    return InvalidArgument("database URL contains a password; remove it and give the password in a file "
                           "(--database-password-file)");
  }
  PostgresOptions options;
  std::string path;
  std::string_view after = rest.substr(authority.size());
  std::string_view query;
  if (!after.empty() && after[0] == '/') {
    const size_t q = after.find('?');
    path = std::string(after.substr(1, q == std::string_view::npos ? std::string_view::npos : q - 1));
    if (q != std::string_view::npos) query = after.substr(q);
  } else {
    query = after;
  }
  if (!path.empty()) options.prefix = path;
  if (!ValidPrefix(options.prefix)) {
    return InvalidArgument(fmt::format("the database URL's path, the database prefix '{}', must be 1 to 40 "
                                       "lowercase letters, digits or '_', starting with a letter",
                                       options.prefix));
  }
  options.connection = fmt::format("postgresql://{}{}", authority, query);
  auto parsed = Server::Parse(options.connection, "");
  if (!parsed.ok()) return parsed.status().WithContext("the database URL");
  return options;
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options) {
  if (!ValidPrefix(options.prefix)) {
    return InvalidArgument(fmt::format("PostgreSQL database prefix '{}' must be 1 to 40 lowercase letters, digits "
                                       "or '_', starting with a letter",
                                       options.prefix));
  }
  ASSIGN_OR_RETURN(Server server, Server::Parse(options.connection, options.password));
  const std::string where = fmt::format("opening the PostgreSQL store {}_* on {}", options.prefix, server.describe());
  try {
    auto store = std::make_unique<PostgresStore>(options, std::move(server));
    RETURN_IF_ERROR(store->Init().WithContext(where));
    return std::unique_ptr<Store>(std::move(store));
  } catch (const std::exception& e) {
    return FromException(e, where);
  }
}

}  // namespace drover
