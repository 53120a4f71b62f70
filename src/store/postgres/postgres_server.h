// How the PostgreSQL store reaches its server: the connection target without a database, with the
// password kept apart, and the rules for telling a lost connection from a real error. Used only by
// the PostgreSQL store and its tests.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/status.h"

namespace pqxx {
class connection_base;
}

namespace drover::postgres {

class Connection;

class Server {
 public:
  // `connection`: a libpq URI or key=value string. A password or dbname in it is refused / ignored
  // (see PostgresOptions).
  static Result<Server> Parse(const std::string& connection, std::string password);

  // "user@host:port", for messages. Never contains the password.
  const std::string& describe() const { return describe_; }

  // Connects to database `dbname`. Failures that a server restart explains (refused, starting up,
  // shutting down) are retried until `wait_ms` has passed and then are kUnavailable; others (no
  // such database: kNotFound; authentication: kUnauthenticated) are returned at once.
  Result<std::unique_ptr<Connection>> Connect(const std::string& dbname, int wait_ms) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;  // without dbname and password
  std::string password_;
  std::string describe_;
};

// One open connection to one database. Reactivation is off: a connection that breaks stays broken,
// so no statement of a transaction can ever run on a fresh session in autocommit.
class Connection {
 public:
  // `close` destroys the connection as its own type (connection_base's destructor is not virtual).
  Connection(pqxx::connection_base* conn, void (*close)(pqxx::connection_base*)) : conn_(conn, close) {}
  pqxx::connection_base& get() { return *conn_; }

 private:
  std::unique_ptr<pqxx::connection_base, void (*)(pqxx::connection_base*)> conn_;
};

// True when `e` means the connection or the server went away (the statement's outcome may be
// unknown), false for an error the server reported on a live connection.
bool IsConnectionLoss(const std::exception& e);

// `e` as a Status: kUnavailable for a connection loss, kInternal otherwise; prefixed with `what`.
Status FromException(const std::exception& e, std::string_view what);

// PostgreSQL array literals, for passing a whole column of rows as one parameter (unnest).
class ArrayLiteral {
 public:
  void Add(std::string_view text);
  void Add(const std::string& text) { Add(std::string_view(text)); }
  void Add(double v);  // NaN as NULL
  template <typename T>
    requires std::is_integral_v<T>
  void Add(T v) {
    AddInteger(static_cast<int64_t>(v));
  }
  void AddNull();
  std::string Take();

 private:
  void AddInteger(int64_t v);
  void Sep();
  std::string s_ = "{";
  bool empty_ = true;
};

}  // namespace drover::postgres
