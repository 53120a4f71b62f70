#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "cli/job_options.h"
#include "common/time_limit.h"

namespace drover::cli {
namespace {

Result<JobSpec> Parse(std::vector<std::string> args) {
  CLI::App app("submit");
  JobOptions o;
  AddJobOptions(app, o);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  return BuildJobSpec(o, {"/bin/true"}, "", nullptr);
}

TEST(ResourceOptionsTest, MemorySizes) {
  EXPECT_EQ(*ParseMemorySize("4096", "--mem"), 4096);
  EXPECT_EQ(*ParseMemorySize("4G", "--mem"), 4096);
  EXPECT_EQ(*ParseMemorySize("512M", "--mem"), 512);
  EXPECT_EQ(*ParseMemorySize("1T", "--mem"), 1024 * 1024);
  EXPECT_EQ(*ParseMemorySize("1536K", "--mem"), 2);
  for (const char* bad : {"", "G", "4X", "-1", "4GiB"}) {
    auto r = ParseMemorySize(bad, "--mem");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--mem"), std::string::npos);
  }
}

TEST(ResourceOptionsTest, SlurmFlagsFillTheSpec) {
  auto s = Parse({"--mem", "8G", "--gpus", "2", "--exclusive", "-p", "gpu,debug", "--constraint", "a100|h100", "-w",
                  "node[01-04]", "-x", "node03", "-t", "1-12:00", "--template", "Gpu"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->task.memory_mb, 8192);
  EXPECT_EQ(s->task.gpus, 2);
  EXPECT_TRUE(s->task.exclusive);
  EXPECT_EQ(s->node_groups, (std::vector<std::string>{"gpu", "debug"}));
  EXPECT_EQ(s->constraint, "a100|h100");
  EXPECT_EQ(s->nodelist, "node[01-04]");
  EXPECT_EQ(s->exclude, "node03");
  EXPECT_EQ(s->task.time_limit_ms, 36LL * 3600 * 1000);
  EXPECT_EQ(s->job_template, "Gpu");
}

TEST(ResourceOptionsTest, NodesAndRanksAsSbatchReadsThem) {
  auto s = Parse({"-N", "2", "-n", "7"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->task.nodes, 2);
  EXPECT_EQ(s->task.tasks_per_node, 4);
  EXPECT_EQ(s->task_count, 1u);
  s = Parse({"-n", "8", "--ntasks-per-node", "4", "-c", "2"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->task.nodes, 2);
  EXPECT_EQ(s->task.CoresPerNode(), 8);
  EXPECT_FALSE(Parse({"-N", "2", "-n", "9", "--ntasks-per-node", "4"}).ok());
  EXPECT_FALSE(Parse({"-N", "2", "--array", "1-3"}).ok());
}

TEST(ResourceOptionsTest, BadValuesSayWhichOption) {
  auto expect = [](std::vector<std::string> args, const std::string& text) {
    auto s = Parse(args);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_NE(s.status().message().find(text), std::string::npos) << s.status().message();
  };
  expect({"-t", "5 min"}, "--time");
  expect({"--mem", "4G", "--mem-per-cpu", "1G"}, "exclude each other");
  expect({"--constraint", "a&"}, "constraint");
  expect({"-w", "n[1-"}, "nodelist");
  expect({"-p", "a,,b"}, "--partition");
}

TEST(ResourceOptionsTest, SubmissionLeavesOutWhatATemplateMayFill) {
  JobOptions o;
  JobSpec spec;
  spec.task.argv = {"/bin/true"};
  auto j = SubmissionJson(spec, o);
  EXPECT_FALSE(j.contains("priority"));
  EXPECT_FALSE(j.at("task").as_object().contains("cores"));
  o.priority = 2000;
  o.cores = 1;
  j = SubmissionJson(spec, o);
  EXPECT_TRUE(j.contains("priority"));
  EXPECT_TRUE(j.at("task").as_object().contains("cores"));
}

}  // namespace
}  // namespace drover::cli

namespace drover::cli {
namespace {

TEST(ResourceOptionsTest, CommandLineWinsOverScriptLines) {
  ResourceOptions cmd, script;
  cmd.mem = "2G";
  script.mem = "8G";
  script.time = "30";
  script.partition = "gpu";
  script.exclusive = true;
  MergeResourceOptions(cmd, script);
  EXPECT_EQ(cmd.mem, "2G");
  EXPECT_EQ(cmd.time, "30");
  EXPECT_EQ(cmd.partition, "gpu");
  EXPECT_TRUE(cmd.exclusive);
}

}  // namespace
}  // namespace drover::cli
