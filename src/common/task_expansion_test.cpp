#include "common/task_expansion.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace drover::protocol {
// Readable failure messages for task references. The same inline definition is in every unit test
// that prints a TaskRef, so gtest's printer templates agree across translation units.
inline void PrintTo(const TaskRef& r, std::ostream* os) { *os << r.job_id << "." << r.task_id << "#" << r.attempt; }
}  // namespace drover::protocol

namespace drover {
namespace {

JobSpec Plain(uint32_t tasks = 1) {
  JobSpec s;
  s.name = "job";
  s.owner = "alice";
  s.task.argv = {"/bin/echo", "hello"};
  s.task.working_dir = "/home/alice/run";
  s.task_count = tasks;
  return s;
}

JobSpec Sweep(int64_t start, int64_t end, int64_t step = 1) {
  JobSpec s = Plain();
  s.sweep = true;
  s.sweep_start = start;
  s.sweep_end = end;
  s.sweep_step = step;
  return s;
}

// ---- Sweep index substitution -------------------------------------------------------------------

TEST(SubstituteSweepIndexTest, ReplacesEveryStar) {
  EXPECT_EQ(SubstituteSweepIndex("*", 7), "7");
  EXPECT_EQ(SubstituteSweepIndex("in*.dat", 42), "in42.dat");
  EXPECT_EQ(SubstituteSweepIndex("*-*", 3), "3-3");
  EXPECT_EQ(SubstituteSweepIndex("x*", -5), "x-5");
  EXPECT_EQ(SubstituteSweepIndex("no stars", 1), "no stars");
  EXPECT_EQ(SubstituteSweepIndex("", 1), "");
}

TEST(SubstituteSweepIndexTest, EscapedStarStaysLiteral) {
  EXPECT_EQ(SubstituteSweepIndex("\\*", 7), "*");
  EXPECT_EQ(SubstituteSweepIndex("a\\*b*", 7), "a*b7");
  EXPECT_EQ(SubstituteSweepIndex("*.\\*", 2), "2.*");
  // A backslash before anything else is kept.
  EXPECT_EQ(SubstituteSweepIndex("a\\b", 7), "a\\b");
  EXPECT_EQ(SubstituteSweepIndex("end\\", 7), "end\\");
}

TEST(ExpandTaskTest, SweepArgvGetsTaskIndex) {
  JobSpec s = Sweep(10, 20, 5);  // indexes 10, 15, 20
  s.task.argv = {"/bin/sim", "--case=*", "lit\\*", "*"};
  auto l1 = ExpandTask(3, s, 1, 1, "n1");
  auto l3 = ExpandTask(3, s, 3, 1, "n1");
  EXPECT_EQ(l1.argv, (std::vector<std::string>{"/bin/sim", "--case=10", "lit*", "10"}));
  EXPECT_EQ(l3.argv, (std::vector<std::string>{"/bin/sim", "--case=20", "lit*", "20"}));
}

TEST(ExpandTaskTest, NonSweepArgvIsUntouched) {
  JobSpec s = Plain(4);
  s.task.argv = {"/bin/sh", "-c", "ls * \\* %j"};
  auto l = ExpandTask(3, s, 2, 1, "n1");
  EXPECT_EQ(l.argv, s.task.argv);
}

TEST(ExpandTaskTest, CopiesRefScriptCoresAndEnv) {
  JobSpec s = Plain();
  s.task.script = "#!/bin/sh\necho hi\n";
  s.task.cores = 4;
  s.task.env = {{"OMP_NUM_THREADS", "4"}};
  auto l = ExpandTask(9, s, 1, 3, "n1");
  EXPECT_EQ(l.ref, (protocol::TaskRef{9, 1, 3}));
  EXPECT_EQ(l.script, s.task.script);
  EXPECT_EQ(l.cores, 4);
  EXPECT_EQ(l.working_dir, "/home/alice/run");
  EXPECT_EQ(l.env.at("OMP_NUM_THREADS"), "4");
}

// ---- File patterns ------------------------------------------------------------------------------

TEST(ExpandFilePatternTest, ExpandsEveryPattern) {
  EXPECT_EQ(ExpandFilePattern("%j", 12, 3, 40, "node7"), "12");
  EXPECT_EQ(ExpandFilePattern("%A", 12, 3, 40, "node7"), "12");
  EXPECT_EQ(ExpandFilePattern("%t", 12, 3, 40, "node7"), "3");
  EXPECT_EQ(ExpandFilePattern("%a", 12, 3, 40, "node7"), "40");
  EXPECT_EQ(ExpandFilePattern("%N", 12, 3, 40, "node7"), "node7");
  EXPECT_EQ(ExpandFilePattern("%%", 12, 3, 40, "node7"), "%");
  EXPECT_EQ(ExpandFilePattern("out-%j.%t_%a@%N.log", 12, 3, 40, "node7"), "out-12.3_40@node7.log");
  EXPECT_EQ(ExpandFilePattern("100%%j", 12, 3, 40, "node7"), "100%j");
}

TEST(ExpandFilePatternTest, LeavesUnknownAndTrailingPercent) {
  EXPECT_EQ(ExpandFilePattern("%x", 1, 1, 0, "n"), "%x");
  EXPECT_EQ(ExpandFilePattern("a%", 1, 1, 0, "n"), "a%");
  EXPECT_EQ(ExpandFilePattern("plain.txt", 1, 1, 0, "n"), "plain.txt");
  EXPECT_EQ(ExpandFilePattern("", 1, 1, 0, "n"), "");
}

TEST(ExpandTaskTest, OutputPatternsExpandPerTask) {
  JobSpec s = Sweep(0, 9, 1);
  s.task.stdout_path = "/data/out_%j_%t_%a_%N.txt";
  s.task.stderr_path = "/data/err_%j_%a_%%.txt";
  auto l = ExpandTask(5, s, 4, 1, "node2");
  EXPECT_EQ(l.stdout_path, "/data/out_5_4_3_node2.txt");
  EXPECT_EQ(l.stderr_path, "/data/err_5_3_%.txt");
}

TEST(ExpandTaskTest, RelativeOutputPathsAreUnderWorkingDir) {
  JobSpec s = Plain();
  s.task.stdout_path = "logs/%j.out";
  s.task.stderr_path = "/abs/%j.err";
  auto l = ExpandTask(8, s, 1, 1, "n");
  EXPECT_EQ(l.stdout_path, "/home/alice/run/logs/8.out");
  EXPECT_EQ(l.stderr_path, "/abs/8.err");

  s.task.working_dir = "/scratch/";
  s.task.stdout_path = "o.txt";
  s.task.stderr_path = "";
  l = ExpandTask(8, s, 1, 1, "n");
  EXPECT_EQ(l.stdout_path, "/scratch/o.txt");
  EXPECT_EQ(l.stderr_path, "/scratch/o.txt");
}

TEST(ExpandTaskTest, EmptyWorkingDirMeansRoot) {
  JobSpec s = Plain();
  s.task.working_dir = "";
  auto l = ExpandTask(8, s, 1, 1, "n");
  EXPECT_EQ(l.working_dir, "/");
  EXPECT_EQ(l.stdout_path, "/drover-8.out");
}

// ---- Default output names -----------------------------------------------------------------------

TEST(ExpandTaskTest, DefaultOutputForSingleTask) {
  auto l = ExpandTask(17, Plain(1), 1, 1, "n");
  EXPECT_EQ(l.stdout_path, "/home/alice/run/drover-17.out");
  EXPECT_EQ(l.stderr_path, l.stdout_path);
}

TEST(ExpandTaskTest, DefaultOutputForSeveralTasks) {
  auto l = ExpandTask(17, Plain(3), 2, 1, "n");
  EXPECT_EQ(l.stdout_path, "/home/alice/run/drover-17_2.out");
  EXPECT_EQ(l.stderr_path, l.stdout_path);
}

TEST(ExpandTaskTest, DefaultOutputForSweepUsesIndex) {
  auto l = ExpandTask(17, Sweep(100, 200, 10), 3, 1, "n");  // index 120
  EXPECT_EQ(l.stdout_path, "/home/alice/run/drover-17_120.out");
  EXPECT_EQ(l.stderr_path, l.stdout_path);
  // Even a one-task sweep names its file by index.
  auto one = ExpandTask(17, Sweep(5, 5), 1, 1, "n");
  EXPECT_EQ(one.stdout_path, "/home/alice/run/drover-17_5.out");
}

TEST(ExpandTaskTest, StderrDefaultsToStdoutFile) {
  JobSpec s = Plain(2);
  s.task.stdout_path = "run-%t.log";
  auto l = ExpandTask(4, s, 2, 1, "n");
  EXPECT_EQ(l.stdout_path, "/home/alice/run/run-2.log");
  EXPECT_EQ(l.stderr_path, "/home/alice/run/run-2.log");

  s.task.stderr_path = "err-%t.log";
  l = ExpandTask(4, s, 2, 1, "n");
  EXPECT_EQ(l.stderr_path, "/home/alice/run/err-2.log");
}

// ---- Environment --------------------------------------------------------------------------------

TEST(ExpandTaskTest, SetsDroverVariables) {
  JobSpec s = Sweep(0, 99, 2);
  s.task.cores = 2;
  auto l = ExpandTask(31, s, 6, 4, "node-x");
  EXPECT_EQ(l.env.at("DROVER_JOB_ID"), "31");
  EXPECT_EQ(l.env.at("DROVER_TASK_ID"), "6");
  EXPECT_EQ(l.env.at("DROVER_TASK_INDEX"), "10");
  EXPECT_EQ(l.env.at("DROVER_NODE"), "node-x");
  EXPECT_EQ(l.env.at("DROVER_ATTEMPT"), "4");
  EXPECT_EQ(l.env.at("DROVER_CORES"), "2");

  // Without a sweep the index is the 0-based task number.
  auto p = ExpandTask(31, Plain(3), 3, 1, "n");
  EXPECT_EQ(p.env.at("DROVER_TASK_INDEX"), "2");
}

TEST(ExpandTaskTest, DroverVariablesOverrideSubmittedOnes) {
  JobSpec s = Plain();
  s.task.env = {{"DROVER_JOB_ID", "999"}, {"DROVER_NODE", "fake"}, {"HOME", "/home/alice"}};
  auto l = ExpandTask(5, s, 1, 1, "real");
  EXPECT_EQ(l.env.at("DROVER_JOB_ID"), "5");
  EXPECT_EQ(l.env.at("DROVER_NODE"), "real");
  EXPECT_EQ(l.env.at("HOME"), "/home/alice");
}

}  // namespace
}  // namespace drover
