// An MPI program across two compute nodes: Open MPI's daemons are started on the task's other
// node through the head node and that node's agent (drover agent-exec as the rsh agent), never ssh.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "os/files.h"
#include "test/harness.h"
#include "test/test_util.h"

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

TEST(Mpi, AllreduceAcrossTwoNodes) {
  std::string mpicc = DROVER_MPICC;
  if (mpicc.empty() || mpicc.find("NOTFOUND") != std::string::npos) {
    GTEST_SKIP() << "Open MPI is not installed (scripts/install-deps.sh installs it)";
  }
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
  auto& env = task["env"].as_object();
  // Open MPI refuses root without these; nothing else is set: its defaults must work.
  env["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
  env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
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
  // The launcher's allocation covered both nodes; their cores are free again.
  auto after = cluster.Get("/api/v1/nodes");
  for (const auto& n : after.at("nodes").as_array()) EXPECT_EQ(n.at("cores_used").to_number<int64_t>(), 0) << n;
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
