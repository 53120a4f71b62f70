#include "store/sqlite/sqlite_db.h"

#include <fmt/format.h>

namespace drover::sqlite {

StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {  // the primary code of an extended one
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StatusCode::kDataLoss;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StatusCode::kUnavailable;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return StatusCode::kFailedPrecondition;
    default:
      return StatusCode::kInternal;
  }
}

Status Error(sqlite3* db, int rc, std::string_view what) {
  // sqlite3_errmsg describes the most recent failed call on the connection; when there is no
  // connection (or it has no message) fall back to the text for the code itself.
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : nullptr;
  const char* code = sqlite3_errstr(rc);
  std::string text = msg != nullptr && std::string_view(msg) != code
                         ? fmt::format("{}: {} ({})", what, msg, code)
                         : fmt::format("{}: {}", what, code);
  return Status(CodeFor(rc), std::move(text));
}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

void Stmt::Reset() {
  // sqlite3_reset returns the error of the last step, which was already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Result<bool> Stmt::Step(std::string_view what) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error(sqlite3_db_handle(stmt_), rc, what);
}

Status Stmt::Run(std::string_view what) {
  for (;;) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_DONE) return Status::Ok();
    if (rc != SQLITE_ROW) return Error(sqlite3_db_handle(stmt_), rc, what);
  }
}

std::string Stmt::Text(int col) const { return std::string(TextView(col)); }

std::string_view Stmt::TextView(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return {};
  return std::string_view(reinterpret_cast<const char*>(p),
                          static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = other.db_;
    other.db_ = nullptr;
  }
  return *this;
}

Db::~Db() {
  // close_v2 defers the close until any statement still alive is finalized, so an ordering
  // mistake leaks nothing and never crashes.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Result<Db> Db::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);  // closes the handle on every path; SQLite allocates one even when opening fails
  if (rc != SQLITE_OK) {
    return Error(raw, rc, fmt::format("opening SQLite database {}", path));
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Status Db::Exec(const std::string& sql, std::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status(CodeFor(rc), fmt::format("{}: {}", what, msg));
}

Result<Stmt> Db::Prepare(std::string_view sql, std::string_view what) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return Error(db_, rc, fmt::format("preparing {}", what));
  return stmt;
}

}  // namespace drover::sqlite
