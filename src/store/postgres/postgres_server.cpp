#include "store/postgres/postgres_server.h"

#include <libpq-fe.h>

#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace drover::postgres {
namespace {

std::string Quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// A failed connection attempt that a server restart explains, worth retrying.
bool IsTransientConnectFailure(std::string_view message) {
  if (!Contains(message, "FATAL")) return true;  // refused, no socket, timeout: nothing answered
  return Contains(message, "starting up") || Contains(message, "shutting down") ||
         Contains(message, "not yet accepting connections") || Contains(message, "not accepting connections") ||
         Contains(message, "in recovery") || Contains(message, "terminating connection") ||
         Contains(message, "too many clients") ||
         Contains(message, "remaining connection slots");
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

}  // namespace

Result<Server> Server::Parse(const std::string& connection, std::string password) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(connection.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr ? Trimmed(error) : "out of memory";
    if (error != nullptr) PQfreemem(error);
    return InvalidArgument(fmt::format("PostgreSQL connection string: {}", message));
  }
  Server server;
  std::string user, host, port;
  bool has_password = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->val[0] == '\0') continue;
    std::string key = o->keyword;
    if (key == "password") {
      has_password = true;
      continue;
    }
    if (key == "dbname") continue;
    if (key == "user") user = o->val;
    if (key == "host") host = o->val;
    if (key == "hostaddr" && host.empty()) host = o->val;
    if (key == "port") port = o->val;
    server.params_.emplace_back(std::move(key), o->val);
  }
  PQconninfoFree(options);
  if (has_password) {
    return InvalidArgument(
        "PostgreSQL connection string: it contains a password; give the password separately (it must not "
        "appear on command lines or in files)");
  }
  bool has_timeout = false;
  for (const auto& [k, v] : server.params_) has_timeout |= k == "connect_timeout";
  if (!has_timeout) server.params_.emplace_back("connect_timeout", "5");
  server.params_.emplace_back("application_name", "drover");
  server.password_ = std::move(password);
  server.describe_ = fmt::format("{}@{}:{}", user.empty() ? "(default user)" : user,
                                 host.empty() ? "(default host)" : host, port.empty() ? "5432" : port);
  return server;
}

Result<std::unique_ptr<Connection>> Server::Connect(const std::string& dbname, int wait_ms) const {
  std::string conninfo;
  for (const auto& [k, v] : params_) conninfo += fmt::format("{}={} ", k, Quoted(v));
  conninfo += "dbname=" + Quoted(dbname);
  if (!password_.empty()) conninfo += " password=" + Quoted(password_);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, wait_ms));
  auto pause = std::chrono::milliseconds(50);
  for (;;) {
    std::string failure;
    try {
      auto conn = std::make_unique<pqxx::connection>(conninfo);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // deprecated in 6.4, but 6.4 still reactivates
      conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
      return std::make_unique<Connection>(conn.release(), [](pqxx::connection_base* c) {
        try {
          delete static_cast<pqxx::connection*>(c);
        } catch (...) {  // closing a broken connection must not throw out of a destructor
        }
      });
    } catch (const std::exception& e) {
      failure = Trimmed(e.what());
    }
    const std::string what = fmt::format("connecting to PostgreSQL database {} as {}", dbname, describe_);
    if (Contains(failure, "does not exist") && Contains(failure, "database")) {
      return NotFound(fmt::format("{}: {}", what, failure));
    }
    if (Contains(failure, "authentication failed") || Contains(failure, "no pg_hba.conf entry") ||
        Contains(failure, "no password supplied")) {
      return Unauthenticated(fmt::format("{}: {}", what, failure));
    }
    if (!IsTransientConnectFailure(failure)) return FailedPrecondition(fmt::format("{}: {}", what, failure));
    if (std::chrono::steady_clock::now() + pause > deadline) {
      return Unavailable(fmt::format("{} (waited {} ms): {}", what, wait_ms, failure));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

bool IsConnectionLoss(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) return true;
    if (state.empty()) {
      std::string_view what = e.what();
      return Contains(what, "server closed the connection") || Contains(what, "no connection to the server") ||
             Contains(what, "terminating connection") || Contains(what, "connection to server");
    }
  }
  return false;
}

Status FromException(const std::exception& e, std::string_view what) {
  std::string message = Trimmed(e.what());
  if (IsConnectionLoss(e)) return Unavailable(fmt::format("{}: lost the connection to PostgreSQL: {}", what, message));
  return Internal(fmt::format("{}: {}", what, message));
}

void ArrayLiteral::Sep() {
  if (!empty_) s_.push_back(',');
  empty_ = false;
}

void ArrayLiteral::Add(std::string_view text) {
  Sep();
  s_.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') s_.push_back('\\');
    s_.push_back(c);
  }
  s_.push_back('"');
}

void ArrayLiteral::AddInteger(int64_t v) {
  Sep();
  fmt::format_to(std::back_inserter(s_), "{}", v);
}

void ArrayLiteral::Add(double v) {
  if (std::isnan(v)) return AddNull();
  Sep();
  if (std::isinf(v)) {
    s_ += v > 0 ? "Infinity" : "-Infinity";
  } else {
    fmt::format_to(std::back_inserter(s_), "{}", v);
  }
}

void ArrayLiteral::AddNull() {
  Sep();
  s_ += "NULL";
}

std::string ArrayLiteral::Take() {
  s_.push_back('}');
  std::string out = std::move(s_);
  s_ = "{";
  empty_ = true;
  return out;
}

}  // namespace drover::postgres
