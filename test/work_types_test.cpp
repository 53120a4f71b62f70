// Dependencies, holds, begin times, requeue and node preparation/release on a real cluster: a
// head node and compute nodes as separate processes, jobs that leave marker files behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "os/files.h"
#include "test/harness.h"
#include "test/test_util.h"

namespace drover::testing {
namespace {
namespace json = boost::json;

std::string Str(const json::value& v, const char* key) {
  auto* f = v.as_object().if_contains(key);
  return f && f->is_string() ? std::string(f->as_string()) : "";
}

json::object After(json::object spec, const std::string& dependency) {
  spec["dependency"] = dependency;
  return spec;
}

TEST(WorkTypes, AfterOkChainRunsInOrder) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 4});
  cluster.StartAll();
  std::string work = cluster.dir();
  int64_t a = cluster.Submit(ShellJob(work, "sleep 0.3; echo A >> order.log"));
  int64_t b = cluster.Submit(After(ShellJob(work, "echo B >> order.log"), fmt::format("afterok:{}", a)));
  int64_t c = cluster.Submit(After(ShellJob(work, "echo C >> order.log"), fmt::format("afterok:{}", b)));
  auto queued = cluster.Get(fmt::format("/api/v1/jobs/{}", c));
  EXPECT_EQ(Str(queued, "state"), "Queued");
  EXPECT_EQ(Str(queued, "reason"), "Dependency");
  EXPECT_EQ(Str(queued.at("spec"), "dependency"), fmt::format("afterok:{}", b));
  EXPECT_EQ(Str(cluster.WaitForJob(c), "state"), "Finished");
  EXPECT_EQ(ReadLines(work + "/order.log"), (std::vector<std::string>{"A", "B", "C"}));
}

TEST(WorkTypes, AfterNotOkRunsOnlyOnFailureAndAfterOkIsCanceled) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir();
  int64_t failing = cluster.Submit(ShellJob(work, "sleep 0.2; exit 3"));
  int64_t cleanup = cluster.Submit(After(ShellJob(work, "touch cleanup.ran"), fmt::format("afternotok:{}", failing)));
  int64_t next = cluster.Submit(After(ShellJob(work, "touch next.ran"), fmt::format("afterok:{}", failing)));
  int64_t good = cluster.Submit(ShellJob(work, "true"));
  int64_t skipped = cluster.Submit(After(ShellJob(work, "touch skipped.ran"), fmt::format("afternotok:{}", good)));

  EXPECT_EQ(Str(cluster.WaitForJob(cleanup), "state"), "Finished");
  EXPECT_TRUE(os::Exists(work + "/cleanup.ran"));
  auto canceled = cluster.WaitForJob(next);
  EXPECT_EQ(Str(canceled, "state"), "Canceled");
  EXPECT_EQ(Str(canceled, "reason"),
            fmt::format("DependencyNeverSatisfied: afterok needs job {} to finish, and it Failed", failing));
  EXPECT_FALSE(os::Exists(work + "/next.ran"));
  EXPECT_EQ(Str(cluster.WaitForJob(skipped), "state"), "Canceled");
  EXPECT_FALSE(os::Exists(work + "/skipped.ran"));
}

TEST(WorkTypes, UnknownDependencyIsRefused) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 1});
  cluster.StartAll();
  auto r = cluster.Raw("POST", "/api/v1/jobs", json::serialize(After(ShellJob(cluster.dir(), "true"), "afterok:777")),
                       cluster.AdminTls());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_NE(r->body.find("job 777 does not exist"), std::string::npos) << r->body;
  auto bad = cluster.Raw("POST", "/api/v1/jobs", json::serialize(After(ShellJob(cluster.dir(), "true"), "after:1")),
                         cluster.AdminTls());
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400) << bad->body;
}

