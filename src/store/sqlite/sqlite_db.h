// Thin RAII wrappers over the SQLite C API for the SQLite store: a connection (Db) and a prepared
// statement (Stmt). Errors come back as Status values whose message says what was being done and
// what SQLite said (sqlite3_errmsg); nothing here throws.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace drover::sqlite {

// The Status code for an SQLite result code: corruption is DataLoss, lock contention Unavailable,
// a file that cannot be opened FailedPrecondition, anything else Internal.
StatusCode CodeFor(int rc);

// "<what>: <sqlite3_errmsg(db)> (<sqlite3_errstr(rc)>)" with the code from CodeFor(rc).
Status Error(sqlite3* db, int rc, std::string_view what);

// A prepared statement. Prepared once and reused: Reset() (or a Stmt::Use guard) returns it to
// the initial state with no bindings.
class Stmt {
 public:
  Stmt() = default;
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  sqlite3_stmt* get() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }

  // sqlite3_reset + sqlite3_clear_bindings. Must be called after reading rows, or a read
  // statement keeps its read transaction open.
  void Reset();

  // Resets the statement when the scope ends (including early returns on error).
  class Use {
   public:
    explicit Use(Stmt& s) : s_(s) { s_.Reset(); }
    ~Use() { s_.Reset(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    Stmt& s_;
  };

  // Binds the arguments to parameters 1..N in order. Returns the first SQLite error, if any.
  template <typename... Args>
  Status Bind(std::string_view what, const Args&... args) {
    int index = 0;
    int rc = SQLITE_OK;
    ((rc = (rc == SQLITE_OK ? BindOne(++index, args) : rc)), ...);
    if (rc != SQLITE_OK) return Error(sqlite3_db_handle(stmt_), rc, what);
    return Status::Ok();
  }

  // One step: true when a row is ready, false when done.
  Result<bool> Step(std::string_view what);
  // Steps a statement that returns no rows (or whose rows are not wanted) to completion.
  Status Run(std::string_view what);

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) const { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  std::string_view TextView(int col) const;  // valid until the next step/reset

 private:
  int BindOne(int i, int64_t v) { return sqlite3_bind_int64(stmt_, i, v); }
  int BindOne(int i, int v) { return sqlite3_bind_int64(stmt_, i, v); }
  int BindOne(int i, uint32_t v) { return sqlite3_bind_int64(stmt_, i, v); }
  int BindOne(int i, bool v) { return sqlite3_bind_int64(stmt_, i, v ? 1 : 0); }
  int BindOne(int i, double v) { return sqlite3_bind_double(stmt_, i, v); }
  int BindOne(int i, std::nullptr_t) { return sqlite3_bind_null(stmt_, i); }
  // Text is bound without copying: the caller's string must outlive the step, which it does
  // because every statement is stepped and reset within the call that bound it.
  int BindOne(int i, std::string_view v) {
    return sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
  }
  int BindOne(int i, const std::string& v) { return BindOne(i, std::string_view(v)); }
  int BindOne(int i, const char* v) { return BindOne(i, std::string_view(v)); }

  sqlite3_stmt* stmt_ = nullptr;
};

// A connection. Closing finalizes nothing: every Stmt must be destroyed before its Db.
class Db {
 public:
  Db() = default;
  Db(Db&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Opens (creating when absent) the database file at `path`, read-write.
  static Result<Db> Open(const std::string& path);

  sqlite3* get() const { return db_; }

  // Runs one or more statements that return no rows.
  Status Exec(const std::string& sql, std::string_view what);
  // Prepares one statement, to be kept and reused.
  Result<Stmt> Prepare(std::string_view sql, std::string_view what);

  // True when a transaction is open.
  bool InTransaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

}  // namespace drover::sqlite
