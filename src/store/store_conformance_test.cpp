// The conformance suite of the Store interface, run against every backend.
//
// To add a backend, add one INSTANTIATE_TEST_SUITE_P at the bottom with its factory. A factory gets
// a directory that is fresh for each test: it must return an empty store for a new directory, and
// the same data again when called a second time with the same directory (the reopen tests). A
// backend that does not keep files there (PostgreSQL) can derive a database name from it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "store/postgres/postgres_store.h"
#include "store/postgres/postgres_testing.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "common/test_skips.h"

namespace drover {
namespace {

using StoreFactory = std::function<Result<std::unique_ptr<Store>>(const std::string& dir)>;

struct StoreBackend {
  std::string name;
  StoreFactory open;
  // Why the backend cannot run here (its tests are skipped), or empty. Null: always runs.
  std::function<std::string()> unavailable;
};

void PrintTo(const StoreBackend& b, std::ostream* os) { *os << b.name; }

// ---- Records and comparisons ------------------------------------------------------------------

JobSpec FullSpec() {
  JobSpec s;
  s.name = "sweep \"quoted\" ü";
  s.owner = "alice";
  s.priority = 3000;
  s.task.argv = {"/bin/sim", "--input", "case %a.dat", ""};
  s.task.working_dir = "/home/alice/run";
  s.task.env = {{"OMP_NUM_THREADS", "4"}, {"PATH", "/usr/bin:/bin"}, {"EMPTY", ""}};
  s.task.stdout_path = "out/%j.%t.log";
  s.task.stderr_path = "err/%j.%t.log";
  s.task.cores = 8;
  s.task.max_retries = 5;
  s.task_count = 11;
  s.sweep = true;
  s.sweep_start = -10;
  s.sweep_end = 10;
  s.sweep_step = 2;
  return s;
}

JobRecord MakeJob(JobId id, JobState state = JobState::kQueued) {
  JobRecord j;
  j.id = id;
  j.spec.name = "job" + std::to_string(id);
  j.spec.owner = "bob";
  j.spec.task.argv = {"/bin/true"};
  j.state = state;
  j.submit_time = 1'700'000'000'000 + id;
  return j;
}

TaskRecord MakeTask(JobId job, TaskId id, TaskState state = TaskState::kRunning) {
  TaskRecord t;
  t.job_id = job;
  t.task_id = id;
  t.state = state;
  t.attempt = 2;
  t.node = "n" + std::to_string(id % 7);
  t.exit_code = -1;
  t.start_time = 1'700'000'001'000 + id;
  t.end_time = 0;
  t.error = id % 2 ? "" : "lost node";
  return t;
}

NodeRecord MakeNode(const std::string& name, NodeState state) {
  return NodeRecord{name, state, "compute", name + ".cluster", 64, 256'000, 1'700'000'000'000, 1'700'000'123'000};
}

AccountingRecord MakeAccounting(JobId job, TaskId task, const std::string& owner, TimeMs end) {
  AccountingRecord a;
  a.job_id = job;
  a.task_id = task;
  a.attempt = 1;
  a.owner = owner;
  a.job_name = "job" + std::to_string(job);
  a.node = "n1";
  a.state = TaskState::kFailed;
  a.exit_code = 3;
  a.cores = 4;
  a.submit_time = end - 300;
  a.start_time = end - 200;
  a.end_time = end;
  a.cpu_time_ms = 12345;
  a.max_rss_kb = 99999;
  a.group = owner + "-lab";
  a.gpus = 2;
  a.memory_limit_mb = 4096;
  a.time_limit_ms = 3'600'000;
  a.error = "out of memory (limit 4096 MiB)";
  return a;
}

void ExpectSameSpec(const JobSpec& a, const JobSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.task.argv, b.task.argv);
  EXPECT_EQ(a.task.script, b.task.script);
  EXPECT_EQ(a.task.working_dir, b.task.working_dir);
  EXPECT_EQ(a.task.env, b.task.env);
  EXPECT_EQ(a.task.stdout_path, b.task.stdout_path);
  EXPECT_EQ(a.task.stderr_path, b.task.stderr_path);
  EXPECT_EQ(a.task.cores, b.task.cores);
  EXPECT_EQ(a.task.max_retries, b.task.max_retries);
  EXPECT_EQ(a.task_count, b.task_count);
  EXPECT_EQ(a.sweep, b.sweep);
  EXPECT_EQ(a.sweep_start, b.sweep_start);
  EXPECT_EQ(a.sweep_end, b.sweep_end);
  EXPECT_EQ(a.sweep_step, b.sweep_step);
}

void ExpectSameJob(const JobRecord& a, const JobRecord& b) {
  SCOPED_TRACE("job " + std::to_string(b.id));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.submit_time, b.submit_time);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.cancel_requested, b.cancel_requested);
  ExpectSameSpec(a.spec, b.spec);
}