TEST(WorkTypes, HeldJobWaitsUntilReleased) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir();
  auto spec = ShellJob(work, "touch held.ran");
  spec["hold"] = true;
  int64_t held = cluster.Submit(spec);
  // A job submitted after it runs to the end while it stays held.
  EXPECT_EQ(Str(cluster.WaitForJob(cluster.Submit(ShellJob(work, "true"))), "state"), "Finished");
  auto still = cluster.Get(fmt::format("/api/v1/jobs/{}", held));
  EXPECT_EQ(Str(still, "state"), "Queued");
  EXPECT_EQ(Str(still, "reason"), "JobHeldUser");
  EXPECT_FALSE(os::Exists(work + "/held.ran"));

  auto released = cluster.Post(fmt::format("/api/v1/jobs/{}/release", held), json::object{});
  EXPECT_EQ(Str(released, "reason"), "");
  EXPECT_EQ(Str(cluster.WaitForJob(held), "state"), "Finished");
  EXPECT_TRUE(os::Exists(work + "/held.ran"));

  // hold/release on a queued job through the API, and the errors.
  int64_t blocker = cluster.Submit(ShellJob(work, "sleep 60 & wait", 2));
  int64_t later = cluster.Submit(ShellJob(work, "touch later.ran"));
  auto on_hold = cluster.Post(fmt::format("/api/v1/jobs/{}/hold", later), json::object{});
  EXPECT_EQ(Str(on_hold, "reason"), "JobHeldUser");
  cluster.Post(fmt::format("/api/v1/jobs/{}/cancel", blocker), json::object{});
  EXPECT_EQ(Str(cluster.WaitForJob(blocker), "state"), "Canceled");
  auto r = cluster.Raw("POST", fmt::format("/api/v1/jobs/{}/release", held), "{}", cluster.AdminTls());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_FALSE(os::Exists(work + "/later.ran"));
  cluster.Post(fmt::format("/api/v1/jobs/{}/release", later), json::object{});
  EXPECT_EQ(Str(cluster.WaitForJob(later), "state"), "Finished");
}

TEST(WorkTypes, BeginTimeInTheNearFuture) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 1});
  cluster.StartAll();
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  int64_t begin = now + 2000;
  auto spec = ShellJob(cluster.dir(), "date +%s%3N > began");
  spec["begin_time"] = begin;
  int64_t id = cluster.Submit(spec);
  auto waiting = cluster.Get(fmt::format("/api/v1/jobs/{}", id));
  EXPECT_EQ(Str(waiting, "state"), "Queued");
  EXPECT_EQ(Str(waiting, "reason"), "BeginTime");
  EXPECT_EQ(Str(cluster.WaitForJob(id), "state"), "Finished");
  auto began = ReadLines(cluster.dir() + "/began");
  ASSERT_EQ(began.size(), 1u);
  EXPECT_GE(std::stoll(began[0]), begin) << "it ran before its begin time";
}

TEST(WorkTypes, RequeueRunsTheJobAgainWithNewAttempts) {
  TestCluster cluster({.nodes = 1, .cores_per_node = 1});
  cluster.StartAll();
  std::string work = cluster.dir();
  // The first attempt waits to be requeued; later ones end at once.
  int64_t id = cluster.Submit(
      ShellJob(work, "echo $DROVER_ATTEMPT >> attempts.log; [ $DROVER_ATTEMPT -ge 2 ] || (sleep 60 & wait)"));
  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/attempts.log").size() == 1; }, 20000));
  auto requeued = cluster.Post(fmt::format("/api/v1/jobs/{}/requeue", id), json::object{});
  EXPECT_NE(Str(requeued, "state"), "Finished");
  auto done = cluster.WaitForJob(id);
  EXPECT_EQ(Str(done, "state"), "Finished");
  EXPECT_EQ(ReadLines(work + "/attempts.log"), (std::vector<std::string>{"1", "2"}));
  // A finished job runs again too.
  cluster.Post(fmt::format("/api/v1/jobs/{}/requeue", id), json::object{});
  EXPECT_EQ(Str(cluster.WaitForJob(id), "state"), "Finished");
  EXPECT_EQ(ReadLines(work + "/attempts.log"), (std::vector<std::string>{"1", "2", "3"}));
}

