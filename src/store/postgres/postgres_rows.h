// Rows of the PostgreSQL store: the statements that read each table, the functions that turn their
// results into records, and the writing of one database's part of a WriteBatch. Used only by the
// PostgreSQL store.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "store/postgres/postgres_schema.h"
#include "store/store.h"

namespace pqxx {
class result;
class transaction_base;
}  // namespace pqxx

namespace drover::postgres {

inline constexpr const char* kJobColumns = "id, state, submit_time, start_time, end_time, cancel_requested, spec";
inline constexpr const char* kTaskColumns =
    "job_id, task_id, state, attempt, node, exit_code, start_time, end_time, error";
inline constexpr const char* kNodeColumns =
    "name, state, template_name, hostname, cores, memory_mb, joined_time, last_seen, cert_serial";
inline constexpr const char* kAccountingColumns =
    "id, job_id, task_id, attempt, owner, job_name, node, state, exit_code, cores, submit_time, start_time, "
    "end_time, cpu_time_ms, max_rss_kb, group_name, gpus, memory_limit_mb, time_limit_ms, error";

inline constexpr const char* kLoadNodesSql =
    "SELECT name, state, template_name, hostname, cores, memory_mb, joined_time, last_seen, cert_serial "
    "FROM nodes ORDER BY name";
inline constexpr const char* kLoadTemplatesSql =
    "SELECT name, description, auto_approve, bring_online FROM node_templates ORDER BY name";
inline constexpr const char* kLoadMembersSql =
    "SELECT name, role, cert_serial, created_time FROM members ORDER BY name";
inline constexpr const char* kLoadRevokedSql =
    "SELECT serial, member, revoked_time FROM revoked_certificates ORDER BY serial";
// $1 since, $2 limit: the newest `limit`, oldest first.
inline constexpr const char* kQueryAuditSql =
    "SELECT time, actor, action, target, detail FROM (SELECT id, time, actor, action, target, detail FROM audit_log "
    "WHERE time >= $1 ORDER BY id DESC LIMIT $2) newest ORDER BY id";
inline constexpr const char* kLoadActiveJobsSql =
    "SELECT id, state, submit_time, start_time, end_time, cancel_requested, spec FROM jobs "
    "WHERE state IN ('Queued', 'Running') ORDER BY id";
inline constexpr const char* kLoadJobSql =
    "SELECT id, state, submit_time, start_time, end_time, cancel_requested, spec FROM jobs WHERE id = $1";
inline constexpr const char* kLoadTasksSql =
    "SELECT job_id, task_id, state, attempt, node, exit_code, start_time, end_time, error FROM tasks "
    "WHERE job_id = $1 ORDER BY task_id";
inline constexpr const char* kRecentMetricsSql =
    "SELECT node, time, load1, memory_used_mb, running_tasks FROM node_metrics WHERE node = $1 "
    "ORDER BY time DESC, id DESC LIMIT $2";

// `database` names the database in messages about a bad row (kDataLoss).
Result<std::vector<NodeRecord>> ReadNodes(const pqxx::result& r, const std::string& database);
Result<std::vector<NodeTemplate>> ReadTemplates(const pqxx::result& r);
Result<std::vector<Member>> ReadMembers(const pqxx::result& r, const std::string& database);
Result<std::vector<RevokedCertificate>> ReadRevoked(const pqxx::result& r);
Result<std::vector<AuditEntry>> ReadAudit(const pqxx::result& r);
Result<std::vector<JobRecord>> ReadJobs(const pqxx::result& r, const std::string& database);
Result<std::vector<TaskRecord>> ReadTasks(const pqxx::result& r, const std::string& database);
Result<std::vector<AccountingRecord>> ReadAccounting(const pqxx::result& r, const std::string& database);
Result<std::vector<MetricSample>> ReadMetrics(const pqxx::result& r);

// Writes the changes of `batch` that belong to database `db` inside the caller's open transaction,
// with the same meaning as SQLite's: upserts by key with the last change of a key winning, node and
// member deletions after the upserts, appends in batch order. Throws pqxx errors; `step` says what
// it was writing when it threw.
void WritePart(pqxx::transaction_base& tx, StoreIndex db, const WriteBatch& batch, std::string& step);

}  // namespace drover::postgres
