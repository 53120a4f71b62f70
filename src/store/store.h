// The head node's durable copy of the cluster. One interface, implemented by each backend
// (sqlite/, postgres/) and checked by one conformance suite (store_conformance_test), run on both.
//
// The data is split into the five logical stores the cluster has always had:
//   Management  - nodes, node templates, cluster properties
//   Scheduler   - jobs and tasks
//   Reporting   - accounting records of ended task attempts
//   Diagnostics - diagnostic test runs
//   Monitoring  - node metric samples
// Each logical store carries its own schema version.
//
// Thread-safety: a Store is used from one thread at a time (the head node's writer).
// Any call of a server backend may return kUnavailable while its server cannot be reached; reads
// can simply be repeated later.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace drover {

// All changes of one group commit. Applied atomically by Store::Commit: either every change is
// durable when it returns OK, or none is.
struct WriteBatch {
  std::vector<JobRecord> jobs;            // insert or replace, by id
  std::vector<TaskRecord> tasks;          // insert or replace, by (job_id, task_id)
  std::vector<NodeRecord> nodes;          // insert or replace, by name
  std::vector<std::string> deleted_nodes;
  std::vector<NodeTemplate> node_templates;  // insert or replace, by name
  std::vector<std::pair<std::string, std::string>> properties;  // cluster properties, upsert
  std::vector<AccountingRecord> accounting;  // append
  std::vector<MetricSample> metrics;         // append
  std::vector<Member> members;               // insert or replace, by name
  std::vector<std::string> deleted_members;
  std::vector<RevokedCertificate> revoked;   // insert or replace, by serial
  std::vector<AuditEntry> audit;             // append

  bool empty() const { return size() == 0; }
  size_t size() const {
    return jobs.size() + tasks.size() + nodes.size() + deleted_nodes.size() + node_templates.size() +
           properties.size() + accounting.size() + metrics.size() + members.size() + deleted_members.size() +
           revoked.size() + audit.size();
  }
};

struct AccountingQuery {
  std::optional<JobId> job_id;
  std::optional<std::string> owner;
  TimeMs start_after = 0;  // end_time >= start_after
  TimeMs end_before = 0;   // start_time <= end_before; 0: no bound
  size_t limit = 10000;
};

class Store {
 public:
  virtual ~Store() = default;

  // Management
  virtual Result<std::vector<NodeRecord>> LoadNodes() = 0;
  virtual Result<std::vector<NodeTemplate>> LoadNodeTemplates() = 0;
  virtual Result<std::optional<std::string>> GetProperty(const std::string& key) = 0;

  virtual Result<std::vector<Member>> LoadMembers() = 0;
  virtual Result<std::vector<RevokedCertificate>> LoadRevokedCertificates() = 0;
  // Audit entries at or after `since`, oldest first, at most `limit` (the newest ones when cut).
  virtual Result<std::vector<AuditEntry>> QueryAudit(TimeMs since, size_t limit) = 0;

  // Scheduler
  // Jobs that are not in a terminal state, ordered by id.
  virtual Result<std::vector<JobRecord>> LoadActiveJobs() = 0;
  virtual Result<std::optional<JobRecord>> LoadJob(JobId id) = 0;
  // Rows of one job's tasks, ordered by task id. Tasks never dispatched have no row.
  virtual Result<std::vector<TaskRecord>> LoadTasks(JobId job_id) = 0;
  // Largest job id ever stored, 0 when none.
  virtual Result<JobId> MaxJobId() = 0;

  // Reporting
  // Matching records ordered by end_time, oldest first (ties in the order they were committed),
  // at most query.limit of them.
  virtual Result<std::vector<AccountingRecord>> QueryAccounting(const AccountingQuery& query) = 0;

  // Monitoring: the latest `limit` samples of a node, newest first.
  virtual Result<std::vector<MetricSample>> RecentMetrics(const std::string& node, size_t limit) = 0;

  // Applies a batch atomically and durably.
  // kUnavailable: the database could not be reached (a server backend whose connection or server
  // went away); the batch may or may not have been applied. The caller gives the same batch to the
  // next Commit, with no other Commit in between, and the store applies it exactly once. Any other
  // error: nothing of the batch was applied.
  virtual Status Commit(const WriteBatch& batch) = 0;

  // Schema version of each logical store, as ("Management", 1), ...
  virtual Result<std::vector<std::pair<std::string, int>>> SchemaVersions() = 0;
};

// The schema version this build writes. Opening a store with an older version migrates it forward;
// a newer version is refused with a clear message.
inline constexpr int kSchemaVersion = 3;

}  // namespace drover
