#include "store/postgres/postgres_testing.h"

#include <arpa/inet.h>
#include <signal.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace drover::testing {
namespace {

constexpr const char* kBin = "/usr/lib/postgresql/15/bin";

std::string RandomHex(int bytes) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

Result<int> FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Internal("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  if (port == 0) return Internal("no free loopback port");
  return port;
}

}  // namespace

std::string TestPostgresServer::MissingBinaries() {
  for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
    std::string path = fmt::format("{}/{}", kBin, tool);
    if (::access(path.c_str(), X_OK) != 0) {
      return fmt::format("PostgreSQL 15 is not installed ({} is missing; scripts/install-deps.sh installs it)", path);
    }
  }
  if (::geteuid() == 0 && ::getpwnam("postgres") == nullptr) {
    return "running as root but there is no 'postgres' user to run the PostgreSQL server as";
  }
  return "";
}

bool TestPostgresServer::Required() {
  const char* v = std::getenv("DROVER_REQUIRE_POSTGRES");
  return v != nullptr && std::string(v) == "1";
}

Status TestPostgresServer::RunAsOwner(const std::vector<std::string>& argv, const std::string& what) const {
  const std::string log = dir_ + "/commands.log";
  pid_t pid = ::fork();
  if (pid < 0) return Internal(fmt::format("{}: fork failed", what));
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in >= 0) ::dup2(null_in, 0);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) _exit(126);
    if (::chdir(dir_.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    return Internal(fmt::format("{} failed (status {}): {}", what, status, text));
  }
  return Status::Ok();
}

Status TestPostgresServer::StartGuardian() {
  // Everything the child needs is prepared here: after fork() it only makes system calls.
  // Nothing left after a normal end. After a crash, a pg_ctl start the test had under way may still
  // bring the server up: stop it more than once. From /: pg_ctl, run as postgres, fails in a current
  // directory that user cannot enter (the test's, in a checkout under /root).
  const std::string script = fmt::format(
      "cd / && [ -d '{2}' ] || exit 0; for i in 1 2 3; do '{0}/pg_ctl' -D '{1}' -m immediate -w stop >/dev/null 2>&1; "
      "sleep 1; done; rm -rf '{2}'",
      kBin, data_, dir_);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Internal("pipe2 failed");
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Internal("fork failed");
  }
  if (pid == 0) {
    ::setsid();  // out of the test's process group: a Ctrl-C or group kill of the tests leaves it
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    ::close(fds[1]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) _exit(126);
    char c;
    while (::read(fds[0], &c, 1) != 0 && errno == EINTR) {
    }
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(fds[0]);
  guardian_pipe_ = fds[1];
  guardian_ = pid;
  return Status::Ok();
}

Result<std::unique_ptr<TestPostgresServer>> TestPostgresServer::Start() {
  if (std::string missing = MissingBinaries(); !missing.empty()) return FailedPrecondition(missing);
  std::unique_ptr<TestPostgresServer> s(new TestPostgresServer());
  char tmpl[] = "/tmp/drover-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Internal("mkdtemp failed");
  s->dir_ = tmpl;
  s->data_ = s->dir_ + "/data";
  s->socket_ = s->dir_;
  s->uid_ = ::geteuid();
  s->gid_ = ::getegid();
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    s->uid_ = pw->pw_uid;
    s->gid_ = pw->pw_gid;
    if (::chown(s->dir_.c_str(), s->uid_, s->gid_) != 0) return Internal("chown of the server directory failed");
  }
  ::chmod(s->dir_.c_str(), 0755);
  ASSIGN_OR_RETURN(s->port_, FreeLoopbackPort());
  s->superuser_password_ = RandomHex(12);
  s->password_ = "pw-" + RandomHex(12);

  const std::string pwfile = s->dir_ + "/superuser.pw";
  {
    std::ofstream out(pwfile);
    out << s->superuser_password_ << "\n";
  }
  if (::geteuid() == 0 && ::chown(pwfile.c_str(), s->uid_, s->gid_) != 0) return Internal("chown failed");
  RETURN_IF_ERROR(s->RunAsOwner({fmt::format("{}/initdb", kBin), "-D", s->data_, "-U", "postgres", "--pwfile",
                                 pwfile, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                                "initdb"));
  ::unlink(pwfile.c_str());
  {
    std::ofstream conf(s->data_ + "/postgresql.conf", std::ios::app);
    conf << fmt::format(
        "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n"
        "max_prepared_transactions = 16\nmax_connections = 40\nshared_buffers = 16MB\n"
        "fsync = off\nfull_page_writes = off\nlog_min_messages = warning\n",
        s->port_, s->socket_);
  }
  RETURN_IF_ERROR(s->StartGuardian());
  RETURN_IF_ERROR(s->StartAgain());
  RETURN_IF_ERROR(s->Query("postgres", fmt::format("CREATE ROLE drover LOGIN CREATEDB PASSWORD '{}'", s->password_))
                      .status());
  return s;
}

TestPostgresServer::~TestPostgresServer() {
  if (running_) (void)Stop(/*immediate=*/true);
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  if (guardian_pipe_ >= 0) {
    ::close(guardian_pipe_);  // the guardian finds nothing left to clean up and exits
    int status = 0;
    (void)::waitpid(guardian_, &status, 0);  // may already be reaped by a process-wide reaper
  }
}

PostgresOptions TestPostgresServer::Options(const std::string& prefix) const {
  PostgresOptions o;
  o.connection = Url();
  o.password = password_;
  o.prefix = prefix;
  return o;
}

std::string TestPostgresServer::Url() const { return fmt::format("postgresql://drover@127.0.0.1:{}", port_); }

std::string TestPostgresServer::SuperuserConnection(const std::string& database) const {
  return fmt::format("host='{}' port={} user=postgres dbname='{}' password='{}'", socket_, port_, database,
                     superuser_password_);
}

Result<std::string> TestPostgresServer::Query(const std::string& database, const std::string& sql) const {
  try {
    pqxx::connection conn(SuperuserConnection(database));
    pqxx::nontransaction tx(conn);
    auto r = tx.exec(sql);
    if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return std::string();
    return std::string(r[0][0].c_str());
  } catch (const std::exception& e) {
    return Internal(fmt::format("superuser query in {}: {}", database, e.what()));
  }
}

Status TestPostgresServer::Stop(bool immediate) {
  Status st = RunAsOwner({fmt::format("{}/pg_ctl", kBin), "-D", data_, "-m", immediate ? "immediate" : "fast", "-w",
                          "-t", "60", "stop"},
                         "pg_ctl stop");
  if (st.ok()) running_ = false;
  return st;
}

Status TestPostgresServer::StartAgain() {
  RETURN_IF_ERROR(RunAsOwner({fmt::format("{}/pg_ctl", kBin), "-D", data_, "-l", dir_ + "/server.log", "-w", "-t",
                              "60", "start"},
                             "pg_ctl start"));
  running_ = true;
  return Status::Ok();
}

Status TestPostgresServer::Restart() {
  RETURN_IF_ERROR(Stop());
  return StartAgain();
}

Result<TestPostgresServer*> SharedTestPostgresServer() {
  static Result<std::unique_ptr<TestPostgresServer>> server = TestPostgresServer::Start();
  if (!server.ok()) return server.status();
  return server->get();
}

}  // namespace drover::testing
