// The submit flags for dependencies, holds, begin times and node preparation/release.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "cli/job_options.h"
#include "common/clock.h"

namespace drover::cli {
namespace {

Result<JobSpec> Parse(std::vector<std::string> args) {
  JobOptions o;
  CLI::App app("submit");
  AddJobOptions(app, o);
  std::reverse(args.begin(), args.end());
  app.parse(args);
  return BuildJobSpec(o, {"/bin/true"}, "", nullptr);
}

TEST(JobControlOptions, DependencyHoldBeginPrepRelease) {
  TimeMs before = SystemClock().Now();
  auto s = Parse({"-d", "afterok:3:4?afterany:5", "-H", "--begin", "now+10minutes", "--prep", "mkdir /scratch/x",
                  "--release", "rm -r /scratch/x"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->dependencies.size(), 3u);
  EXPECT_TRUE(s->depend_any);
  EXPECT_EQ(s->dependencies[2], (JobDependency{DependencyType::kAfterAny, 5}));
  EXPECT_TRUE(s->hold);
  EXPECT_GE(s->begin_time, before + 600'000);
  EXPECT_LE(s->begin_time, SystemClock().Now() + 600'000);
  EXPECT_EQ(s->prep_command, "mkdir /scratch/x");
  EXPECT_EQ(s->release_command, "rm -r /scratch/x");

  auto plain = Parse({});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->dependencies.empty());
  EXPECT_FALSE(plain->hold);
  EXPECT_EQ(plain->begin_time, 0);
}

TEST(JobControlOptions, BadValuesSayWhichOption) {
  auto dep = Parse({"--dependency", "afterok:x"});
  ASSERT_FALSE(dep.ok());
  EXPECT_NE(dep.status().message().find("--dependency"), std::string::npos) << dep.status().message();
  auto begin = Parse({"--begin", "soon"});
  ASSERT_FALSE(begin.ok());
  EXPECT_NE(begin.status().message().find("--begin 'soon'"), std::string::npos) << begin.status().message();
}

}  // namespace
}  // namespace drover::cli
