// SQLite backend of Store: the embedded default.
//
// On-disk layout, one file per logical store (WAL mode), under the head node's data directory:
//   <dir>/management.db
//   <dir>/scheduler.db
//   <dir>/reporting.db
//   <dir>/diagnostics.db
//   <dir>/monitoring.db
// management.db is the main connection; the others are ATTACHed to it, so one transaction spans all.
// Each file has a `schema_version` table. Open creates missing files, reattaches existing ones and
// migrates older versions forward.
//
// Atomicity across files: Commit runs one BEGIN IMMEDIATE ... COMMIT over all five files, so the
// store's own reads never see part of a batch, and a failed Commit rolls back every file. But SQLite does not
// make multi-file transactions atomic in WAL mode (no super-journal): at COMMIT each file's WAL is
// written and synced in turn (management, scheduler, reporting, diagnostics, monitoring). A crash
// or power loss *during* that COMMIT can leave a prefix of the files with the batch and the rest
// without it. Each file on its own is always consistent, and every file is durable once Commit
// returns OK (synchronous=FULL).
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace drover {

// Opens (creating when absent) the SQLite store under `dir`.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& dir);

}  // namespace drover