void ExpectSameTask(const TaskRecord& a, const TaskRecord& b) {
  SCOPED_TRACE("task " + std::to_string(b.job_id) + "." + std::to_string(b.task_id));
  EXPECT_EQ(a.job_id, b.job_id);
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.error, b.error);
}

void ExpectSameNode(const NodeRecord& a, const NodeRecord& b) {
  SCOPED_TRACE("node " + b.name);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.template_name, b.template_name);
  EXPECT_EQ(a.hostname, b.hostname);
  EXPECT_EQ(a.cores, b.cores);
  EXPECT_EQ(a.memory_mb, b.memory_mb);
  EXPECT_EQ(a.joined_time, b.joined_time);
  EXPECT_EQ(a.last_seen, b.last_seen);
}

void ExpectSameAccounting(const AccountingRecord& a, const AccountingRecord& b) {
  SCOPED_TRACE("accounting " + std::to_string(b.job_id) + "." + std::to_string(b.task_id));
  EXPECT_EQ(a.job_id, b.job_id);
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.attempt, b.attempt);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.job_name, b.job_name);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.cores, b.cores);
  EXPECT_EQ(a.submit_time, b.submit_time);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.cpu_time_ms, b.cpu_time_ms);
  EXPECT_EQ(a.max_rss_kb, b.max_rss_kb);
  EXPECT_EQ(a.group, b.group);
  EXPECT_EQ(a.gpus, b.gpus);
  EXPECT_EQ(a.memory_limit_mb, b.memory_limit_mb);
  EXPECT_EQ(a.time_limit_ms, b.time_limit_ms);
  EXPECT_EQ(a.error, b.error);
}

std::vector<JobId> IdsOf(const std::vector<JobRecord>& jobs) {
  std::vector<JobId> ids;
  for (const auto& j : jobs) ids.push_back(j.id);
  return ids;
}

