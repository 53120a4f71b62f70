// The schema of the SQLite store: the tables of each of the five files and the migration steps
// that build them. Used only by sqlite_store.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "store/store.h"

namespace drover::sqlite {

// ---- Schema and migrations ------------------------------------------------------------------
//
// Each logical store has its own list of steps. Step k takes the file from version k-1 to k; a
// new file is version 0 (an empty schema_version table is created first) and runs every step.
// To change a schema: bump kSchemaVersion in store.h and append a step to *every* list (an empty
// SQL string for stores that do not change). "$S." is replaced by the store's schema name.

struct Migration {
  int to_version;
  const char* sql;
};

inline constexpr Migration kManagementSteps[] = {
    {1, R"sql(
CREATE TABLE $S.nodes (
  name TEXT PRIMARY KEY NOT NULL,
  state TEXT NOT NULL,
  template_name TEXT NOT NULL,
  hostname TEXT NOT NULL,
  cores INTEGER NOT NULL,
  memory_mb INTEGER NOT NULL,
  joined_time INTEGER NOT NULL,
  last_seen INTEGER NOT NULL);
CREATE TABLE $S.node_templates (
  name TEXT PRIMARY KEY NOT NULL,
  description TEXT NOT NULL,
  auto_approve INTEGER NOT NULL,
  bring_online INTEGER NOT NULL);
CREATE TABLE $S.properties (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL);
)sql"},
    {2, R"sql(
ALTER TABLE $S.nodes ADD COLUMN cert_serial TEXT NOT NULL DEFAULT '';
CREATE TABLE $S.members (
  name TEXT PRIMARY KEY NOT NULL,
  role TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  created_time INTEGER NOT NULL);
CREATE TABLE $S.revoked_certificates (
  serial TEXT PRIMARY KEY NOT NULL,
  member TEXT NOT NULL,
  revoked_time INTEGER NOT NULL);
CREATE TABLE $S.audit_log (
  id INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX $S.audit_log_time ON audit_log(time);
)sql"},
    {3, ""},  // unchanged in version 3
};

inline constexpr Migration kSchedulerSteps[] = {
    {1, R"sql(
CREATE TABLE $S.jobs (
  id INTEGER PRIMARY KEY NOT NULL,
  name TEXT NOT NULL,
  owner TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  submit_time INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL,
  spec TEXT NOT NULL);
CREATE INDEX $S.jobs_state ON jobs(state);
CREATE TABLE $S.tasks (
  job_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  node TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  error TEXT NOT NULL,
  PRIMARY KEY (job_id, task_id)) WITHOUT ROWID;
)sql"},
    {2, ""},  // unchanged in version 2
    {3, ""},  // unchanged in version 3
};

inline constexpr Migration kReportingSteps[] = {
    {1, R"sql(
CREATE TABLE $S.accounting (
  id INTEGER PRIMARY KEY,
  job_id INTEGER NOT NULL,
  task_id INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  owner TEXT NOT NULL,
  job_name TEXT NOT NULL,
  node TEXT NOT NULL,
  state TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  cores INTEGER NOT NULL,
  submit_time INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER NOT NULL,
  cpu_time_ms INTEGER NOT NULL,
  max_rss_kb INTEGER NOT NULL);
CREATE INDEX $S.accounting_job_id ON accounting(job_id);
CREATE INDEX $S.accounting_owner ON accounting(owner);
CREATE INDEX $S.accounting_end_time ON accounting(end_time);
)sql"},
    {2, ""},  // unchanged in version 2
    // Version 3: what sacct-like reports need. Records written before have 0 and '' here.
    {3, R"sql(
ALTER TABLE $S.accounting ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
ALTER TABLE $S.accounting ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0;
ALTER TABLE $S.accounting ADD COLUMN memory_limit_mb INTEGER NOT NULL DEFAULT 0;
ALTER TABLE $S.accounting ADD COLUMN time_limit_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE $S.accounting ADD COLUMN error TEXT NOT NULL DEFAULT '';
)sql"},
};

// Schema only: no Store method reads or writes diagnostic runs yet.
inline constexpr Migration kDiagnosticsSteps[] = {
    {1, R"sql(
CREATE TABLE $S.diagnostic_runs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  node TEXT NOT NULL,
  state TEXT NOT NULL,
  started INTEGER NOT NULL,
  ended INTEGER NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '');
)sql"},
    {2, ""},  // unchanged in version 2
    {3, ""},  // unchanged in version 3
};

// load1 is nullable: SQLite stores a NaN as NULL, and a NaN sample must not fail a whole commit.
inline constexpr Migration kMonitoringSteps[] = {
    {1, R"sql(
CREATE TABLE $S.node_metrics (
  node TEXT NOT NULL,
  time INTEGER NOT NULL,
  load1 REAL,
  memory_used_mb INTEGER NOT NULL,
  running_tasks INTEGER NOT NULL);
CREATE INDEX $S.node_metrics_node_time ON node_metrics(node, time);
)sql"},
    {2, ""},  // unchanged in version 2
    {3, ""},  // unchanged in version 3
};

struct StoreDef {
  const char* name;    // as SchemaVersions() and messages say it
  const char* schema;  // schema name on the connection
  const char* file;    // under the store directory
  std::span<const Migration> steps;
};

// The attach order. In WAL mode SQLite commits a multi-file transaction file by file in this order
// (see the note on atomicity in sqlite_store.h).
inline constexpr StoreDef kStores[] = {
    {"Management", "main", "management.db", kManagementSteps},
    {"Scheduler", "scheduler", "scheduler.db", kSchedulerSteps},
    {"Reporting", "reporting", "reporting.db", kReportingSteps},
    {"Diagnostics", "diagnostics", "diagnostics.db", kDiagnosticsSteps},
    {"Monitoring", "monitoring", "monitoring.db", kMonitoringSteps},
};

inline constexpr bool StepsAreComplete() {
  for (const auto& def : kStores) {
    int v = 0;
    for (const auto& step : def.steps) {
      if (step.to_version != v + 1) return false;
      v = step.to_version;
    }
    if (v != kSchemaVersion) return false;
  }
  return true;
}
static_assert(StepsAreComplete(), "every store needs one migration step per schema version, 1..kSchemaVersion");

inline std::string WithSchema(std::string_view sql, std::string_view schema) {
  std::string out;
  out.reserve(sql.size() + 64);
  for (size_t i = 0; i < sql.size();) {
    if (sql.substr(i, 3) == "$S.") {
      out.append(schema).push_back('.');
      i += 3;
    } else {
      out.push_back(sql[i++]);
    }
  }
  return out;
}

}  // namespace drover::sqlite
