// Deployment as code, as a user runs it: plan, up, an idempotent second up, an update that changes
// only what differs, rollback of a failed up, groups kept at size after kill -9, the seed's template.
#include <signal.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "deploy/stack_state.h"
#include "os/daemon.h"
#include "os/files.h"
#include "store/postgres/postgres_testing.h"
#include "test/cli_fixture.h"
#include "test/harness.h"
#include "test/test_util.h"
#include "common/test_skips.h"

namespace drover::testing {
namespace {

class Deploy : public CliTest {
 protected:
  pid_t InstancePid(const std::string& stack, const std::string& instance, const char* marker) {
    return os::RunningDaemon(fmt::format("{}/stacks/{}/instances/{}/daemon.pid", home_, stack, instance), marker);
  }
  std::string WriteTemplate(const std::string& name, const std::string& text) {
    std::string path = home_ + "/work/" + name;
    EXPECT_TRUE(os::WriteFileAtomic(path, text).ok());
    return path;
  }
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped).
bool Alive(pid_t pid) {
  auto stat = os::ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!stat.ok()) return false;
  auto paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

TEST_F(Deploy, PlanUpIdempotentUpdateDown) {
  auto plan = Drover("plan --nodes 2 --cores 1");
  ASSERT_EQ(plan.code, 0) << plan.out;
  EXPECT_TRUE(Contains(plan.out, "+ Database")) << plan.out;
  EXPECT_TRUE(Contains(plan.out, "5 to create, 0 to update, 0 to replace, 0 to delete")) << plan.out;

  auto up = Drover("up --nodes 2 --cores 1");
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_TRUE(Contains(up.out, "HeadNode         CREATE_COMPLETE")) << up.out;
  EXPECT_TRUE(Contains(up.out, "2/2 nodes Online")) << up.out;

  auto replan = Drover("plan --nodes 2 --cores 1");
  EXPECT_TRUE(Contains(replan.out, "0 to create, 0 to update, 0 to replace, 0 to delete, 5 unchanged")) << replan.out;
  auto grow_plan = Drover("plan --nodes 3 --cores 1");
  EXPECT_TRUE(Contains(grow_plan.out, "MinSize: 2 -> 3")) << grow_plan.out;
  EXPECT_TRUE(Contains(grow_plan.out, "0 to create, 1 to update")) << grow_plan.out;

  pid_t head = InstancePid("local", "head-001", "headnode");
  pid_t first = InstancePid("local", "compute-001", "computenode");
  pid_t second = InstancePid("local", "compute-002", "computenode");
  ASSERT_GT(head, 0);
  ASSERT_GT(first, 0);
  ASSERT_GT(second, 0);

  // Raising MinSize adds one node; the others keep their processes.
  auto grow = Drover("up --nodes 3 --cores 1");
  ASSERT_EQ(grow.code, 0) << grow.out;
  EXPECT_TRUE(Contains(grow.out, "3/3 nodes Online")) << grow.out;
  EXPECT_EQ(InstancePid("local", "head-001", "headnode"), head);
  EXPECT_EQ(InstancePid("local", "compute-001", "computenode"), first);
  EXPECT_EQ(InstancePid("local", "compute-002", "computenode"), second);
  EXPECT_GT(InstancePid("local", "compute-003", "computenode"), 0);
  auto status = Drover("status");
  EXPECT_TRUE(Contains(status.out, "Stack local: UP_COMPLETE")) << status.out;
  EXPECT_TRUE(Contains(status.out, "ComputeNodes = 3")) << status.out;
  auto logs = Drover("logs Compute --instance compute-003");
  EXPECT_TRUE(Contains(logs.out, "compute-003 booting at 127.")) << logs.out;

  auto down = Drover("down");
  ASSERT_EQ(down.code, 0) << down.out;
  EXPECT_TRUE(Contains(down.out, "Database         DELETE_SKIPPED")) << down.out;
  EXPECT_FALSE(Alive(head));
  EXPECT_FALSE(Alive(first));
  EXPECT_TRUE(Contains(Drover("status").out, "DOWN_COMPLETE"));
}

TEST_F(Deploy, KilledComputeNodeIsReplaced) {
  auto up = Drover("up --nodes 2 --cores 1 --heartbeat-timeout-ms 3000");
  ASSERT_EQ(up.code, 0) << up.out;
  pid_t victim = InstancePid("local", "compute-001", "computenode");
  ASSERT_GT(victim, 0);
  ::kill(victim, SIGKILL);
  ASSERT_TRUE(TestCluster::Eventually(
      [&] { return Contains(Drover("status").out, "replaced compute-001 by compute-003"); }, 30000))
      << Drover("status").out;
  ASSERT_TRUE(TestCluster::Eventually(
      [&] {
        auto nodes = Drover("nodes").out;
        return !Contains(nodes, "compute-001") && Contains(nodes, "compute-003");
      },
      30000))
      << Drover("nodes").out;
  auto run = Drover("run -n 2 -- sh -c 'echo ran'");
  EXPECT_EQ(run.code, 0) << run.out;
  auto status = Drover("status");
  EXPECT_TRUE(Contains(status.out, "compute-003 (127.")) << status.out;
}

constexpr const char* kFailingGroup = R"(
Resources:
  Database:
    Type: Drover::Database
    DeletionPolicy: Delete
    Properties: {Engine: sqlite}
  HeadNode:
    Type: Drover::HeadNode
    Properties:
      ClusterName: failing
      Database: !Ref Database
  Compute:
    Type: Drover::ComputeGroup
    CreationPolicy:
      ResourceSignal: {Timeout: PT30S}
    Properties:
      HeadNode: !Ref HeadNode
      MinSize: 1
      MaxSize: 2
      CoresPerNode: 1
      BootScript: |
        echo preparing the node
        exit 7
)";

TEST_F(Deploy, FailedUpRollsBack) {
  std::string path = WriteTemplate("failing.yaml", kFailingGroup);
  auto up = Drover("up " + path);
  EXPECT_NE(up.code, 0);
  EXPECT_TRUE(Contains(up.out, "Compute: the boot script of compute-001 exited with status 7")) << up.out;
  EXPECT_TRUE(Contains(up.out, "ROLLBACK_COMPLETE")) << up.out;
  // The log the error points at outlives the rollback, and holds what the script said.
  size_t see = up.out.rfind("; see ");
  ASSERT_NE(see, std::string::npos) << up.out;
  std::string log = up.out.substr(see + 6, up.out.find_first_of(" \n", see + 6) - see - 6);
  EXPECT_EQ(log, home_ + "/stacks/failing/instances/compute-001/boot.log");
  auto kept_log = os::ReadFile(log);
  ASSERT_TRUE(kept_log.ok()) << log << " is gone after the rollback";
  EXPECT_TRUE(Contains(*kept_log, "preparing the node")) << *kept_log;
  EXPECT_TRUE(os::Exists(home_ + "/stacks/failing/instances/head-001/daemon.log")) << "so is the head node's log";
  EXPECT_FALSE(os::Exists(home_ + "/stacks/failing/instances/compute-001/state")) << "the rest of the instance goes";
  auto status = Drover("status --stack failing");
  EXPECT_TRUE(Contains(status.out, "Stack failing: ROLLBACK_COMPLETE")) << status.out;
  EXPECT_EQ(InstancePid("failing", "head-001", "headnode"), 0) << "the head node this up started is stopped";

  // --no-rollback leaves it all for inspection, boot log included.
  auto kept = Drover("up --no-rollback " + path);
  EXPECT_NE(kept.code, 0);
  EXPECT_TRUE(Contains(Drover("status --stack failing").out, "UP_FAILED"));
  // head-001's directory still holds its kept log, so the new head node is the next instance.
  EXPECT_GT(InstancePid("failing", "head-002", "headnode"), 0);
  auto logs = Drover("logs Compute --stack failing");
  EXPECT_TRUE(Contains(logs.out, "preparing the node")) << logs.out;
  // What a failed up left is taken down like the rest.
  pid_t head = InstancePid("failing", "head-002", "headnode");
  auto down = Drover("down --stack failing");
  EXPECT_EQ(down.code, 0) << down.out;
  EXPECT_TRUE(TestCluster::Eventually([&] { return !Alive(head); }, 5000));
}

TEST_F(Deploy, InvalidTemplateStartsNothing) {
  std::string path = WriteTemplate("bad.yaml", R"(Resources:
  Head:
    Type: Drover::HeadNode
    Properties:
      ClusterName: bad
      Database: !Ref Missing
  Group:
    Type: Drover::Hed
)");
  auto up = Drover("up " + path);
  EXPECT_NE(up.code, 0);
  EXPECT_TRUE(Contains(up.out, "bad.yaml:6:")) << up.out;
  EXPECT_TRUE(Contains(up.out, "Missing")) << up.out;
  EXPECT_TRUE(Contains(up.out, "Drover::Hed")) << up.out;
  EXPECT_FALSE(os::Exists(home_ + "/stacks/bad/state.json"));
}

// A template names the provider it is written for; `up` and `plan` refuse another one before
// anything starts, and a provider name Drover does not know is an error at its line.
TEST_F(Deploy, TemplateWrittenForAProviderRefusesAnother) {
  std::string netns = fmt::format("{}/examples/netns.yaml", DROVER_SOURCE_DIR);
  for (const char* command : {"up", "plan"}) {
    auto refused = Drover(fmt::format("{} {} --provider local", command, netns));
    EXPECT_NE(refused.code, 0) << refused.out;
    EXPECT_TRUE(Contains(refused.out, "netns.yaml is written for the netns provider (Metadata.Drover.Provider, line "))
        << refused.out;
    EXPECT_TRUE(Contains(refused.out, "leave --provider out to run it on netns")) << refused.out;
  }
  EXPECT_FALSE(os::Exists(home_ + "/stacks/netns")) << "nothing of the stack was made";
  std::string unknown = WriteTemplate("cloudy.yaml", R"(Metadata:
  Drover:
    Provider: cloud
Resources:
  Database: {Type: Drover::Database, Properties: {Engine: sqlite}}
)");
  auto up = Drover("up " + unknown);
  EXPECT_NE(up.code, 0);
  EXPECT_TRUE(Contains(up.out, "cloudy.yaml:3:15: Metadata.Drover.Provider: unknown provider 'cloud'")) << up.out;
  EXPECT_FALSE(os::Exists(home_ + "/stacks/cloudy/state.json"));
}

TEST_F(Deploy, ConcurrentUpIsRefused) {
  auto lock = deploy::StackLock::Acquire(deploy::PathsFor(home_, "local"), "a test", false);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto up = Drover("up");
  EXPECT_NE(up.code, 0);
  EXPECT_TRUE(Contains(up.out, "stack is busy: a test")) << up.out;
  EXPECT_FALSE(os::Exists(home_ + "/stacks/local/state.json"));
}

TEST_F(Deploy, SeedTemplate) {
  auto up = Drover(fmt::format("up {}/examples/seed.yaml --param ComputeMin=1 --param CoresPerNode=1", DROVER_SOURCE_DIR));
  ASSERT_EQ(up.code, 0) << up.out;
  auto status = Drover("status --stack seed");
  EXPECT_TRUE(Contains(status.out, "HeadNodeUrl = https://seed.head.hpc.drover:")) << status.out;
  EXPECT_TRUE(Contains(status.out, "SqlPasswordSecret = /seed/sql/service-account-password")) << status.out;
  auto secrets = Drover("secret list");
  EXPECT_TRUE(Contains(secrets.out, "/seed/cluster-certificate-password")) << secrets.out;
  auto nodes = Drover("nodes");
  EXPECT_TRUE(Contains(nodes.out, "seed-cn-001")) << nodes.out;
  EXPECT_TRUE(Contains(nodes.out, "ComputeNodeTemplate")) << nodes.out;
  auto hosts = os::ReadFile(home_ + "/stacks/seed/hosts");
  ASSERT_TRUE(hosts.ok());
  EXPECT_TRUE(Contains(*hosts, "seed.head.hpc.drover")) << *hosts;
  EXPECT_EQ(Drover("run -- true").code, 0);
  // The template's members exist with their roles, and their credentials work.
  auto members = Drover("member list");
  EXPECT_TRUE(Contains(members.out, "scheduler-ops")) << members.out;
  std::string creds = home_ + "/stacks/seed/resources/HeadNode/members/scheduler-ops-credentials";
  auto as_ops = Drover("queue --all", "DROVER_CREDENTIALS=" + creds);
  EXPECT_EQ(as_ops.code, 0) << as_ops.out;
  auto again = Drover(fmt::format("up {}/examples/seed.yaml", DROVER_SOURCE_DIR));
  EXPECT_TRUE(Contains(again.out, "no changes")) << again.out;
}

}  // namespace
}  // namespace drover::testing

