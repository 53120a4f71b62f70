#include "head/accounting.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace drover::head {
namespace {

AccountingRecord Rec(JobId job, TaskId task, uint32_t attempt, TaskState state, TimeMs start, TimeMs end) {
  AccountingRecord a;
  a.job_id = job;
  a.task_id = task;
  a.attempt = attempt;
  a.owner = job == 3 ? "bob" : "alice";
  a.group = job == 3 ? "physics" : "chemistry";
  a.job_name = "j" + std::to_string(job);
  a.node = "n" + std::to_string(task);
  a.state = state;
  a.cores = 2;
  a.gpus = job == 2 ? 1 : 0;
  a.start_time = start;
  a.end_time = end;
  a.cpu_time_ms = 1000 * task;
  a.max_rss_kb = 100 * task;
  return a;
}

constexpr TimeMs kHour = 3'600'000;

TEST(AccountingTest, AJobLineSummarizesItsTasksLastAttempts) {
  std::vector<AccountingRecord> recs = {
      Rec(1, 1, 1, TaskState::kFailed, 0 + kHour, 2 * kHour),  // requeued: only attempt 2 counts for the state
      Rec(1, 2, 1, TaskState::kFinished, kHour, 3 * kHour),
      Rec(1, 1, 2, TaskState::kTimeout, 2 * kHour, 4 * kHour),
      Rec(2, 1, 1, TaskState::kOutOfMemory, kHour, 2 * kHour),
      Rec(2, 2, 1, TaskState::kTimeout, kHour, 2 * kHour),
  };
  auto jobs = SummarizeJobs(recs);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].job_id, 1);
  EXPECT_EQ(jobs[0].state, TaskState::kTimeout);
  EXPECT_EQ(jobs[0].tasks, 2u);
  EXPECT_EQ(jobs[0].start_time, kHour);
  EXPECT_EQ(jobs[0].end_time, 4 * kHour);
  EXPECT_EQ(jobs[0].cpu_time_ms, 1000 + 2000 + 1000);  // every attempt used CPU
  EXPECT_EQ(jobs[0].max_rss_kb, 200);
  EXPECT_EQ(jobs[0].nodes, (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(jobs[0].steps.size(), 3u);
  EXPECT_EQ(jobs[1].state, TaskState::kOutOfMemory);  // worse than a timeout
  auto j = ToJson(jobs[0]);
  EXPECT_EQ(j.at("state").as_string(), "Timeout");
  EXPECT_EQ(j.at("elapsed_ms").as_int64(), 3 * kHour);
  EXPECT_EQ(j.at("steps").as_array().size(), 3u);
}

TEST(AccountingTest, ReportClipsRunTimeToThePeriod) {
  std::vector<AccountingRecord> recs = {
      Rec(1, 1, 1, TaskState::kFinished, 0, 2 * kHour),        // half inside [1h, 3h]
      Rec(2, 1, 1, TaskState::kFinished, kHour, 2 * kHour),    // inside, 1 GPU
      Rec(3, 1, 1, TaskState::kFinished, 2 * kHour, 5 * kHour),  // 1 h inside
  };
  UsageReport r = Report(recs, kHour, 3 * kHour);
  ASSERT_EQ(r.users.size(), 2u);
  EXPECT_EQ(r.users[0].name, "alice");
  EXPECT_EQ(r.users[0].jobs.size(), 2u);
  EXPECT_EQ(r.users[0].tasks, 2u);
  EXPECT_DOUBLE_EQ(r.users[0].core_hours, 2 * 1.0 + 2 * 1.0);
  EXPECT_DOUBLE_EQ(r.users[0].gpu_hours, 1.0);
  EXPECT_DOUBLE_EQ(r.users[0].cpu_hours, 2000.0 / kHour);
  EXPECT_EQ(r.users[1].name, "bob");
  EXPECT_DOUBLE_EQ(r.users[1].core_hours, 2.0);
  ASSERT_EQ(r.groups.size(), 2u);
  EXPECT_EQ(r.groups[0].name, "chemistry");
  EXPECT_DOUBLE_EQ(r.total.core_hours, 6.0);
  EXPECT_EQ(r.total.jobs.size(), 3u);
  // No upper bound: everything after the start.
  EXPECT_DOUBLE_EQ(Report(recs, 0, 0).total.core_hours, 2 * (2.0 + 1.0 + 3.0));
}

}  // namespace
}  // namespace drover::head
