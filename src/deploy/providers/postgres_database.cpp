// Drover::Database with Engine postgresql. Managed (no Host given): the provider runs a PostgreSQL 15
// server for the stack as an instance of its own (a host on the netns provider), as the unprivileged
// `postgres` user, with its data directory kept by the resource: recreating the instance reattaches
// the databases (the seed's CREATE DATABASE ... FOR ATTACH). It creates the service account and the
// five databases, and signals ready only when the head node's store opens them. External (Host
// given): an existing server, reached with the service account.
//
// The service account's password is a {{resolve:secret:/name}} reference: the provider reads it from
// the secret store when it sets the password; the head node reads it from the store by name.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "deploy/providers/basic_providers.h"
#include "deploy/providers/local_instance.h"
#include "deploy/providers/postgres_database.h"
#include "os/daemon.h"
#include "os/files.h"
#include "store/postgres/postgres_store.h"

namespace drover::deploy {
namespace json = boost::json;

namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";
constexpr int kPort = 5432;
constexpr int kReadyTimeoutMs = 60000;

struct ServerUser {
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<ServerUser> PostgresUser() {
  struct passwd* pw = ::getpwnam("postgres");
  if (!pw) return FailedPrecondition("a managed PostgreSQL server runs as the user 'postgres', which does not exist "
                                     "(install the Debian package postgresql-15)");
  return ServerUser{pw->pw_uid, pw->pw_gid};
}

// Runs argv as the postgres user, optionally inside a network namespace, feeding `input` on stdin;
// output goes to `log`. Fails with the command's exit status.
Status RunAsPostgres(const Instance& instance, std::vector<std::string> argv, const std::string& input,
                     const std::string& log) {
  std::vector<std::string> full = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  if (!instance.netns.empty()) full.insert(full.begin(), {"/usr/sbin/ip", "netns", "exec", instance.netns});
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Unavailable("pipe failed");
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (::chdir("/") != 0) ::_exit(126);
    std::vector<char*> args;
    for (auto& a : full) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  if (out >= 0) ::close(out);
  if (!input.empty() && ::write(in[1], input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    ::close(in[1]);
    ::waitpid(pid, nullptr, 0);
    return Unavailable(fmt::format("{} did not take its input", argv[0]));
  }
  ::close(in[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  return FailedPrecondition(fmt::format("{} failed (status {}); see {}", argv[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1, log));
}

std::string Quote(const std::string& s, char q) {
  std::string out(1, q);
  for (char c : s) {
    if (c == q) out += q;
    out += c;
  }
  return out + q;
}

std::string Prefix(const ResourceOp& op) {
  std::string p = StringProp(op.properties, "DatabasePrefix");
  if (p.empty()) {
    for (char c : op.stack.stack()) p += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
  }
  return p;
}

// ServiceAccountPassword is a dynamic reference, {{resolve:secret:/name}}, or the name of a secret
// (what !Ref of a Drover::Secret gives).
Result<SecretReference> PasswordReference(const ResourceOp& op) {
  std::string text = StringProp(op.properties, "ServiceAccountPassword");
  if (!text.empty() && text[0] == '/') return SecretReference{text, std::nullopt};
  auto refs = FindSecretReferences(text);
  if (refs.size() != 1 || text.rfind("{{resolve:secret:", 0) != 0 || text.back() != '}') {
    return InvalidArgument(fmt::format(
        "{}: ServiceAccountPassword must be a secret: {{{{resolve:secret:/name}}}} or !Ref of a Drover::Secret; a "
        "password is never written in a template", op.name));
  }
  return refs.front();
}

Result<std::string> ReadPassword(ResourceOp& op, const SecretReference& ref) {
  ASSIGN_OR_RETURN(secrets::SecretStore * store, op.stack.Secrets());
  auto value = store->Get(ref.name, ref.version);
  if (!value.ok()) return value.status().WithContext(fmt::format("{}: the service account's password", op.name));
  return value;
}

std::string DataDir(const ResourceOp& op) { return os::JoinPath(op.stack.paths().ResourceDir(op.name), "pgdata"); }

// Opens the five databases as the head node will: creates or attaches them, migrating forward.
Status OpenStores(ResourceOp& op, const std::string& host, int port, const std::string& account,
                  const std::string& password, const std::string& prefix) {
  PostgresOptions options;
  options.connection = fmt::format("postgresql://{}@{}:{}", account, host, port);
  options.password = password;
  options.prefix = prefix;
  ASSIGN_OR_RETURN(auto store, OpenPostgresStore(options));
  ASSIGN_OR_RETURN(auto versions, store->SchemaVersions());
  ASSIGN_OR_RETURN(JobId max_job, store->MaxJobId());
  std::string detail;
  for (const auto& [name, v] : versions) detail += fmt::format("{}{} v{}", detail.empty() ? "" : ", ", name, v);
  op.stack.Event(op.name, op.stack.WithState([&](StackState& s) { return s.Find(op.name)->status; }),
                 fmt::format("databases {}_* ready on {}:{} ({}; last job {})", prefix, host, port, detail, max_job));
  return Status::Ok();
}

// The server runs as `postgres`: every directory above its data and socket directories must let it pass.
Status CheckReachable(const std::string& path) {
  std::filesystem::path p(path);
  for (auto dir = p.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) continue;
    if (!(st.st_mode & S_IXOTH)) {
      return FailedPrecondition(fmt::format(
          "the managed PostgreSQL server runs as the user postgres, which cannot enter {} (mode {:o}); let it pass "
          "(chmod o+x {}) or put DROVER_HOME somewhere it can reach",
          dir.string(), st.st_mode & 07777, dir.string()));
    }
  }
  return Status::Ok();
}

// Starts the managed server on `instance` (its data directory initialized when new) and sets up the
// account and databases.
Status StartManaged(ResourceOp& op, const Instance& instance) {
  ASSIGN_OR_RETURN(ServerUser pg, PostgresUser());
  ASSIGN_OR_RETURN(SecretReference ref, PasswordReference(op));
  ASSIGN_OR_RETURN(std::string password, ReadPassword(op, ref));
  std::string account = StringProp(op.properties, "ServiceAccount", "drover");
  std::string data = DataDir(op);
  std::string log = os::JoinPath(instance.dir, "setup.log");
  RETURN_IF_ERROR(CheckReachable(instance.dir));
  RETURN_IF_ERROR(CheckReachable(data));
  if (::chown(instance.dir.c_str(), pg.uid, pg.gid) != 0) return Unavailable(fmt::format("cannot chown {}", instance.dir));

  if (!os::Exists(os::JoinPath(data, "PG_VERSION"))) {
    RETURN_IF_ERROR(os::MakeDirs(data, 0700));
    if (::chown(data.c_str(), pg.uid, pg.gid) != 0) return Unavailable(fmt::format("cannot chown {}", data));
    RETURN_IF_ERROR(RunAsPostgres(instance, {fmt::format("{}/initdb", kBin), "-D", data, "-U", "postgres",
                                             "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8"},
                                  "", log));
    op.stack.Progress(op.name, fmt::format("initialized a new PostgreSQL data directory {}", data));
  } else {
    op.stack.Progress(op.name, fmt::format("reattaching the PostgreSQL data directory {}", data));
  }
  // Accounts log in with their password from the stack's addresses (the bridge or loopback).
  std::string hba = os::JoinPath(data, "pg_hba.conf");
  ASSIGN_OR_RETURN(std::string hba_text, os::ReadFile(hba));
  const std::string line = "host all all 0.0.0.0/0 scram-sha-256\n";
  if (hba_text.find(line) == std::string::npos) {
    RETURN_IF_ERROR(os::WriteFileAtomic(hba, hba_text + line, 0600));
    if (::chown(hba.c_str(), pg.uid, pg.gid) != 0) return Unavailable(fmt::format("cannot chown {}", hba));
  }

  if (std::string script = StringProp(op.properties, "BootScript"); !script.empty()) {
    ASSIGN_OR_RETURN(std::string resolved, op.stack.ResolveSecrets(script));
    RETURN_IF_ERROR(RunBootScript(instance, resolved,
                                  {{"DROVER_STACK", op.stack.stack()}, {"DROVER_RESOURCE", op.name},
                                   {"DROVER_INSTANCE", instance.id}, {"DROVER_ADDRESS", instance.address}},
                                  kReadyTimeoutMs));
  }
  std::vector<std::string> argv = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
                                   fmt::format("{}/postgres", kBin), "-D", data,
                                   "-c", "listen_addresses=" + instance.address,
                                   "-c", fmt::format("port={}", kPort),
                                   "-c", "unix_socket_directories=" + instance.dir,
                                   "-c", "max_prepared_transactions=32"};
  ASSIGN_OR_RETURN(pid_t pid, op.stack.SpawnDaemon(instance, argv, DaemonLog(instance), PidFile(instance)));
  op.stack.Progress(op.name, fmt::format("PostgreSQL starting on {}:{} (pid {})", instance.address, kPort, pid));

  std::vector<std::string> psql = {fmt::format("{}/psql", kBin), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                                   instance.dir, "-p", std::to_string(kPort), "-U", "postgres", "-d", "postgres"};
  Status ready = WaitUntil(kReadyTimeoutMs, [&]() -> Status {
    if (!os::RunningDaemon(PidFile(instance), "postgres")) {
      return FailedPrecondition(fmt::format("PostgreSQL exited; see {}", DaemonLog(instance)));
    }
    Status st = RunAsPostgres(instance, psql, "SELECT 1;\n", log);
    return st.ok() ? st : Unavailable("not accepting connections yet");
  });
  if (!ready.ok()) return ready.WithContext(op.name);

  std::string role = Quote(account, '"');
  std::string sql = fmt::format(
      "SELECT 'CREATE ROLE {0} LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {1})\\gexec\n"
      "ALTER ROLE {0} WITH LOGIN CREATEDB PASSWORD {2};\n",
      role, Quote(account, '\''), Quote(password, '\''));
  for (const char* store : {"management", "scheduler", "reporting", "diagnostics", "monitoring"}) {
    std::string db = fmt::format("{}_{}", Prefix(op), store);
    sql += fmt::format("SELECT 'CREATE DATABASE {0} OWNER {1}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE "
                       "datname = {2})\\gexec\n",
                       Quote(db, '"'), role, Quote(db, '\''));
  }
  // The password goes through psql's standard input, never its command line.
  RETURN_IF_ERROR(RunAsPostgres(instance, psql, sql, log).WithContext("creating the service account and databases"));
  RETURN_IF_ERROR(OpenStores(op, instance.address, kPort, account, password, Prefix(op)));
  json::object attributes{{"Ref", op.name},
                          {"Engine", "postgresql"},
                          {"Endpoint", fmt::format("postgresql://{}@{}:{}/{}", account, instance.address, kPort, Prefix(op))},
                          {"Address", instance.address},
                          {"Port", kPort},
                          {"PasswordSecret", ref.name},
                          {"DataPath", data}};
  op.stack.WithState([&](StackState& s) { s.Find(op.name)->attributes = attributes; });
  return Status::Ok();
}

}  // namespace

Status PostgresCreate(ResourceOp& op) {
  ASSIGN_OR_RETURN(SecretReference ref, PasswordReference(op));
  std::string host = StringProp(op.properties, "Host");
  if (!host.empty()) {  // an existing server
    ASSIGN_OR_RETURN(std::string password, ReadPassword(op, ref));
    std::string account = StringProp(op.properties, "ServiceAccount", "drover");
    int port = static_cast<int>(IntProp(op.properties, "Port", kPort));
    RETURN_IF_ERROR(OpenStores(op, host, port, account, password, Prefix(op)));
    json::object attributes{{"Ref", op.name},
                            {"Engine", "postgresql"},
                            {"Endpoint", fmt::format("postgresql://{}@{}:{}/{}", account, host, port, Prefix(op))},
                            {"Address", host},
                            {"Port", port},
                            {"PasswordSecret", ref.name}};
    op.stack.WithState([&](StackState& s) { s.Find(op.name)->attributes = attributes; });
    return Status::Ok();
  }
  RETURN_IF_ERROR(PostgresDelete(op, /*retain=*/true));  // leftovers of a failed attempt
  ASSIGN_OR_RETURN(Instance instance, op.stack.NewInstance(op.name, "db"));
  op.stack.WithState([&](StackState& s) { s.Find(op.name)->instances = {instance}; });
  return StartManaged(op, instance);
}

Status PostgresDelete(ResourceOp& op, bool retain) {
  auto instances = op.stack.WithState([&](StackState& s) {
    ResourceState* r = s.Find(op.name);
    auto out = r->instances;
    r->instances.clear();
    return out;
  });
  std::error_code ec;
  for (const auto& i : instances) {
    RETURN_IF_ERROR(os::StopDaemon(PidFile(i), "postgres", 20000));
    RETURN_IF_ERROR(op.stack.ReleaseInstance(i));
    op.stack.RemoveInstanceDir(i);
  }
  if (!retain) std::filesystem::remove_all(DataDir(op), ec);
  return Status::Ok();
}

Result<bool> PostgresRepair(ResourceOp& op) {
  if (!StringProp(op.properties, "Host").empty()) return false;
  auto instances = op.stack.WithState([&](StackState& s) { return s.Find(op.name)->instances; });
  if (instances.empty() || os::RunningDaemon(PidFile(instances.front()), "postgres")) return false;
  op.stack.Event(op.name, "UPDATE_IN_PROGRESS", fmt::format("PostgreSQL on {} is down; restarting it", instances.front().id));
  Status st = StartManaged(op, instances.front());
  op.stack.Event(op.name, st.ok() ? "UPDATE_COMPLETE" : "UPDATE_FAILED",
                 st.ok() ? fmt::format("PostgreSQL restarted on {}", instances.front().id) : st.message());
  if (!st.ok()) return st;
  return true;
}

}  // namespace drover::deploy
