// An MPI program across two compute nodes: Open MPI's daemons are started on the task's other
// node through the head node and that node's agent (drover agent-exec as the rsh agent), never ssh.
#include <gtest/gtest.h>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "os/files.h"
#include "test/cli_fixture.h"
#include "test/harness.h"
#include "test/other_user.h"
#include "test/test_util.h"
#include "common/test_skips.h"

namespace drover::testing {
namespace {
namespace json = boost::json;

constexpr const char* kProgram = R"(#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size, sum = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int mine = rank + 1;
  MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  const char* node = getenv("DROVER_NODE");
  printf("rank %d on %s\n", rank, node ? node : "?");
  fflush(stdout);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) printf("size=%d sum=%d\n", size, sum);
  MPI_Finalize();
  return 0;
}
)";

// A token passed once round the ranks, then an allreduce: point-to-point and collective traffic,
// between ranks on one node and across the two.
constexpr const char* kRing = R"(#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size, token = 0, sum = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank != 0) MPI_Recv(&token, 1, MPI_INT, rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  token += rank;
  MPI_Send(&token, 1, MPI_INT, (rank + 1) % size, 0, MPI_COMM_WORLD);
  if (rank == 0) MPI_Recv(&token, 1, MPI_INT, size - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  int mine = rank + 1;
  MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  const char* node = getenv("DROVER_NODE");
  printf("rank %d on %s\n", rank, node ? node : "?");
  fflush(stdout);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) printf("size=%d sum=%d ring=%d\n", size, sum, token);
  MPI_Finalize();
  return 0;
}
)";

std::string MpiCompiler() {
  std::string mpicc = DROVER_MPICC;
  return mpicc.find("NOTFOUND") != std::string::npos ? "" : mpicc;
}

