#include "cli/job_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace drover::cli {
namespace {

using Words = std::vector<std::string>;

// ---- ParseArray ---------------------------------------------------------------------------------

TEST(ParseArrayTest, Range) {
  auto r = ParseArray("1-10");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->start, 1);
  EXPECT_EQ(r->end, 10);
  EXPECT_EQ(r->step, 1);
}

TEST(ParseArrayTest, RangeWithStep) {
  auto r = ParseArray("0-99:2");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->start, 0);
  EXPECT_EQ(r->end, 99);
  EXPECT_EQ(r->step, 2);
}

TEST(ParseArrayTest, SingleIndex) {
  auto r = ParseArray("5");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->start, 5);
  EXPECT_EQ(r->end, 5);
  EXPECT_EQ(r->step, 1);
  auto same = ParseArray("7-7");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->start, 7);
  EXPECT_EQ(same->end, 7);
}

TEST(ParseArrayTest, MalformedFormsSayWhatIsExpected) {
  for (const char* text : {"", "abc", "1-", "-", "1-x", "1-10:", "1-10:x", "1:2", "1x", "1-10x", "1-10:2:3",
                           "1-10:2x", "1..10", "99999999999999999999999"}) {
    auto r = ParseArray(text);
    ASSERT_FALSE(r.ok()) << "'" << text << "' should be rejected";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find("START-END"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(std::string("'") + text + "'"), std::string::npos) << r.status().message();
  }
}

TEST(ParseArrayTest, BadStepOrOrder) {
  auto zero = ParseArray("1-10:0");
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(zero.status().message().find("step"), std::string::npos) << zero.status().message();
  auto negative = ParseArray("1-10:-2");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("step"), std::string::npos) << negative.status().message();
  auto backwards = ParseArray("10-1");
  ASSERT_FALSE(backwards.ok());
  EXPECT_NE(backwards.status().message().find("before the start"), std::string::npos)
      << backwards.status().message();
}

// ---- SplitWords ---------------------------------------------------------------------------------

Words Split(const std::string& line) {
  auto r = SplitWords(line);
  EXPECT_TRUE(r.ok()) << line << ": " << r.status().ToString();
  return r.ok() ? *r : Words{"<error>"};
}

TEST(SplitWordsTest, Whitespace) {
  EXPECT_EQ(Split(""), Words{});
  EXPECT_EQ(Split("   \t "), Words{});
  EXPECT_EQ(Split("a"), Words{"a"});
  EXPECT_EQ(Split("  -n  4\t--name=x  "), (Words{"-n", "4", "--name=x"}));
}

TEST(SplitWordsTest, Quotes) {
  EXPECT_EQ(Split("-J 'my job'"), (Words{"-J", "my job"}));
  EXPECT_EQ(Split("--wrap \"echo hi  there\""), (Words{"--wrap", "echo hi  there"}));
  EXPECT_EQ(Split("x'y z'w\"1 2\""), (Words{"xy zw1 2"}));
  EXPECT_EQ(Split("\"it's\" 'say \"hi\"'"), (Words{"it's", "say \"hi\""}));
  // Empty quotes are an empty argument.
  EXPECT_EQ(Split("a '' \"\" b"), (Words{"a", "", "", "b"}));
}

TEST(SplitWordsTest, Backslashes) {
  EXPECT_EQ(Split("a\\ b c"), (Words{"a b", "c"}));
  EXPECT_EQ(Split("\\'x\\\""), (Words{"'x\""}));
  EXPECT_EQ(Split("\\\\"), (Words{"\\"}));
  // Inside single quotes a backslash is literal.
  EXPECT_EQ(Split("'a\\b' 'c\\'"), (Words{"a\\b", "c\\"}));
  // Inside double quotes it escapes a quote or a backslash.
  EXPECT_EQ(Split("\"a\\\"b\" \"c\\\\d\""), (Words{"a\"b", "c\\d"}));
}

TEST(SplitWordsTest, DoubleQuotesKeepOtherBackslashesLikePosix) {
  EXPECT_EQ(Split("\"C:\\path\""), (Words{"C:\\path"}));
  EXPECT_EQ(Split("--wrap \"grep 'a\\.b' f\""), (Words{"--wrap", "grep 'a\\.b' f"}));
}

TEST(SplitWordsTest, UnbalancedQuoteIsAnError) {
  for (const char* line : {"'abc", "a \"b c", "x 'y\"", "\"a\\\""}) {
    auto r = SplitWords(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("unbalanced"), std::string::npos) << r.status().message();
  }
}

// ---- ScriptDirectives ---------------------------------------------------------------------------

Words Directives(const std::string& script) {
  auto r = ScriptDirectives(script);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Words{"<error>"};
}

TEST(ScriptDirectivesTest, ReadsDirectivesBeforeFirstCommand) {
  std::string script =
      "#!/bin/bash\n"
      "#DROVER -n 4\n"
      "\n"
      "# an ordinary comment\n"
      "#DROVER -J 'my job' --priority=3000\n"
      "  #DROVER -c 2\n"
      "echo hello\n"
      "#DROVER -o ignored.txt\n";
  EXPECT_EQ(Directives(script), (Words{"-n", "4", "-J", "my job", "--priority=3000", "-c", "2"}));
}

