// PostgreSQL backend of Store: for clusters whose head node may move between machines.
//
// Layout: the five logical stores are five databases on one PostgreSQL server, as the seed has
// them, named after a prefix (default "drover"):
//   <prefix>_management   nodes, node templates, properties, members, audit log; and commit_log
//   <prefix>_scheduler    jobs, tasks
//   <prefix>_reporting    accounting
//   <prefix>_diagnostics  diagnostic runs
//   <prefix>_monitoring   node metrics
// Each database has a `schema_version` table. Open creates the databases that are absent (the role
// needs CREATEDB for that, or an administrator creates them beforehand), reuses those that exist,
// migrates older schema versions forward and refuses a newer one, checking all five before changing
// anything. The Store holds one connection per database.
//
// Atomicity across databases: PostgreSQL has no transaction that spans databases, so Commit uses
// two-phase commit with the Management database as coordinator:
//   1. every other database the batch touches runs its part and PREPARE TRANSACTION '<gid>';
//   2. Management runs its part plus a commit_log row (gid, committed) in one ordinary transaction:
//      its COMMIT is the decision point;
//   3. every prepared part is finished with COMMIT PREPARED.
// A failure before 2 rolls the prepared parts back. A prepared part whose outcome is open (the
// connection or the server went away) is resolved from commit_log: by the next call of this Store,
// or by the next Open (recovery of in-doubt prepared transactions whose gid carries this prefix).
// Recovery decides "abort" for a gid with no commit_log row by inserting a committed = false row,
// which waits for a Management transaction still in flight with that gid, so a late COMMIT cannot
// contradict it. The server must allow prepared transactions (max_prepared_transactions >= 3: a
// commit prepares up to three parts); Open says so when it does not.
//
// Limits: one head node writes a given prefix at a time (recovery at Open assumes no other writer is
// mid-commit). Until an in-doubt part is resolved it holds its row locks; this Store resolves it
// before any other read or write. Readers other than this Store (psql, reports) may briefly see a
// batch applied in some databases and not yet in others, between steps 2 and 3.
//
// Connection loss: every call first reconnects what is broken, waiting up to reconnect_timeout_ms,
// and finishes an in-doubt commit. A call that cannot reach the server returns kUnavailable. A Commit
// that returns kUnavailable may or may not have been applied; the caller retries it with the same
// batch and the Store applies it exactly once (the Store remembers the open gid and its outcome).
//
// The password is given apart from the connection string and is kept in memory only; it is never
// put in a message, a log line or a file.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace drover {

struct PostgresOptions {
  // libpq connection URI or key=value string, without a password and without a dbname (a dbname in
  // it is ignored; the databases are named from `prefix`). Example: postgresql://drover@db1:5432
  std::string connection;
  std::string password;             // empty: none (peer or trust authentication, or ~/.pgpass)
  std::string prefix = "drover";    // the databases are <prefix>_management, ...
  std::string maintenance_database = "postgres";  // connected to for CREATE DATABASE
  int open_wait_ms = 30000;         // how long Open waits for a server that is not accepting connections yet
  int reconnect_timeout_ms = 5000;  // how long one call waits for a lost server to come back
};

// Reads `postgresql://user@host:port/prefix[?param=value...]` into options: the path is the prefix
// (default "drover"), the rest is the connection. A password in the URL is refused: it would be
// visible on command lines and in files; pass it in `password`.
Result<PostgresOptions> ParsePostgresUrl(const std::string& url);

// Opens (creating when absent) the five databases described by `options`.
Result<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

}  // namespace drover