namespace drover::testing {
namespace {

class DeployFaults : public CliTest {};

// kill -9 the head node during a sweep: the supervisor starts a new instance on a new address, the
// DNS record follows, the agents reconnect by name, and every task runs to the end exactly once.
TEST_F(DeployFaults, HeadNodeKilledMidSweepLosesNothing) {
  auto up = Drover("up --nodes 2 --cores 2");
  ASSERT_EQ(up.code, 0) << up.out;
  auto submitted = Drover("submit --array 1-20 -o 'out.%a' -- sh -c 'sleep 0.3; echo task *'");
  ASSERT_EQ(submitted.code, 0) << submitted.out;
  std::string id = submitted.out.substr(0, submitted.out.find('\n'));
  ASSERT_TRUE(TestCluster::Eventually([&] { return Contains(Drover("job show " + id).out, "Running"); }, 20000));
  pid_t head = os::RunningDaemon(home_ + "/stacks/local/instances/head-001/daemon.pid", "headnode");
  ASSERT_GT(head, 0);
  ::kill(head, SIGKILL);
  // `job wait` exits 0 once the job is Finished; while the head node is being replaced it fails.
  ASSERT_TRUE(TestCluster::Eventually([&] { return Drover("job wait " + id).code == 0; }, 90000))
      << Drover("job show " + id).out << Drover("status").out;
  for (int i = 1; i <= 20; ++i) {
    auto lines = ReadLines(fmt::format("{}/work/out.{}", home_, i));
    ASSERT_EQ(lines.size(), 1u) << "task " << i;
    EXPECT_EQ(lines[0], fmt::format("task {}", i));
  }
  auto hosts = os::ReadFile(home_ + "/stacks/local/hosts");
  ASSERT_TRUE(hosts.ok());
  auto status = Drover("status");
  EXPECT_TRUE(Contains(status.out, "replaced head-001 by head-002")) << status.out;
  EXPECT_TRUE(Contains(status.out, "head.local.drover now points at")) << status.out;
  auto nodes = Drover("nodes");
  EXPECT_TRUE(Contains(nodes.out, "compute-001")) << "the agents reconnected rather than being replaced";
}

}  // namespace
}  // namespace drover::testing