TEST(ScriptDirectivesTest, NothingAfterFirstCommand) {
  EXPECT_EQ(Directives("echo hi\n#DROVER -n 4\n"), Words{});
  EXPECT_EQ(Directives("#!/bin/sh\nset -e\n#DROVER -n 4\n"), Words{});
  EXPECT_EQ(Directives(""), Words{});
  EXPECT_EQ(Directives("#!/bin/sh\n# nothing here\n"), Words{});
  // A bad line after the first command is not read, so it is no error.
  EXPECT_EQ(Directives("true\n#DROVER -J 'unbalanced\n"), Words{});
}

TEST(ScriptDirectivesTest, HandlesCrlfAndMissingNewline) {
  EXPECT_EQ(Directives("#DROVER -n 2\r\n#DROVER -c 3"), (Words{"-n", "2", "-c", "3"}));
}

TEST(ScriptDirectivesTest, ErrorNamesTheLine) {
  auto r = ScriptDirectives("#!/bin/sh\n# comment\n\n#DROVER -J 'broken\necho hi\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("line 4"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("unbalanced"), std::string::npos) << r.status().message();
}

// ---- BuildJobSpec -------------------------------------------------------------------------------

TEST(BuildJobSpecTest, SweepFromArrayOption) {
  JobOptions o;
  o.array = "0-99:2";
  o.chdir = "/tmp";
  o.export_env = "NONE";
  auto s = BuildJobSpec(o, {"/bin/sim", "*"}, "", nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->sweep);
  EXPECT_EQ(s->sweep_start, 0);
  EXPECT_EQ(s->sweep_end, 99);
  EXPECT_EQ(s->sweep_step, 2);
  EXPECT_EQ(s->TotalTasks(), 50u);
  EXPECT_EQ(s->name, "sim");
  EXPECT_EQ(s->task.working_dir, "/tmp");

  o.array = "bad";
  auto bad = BuildJobSpec(o, {"/bin/sim"}, "", nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("START-END"), std::string::npos);
  o.array = "1-4";
  o.ntasks = 3;
  EXPECT_FALSE(BuildJobSpec(o, {"/bin/sim"}, "", nullptr).ok());
}

TEST(BuildJobSpecTest, ExportsEnvironmentButNotDroverVariables) {
  std::string a = "HOME=/home/alice", b = "DROVER_JOB_ID=7", c = "EQ=a=b";
  char* env[] = {a.data(), b.data(), c.data(), nullptr};
  JobOptions o;
  o.chdir = "/tmp";
  auto s = BuildJobSpec(o, {"/bin/true"}, "", env);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->task.env.at("HOME"), "/home/alice");
  EXPECT_EQ(s->task.env.at("EQ"), "a=b");
  EXPECT_EQ(s->task.env.count("DROVER_JOB_ID"), 0u);

  o.export_env = "NONE";
  s = BuildJobSpec(o, {"/bin/true"}, "", env);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->task.env.empty());
  o.export_env = "SOME";
  EXPECT_FALSE(BuildJobSpec(o, {"/bin/true"}, "", env).ok());
}

TEST(BuildJobSpecTest, WrapAndCommandConflict) {
  JobOptions o;
  o.wrap = "echo hi";
  o.export_env = "NONE";
  EXPECT_FALSE(BuildJobSpec(o, {"/bin/true"}, "", nullptr).ok());
  auto s = BuildJobSpec(o, {}, "", nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->task.argv, (Words{"/bin/sh", "-c", "echo hi"}));
  JobOptions none;
  none.export_env = "NONE";
  EXPECT_FALSE(BuildJobSpec(none, {}, "", nullptr).ok());
}

}  // namespace
}  // namespace drover::cli

namespace drover::cli {
namespace {
TEST(ScriptDirectivesPrefix, OnlyExactDroverLinesCount) {
  auto args = ScriptDirectives("#!/bin/sh\n#DROVERX -J no\n#DROVER -J yes\necho\n");
  ASSERT_TRUE(args.ok());
  EXPECT_EQ(*args, (std::vector<std::string>{"-J", "yes"}));
}
}  // namespace
}  // namespace drover::cli

namespace drover::cli {
namespace {

TEST(BuildJobSpecLimitsTest, MemTimeGpusAndSignalReachTheTask) {
  JobOptions o;
  o.res.mem = "2G";
  o.res.time = "1:30:00";
  o.res.gpus = 2;
  o.res.signal = "B:USR1@90";
  auto spec = BuildJobSpec(o, {"/bin/true"}, "", nullptr);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->task.memory_mb, 2048);
  EXPECT_EQ(spec->task.time_limit_ms, 5'400'000);
  EXPECT_EQ(spec->task.gpus, 2);
  EXPECT_EQ(spec->task.signal, 10);  // SIGUSR1 on Linux
  EXPECT_EQ(spec->task.signal_before_ms, 90'000);
  EXPECT_TRUE(spec->task.signal_batch_only);
}

TEST(BuildJobSpecLimitsTest, BadValuesAreRefusedWithTheOptionNamed) {
  JobOptions o;
  o.res.mem = "lots";
  auto bad = BuildJobSpec(o, {"/bin/true"}, "", nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--mem"), std::string::npos);
  JobOptions s;
  s.res.signal = "USR1@soon";
  auto bad_signal = BuildJobSpec(s, {"/bin/true"}, "", nullptr);
  ASSERT_FALSE(bad_signal.ok());
  EXPECT_NE(bad_signal.status().message().find("--signal"), std::string::npos);
}

}  // namespace
}  // namespace drover::cli
