// Task limits and accounting on real compute nodes: the kernel's memory limit, the agent's time
// limit, killing through the cgroup, and the usage that reaches `drover acct` and `drover report`.
// Needs root and usable cgroups (v1 or v2); skipped with the reason otherwise.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "net/pki.h"
#include "os/files.h"
#include "test/harness.h"
#include "test/other_user.h"
#include "test/test_util.h"
#include "common/test_skips.h"

namespace drover::testing {
namespace json = boost::json;
namespace {

struct Output {
  int code = -1;
  std::string out;
};

// `drover <args>` as `user` (root: Administrator) against the head node's local socket, with a copy
// of the binary in the cluster's directory (the checkout may be closed to that user).
Output DroverAs(const std::string& user, const TestCluster& cluster, const std::string& args) {
  auto o = DroverAsUser(user, cluster.dir(), cluster.head_dir() + "/headnode.sock", args);
  return Output{o.code, o.out};
}

json::object Limited(json::object job, int64_t memory_mb, int64_t time_limit_ms) {
  auto& task = job["task"].as_object();
  if (memory_mb) task["memory_mb"] = memory_mb;
  if (time_limit_ms) task["time_limit_ms"] = time_limit_ms;
  return job;
}

std::string TaskField(const json::value& job, const char* field) {
  const auto& v = job.at("task_list").at(0).at(field);
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

TEST(Limits, MemoryTimeKillAndAccountingOnRealCgroups) {
  if (::geteuid() != 0) DROVER_SKIP() << "needs root: compute nodes create cgroups";
  TestCluster cluster({.nodes = 1, .cores_per_node = 4});
  cluster.StartAll();
  auto nodes = cluster.Get("/api/v1/nodes");
  std::string limits(nodes.at("nodes").at(0).at("limits").as_string());
  if (limits.rfind("cgroup", 0) != 0) DROVER_SKIP() << "the compute node has no usable cgroups: " << limits;
  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());

  // tail holds a whole line in memory: 200 MB of zeros without a newline, over a 32 MiB limit.
  int64_t oom = cluster.Submit(Limited(ShellJob(work, "head -c 200000000 /dev/zero | tail -n 1 > /dev/null"), 32, 0));
  int64_t slow = cluster.Submit(Limited(ShellJob(work, "sleep 60"), 0, 1500));
  // Busy for a while and holding ~100 MB at once, under a 512 MiB limit.
  int64_t busy = cluster.Submit(Limited(
      ShellJob(work, "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; head -c 100000000 /dev/zero | tail -n 1 > /dev/null"),
      512, 0));
  // A grandchild that leaves the task's session: only the cgroup still knows it.
  int64_t escape = cluster.Submit(ShellJob(work, "setsid sh -c 'echo $$ > escaped; exec sleep 300' & wait"));

  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/escaped").size() == 1; }, 20000));
  pid_t escaped = std::stoi(ReadLines(work + "/escaped")[0]);
  ASSERT_EQ(::getsid(escaped), escaped);
  cluster.Post(fmt::format("/api/v1/jobs/{}/cancel", escape), json::object{});
  auto canceled = cluster.WaitForJob(escape);
  EXPECT_EQ(canceled.at("state"), "Canceled");
  EXPECT_TRUE(TestCluster::Eventually([&] { return ::kill(escaped, 0) != 0; }, 10000))
      << "a process that called setsid must die with its canceled task";

  auto oom_job = cluster.WaitForJob(oom);
  EXPECT_EQ(oom_job.at("state"), "Failed");
  EXPECT_EQ(TaskField(oom_job, "state"), "OutOfMemory");
  EXPECT_EQ(TaskField(oom_job, "error"), "out of memory (limit 32 MiB)");

  auto slow_job = cluster.WaitForJob(slow);
  EXPECT_EQ(slow_job.at("state"), "Failed");
  EXPECT_EQ(TaskField(slow_job, "state"), "Timeout");
  EXPECT_NE(TaskField(slow_job, "error").find("time limit"), std::string::npos);

  auto busy_job = cluster.WaitForJob(busy);
  ASSERT_EQ(busy_job.at("state"), "Finished") << json::serialize(busy_job);

  // Accounting: the busy task's CPU time and peak memory as the cgroup counted them.
  auto acct = cluster.Get(fmt::format("/api/v1/accounting?job={}", busy));
  ASSERT_EQ(acct.at("jobs").as_array().size(), 1u) << json::serialize(acct);
  const auto& rec = acct.at("jobs").at(0).at("steps").at(0);
  EXPECT_GT(rec.at("cpu_time_ms").to_number<int64_t>(), 0);
  int64_t rss = rec.at("max_rss_kb").to_number<int64_t>();
  EXPECT_GE(rss, 95'000) << "tail held ~100 MB";
  EXPECT_LE(rss, 512 * 1024);
  EXPECT_EQ(rec.at("memory_limit_mb").to_number<int64_t>(), 512);

  auto timeouts = cluster.Get("/api/v1/accounting?state=Timeout");
  ASSERT_EQ(timeouts.at("jobs").as_array().size(), 1u);
  EXPECT_EQ(timeouts.at("jobs").at(0).at("job_id").to_number<int64_t>(), slow);

  // The command line, as sacct users read it.
  auto parsable = DroverAs("root", cluster, fmt::format("acct -a -j {} -P -o JobID,State,ExitCode,MaxRSS", oom));
  ASSERT_EQ(parsable.code, 0) << parsable.out;
  EXPECT_NE(parsable.out.find(fmt::format("JobID|State|ExitCode|MaxRSS\n{}|OutOfMemory|", oom)), std::string::npos)
      << parsable.out;
  EXPECT_NE(parsable.out.find(fmt::format("{}.1|OutOfMemory|", oom)), std::string::npos) << parsable.out;
  auto as_json = DroverAs("root", cluster, fmt::format("acct -a -j {} --json", slow));
  ASSERT_EQ(as_json.code, 0) << as_json.out;
  auto parsed = json::parse(as_json.out);
  EXPECT_EQ(parsed.at("jobs").at(0).at("state"), "Timeout");
  auto table = DroverAs("root", cluster, "acct -a -S now-1hours --state OutOfMemory,Timeout");
  ASSERT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("OutOfMemory"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("Finished"), std::string::npos) << table.out;
  auto bad_field = DroverAs("root", cluster, "acct -o JobID,Nope");
  EXPECT_NE(bad_field.code, 0);
  EXPECT_NE(bad_field.out.find("unknown field 'Nope'"), std::string::npos) << bad_field.out;

  auto report = DroverAs("root", cluster, "report -S now-1hours -P");
  ASSERT_EQ(report.code, 0) << report.out;
  EXPECT_NE(report.out.find("User|Jobs|Tasks|CoreHours|GPUHours|CPUHours\n" + CurrentUser() + "|4|4|"),
            std::string::npos)
      << report.out;
  EXPECT_NE(report.out.find("Group|Jobs"), std::string::npos) << report.out;
}

// GPUs need no root: a node with two made-up GPUs gives each task exactly the ones it holds.
TEST(Gpus, EachTaskSeesOnlyItsGpus) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 4, .node_args = {"--fake-gpus", "2"}});
  cluster.StartAll();
  auto nodes = cluster.Get("/api/v1/nodes");
  ASSERT_EQ(nodes.at("nodes").at(0).at("gpus").as_array().size(), 2u) << json::serialize(nodes);
  std::string work = cluster.dir() + "/work";
  ASSERT_TRUE(os::MakeDirs(work).ok());
  auto spec = ShellJob(work, "echo \"[$CUDA_VISIBLE_DEVICES]\"; sleep 1", 3);
  spec["task"].as_object()["gpus"] = 1;
  int64_t gpu_job = cluster.Submit(spec);
  int64_t plain = cluster.Submit(ShellJob(cluster.dir(), "echo \"[$CUDA_VISIBLE_DEVICES]\" > work/plain"));
  auto job = cluster.WaitForJob(gpu_job);
  ASSERT_EQ(job.at("state"), "Finished") << json::serialize(job);
  for (int t = 1; t <= 3; ++t) {
    auto lines = ReadLines(fmt::format("{}/out.{}", work, t));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(lines[0] == "[0]" || lines[0] == "[1]") << lines[0];
  }
  cluster.WaitForJob(plain);
  EXPECT_EQ(ReadLines(work + "/plain"), std::vector<std::string>{"[]"}) << "a task without GPUs sees none";
  auto acct = cluster.Get(fmt::format("/api/v1/accounting?job={}", gpu_job));
  EXPECT_EQ(acct.at("jobs").at(0).at("gpus").to_number<int64_t>(), 1);
}

