// The schema of the PostgreSQL store: the tables of each of the five databases and the migration
// steps that build them. The same structure as sqlite_schema.h, in PostgreSQL's DDL. Used only by
// the PostgreSQL store.
#pragma once

#include <span>

#include "store/store.h"

namespace drover::postgres {

// Each logical store has its own list of steps. Step k takes the database from version k-1 to k; a
// new database is version 0 (an empty schema_version table is created first) and runs every step.
// To change a schema: bump kSchemaVersion in store.h and append a step to *every* list (an empty
// string for stores that do not change), here and in sqlite_schema.h.
struct Migration {
  int to_version;
  const char* sql;
};

inline constexpr Migration kManagementSteps[] = {
    {1, R"sql(
CREATE TABLE nodes (
  name TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  template_name TEXT NOT NULL,
  hostname TEXT NOT NULL,
  cores INTEGER NOT NULL,
  memory_mb BIGINT NOT NULL,
  joined_time BIGINT NOT NULL,
  last_seen BIGINT NOT NULL);
CREATE TABLE node_templates (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  auto_approve BOOLEAN NOT NULL,
  bring_online BOOLEAN NOT NULL);
CREATE TABLE properties (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
)sql"},
    {2, R"sql(
ALTER TABLE nodes ADD COLUMN cert_serial TEXT NOT NULL DEFAULT '';
CREATE TABLE members (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  cert_serial TEXT NOT NULL,
  created_time BIGINT NOT NULL);
CREATE TABLE revoked_certificates (
  serial TEXT PRIMARY KEY,
  member TEXT NOT NULL,
  revoked_time BIGINT NOT NULL);
CREATE TABLE audit_log (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX audit_log_time ON audit_log (time);
)sql"},
    {3, ""},  // unchanged in version 3
};

inline constexpr Migration kSchedulerSteps[] = {
    {1, R"sql(
CREATE TABLE jobs (
  id BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  owner TEXT NOT NULL,
  priority INTEGER NOT NULL,
  state TEXT NOT NULL,
  submit_time BIGINT NOT NULL,
  start_time BIGINT NOT NULL,
  end_time BIGINT NOT NULL,
  cancel_requested BOOLEAN NOT NULL,
  spec TEXT NOT NULL);
CREATE INDEX jobs_state ON jobs (state);
CREATE TABLE tasks (
  job_id BIGINT NOT NULL,
  task_id BIGINT NOT NULL,
  state TEXT NOT NULL,
  attempt BIGINT NOT NULL,
  node TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  start_time BIGINT NOT NULL,
  end_time BIGINT NOT NULL,
  error TEXT NOT NULL,
  PRIMARY KEY (job_id, task_id));
)sql"},
    {2, ""},  // unchanged in version 2
    {3, ""},  // unchanged in version 3
};

inline constexpr Migration kReportingSteps[] = {
    {1, R"sql(
CREATE TABLE accounting (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id BIGINT NOT NULL,
  task_id BIGINT NOT NULL,
  attempt BIGINT NOT NULL,
  owner TEXT NOT NULL,
  job_name TEXT NOT NULL,
  node TEXT NOT NULL,
  state TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  cores INTEGER NOT NULL,
  submit_time BIGINT NOT NULL,
  start_time BIGINT NOT NULL,
  end_time BIGINT NOT NULL,
  cpu_time_ms BIGINT NOT NULL,
  max_rss_kb BIGINT NOT NULL);
CREATE INDEX accounting_job_id ON accounting (job_id);
CREATE INDEX accounting_owner ON accounting (owner);
CREATE INDEX accounting_end_time ON accounting (end_time);
)sql"},
    {2, ""},  // unchanged in version 2
    // Version 3: what sacct-like reports need. Records written before have 0 and '' here.
    {3, R"sql(
ALTER TABLE accounting ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
ALTER TABLE accounting ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounting ADD COLUMN memory_limit_mb BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounting ADD COLUMN time_limit_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounting ADD COLUMN error TEXT NOT NULL DEFAULT '';
)sql"},
};

// Schema only: no Store method reads or writes diagnostic runs yet.
inline constexpr Migration kDiagnosticsSteps[] = {
    {1, R"sql(
CREATE TABLE diagnostic_runs (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL,
  node TEXT NOT NULL,
  state TEXT NOT NULL,
  started BIGINT NOT NULL,
  ended BIGINT NOT NULL DEFAULT 0,
  result TEXT NOT NULL DEFAULT '');
)sql"},
    {2, ""},  // unchanged in version 2
    {3, ""},  // unchanged in version 3
};

// load1 is nullable, as in SQLite: a NaN sample is kept as NULL and read back as NaN.
inline constexpr Migration kMonitoringSteps[] = {
    {1, R"sql(
CREATE TABLE node_metrics (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node TEXT NOT NULL,
  time BIGINT NOT NULL,
  load1 DOUBLE PRECISION,
  memory_used_mb BIGINT NOT NULL,
  running_tasks INTEGER NOT NULL);
CREATE INDEX node_metrics_node_time ON node_metrics (node, time);
)sql"},
    {2, ""},  // unchanged in version 2
    {3, ""},  // unchanged in version 3
};

// Not versioned with the stores: the commit log of the two-phase commit (see postgres_store.h),
// created in the Management database when absent. One row per commit whose outcome is not yet
// everywhere: committed = true once decided, false for a commit that recovery decided to abort.
inline constexpr const char* kCommitLogDdl = R"sql(
CREATE TABLE IF NOT EXISTS commit_log (
  gid TEXT PRIMARY KEY,
  committed BOOLEAN NOT NULL,
  time BIGINT NOT NULL);
)sql";

enum StoreIndex { kManagement = 0, kScheduler, kReporting, kDiagnostics, kMonitoring, kStoreCount };

struct StoreDef {
  const char* name;    // as SchemaVersions() and messages say it
  const char* suffix;  // the database is <prefix>_<suffix>
  std::span<const Migration> steps;
};

inline constexpr StoreDef kStores[kStoreCount] = {
    {"Management", "management", kManagementSteps},    {"Scheduler", "scheduler", kSchedulerSteps},
    {"Reporting", "reporting", kReportingSteps},       {"Diagnostics", "diagnostics", kDiagnosticsSteps},
    {"Monitoring", "monitoring", kMonitoringSteps},
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

}  // namespace drover::postgres
