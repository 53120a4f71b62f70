#include "store/postgres/postgres_rows.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <unordered_set>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "common/codec.h"
#include "store/postgres/postgres_server.h"

namespace drover::postgres {
namespace {

bool FitsU32(int64_t v) { return v >= 0 && v <= std::numeric_limits<uint32_t>::max(); }

Status BadRow(const std::string& database, std::string_view table, const std::string& row, const std::string& problem) {
  return DataLoss(fmt::format("{} table {} row {}: {}", database, table, row, problem));
}

int64_t I64(const pqxx::field& f) { return f.as<int64_t>(); }
std::string Text(const pqxx::field& f) { return std::string(f.c_str(), f.size()); }

struct Column {
  const char* name;
  const char* type;  // element type of the array parameter
};

// INSERT ... SELECT FROM unnest(one array per column): a whole column of rows in one parameter.
// With `key`, rows whose key exists replace it.
std::string UnnestInsert(const char* table, std::initializer_list<Column> columns, const char* key) {
  std::string names, arrays, updates;
  int n = 0;
  for (const auto& c : columns) {
    ++n;
    names += fmt::format("{}{}", n > 1 ? ", " : "", c.name);
    arrays += fmt::format("{}${}::{}[]", n > 1 ? ", " : "", n, c.type);
    if (key != nullptr && std::string_view(key).find(c.name) == std::string_view::npos) {
      updates += fmt::format("{}{} = EXCLUDED.{}", updates.empty() ? "" : ", ", c.name, c.name);
    }
  }
  std::string sql = fmt::format("INSERT INTO {} ({}) SELECT * FROM unnest({})", table, names, arrays);
  if (key != nullptr) sql += fmt::format(" ON CONFLICT ({}) DO UPDATE SET {}", key, updates);
  return sql;
}

// The last change of each key, in batch order: one statement cannot upsert a key twice.
template <typename T, typename KeyOf>
std::vector<const T*> LastOfEachKey(const std::vector<T>& items, KeyOf key_of) {
  std::vector<const T*> out;
  std::unordered_set<std::string> seen;
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    if (seen.insert(key_of(*it)).second) out.push_back(&*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void Run(pqxx::transaction_base& tx, const std::string& sql, std::vector<ArrayLiteral>& columns) {
  std::vector<std::string> params;
  params.reserve(columns.size());
  for (auto& c : columns) params.push_back(c.Take());
  tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
}

void WriteScheduler(pqxx::transaction_base& tx, const WriteBatch& b, std::string& step) {
  if (!b.jobs.empty()) {
    step = "writing jobs";
    static const std::string sql =
        UnnestInsert("jobs",
                     {{"id", "bigint"}, {"name", "text"}, {"owner", "text"}, {"priority", "integer"},
                      {"state", "text"}, {"submit_time", "bigint"}, {"start_time", "bigint"}, {"end_time", "bigint"},
                      {"cancel_requested", "boolean"}, {"spec", "text"}},
                     "id");
    std::vector<ArrayLiteral> c(10);
    for (const JobRecord* j : LastOfEachKey(b.jobs, [](const JobRecord& j) { return std::to_string(j.id); })) {
      c[0].Add(j->id);
      c[1].Add(j->spec.name);
      c[2].Add(j->spec.owner);
      c[3].Add(j->spec.priority);
      c[4].Add(ToString(j->state));
      c[5].Add(j->submit_time);
      c[6].Add(j->start_time);
      c[7].Add(j->end_time);
      c[8].Add(j->cancel_requested);
      c[9].Add(EncodeJobSpec(j->spec));
    }
    Run(tx, sql, c);
  }
  if (!b.tasks.empty()) {
    step = "writing tasks";
    static const std::string sql =
        UnnestInsert("tasks",
                     {{"job_id", "bigint"}, {"task_id", "bigint"}, {"state", "text"}, {"attempt", "bigint"},
                      {"node", "text"}, {"exit_code", "integer"}, {"start_time", "bigint"}, {"end_time", "bigint"},
                      {"error", "text"}},
                     "job_id, task_id");
    std::vector<ArrayLiteral> c(9);
    auto key = [](const TaskRecord& t) { return fmt::format("{}.{}", t.job_id, t.task_id); };
    for (const TaskRecord* t : LastOfEachKey(b.tasks, key)) {
      c[0].Add(t->job_id);
      c[1].Add(t->task_id);
      c[2].Add(ToString(t->state));
      c[3].Add(t->attempt);
      c[4].Add(t->node);
      c[5].Add(t->exit_code);
      c[6].Add(t->start_time);
      c[7].Add(t->end_time);
      c[8].Add(t->error);
    }
    Run(tx, sql, c);
  }
}

void WriteManagement(pqxx::transaction_base& tx, const WriteBatch& b, std::string& step) {
  if (!b.node_templates.empty()) {
    step = "writing node_templates";
    static const std::string sql = UnnestInsert(
        "node_templates",
        {{"name", "text"}, {"description", "text"}, {"auto_approve", "boolean"}, {"bring_online", "boolean"}}, "name");
    std::vector<ArrayLiteral> c(4);
    for (const NodeTemplate* t : LastOfEachKey(b.node_templates, [](const NodeTemplate& t) { return t.name; })) {
      c[0].Add(t->name);
      c[1].Add(t->description);
      c[2].Add(t->auto_approve);
      c[3].Add(t->bring_online);
    }
    Run(tx, sql, c);
  }
  if (!b.nodes.empty()) {
    step = "writing nodes";
    static const std::string sql =
        UnnestInsert("nodes",
                     {{"name", "text"}, {"state", "text"}, {"template_name", "text"}, {"hostname", "text"},
                      {"cores", "integer"}, {"memory_mb", "bigint"}, {"joined_time", "bigint"},
                      {"last_seen", "bigint"}, {"cert_serial", "text"}},
                     "name");
    std::vector<ArrayLiteral> c(9);
    for (const NodeRecord* n : LastOfEachKey(b.nodes, [](const NodeRecord& n) { return n.name; })) {
      c[0].Add(n->name);
      c[1].Add(ToString(n->state));
      c[2].Add(n->template_name);
      c[3].Add(n->hostname);
      c[4].Add(n->cores);
      c[5].Add(n->memory_mb);
      c[6].Add(n->joined_time);
      c[7].Add(n->last_seen);
      c[8].Add(n->cert_serial);
    }
    Run(tx, sql, c);
  }
  if (!b.deleted_nodes.empty()) {
    step = "deleting nodes";
    ArrayLiteral names;
    for (const auto& n : b.deleted_nodes) names.Add(n);
    tx.exec_params("DELETE FROM nodes WHERE name = ANY($1::text[])", names.Take());
  }
  if (!b.properties.empty()) {
    step = "writing properties";
    static const std::string sql = UnnestInsert("properties", {{"key", "text"}, {"value", "text"}}, "key");
    std::vector<ArrayLiteral> c(2);
    using Property = std::pair<std::string, std::string>;
    for (const Property* p : LastOfEachKey(b.properties, [](const Property& p) { return p.first; })) {
      c[0].Add(p->first);
      c[1].Add(p->second);
    }
    Run(tx, sql, c);
  }
  if (!b.members.empty()) {
    step = "writing members";
    static const std::string sql = UnnestInsert(
        "members", {{"name", "text"}, {"role", "text"}, {"cert_serial", "text"}, {"created_time", "bigint"}}, "name");
    std::vector<ArrayLiteral> c(4);
    for (const Member* m : LastOfEachKey(b.members, [](const Member& m) { return m.name; })) {
      c[0].Add(m->name);
      c[1].Add(ToString(m->role));
      c[2].Add(m->cert_serial);
      c[3].Add(m->created_time);
    }
    Run(tx, sql, c);
  }
  if (!b.deleted_members.empty()) {
    step = "deleting members";
    ArrayLiteral names;
    for (const auto& n : b.deleted_members) names.Add(n);
    tx.exec_params("DELETE FROM members WHERE name = ANY($1::text[])", names.Take());
  }
  if (!b.revoked.empty()) {
    step = "writing revoked_certificates";
    static const std::string sql = UnnestInsert(
        "revoked_certificates", {{"serial", "text"}, {"member", "text"}, {"revoked_time", "bigint"}}, "serial");
    std::vector<ArrayLiteral> c(3);
    for (const RevokedCertificate* r :
         LastOfEachKey(b.revoked, [](const RevokedCertificate& r) { return r.serial; })) {
      c[0].Add(r->serial);
      c[1].Add(r->member);
      c[2].Add(r->revoked_time);
    }
    Run(tx, sql, c);
  }
  if (!b.audit.empty()) {
    step = "writing audit_log";
    static const std::string sql = UnnestInsert(
        "audit_log",
        {{"time", "bigint"}, {"actor", "text"}, {"action", "text"}, {"target", "text"}, {"detail", "text"}}, nullptr);
    std::vector<ArrayLiteral> c(5);
    for (const auto& a : b.audit) {
      c[0].Add(a.time);
      c[1].Add(a.actor);
      c[2].Add(a.action);
      c[3].Add(a.target);
      c[4].Add(a.detail);
    }
    Run(tx, sql, c);
  }
}

void WriteReporting(pqxx::transaction_base& tx, const WriteBatch& b, std::string& step) {
  if (b.accounting.empty()) return;
  step = "writing accounting";
  static const std::string sql =
      UnnestInsert("accounting",
                   {{"job_id", "bigint"}, {"task_id", "bigint"}, {"attempt", "bigint"}, {"owner", "text"},
                    {"job_name", "text"}, {"node", "text"}, {"state", "text"}, {"exit_code", "integer"},
                    {"cores", "integer"}, {"submit_time", "bigint"}, {"start_time", "bigint"},
                    {"end_time", "bigint"}, {"cpu_time_ms", "bigint"}, {"max_rss_kb", "bigint"},
                    {"group_name", "text"}, {"gpus", "integer"}, {"memory_limit_mb", "bigint"},
                    {"time_limit_ms", "bigint"}, {"error", "text"}},
                   nullptr);
  std::vector<ArrayLiteral> c(19);
  for (const auto& a : b.accounting) {
    c[0].Add(a.job_id);
    c[1].Add(a.task_id);
    c[2].Add(a.attempt);
    c[3].Add(a.owner);
    c[4].Add(a.job_name);
    c[5].Add(a.node);
    c[6].Add(ToString(a.state));
    c[7].Add(a.exit_code);
    c[8].Add(a.cores);
    c[9].Add(a.submit_time);
    c[10].Add(a.start_time);
    c[11].Add(a.end_time);
    c[12].Add(a.cpu_time_ms);
    c[13].Add(a.max_rss_kb);
    c[14].Add(a.group);
    c[15].Add(a.gpus);
    c[16].Add(a.memory_limit_mb);
    c[17].Add(a.time_limit_ms);
    c[18].Add(a.error);
  }
  Run(tx, sql, c);
}

void WriteMonitoring(pqxx::transaction_base& tx, const WriteBatch& b, std::string& step) {
  if (b.metrics.empty()) return;
  step = "writing node_metrics";
  static const std::string sql =
      UnnestInsert("node_metrics",
                   {{"node", "text"}, {"time", "bigint"}, {"load1", "double precision"},
                    {"memory_used_mb", "bigint"}, {"running_tasks", "integer"}},
                   nullptr);
  std::vector<ArrayLiteral> c(5);
  for (const auto& m : b.metrics) {
    c[0].Add(m.node);
    c[1].Add(m.time);
    c[2].Add(m.load1);
    c[3].Add(m.memory_used_mb);
    c[4].Add(m.running_tasks);
  }
  Run(tx, sql, c);
}

}  // namespace

void WritePart(pqxx::transaction_base& tx, StoreIndex db, const WriteBatch& batch, std::string& step) {
  switch (db) {
    case kManagement: return WriteManagement(tx, batch, step);
    case kScheduler: return WriteScheduler(tx, batch, step);
    case kReporting: return WriteReporting(tx, batch, step);
    case kMonitoring: return WriteMonitoring(tx, batch, step);
    case kDiagnostics:
    case kStoreCount: return;
  }
}

Result<std::vector<NodeRecord>> ReadNodes(const pqxx::result& r, const std::string& database) {
  std::vector<NodeRecord> out;
  for (const auto& row : r) {
    NodeRecord n;
    n.name = Text(row[0]);
    auto state = ParseNodeState(row[1].c_str());
    if (!state) return BadRow(database, "nodes", fmt::format("name='{}'", n.name), fmt::format("unknown node state '{}'", row[1].c_str()));
    n.state = *state;
    n.template_name = Text(row[2]);
    n.hostname = Text(row[3]);
    n.cores = row[4].as<int>();
    n.memory_mb = I64(row[5]);
    n.joined_time = I64(row[6]);
    n.last_seen = I64(row[7]);
    n.cert_serial = Text(row[8]);
    out.push_back(std::move(n));
  }
  return out;
}

Result<std::vector<NodeTemplate>> ReadTemplates(const pqxx::result& r) {
  std::vector<NodeTemplate> out;
  for (const auto& row : r) out.push_back(NodeTemplate{Text(row[0]), Text(row[1]), row[2].as<bool>(), row[3].as<bool>()});
  return out;
}

Result<std::vector<Member>> ReadMembers(const pqxx::result& r, const std::string& database) {
  std::vector<Member> out;
  for (const auto& row : r) {
    auto role = ParseRole(row[1].c_str());
    if (!role) return BadRow(database, "members", fmt::format("name='{}'", row[0].c_str()), fmt::format("unknown role '{}'", row[1].c_str()));
    out.push_back(Member{Text(row[0]), *role, Text(row[2]), I64(row[3])});
  }
  return out;
}

Result<std::vector<RevokedCertificate>> ReadRevoked(const pqxx::result& r) {
  std::vector<RevokedCertificate> out;
  for (const auto& row : r) out.push_back(RevokedCertificate{Text(row[0]), Text(row[1]), I64(row[2])});
  return out;
}

Result<std::vector<AuditEntry>> ReadAudit(const pqxx::result& r) {
  std::vector<AuditEntry> out;
  for (const auto& row : r) out.push_back(AuditEntry{I64(row[0]), Text(row[1]), Text(row[2]), Text(row[3]), Text(row[4])});
  return out;
}

Result<std::vector<JobRecord>> ReadJobs(const pqxx::result& r, const std::string& database) {
  std::vector<JobRecord> out;
  for (const auto& row : r) {
    JobRecord j;
    j.id = I64(row[0]);
    auto state = ParseTaskState(row[1].c_str());
    if (!state) return BadRow(database, "jobs", fmt::format("id={}", j.id), fmt::format("unknown job state '{}'", row[1].c_str()));
    j.state = *state;
    j.submit_time = I64(row[2]);
    j.start_time = I64(row[3]);
    j.end_time = I64(row[4]);
    j.cancel_requested = row[5].as<bool>();
    auto spec = DecodeJobSpec(std::string_view(row[6].c_str(), row[6].size()));
    if (!spec.ok()) return BadRow(database, "jobs", fmt::format("id={}", j.id), fmt::format("unreadable spec: {}", spec.status().message()));
    j.spec = std::move(spec).value();
    out.push_back(std::move(j));
  }
  return out;
}

Result<std::vector<TaskRecord>> ReadTasks(const pqxx::result& r, const std::string& database) {
  std::vector<TaskRecord> out;
  out.reserve(r.size());
  for (const auto& row : r) {
    TaskRecord t;
    t.job_id = I64(row[0]);
    const int64_t task_id = I64(row[1]);
    const int64_t attempt = I64(row[3]);
    auto where = [&] { return fmt::format("job_id={} task_id={}", t.job_id, task_id); };
    auto state = ParseTaskState(row[2].c_str());
    if (!state) return BadRow(database, "tasks", where(), fmt::format("unknown task state '{}'", row[2].c_str()));
    if (!FitsU32(task_id) || !FitsU32(attempt)) return BadRow(database, "tasks", where(), fmt::format("attempt {} out of range", attempt));
    t.task_id = static_cast<TaskId>(task_id);
    t.state = *state;
    t.attempt = static_cast<uint32_t>(attempt);
    t.node = Text(row[4]);
    t.exit_code = row[5].as<int>();
    t.start_time = I64(row[6]);
    t.end_time = I64(row[7]);
    t.error = Text(row[8]);
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::vector<AccountingRecord>> ReadAccounting(const pqxx::result& r, const std::string& database) {
  std::vector<AccountingRecord> out;
  for (const auto& row : r) {
    AccountingRecord a;
    const int64_t id = I64(row[0]);
    a.job_id = I64(row[1]);
    const int64_t task_id = I64(row[2]);
    const int64_t attempt = I64(row[3]);
    auto state = ParseTaskState(row[7].c_str());
    if (!state) return BadRow(database, "accounting", fmt::format("id={}", id), fmt::format("unknown task state '{}'", row[7].c_str()));
    if (!FitsU32(task_id) || !FitsU32(attempt)) return BadRow(database, "accounting", fmt::format("id={}", id), "task id or attempt out of range");
    a.task_id = static_cast<TaskId>(task_id);
    a.attempt = static_cast<uint32_t>(attempt);
    a.owner = Text(row[4]);
    a.job_name = Text(row[5]);
    a.node = Text(row[6]);
    a.state = *state;
    a.exit_code = row[8].as<int>();
    a.cores = row[9].as<int>();
    a.submit_time = I64(row[10]);
    a.start_time = I64(row[11]);
    a.end_time = I64(row[12]);
    a.cpu_time_ms = I64(row[13]);
    a.max_rss_kb = I64(row[14]);
    a.group = Text(row[15]);
    a.gpus = row[16].as<int>();
    a.memory_limit_mb = I64(row[17]);
    a.time_limit_ms = I64(row[18]);
    a.error = Text(row[19]);
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<MetricSample>> ReadMetrics(const pqxx::result& r) {
  std::vector<MetricSample> out;
  for (const auto& row : r) {
    MetricSample m;
    m.node = Text(row[0]);
    m.time = I64(row[1]);
    m.load1 = row[2].is_null() ? std::numeric_limits<double>::quiet_NaN() : row[2].as<double>();
    m.memory_used_mb = I64(row[3]);
    m.running_tasks = row[4].as<int>();
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace drover::postgres