TEST(Accounting, AUserSeesOnlyTheirOwnRecords) {
  if (::geteuid() != 0) DROVER_SKIP() << "needs root: creates a Unix user";
  std::string member = fmt::format("drva{}", ::getpid() % 100000);
  ASSERT_EQ(std::system(fmt::format("useradd -M -s /bin/sh {} 2>/dev/null", member).c_str()), 0);
  struct Cleanup {
    std::string user;
    ~Cleanup() { (void)std::system(fmt::format("userdel {} 2>/dev/null", user).c_str()); }
  } cleanup{member};

  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  ::chmod(cluster.dir().c_str(), 0711);
  ::chmod(cluster.head_dir().c_str(), 0711);
  auto key = pki::GenerateKey();
  cluster.Post("/api/v1/members",
               json::object{{"name", member}, {"role", "User"}, {"csr", *pki::CreateCsr(*key, {member, "member"})}});
  std::string work = cluster.dir() + "/shared";
  ASSERT_TRUE(os::MakeDirs(work, 0777).ok());
  ::chmod(work.c_str(), 0777);
  int64_t mine = cluster.Submit(ShellJob(work, "true"));
  auto theirs_spec = ShellJob(work, "true");
  theirs_spec["owner"] = member;
  int64_t theirs = cluster.Submit(theirs_spec);
  cluster.WaitForJob(mine);
  cluster.WaitForJob(theirs);

  auto own = DroverAs(member, cluster, "acct -a --json");
  ASSERT_EQ(own.code, 0) << own.out;
  auto jobs = json::parse(own.out).at("jobs").as_array();
  ASSERT_EQ(jobs.size(), 1u) << own.out;
  EXPECT_EQ(jobs[0].at("job_id").to_number<int64_t>(), theirs);
  auto other = DroverAs(member, cluster, "acct -u " + CurrentUser());
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.out.find("only their own accounting"), std::string::npos) << other.out;
  auto report = DroverAs(member, cluster, "report --json");
  ASSERT_EQ(report.code, 0) << report.out;
  auto users = json::parse(report.out).at("users").as_array();
  ASSERT_EQ(users.size(), 1u) << report.out;
  EXPECT_EQ(std::string(users[0].at("name").as_string()), member);
  auto all = DroverAs("root", cluster, "acct -a --json");
  EXPECT_EQ(json::parse(all.out).at("jobs").as_array().size(), 2u) << all.out;
}

}  // namespace
}  // namespace drover::testing