std::vector<std::string> NamesOf(std::vector<NodeRecord> nodes) {
  std::vector<std::string> names;
  for (const auto& n : nodes) names.push_back(n.name);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- Fixture ----------------------------------------------------------------------------------

class StoreConformanceTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (GetParam().unavailable) {
      if (std::string why = GetParam().unavailable(); !why.empty()) {
        if (testing::TestPostgresServer::Required()) FAIL() << why << " (DROVER_REQUIRE_POSTGRES=1)";
        DROVER_SKIP() << why;
      }
    }
    char tmpl[] = "/tmp/drover_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    dir_ = tmp_ + "/data";  // not created: opening must create it
    Reopen();
  }

  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(tmp_, ec);
  }

  void Reopen() {
    store_.reset();
    auto opened = GetParam().open(dir_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }

  void Commit(const WriteBatch& b) {
    Status st = store_->Commit(b);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Unwraps a Result, failing the test (and returning a default) on error.
  template <typename T>
  T Get(Result<T> r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : T{};
  }

  std::string tmp_;
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, EmptyStoreLoadsNothing) {
  EXPECT_TRUE(Get(store_->LoadNodes()).empty());
  EXPECT_TRUE(Get(store_->LoadNodeTemplates()).empty());
  EXPECT_EQ(Get(store_->GetProperty("cluster.name")), std::nullopt);
  EXPECT_TRUE(Get(store_->LoadActiveJobs()).empty());
  EXPECT_FALSE(Get(store_->LoadJob(1)).has_value());
  EXPECT_TRUE(Get(store_->LoadTasks(1)).empty());
  EXPECT_EQ(Get(store_->MaxJobId()), 0);
  EXPECT_TRUE(Get(store_->QueryAccounting({})).empty());
  EXPECT_TRUE(Get(store_->RecentMetrics("n1", 10)).empty());
  Commit(WriteBatch{});  // an empty batch is fine
  EXPECT_EQ(Get(store_->MaxJobId()), 0);
}

TEST_P(StoreConformanceTest, JobAndTasksRoundTripEveryField) {
  JobRecord sweep = MakeJob(7, JobState::kRunning);
  sweep.spec = FullSpec();
  sweep.start_time = 1'700'000'000'500;
  sweep.end_time = 1'700'000'000'900;
  sweep.cancel_requested = true;
  JobRecord script = MakeJob(3);
  script.spec.task.argv.clear();
  script.spec.task.script = "#!/bin/sh\necho 'hi' \"there\"\n\tdone\n";
  script.spec.task.env.clear();

  WriteBatch b;
  b.jobs = {sweep, script};
  // Out of order on purpose: LoadTasks orders by task id.
  b.tasks = {MakeTask(7, 3), MakeTask(7, 1, TaskState::kFinished), MakeTask(7, 2, TaskState::kQueued),
             MakeTask(3, 1)};
  b.tasks[0].attempt = 4'000'000'000u;  // uint32 range
  b.tasks[0].end_time = 1'700'000'009'999;
  b.tasks[0].exit_code = 137;
  Commit(b);

  auto loaded = Get(store_->LoadJob(7));
  ASSERT_TRUE(loaded.has_value());
  ExpectSameJob(*loaded, sweep);
  auto loaded_script = Get(store_->LoadJob(3));
  ASSERT_TRUE(loaded_script.has_value());
  ExpectSameJob(*loaded_script, script);

  auto tasks = Get(store_->LoadTasks(7));
  ASSERT_EQ(tasks.size(), 3u);
  ExpectSameTask(tasks[0], b.tasks[1]);
  ExpectSameTask(tasks[1], b.tasks[2]);
  ExpectSameTask(tasks[2], b.tasks[0]);
  EXPECT_EQ(Get(store_->LoadTasks(3)).size(), 1u);
  EXPECT_TRUE(Get(store_->LoadTasks(8)).empty());
  EXPECT_EQ(Get(store_->MaxJobId()), 7);

  auto active = Get(store_->LoadActiveJobs());
  ASSERT_EQ(IdsOf(active), (std::vector<JobId>{3, 7}));
  ExpectSameJob(active[1], sweep);
}

TEST_P(StoreConformanceTest, UpsertReplaces) {
  WriteBatch first;
  first.jobs = {MakeJob(1)};
  first.tasks = {MakeTask(1, 1)};
  first.nodes = {MakeNode("n1", NodeState::kUnapproved)};
  first.node_templates = {NodeTemplate{"compute", "old", false, true}};
  first.properties = {{"k", "v1"}};
  Commit(first);

  WriteBatch second;
  JobRecord job = MakeJob(1, JobState::kFinished);
  job.spec.name = "renamed";
  job.end_time = 42;
  second.jobs = {job};
  TaskRecord task = MakeTask(1, 1, TaskState::kFinished);
  task.attempt = 3;
  task.exit_code = 0;
  task.node = "n9";
  second.tasks = {task};
  NodeRecord node = MakeNode("n1", NodeState::kOnline);
  node.cores = 128;
  second.nodes = {node};
  second.node_templates = {NodeTemplate{"compute", "new", true, false}};
  second.properties = {{"k", "v2"}};
  Commit(second);

  ExpectSameJob(*Get(store_->LoadJob(1)), job);
  auto tasks = Get(store_->LoadTasks(1));
  ASSERT_EQ(tasks.size(), 1u);
  ExpectSameTask(tasks[0], task);
  auto nodes = Get(store_->LoadNodes());
  ASSERT_EQ(nodes.size(), 1u);
  ExpectSameNode(nodes[0], node);
  auto templates = Get(store_->LoadNodeTemplates());
  ASSERT_EQ(templates.size(), 1u);
  EXPECT_EQ(templates[0].description, "new");
  EXPECT_TRUE(templates[0].auto_approve);
  EXPECT_FALSE(templates[0].bring_online);
  EXPECT_EQ(Get(store_->GetProperty("k")), "v2");
  EXPECT_TRUE(Get(store_->LoadActiveJobs()).empty());
}

TEST_P(StoreConformanceTest, LoadActiveJobsExcludesEndedJobs) {
  WriteBatch b;
  // Inserted in descending id order; loaded ascending.
  b.jobs = {MakeJob(6, JobState::kQueued), MakeJob(5, JobState::kCanceled), MakeJob(4, JobState::kFailed),
            MakeJob(3, JobState::kFinished), MakeJob(2, JobState::kRunning), MakeJob(1, JobState::kQueued)};
  Commit(b);
  auto active = Get(store_->LoadActiveJobs());
  EXPECT_EQ(IdsOf(active), (std::vector<JobId>{1, 2, 6}));
  EXPECT_EQ(Get(store_->MaxJobId()), 6);
  // Ended jobs are still there to load by id.
  auto ended = Get(store_->LoadJob(5));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->state, JobState::kCanceled);

  WriteBatch end;
  end.jobs = {MakeJob(2, JobState::kFinished)};
  Commit(end);
  EXPECT_EQ(IdsOf(Get(store_->LoadActiveJobs())), (std::vector<JobId>{1, 6}));
}