TEST(WorkTypes, PrepAndReleaseRunOncePerNodeOfTheJob) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir();
  // Every task checks that its node was prepared before it, and not released yet.
  auto spec = ShellJob(work,
                       "test -f prepared.$DROVER_NODE && ! test -f released.$DROVER_NODE && "
                       "echo $DROVER_NODE >> tasks.log && sleep 0.2",
                       12);
  spec["prep"] = "echo $DROVER_NODE >> prep.log; touch prepared.$DROVER_NODE; echo prepared $DROVER_NODE";
  spec["release"] = "echo $DROVER_NODE >> release.log; touch released.$DROVER_NODE";
  int64_t id = cluster.Submit(spec);
  auto job = cluster.WaitForJob(id);
  ASSERT_EQ(Str(job, "state"), "Finished") << json::serialize(job);
  auto task_lines = ReadLines(work + "/tasks.log");
  EXPECT_EQ(task_lines.size(), 12u);
  std::set<std::string> nodes(task_lines.begin(), task_lines.end());
  auto prep = ReadLines(work + "/prep.log");
  std::sort(prep.begin(), prep.end());
  EXPECT_EQ(prep, std::vector<std::string>(nodes.begin(), nodes.end())) << "one preparation per node used";
  ASSERT_TRUE(TestCluster::Eventually([&] { return ReadLines(work + "/release.log").size() >= nodes.size(); }, 20000));
  auto release = ReadLines(work + "/release.log");
  std::sort(release.begin(), release.end());
  EXPECT_EQ(release, std::vector<std::string>(nodes.begin(), nodes.end())) << "one release per node used";
  // What a preparation printed is kept; a release that printed nothing and succeeded leaves no file.
  std::string node = *nodes.begin();
  EXPECT_EQ(ReadLines(fmt::format("{}/drover-{}.prep.{}.out", work, id, node)),
            std::vector<std::string>{"prepared " + node});
  std::string release_out = fmt::format("{}/drover-{}.release.{}.out", work, id, node);
  EXPECT_TRUE(TestCluster::Eventually([&] { return !os::Exists(release_out); }, 10000)) << release_out;
}

TEST(WorkTypes, FailingPreparationFailsTheJobWithTheReason) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 1});
  cluster.StartAll();
  auto spec = ShellJob(cluster.dir(), "touch task.ran", 2);
  spec["prep"] = "echo cannot mount >&2; exit 4";
  auto job = cluster.WaitForJob(cluster.Submit(spec));
  EXPECT_EQ(Str(job, "state"), "Failed");
  EXPECT_FALSE(os::Exists(cluster.dir() + "/task.ran"));
  std::string error = Str(job.at("task_list").at(0), "error");
  EXPECT_NE(error.find("node preparation failed on"), std::string::npos) << error;
  EXPECT_NE(error.find("exit code 4"), std::string::npos) << error;
}

TEST(WorkTypes, TaskGroupsOfOneJobRunInDependencyOrder) {
  TestCluster cluster({.nodes = 2, .cores_per_node = 2});
  cluster.StartAll();
  std::string work = cluster.dir();
  auto spec = ShellJob(work, "echo report >> order.log");
  auto group = [](const std::string& name, const std::string& command, int count, json::array deps) {
    return json::object{{"name", name},
                        {"argv", json::array{"/bin/sh", "-c", command}},
                        {"count", count},
                        {"depends_on", std::move(deps)}};
  };
  spec["groups"] = json::array{
      group("stage", "sleep 0.2; echo stage-$DROVER_TASK_INDEX >> order.log", 3, {}),
      group("solve", "echo solve-$DROVER_TASK_GROUP >> order.log", 2, {"stage"}),
      json::object{{"name", "report"}, {"count", 1}, {"depends_on", json::array{"solve"}}}};
  auto job = cluster.WaitForJob(cluster.Submit(spec));
  ASSERT_EQ(Str(job, "state"), "Finished") << json::serialize(job);
  auto lines = ReadLines(work + "/order.log");
  ASSERT_EQ(lines.size(), 6u);
  std::set<std::string> stages(lines.begin(), lines.begin() + 3);
  EXPECT_EQ(stages, (std::set<std::string>{"stage-0", "stage-1", "stage-2"}));
  EXPECT_EQ(lines[3], "solve-solve");
  EXPECT_EQ(lines[4], "solve-solve");
  EXPECT_EQ(lines[5], "report");
}

}  // namespace
}  // namespace drover::testing