namespace drover::testing {
namespace {

class DeployPostgres : public CliTest {};

// Drover::Database on an existing PostgreSQL server (Host given): the head node of the stack keeps
// its five databases there, with the service account's password from the secret store.
TEST_F(DeployPostgres, ExternalServer) {
  if (std::string why = TestPostgresServer::MissingBinaries(); !why.empty()) {
    if (TestPostgresServer::Required()) FAIL() << why << " (DROVER_REQUIRE_POSTGRES=1)";
    DROVER_SKIP() << why;
  }
  auto server = TestPostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/pw", (*server)->password()).ok());
  ASSERT_EQ(Drover("secret --local put /ext/db-password < " + home_ + "/pw").code, 0);
  (void)os::RemoveFile(home_ + "/pw");
  std::string path = home_ + "/work/external.yaml";
  ASSERT_TRUE(os::WriteFileAtomic(path, fmt::format(R"(
Parameters:
  DbPort: {{Type: Number}}
Resources:
  Database:
    Type: Drover::Database
    Properties:
      Engine: postgresql
      Host: 127.0.0.1
      Port: !Ref DbPort
      ServiceAccount: drover
      ServiceAccountPassword: "{{{{resolve:secret:/ext/db-password}}}}"
      DatabasePrefix: ext
  HeadNode:
    Type: Drover::HeadNode
    Properties:
      ClusterName: external
      Database: !Ref Database
  Compute:
    Type: Drover::ComputeGroup
    Properties:
      HeadNode: !Ref HeadNode
      MinSize: 1
      MaxSize: 1
      CoresPerNode: 1
)")).ok());
  auto up = Drover(fmt::format("up {} --param DbPort={}", path, (*server)->port()));
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_TRUE(Contains(up.out, "databases ext_* ready on 127.0.0.1")) << up.out;
  auto run = Drover("run -- sh -c 'echo on postgres'");
  EXPECT_EQ(run.code, 0) << run.out;
  auto jobs = (*server)->Query("ext_scheduler", "SELECT count(*) FROM jobs");
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  EXPECT_EQ(*jobs, "1");
  auto state = os::ReadFile(home_ + "/stacks/external/state.json");
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(Contains(*state, (*server)->password()));
  auto down = Drover("down --stack external");  // while the server is still there
  EXPECT_EQ(down.code, 0) << down.out;
}

}  // namespace
}  // namespace drover::testing