TEST_P(StoreConformanceTest, NodesAndTemplatesRoundTripAndDelete) {
  WriteBatch b;
  b.nodes = {MakeNode("n1", NodeState::kUnapproved), MakeNode("n2", NodeState::kOffline),
             MakeNode("n3", NodeState::kOnline), MakeNode("n4", NodeState::kDraining)};
  b.node_templates = {NodeTemplate{"compute", "Compute nodes", true, true},
                      NodeTemplate{"gpu", "GPU nodes", false, false}};
  Commit(b);

  auto nodes = Get(store_->LoadNodes());
  ASSERT_EQ(nodes.size(), 4u);
  std::sort(nodes.begin(), nodes.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  for (size_t i = 0; i < nodes.size(); ++i) ExpectSameNode(nodes[i], b.nodes[i]);

  auto templates = Get(store_->LoadNodeTemplates());
  ASSERT_EQ(templates.size(), 2u);
  std::sort(templates.begin(), templates.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
  EXPECT_EQ(templates[0].name, "compute");
  EXPECT_EQ(templates[0].description, "Compute nodes");
  EXPECT_TRUE(templates[0].auto_approve);
  EXPECT_TRUE(templates[0].bring_online);
  EXPECT_EQ(templates[1].name, "gpu");
  EXPECT_EQ(templates[1].description, "GPU nodes");
  EXPECT_FALSE(templates[1].auto_approve);
  EXPECT_FALSE(templates[1].bring_online);

  WriteBatch del;
  del.deleted_nodes = {"n2", "no-such-node"};
  Commit(del);
  EXPECT_EQ(NamesOf(Get(store_->LoadNodes())), (std::vector<std::string>{"n1", "n3", "n4"}));

  // Upserted and deleted in one batch: deleted.
  WriteBatch both;
  both.nodes = {MakeNode("n5", NodeState::kOnline)};
  both.deleted_nodes = {"n5", "n1"};
  Commit(both);
  EXPECT_EQ(NamesOf(Get(store_->LoadNodes())), (std::vector<std::string>{"n3", "n4"}));
}

TEST_P(StoreConformanceTest, Properties) {
  WriteBatch b;
  b.properties = {{"cluster.name", "hpc1"}, {"empty", ""}, {"multi", "line1\nline2 ü"}};
  Commit(b);
  EXPECT_EQ(Get(store_->GetProperty("cluster.name")), "hpc1");
  EXPECT_EQ(Get(store_->GetProperty("empty")), "");  // present but empty, not absent
  EXPECT_EQ(Get(store_->GetProperty("multi")), "line1\nline2 ü");
  EXPECT_EQ(Get(store_->GetProperty("missing")), std::nullopt);

  WriteBatch update;
  update.properties = {{"cluster.name", "hpc2"}};
  Commit(update);
  EXPECT_EQ(Get(store_->GetProperty("cluster.name")), "hpc2");
  EXPECT_EQ(Get(store_->GetProperty("empty")), "");
}

TEST_P(StoreConformanceTest, AccountingQueryFilters) {
  WriteBatch b;
  b.accounting = {MakeAccounting(1, 1, "alice", 1000), MakeAccounting(1, 2, "alice", 3000),
                  MakeAccounting(2, 1, "bob", 2000),   MakeAccounting(3, 1, "alice", 4000),
                  MakeAccounting(3, 2, "bob", 5000)};
  b.accounting[1].attempt = 2;  // appended, not replaced: two attempts of a task are two records
  b.accounting.push_back(b.accounting[1]);
  b.accounting.back().attempt = 3;
  Commit(b);

  auto all = Get(store_->QueryAccounting({}));
  ASSERT_EQ(all.size(), 6u);
  // Ordered by end time.
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LE(all[i - 1].end_time, all[i].end_time);
  ExpectSameAccounting(all[0], b.accounting[0]);

  AccountingQuery by_job;
  by_job.job_id = 1;
  auto job1 = Get(store_->QueryAccounting(by_job));
  ASSERT_EQ(job1.size(), 3u);
  for (const auto& a : job1) EXPECT_EQ(a.job_id, 1);

  AccountingQuery by_owner;
  by_owner.owner = "bob";
  auto bob = Get(store_->QueryAccounting(by_owner));
  ASSERT_EQ(bob.size(), 2u);
  ExpectSameAccounting(bob[0], b.accounting[2]);
  ExpectSameAccounting(bob[1], b.accounting[4]);

  AccountingQuery since;
  since.start_after = 3000;  // end_time >= start_after
  EXPECT_EQ(Get(store_->QueryAccounting(since)).size(), 4u);

  AccountingQuery combined;
  combined.job_id = 3;
  combined.owner = "alice";
  combined.start_after = 1500;
  auto one = Get(store_->QueryAccounting(combined));
  ASSERT_EQ(one.size(), 1u);
  ExpectSameAccounting(one[0], b.accounting[3]);

  AccountingQuery limited;
  limited.owner = "alice";
  limited.limit = 2;
  auto first_two = Get(store_->QueryAccounting(limited));
  ASSERT_EQ(first_two.size(), 2u);
  EXPECT_EQ(first_two[0].end_time, 1000);
  EXPECT_EQ(first_two[1].end_time, 3000);

  AccountingQuery window;  // ended at or after 2000 and started at or before 3800 (start = end - 200)
  window.start_after = 2000;
  window.end_before = 3800;
  auto in_window = Get(store_->QueryAccounting(window));
  ASSERT_EQ(in_window.size(), 4u);
  for (const auto& a : in_window) {
    EXPECT_GE(a.end_time, 2000);
    EXPECT_LE(a.start_time, 3800);
  }

  AccountingQuery nobody;
  nobody.owner = "carol";
  EXPECT_TRUE(Get(store_->QueryAccounting(nobody)).empty());
}

TEST_P(StoreConformanceTest, RecentMetricsNewestFirst) {
  WriteBatch b;
  for (TimeMs t : {300, 100, 500, 200, 400}) {
    b.metrics.push_back(MetricSample{"n1", t, t / 100.0, t * 10, static_cast<int>(t / 100)});
    b.metrics.push_back(MetricSample{"n2", t + 1, 0.5, 1, 1});
  }
  Commit(b);

  auto recent = Get(store_->RecentMetrics("n1", 3));
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].time, 500);
  EXPECT_EQ(recent[1].time, 400);
  EXPECT_EQ(recent[2].time, 300);
  EXPECT_EQ(recent[0].node, "n1");
  EXPECT_DOUBLE_EQ(recent[0].load1, 5.0);
  EXPECT_EQ(recent[0].memory_used_mb, 5000);
  EXPECT_EQ(recent[0].running_tasks, 5);

  auto all = Get(store_->RecentMetrics("n2", 100));
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.front().time, 501);
  EXPECT_EQ(all.back().time, 101);
  EXPECT_TRUE(Get(store_->RecentMetrics("n3", 10)).empty());
}