TEST(Mpi, AllreduceAcrossTwoNodes) {
  std::string mpicc = MpiCompiler();
  if (mpicc.empty()) DROVER_SKIP() << "Open MPI is not installed (scripts/install-deps.sh installs it)";
  TestCluster cluster({.nodes = 2, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir() + "/mpi";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  ASSERT_TRUE(os::WriteFileAtomic(work + "/allreduce.c", kProgram, 0644).ok());
  ASSERT_EQ(std::system(fmt::format("cd {} && {} -o allreduce allreduce.c", work, mpicc).c_str()), 0);

  auto spec = ShellJob(work, fmt::format("{} mpi-launch -- mpirun -n 4 ./allreduce", DroverBinary()));
  auto& task = spec["task"].as_object();
  task["nodes"] = 2;           // one task holding two nodes (-N 2)
  task["tasks_per_node"] = 2;  // two ranks of one core on each: the hostfile says slots=2
  task["stdout"] = "mpi.out";
  task["stderr"] = "mpi.err";
  auto& env = task["env"].as_object();
  // Nothing of Open MPI's is set: its defaults must work, and as root mpi-launch allows root.
  env["HOME"] = work;
  int64_t id = cluster.Submit(spec);
  auto job = cluster.WaitForJob(id, 120000);
  std::string out;
  for (const auto& line : ReadLines(work + "/mpi.out")) out += line + "\n";
  ASSERT_EQ(job.at("state"), "Finished") << json::serialize(job) << "\n" << out;
  auto lines = ReadLines(work + "/mpi.out");
  EXPECT_NE(std::find(lines.begin(), lines.end(), "size=4 sum=10"), lines.end()) << out;
  std::set<std::string> nodes;
  for (const auto& l : lines) {
    if (l.rfind("rank ", 0) == 0) nodes.insert(l.substr(l.rfind(' ') + 1));
  }
  EXPECT_EQ(nodes, (std::set<std::string>{cluster.NodeName(0), cluster.NodeName(1)})) << out;
  if (::geteuid() == 0) {
    auto err = ReadLines(work + "/mpi.err");
    EXPECT_EQ(std::count(err.begin(), err.end(), "drover mpi-launch: warning: running Open MPI as root (this task's user)"), 1)
        << "one warning";
  }
  // The launcher's allocation covered both nodes; their cores are free again.
  auto after = cluster.Get("/api/v1/nodes");
  for (const auto& n : after.at("nodes").as_array()) EXPECT_EQ(n.at("cores_used").to_number<int64_t>(), 0) << n;
}

// As the README tells users: `drover up` brings up the default cluster, root adds a member, and
// the member, in a login shell with nothing of Open MPI's set, compiles a program and runs
// `drover mpirun -N 2 -n 4` on it.
class MpiAsMember : public CliTest {};

TEST_F(MpiAsMember, MpirunOnTheDefaultCluster) {
  std::string mpicc = MpiCompiler();
  if (mpicc.empty()) DROVER_SKIP() << "Open MPI is not installed (scripts/install-deps.sh installs it)";
  if (::geteuid() != 0) DROVER_SKIP() << "needs root: creates a Unix user";
  std::string user = fmt::format("drvmpi{}", ::getpid() % 100000);
  ASSERT_EQ(std::system(fmt::format("useradd -m -s /bin/sh {} 2>/dev/null", user).c_str()), 0);
  struct Cleanup {
    std::string user;
    ~Cleanup() { (void)std::system(fmt::format("userdel -r {} 2>/dev/null", user).c_str()); }
  } cleanup{user};
  const passwd* pw = ::getpwnam(user.c_str());
  ASSERT_NE(pw, nullptr);
  std::string user_home = pw->pw_dir;

  // The member reaches the stack's hosts file and a copy of the binary under DROVER_HOME.
  ::chmod(home_.c_str(), 0711);
  std::string drover = DroverForOtherUsers(home_);
  auto up = Drover("up");
  ASSERT_EQ(up.code, 0) << up.out;
  auto added = Drover("member add " + user + " --role User");
  ASSERT_EQ(added.code, 0) << added.out;
  ASSERT_TRUE(os::Exists(user_home + "/.drover/credentials/client.crt")) << added.out;

  auto as_member = [&](const std::string& command) {
    EXPECT_TRUE(os::WriteFileAtomic(home_ + "/member.sh", command + "\n", 0755).ok());
    return Shell(fmt::format("su - -s /bin/sh {} -c 'sh {}/member.sh'", user, home_));
  };
  ASSERT_TRUE(os::WriteFileAtomic(user_home + "/ring.c", kRing, 0644).ok());
  ASSERT_EQ(::chown((user_home + "/ring.c").c_str(), pw->pw_uid, pw->pw_gid), 0);
  // What an earlier cluster's job 1 left behind, owned by someone else, is not in the way.
  std::vector<std::string> left = {"/tmp/drover-ompi.1.compute-001", "/dev/shm/drover-ompi.1.compute-002"};
  for (const auto& d : left) ASSERT_TRUE(os::MakeDirs(d, 0755).ok()) << d;
  struct RemoveLeft {
    std::vector<std::string> dirs;
    ~RemoveLeft() {
      for (const auto& d : dirs) ::rmdir(d.c_str());
    }
  } remove_left{left};
  // `env` shows what the member's shell has set: nothing of Open MPI's may be there. Ranks that
  // collide on shared memory spin forever: the time limit ends them.
  Output ran = as_member(fmt::format("env; {} -o ring ring.c && {} mpirun -N 2 -n 4 -t 2 -- ./ring", mpicc, drover));
  ASSERT_EQ(ran.code, 0) << ran.out;
  EXPECT_EQ(ran.out.find("OMPI_"), std::string::npos) << ran.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(ran.out, m, std::regex("\n([0-9]+)\n$"))) << "no job id:\n" << ran.out;
  std::string id = m[1];
  Output waited = as_member(fmt::format("{} job wait {} && {} job show {}", drover, id, drover, id));
  std::string out;
  for (const auto& line : ReadLines(fmt::format("{}/drover-{}.out", user_home, id))) out += line + "\n";
  ASSERT_EQ(waited.code, 0) << waited.out << out;
  EXPECT_NE(waited.out.find("Finished"), std::string::npos) << waited.out;
  EXPECT_NE(out.find("size=4 sum=10 ring=6\n"), std::string::npos) << out;
  std::set<std::string> nodes;
  for (const auto& l : ReadLines(fmt::format("{}/drover-{}.out", user_home, id))) {
    if (l.rfind("rank ", 0) == 0) nodes.insert(l.substr(l.rfind(' ') + 1));
  }
  EXPECT_EQ(nodes.size(), 2u) << "the ranks ran on both compute nodes:\n" << out;
  struct stat st;
  ASSERT_EQ(::stat(fmt::format("{}/drover-{}.out", user_home, id).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, pw->pw_uid) << "the job ran as the member";
  // The daemons printed nothing and succeeded: nothing of theirs is left in the member's directory.
  for (const auto& name : os::ListDir(user_home)) EXPECT_EQ(name.find(".exec."), std::string::npos) << name;
}

TEST(Mpi, AgentExecIsRefusedWithoutTheTasksToken) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 1});
  cluster.StartAll();
  std::string work = cluster.dir();
  // A multi-node task that stays up, and an outsider who knows its ids but not its token.
  auto spec = ShellJob(work, "echo $DROVER_NODELIST > nodelist; sleep 60 & wait");
  spec["task"].as_object()["nodes"] = 2;
  int64_t id = cluster.Submit(spec);
  ASSERT_TRUE(TestCluster::Eventually([&] { return os::Exists(work + "/nodelist"); }, 20000));
  std::string list = ReadLines(work + "/nodelist").at(0);
  EXPECT_TRUE(list == cluster.NodeName(0) + "," + cluster.NodeName(1) ||
              list == cluster.NodeName(1) + "," + cluster.NodeName(0))
      << list;
  std::string other = cluster.NodeName(1);
  net::TlsIdentity anonymous;
  anonymous.ca_cert_pem = cluster.AdminTls().ca_cert_pem;
  auto r = cluster.Raw("POST", "/api/v1/exec",
                       json::serialize(json::object{{"job", id}, {"task", 1}, {"token", "guess"}, {"host", other},
                                                    {"command", "touch " + work + "/intruded"}}),
                       anonymous);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_FALSE(os::Exists(work + "/intruded"));
  cluster.Post(fmt::format("/api/v1/jobs/{}/cancel", id), json::object{});
  cluster.WaitForJob(id);
}

}  // namespace
}  // namespace drover::testing
