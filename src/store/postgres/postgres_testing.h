// A throwaway PostgreSQL 15 server for tests: initdb and pg_ctl from /usr/lib/postgresql/15/bin,
// run as an unprivileged user (the `postgres` system user when the test runs as root), listening on
// a Unix socket in its own temporary directory and on a free loopback port. Password authentication
// (scram-sha-256) for everyone; a role `drover` with CREATEDB. Stopped (immediately) and removed in
// the destructor, so a failing test leaves nothing behind; and should the test process die without
// running it (a crash, a signal), a guardian process that waits on a pipe from it does the same.
//
// Tests that need it call RequirePostgres(): without the binaries the test is skipped with a clear
// message, unless DROVER_REQUIRE_POSTGRES=1 (set by scripts/test.sh), in which case it fails.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "store/postgres/postgres_store.h"

namespace drover::testing {

class TestPostgresServer {
 public:
  // Empty when initdb and pg_ctl are present, else why the server cannot run here.
  static std::string MissingBinaries();
  // True when DROVER_REQUIRE_POSTGRES=1: a missing server is a failure, not a skip.
  static bool Required();

  static Result<std::unique_ptr<TestPostgresServer>> Start();
  ~TestPostgresServer();

  // Options for the role `drover` over TCP on loopback, with its password and `prefix`.
  PostgresOptions Options(const std::string& prefix) const;
  // postgresql://drover@127.0.0.1:<port> (no password, no prefix).
  std::string Url() const;
  const std::string& password() const { return password_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

  // Runs SQL as the superuser in `database`; returns the first column of the first row ("" when
  // none).
  Result<std::string> Query(const std::string& database, const std::string& sql) const;

  // libpq key=value string for the superuser in `database` (over the Unix socket).
  std::string SuperuserConnection(const std::string& database) const;

  Status Stop(bool immediate = false);
  Status StartAgain();
  // pg_ctl restart -m fast: every connection is cut.
  Status Restart();

 private:
  TestPostgresServer() = default;
  Status RunAsOwner(const std::vector<std::string>& argv, const std::string& what) const;
  Status StartGuardian();

  std::string dir_;     // owned by the server's user; removed in the destructor
  std::string data_;    // <dir>/data
  std::string socket_;  // <dir> (the socket is <dir>/.s.PGSQL.<port>)
  int port_ = 0;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool running_ = false;
  int guardian_pipe_ = -1;  // write end; the guardian cleans up when it reads end-of-file
  pid_t guardian_ = 0;
  std::string superuser_password_;
  std::string password_;  // of the role drover
};

// One server for the whole test process, started on first use and stopped at exit. Tests give each
// store its own prefix.
Result<TestPostgresServer*> SharedTestPostgresServer();

}  // namespace drover::testing