TEST_P(StoreConformanceTest, ReopenSeesEverything) {
  WriteBatch b;
  JobRecord job = MakeJob(12, JobState::kRunning);
  job.spec = FullSpec();
  b.jobs = {job, MakeJob(13, JobState::kFinished)};
  b.tasks = {MakeTask(12, 1), MakeTask(12, 2)};
  b.nodes = {MakeNode("n1", NodeState::kOnline)};
  b.node_templates = {NodeTemplate{"compute", "Compute", true, false}};
  b.properties = {{"cluster.name", "hpc1"}};
  b.accounting = {MakeAccounting(13, 1, "bob", 777)};
  b.metrics = {MetricSample{"n1", 10, 1.25, 100, 2}};
  Commit(b);

  Reopen();
  ASSERT_NE(store_, nullptr);
  ExpectSameJob(*Get(store_->LoadJob(12)), job);
  EXPECT_EQ(IdsOf(Get(store_->LoadActiveJobs())), (std::vector<JobId>{12}));
  EXPECT_EQ(Get(store_->MaxJobId()), 13);
  auto tasks = Get(store_->LoadTasks(12));
  ASSERT_EQ(tasks.size(), 2u);
  ExpectSameTask(tasks[1], b.tasks[1]);
  auto nodes = Get(store_->LoadNodes());
  ASSERT_EQ(nodes.size(), 1u);
  ExpectSameNode(nodes[0], b.nodes[0]);
  ASSERT_EQ(Get(store_->LoadNodeTemplates()).size(), 1u);
  EXPECT_EQ(Get(store_->GetProperty("cluster.name")), "hpc1");
  auto acct = Get(store_->QueryAccounting({}));
  ASSERT_EQ(acct.size(), 1u);
  ExpectSameAccounting(acct[0], b.accounting[0]);
  auto metrics = Get(store_->RecentMetrics("n1", 5));
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_DOUBLE_EQ(metrics[0].load1, 1.25);

  // And the reopened store keeps writing.
  WriteBatch more;
  more.jobs = {MakeJob(14)};
  Commit(more);
  Reopen();
  EXPECT_EQ(Get(store_->MaxJobId()), 14);
  EXPECT_EQ(IdsOf(Get(store_->LoadActiveJobs())), (std::vector<JobId>{12, 14}));
}

TEST_P(StoreConformanceTest, LargeTaskBatchCommits) {
  constexpr TaskId kTasks = 100'000;
  WriteBatch b;
  JobRecord job = MakeJob(1, JobState::kRunning);
  job.spec.task_count = kTasks;
  b.jobs = {job};
  b.tasks.reserve(kTasks);
  for (TaskId i = 1; i <= kTasks; ++i) b.tasks.push_back(MakeTask(1, i));

  auto start = std::chrono::steady_clock::now();
  Commit(b);
  auto first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  // Again, now replacing every row.
  for (auto& t : b.tasks) t.state = TaskState::kFinished;
  start = std::chrono::steady_clock::now();
  Commit(b);
  auto second_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ timing   ] %s: 100,000-task batch commit: insert %.1f ms, replace %.1f ms\n",
              GetParam().name.c_str(), first_ms, second_ms);
  RecordProperty("insert_ms", static_cast<int>(first_ms));
  RecordProperty("replace_ms", static_cast<int>(second_ms));

  auto tasks = Get(store_->LoadTasks(1));
  ASSERT_EQ(tasks.size(), kTasks);
  ExpectSameTask(tasks[0], b.tasks[0]);
  ExpectSameTask(tasks[kTasks - 1], b.tasks[kTasks - 1]);
  EXPECT_EQ(tasks[50'000].state, TaskState::kFinished);
}

TEST_P(StoreConformanceTest, SchemaVersionsOfAllFiveStores) {
  auto versions = Get(store_->SchemaVersions());
  EXPECT_EQ(versions, (std::vector<std::pair<std::string, int>>{{"Management", kSchemaVersion},
                                                                {"Scheduler", kSchemaVersion},
                                                                {"Reporting", kSchemaVersion},
                                                                {"Diagnostics", kSchemaVersion},
                                                                {"Monitoring", kSchemaVersion}}));
  Reopen();
  EXPECT_EQ(Get(store_->SchemaVersions()), versions);
}

TEST_P(StoreConformanceTest, MembersRevocationsAndAuditRoundTrip) {
  WriteBatch b;
  b.members = {Member{"alice", Role::kUser, "a1", 10}, Member{"bob", Role::kAdministrator, "b1", 11}};
  b.revoked = {RevokedCertificate{"0f", "carol", 12}};
  b.audit = {AuditEntry{100, "admin", "member.add", "alice", "User"}, AuditEntry{200, "alice", "job.submit", "job 1", ""}};
  ASSERT_TRUE(store_->Commit(b).ok());
  auto members = Get(store_->LoadMembers());
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].name, "alice");
  EXPECT_EQ(members[0].role, Role::kUser);
  EXPECT_EQ(members[0].cert_serial, "a1");
  EXPECT_EQ(members[1].role, Role::kAdministrator);
  WriteBatch d;
  d.deleted_members = {"alice"};
  d.members = {Member{"bob", Role::kJobAdministrator, "b2", 13}};
  ASSERT_TRUE(store_->Commit(d).ok());
  members = Get(store_->LoadMembers());
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(members[0].role, Role::kJobAdministrator);
  EXPECT_EQ(members[0].cert_serial, "b2");
  auto revoked = Get(store_->LoadRevokedCertificates());
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].serial, "0f");
  EXPECT_EQ(revoked[0].member, "carol");
  auto audit = Get(store_->QueryAudit(0, 10));
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].action, "member.add");
  EXPECT_EQ(audit[1].actor, "alice");
  EXPECT_EQ(Get(store_->QueryAudit(150, 10)).size(), 1u);
  auto newest = Get(store_->QueryAudit(0, 1));
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].action, "job.submit");
}

// PostgreSQL: one throwaway server for the process; each test directory names its own databases.
Result<std::unique_ptr<Store>> OpenPostgresForDir(const std::string& dir) {
  ASSIGN_OR_RETURN(testing::TestPostgresServer * server, testing::SharedTestPostgresServer());
  return OpenPostgresStore(server->Options(fmt::format("c{:016x}", std::hash<std::string>()(dir))));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest,
                         ::testing::Values(StoreBackend{"Sqlite", &OpenSqliteStore, nullptr},
                                           StoreBackend{"Postgres", &OpenPostgresForDir,
                                                        &testing::TestPostgresServer::MissingBinaries}),
                         [](const ::testing::TestParamInfo<StoreBackend>& p) { return p.param.name; });

}  // namespace
}  // namespace drover
