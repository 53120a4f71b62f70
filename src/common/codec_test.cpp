#include "common/codec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>
#include <string>

namespace drover {
namespace {

namespace json = boost::json;

JobSpec Valid() {
  JobSpec s;
  s.name = "job";
  s.owner = "alice";
  s.task.argv = {"/bin/true"};
  s.task.working_dir = "/home/alice";
  return s;
}

Result<JobSpec> FromText(const std::string& text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  if (!v.ok()) return v.status();
  return JobSpecFromJson(*v);
}

void ExpectRejected(const std::string& text, const std::string& field) {
  auto r = FromText(text);
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  EXPECT_NE(r.status().message().find(field), std::string::npos)
      << text << " -> '" << r.status().message() << "' should name " << field;
}

void ExpectInvalid(const JobSpec& s, const std::string& mentions) {
  Status st = ValidateJobSpec(s);
  ASSERT_FALSE(st.ok()) << "should be rejected: " << mentions;
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(mentions), std::string::npos) << st.message() << " should mention " << mentions;
}

// ---- JobSpecFromJson ----------------------------------------------------------------------------

TEST(JobSpecFromJsonTest, ReadsEveryField) {
  auto r = FromText(R"({"name":"sim","owner":"bob","priority":3000,"task_count":4,
      "task":{"argv":["/bin/sim","-x"],"script":"#!/bin/sh","working_dir":"/w","stdout":"o","stderr":"e",
              "cores":2,"max_retries":5,"env":{"A":"1"}},
      "sweep":{"start":1,"end":9,"step":2}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, "sim");
  EXPECT_EQ(r->owner, "bob");
  EXPECT_EQ(r->priority, 3000);
  EXPECT_EQ(r->task_count, 4u);
  EXPECT_EQ(r->task.argv, (std::vector<std::string>{"/bin/sim", "-x"}));
  EXPECT_EQ(r->task.script, "#!/bin/sh");
  EXPECT_EQ(r->task.working_dir, "/w");
  EXPECT_EQ(r->task.stdout_path, "o");
  EXPECT_EQ(r->task.stderr_path, "e");
  EXPECT_EQ(r->task.cores, 2);
  EXPECT_EQ(r->task.max_retries, 5);
  EXPECT_EQ(r->task.env.at("A"), "1");
  EXPECT_TRUE(r->sweep);
  EXPECT_EQ(r->sweep_start, 1);
  EXPECT_EQ(r->sweep_end, 9);
  EXPECT_EQ(r->sweep_step, 2);
}

TEST(JobSpecFromJsonTest, AbsentAndNullFieldsKeepDefaults) {
  auto r = FromText(R"({"task":{"argv":["x"]},"name":null,"sweep":null})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  JobSpec d;
  EXPECT_EQ(r->priority, d.priority);
  EXPECT_EQ(r->task_count, d.task_count);
  EXPECT_EQ(r->task.cores, d.task.cores);
  EXPECT_EQ(r->task.max_retries, d.task.max_retries);
  EXPECT_FALSE(r->sweep);
  EXPECT_EQ(r->name, "");
  // Whole numbers written as doubles are accepted.
  auto f = FromText(R"({"task":{"argv":["x"],"cores":4.0}})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->task.cores, 4);
}

TEST(JobSpecFromJsonTest, RejectsUnknownFields) {
  ExpectRejected(R"({"task":{"argv":["x"]},"prio":5})", "prio");
  ExpectRejected(R"({"task":{"argv":["x"]},"Name":"a"})", "Name");
}

TEST(JobSpecFromJsonTest, RejectsUnknownNestedFields) {
  ExpectRejected(R"({"task":{"argv":["x"],"workdir":"/data"}})", "workdir");
  ExpectRejected(R"({"task":{"argv":["x"]},"sweep":{"start":0,"stop":9}})", "stop");
}

TEST(JobSpecFromJsonTest, RequiresObjectAndTask) {
  auto arr = JobSpecFromJson(json::value(json::array{1, 2}));
  ASSERT_FALSE(arr.ok());
  EXPECT_EQ(arr.status().code(), StatusCode::kInvalidArgument);
  ExpectRejected(R"({"name":"x"})", "task");
  ExpectRejected(R"({"task":"ls"})", "task");
  ExpectRejected(R"({"task":{"argv":["x"]},"sweep":[1,9]})", "sweep");
}

TEST(JobSpecFromJsonTest, WrongTypesNameTheField) {
  ExpectRejected(R"({"task":{"argv":["x"]},"name":5})", "name");
  ExpectRejected(R"({"task":{"argv":["x"]},"owner":true})", "owner");
  ExpectRejected(R"({"task":{"argv":["x"]},"priority":"high"})", "priority");
  ExpectRejected(R"({"task":{"argv":["x"]},"priority":1.5})", "priority");
  ExpectRejected(R"({"task":{"argv":["x"]},"task_count":[2]})", "task_count");
  ExpectRejected(R"({"task":{"argv":"x"}})", "argv");
  ExpectRejected(R"({"task":{"argv":["x",1]}})", "argv");
  ExpectRejected(R"({"task":{"argv":["x"],"script":1}})", "script");
  ExpectRejected(R"({"task":{"argv":["x"],"working_dir":{}}})", "working_dir");
  ExpectRejected(R"({"task":{"argv":["x"],"stdout":2}})", "stdout");
  ExpectRejected(R"({"task":{"argv":["x"],"stderr":2}})", "stderr");
  ExpectRejected(R"({"task":{"argv":["x"],"cores":"2"}})", "cores");
  ExpectRejected(R"({"task":{"argv":["x"],"cores":2.5}})", "cores");
  ExpectRejected(R"({"task":{"argv":["x"],"max_retries":false}})", "max_retries");
  ExpectRejected(R"({"task":{"argv":["x"],"env":["A=1"]}})", "env");
  ExpectRejected(R"({"task":{"argv":["x"],"env":{"HOME":1}}})", "HOME");
  ExpectRejected(R"({"task":{"argv":["x"]},"sweep":{"start":"0","end":9}})", "start");
  ExpectRejected(R"({"task":{"argv":["x"]},"sweep":{"start":0,"end":9,"step":"2"}})", "step");
}

TEST(JobSpecFromJsonTest, RejectsIntegersOutOfRangeOfTheField) {
  ExpectRejected(R"({"task":{"argv":["x"]},"priority":4294969296})", "priority");
  ExpectRejected(R"({"task":{"argv":["x"]},"task_count":4294967297})", "task_count");
  ExpectRejected(R"({"task":{"argv":["x"],"cores":4294967297}})", "cores");
}

// ---- ValidateJobSpec ----------------------------------------------------------------------------

TEST(ValidateJobSpecTest, AcceptsValidSpecs) {
  EXPECT_TRUE(ValidateJobSpec(Valid()).ok());
  JobSpec script = Valid();
  script.task.argv.clear();
  script.task.script = "#!/bin/sh\ntrue\n";
  EXPECT_TRUE(ValidateJobSpec(script).ok());
  JobSpec edges = Valid();
  edges.priority = 0;
  EXPECT_TRUE(ValidateJobSpec(edges).ok());
  edges.priority = 4000;
  edges.task.working_dir = "";
  edges.task.max_retries = 0;
  EXPECT_TRUE(ValidateJobSpec(edges).ok());
  JobSpec sweep = Valid();
  sweep.sweep = true;
  sweep.sweep_start = -5;
  sweep.sweep_end = -5;
  sweep.sweep_step = 1;
  EXPECT_TRUE(ValidateJobSpec(sweep).ok());
}

TEST(ValidateJobSpecTest, RejectsEmptyCommand) {
  JobSpec s = Valid();
  s.task.argv.clear();
  ExpectInvalid(s, "command");
  s.task.argv = {""};
  ExpectInvalid(s, "command");
}

TEST(ValidateJobSpecTest, RejectsCoresBelowOne) {
  JobSpec s = Valid();
  s.task.cores = 0;
  ExpectInvalid(s, "cores");
  s.task.cores = -3;
  ExpectInvalid(s, "cores");
}

TEST(ValidateJobSpecTest, RejectsPriorityOutOfRange) {
  JobSpec s = Valid();
  s.priority = -1;
  ExpectInvalid(s, "priority");
  s.priority = 4001;
  ExpectInvalid(s, "priority");
}

TEST(ValidateJobSpecTest, RejectsRelativeWorkingDir) {
  JobSpec s = Valid();
  s.task.working_dir = "relative/dir";
  ExpectInvalid(s, "relative/dir");
}

TEST(ValidateJobSpecTest, RejectsBadSweeps) {
  JobSpec s = Valid();
  s.sweep = true;
  s.sweep_start = 10;
  s.sweep_end = 9;
  ExpectInvalid(s, "end");
  s.sweep_end = 20;
  s.sweep_step = 0;
  ExpectInvalid(s, "step");
  s.sweep_step = -1;
  ExpectInvalid(s, "step");
}

TEST(ValidateJobSpecTest, RejectsOtherBadValues) {
  JobSpec s = Valid();
  s.task.max_retries = -1;
  ExpectInvalid(s, "max_retries");
  s = Valid();
  s.task_count = 0;
  ExpectInvalid(s, "task");
  s.task_count = 10'000'001;
  ExpectInvalid(s, "10,000,000");
  s = Valid();
  s.sweep = true;
  s.sweep_start = 0;
  s.sweep_end = 10'000'000;  // 10,000,001 indexes
  ExpectInvalid(s, "10,000,000");
  s.sweep_end = int64_t{1} << 32;  // would wrap to a small task count
  ExpectInvalid(s, "10,000,000");
  s = Valid();
  s.task.env = {{"A=B", "x"}};
  ExpectInvalid(s, "A=B");
  s.task.env = {{"", "x"}};
  ExpectInvalid(s, "environment");
}

TEST(ValidateJobSpecTest, RejectsSweepWiderThanInt64) {
  JobSpec s = Valid();
  s.sweep = true;
  s.sweep_start = std::numeric_limits<int64_t>::min();
  s.sweep_end = std::numeric_limits<int64_t>::max();
  s.sweep_step = 1;
  EXPECT_FALSE(ValidateJobSpec(s).ok());
}

// ---- Encode/Decode ------------------------------------------------------------------------------

void ExpectSameSpec(const JobSpec& a, const JobSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.owner, b.owner);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.task_count, b.task_count);
  EXPECT_EQ(a.sweep, b.sweep);
  EXPECT_EQ(a.sweep_start, b.sweep_start);
  EXPECT_EQ(a.sweep_end, b.sweep_end);
  EXPECT_EQ(a.sweep_step, b.sweep_step);
  EXPECT_EQ(a.task.argv, b.task.argv);
  EXPECT_EQ(a.task.script, b.task.script);
  EXPECT_EQ(a.task.working_dir, b.task.working_dir);
  EXPECT_EQ(a.task.env, b.task.env);
  EXPECT_EQ(a.task.stdout_path, b.task.stdout_path);
  EXPECT_EQ(a.task.stderr_path, b.task.stderr_path);
  EXPECT_EQ(a.task.cores, b.task.cores);
  EXPECT_EQ(a.task.max_retries, b.task.max_retries);
}

TEST(JobSpecCodecTest, RoundTripsEveryField) {
  JobSpec s;
  s.name = "sweep \"quoted\" \xc3\xbc\n";
  s.owner = "alice";
  s.priority = 3999;
  s.task.argv = {"/bin/sim", "--input", "case *.dat", "", "\\*"};
  s.task.script = "#!/bin/bash\n#DROVER -n 2\necho \"$@\"\n";
  s.task.working_dir = "/home/alice/run";
  s.task.env = {{"OMP_NUM_THREADS", "4"}, {"EMPTY", ""}, {"JSON", "{\"a\":[1]}"}};
  s.task.stdout_path = "out/%j.%t.log";
  s.task.stderr_path = "err/%j.%a.log";
  s.task.cores = 8;
  s.task.max_retries = 0;
  s.task_count = 11;
  s.sweep = true;
  s.sweep_start = -10;
  s.sweep_end = int64_t{1} << 40;
  s.sweep_step = 3;
  std::string text = EncodeJobSpec(s);
  auto back = DecodeJobSpec(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  ExpectSameSpec(*back, s);
}

TEST(JobSpecCodecTest, RoundTripsLimitsGpusAndSignal) {
  JobSpec s = Valid();
  s.task.memory_mb = 4096;
  s.task.time_limit_ms = 3'600'000;
  s.task.gpus = 2;
  s.task.signal = 10;
  s.task.signal_before_ms = 60'000;
  s.task.signal_batch_only = true;
  auto back = DecodeJobSpec(EncodeJobSpec(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->task.memory_mb, 4096);
  EXPECT_EQ(back->task.time_limit_ms, 3'600'000);
  EXPECT_EQ(back->task.gpus, 2);
  EXPECT_EQ(back->task.signal, 10);
  EXPECT_EQ(back->task.signal_before_ms, 60'000);
  EXPECT_TRUE(back->task.signal_batch_only);
  JobSpec bad = Valid();
  bad.task.memory_mb = -1;
  ExpectInvalid(bad, "memory_mb");
  bad = Valid();
  bad.task.signal = 99;
  ExpectInvalid(bad, "signal");
  ExpectRejected(R"({"task":{"argv":["x"],"gpus":"two"}})", "gpus");
}

TEST(JobSpecCodecTest, RoundTripsPlainSpec) {
  JobSpec s = Valid();
  s.task_count = 1'000'000;
  auto back = DecodeJobSpec(EncodeJobSpec(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameSpec(*back, s);
  EXPECT_FALSE(back->sweep);
}

TEST(JobSpecCodecTest, DecodeRejectsBadText) {
  auto bad = DecodeJobSpec("{not json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(bad.status().message().empty());
  EXPECT_FALSE(DecodeJobSpec("").ok());
  EXPECT_FALSE(DecodeJobSpec("[]").ok());
}

// ---- Node templates -----------------------------------------------------------------------------

TEST(NodeTemplateCodecTest, RoundTripsAndValidates) {
  NodeTemplate t{"gpu", "GPU nodes", true, false};
  auto back = NodeTemplateFromJson(json::value(ToJson(t)));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "gpu");
  EXPECT_EQ(back->description, "GPU nodes");
  EXPECT_TRUE(back->auto_approve);
  EXPECT_FALSE(back->bring_online);

  auto no_name = NodeTemplateFromJson(json::value(json::object{{"description", "x"}}));
  ASSERT_FALSE(no_name.ok());
  EXPECT_NE(no_name.status().message().find("name"), std::string::npos);
  auto bad_bool = NodeTemplateFromJson(json::value(json::object{{"name", "a"}, {"auto_approve", "yes"}}));
  ASSERT_FALSE(bad_bool.ok());
  EXPECT_NE(bad_bool.status().message().find("auto_approve"), std::string::npos);
}

TEST(JobSpecCodecTest, RoundTripsResourcesAndPlacement) {
  JobSpec s = Valid();
  s.task.memory_per_core_mb = 2048;
  s.task.gpus = 2;
  s.task.nodes = 4;
  s.task.tasks_per_node = 8;
  s.task.exclusive = true;
  s.task.time_limit_ms = 90 * 60 * 1000;
  s.node_groups = {"gpu", "debug"};
  s.constraint = "ib&a100|h100";
  s.nodelist = "node[01-04]";
  s.exclude = "node03";
  s.job_template = "Long";
  auto back = DecodeJobSpec(EncodeJobSpec(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->task.memory_per_core_mb, 2048);
  EXPECT_EQ(back->task.MemoryPerNodeMb(), 2048 * 8);  // 8 ranks x 1 core per node
  EXPECT_EQ(back->task.gpus, 2);
  EXPECT_EQ(back->task.nodes, 4);
  EXPECT_EQ(back->task.tasks_per_node, 8);
  EXPECT_TRUE(back->task.exclusive);
  EXPECT_EQ(back->task.time_limit_ms, 90 * 60 * 1000);
  EXPECT_EQ(back->node_groups, s.node_groups);
  EXPECT_EQ(back->constraint, s.constraint);
  EXPECT_EQ(back->nodelist, s.nodelist);
  EXPECT_EQ(back->exclude, s.exclude);
  EXPECT_EQ(back->job_template, "Long");
  // Specs without these fields encode as before.
  EXPECT_EQ(json::serialize(ToJson(Valid().task)).find("memory"), std::string::npos);
}

TEST(ValidateJobSpecTest, ResourceErrorsNameTheField) {
  auto expect_field = [](JobSpec s, const std::string& field) {
    Status st = ValidateJobSpec(s);
    EXPECT_FALSE(st.ok()) << field;
    EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
  };
  JobSpec s = Valid();
  s.task.memory_mb = -1;
  expect_field(s, "task.memory_mb");
  s = Valid();
  s.task.gpus = 65;
  expect_field(s, "task.gpus");
  s = Valid();
  s.task.nodes = -2;
  expect_field(s, "task.nodes");
  s = Valid();
  s.task.time_limit_ms = -5;
  expect_field(s, "task.time_limit_ms");
  s = Valid();
  s.task.memory_mb = 10;
  s.task.memory_per_core_mb = 10;
  expect_field(s, "--mem-per-cpu");
  s = Valid();
  s.constraint = "a&&b";
  expect_field(s, "field 'constraint'");
  s = Valid();
  s.nodelist = "n[1-";
  expect_field(s, "field 'nodelist'");
  s = Valid();
  s.exclude = "n[x]";
  expect_field(s, "field 'exclude'");
  s = Valid();
  s.node_groups = {"a b"};
  expect_field(s, "field 'node_groups'");
}

TEST(JobTemplateCodecTest, RoundTripsAndValidates) {
  JobTemplate t;
  t.name = "Short";
  t.members = {"alice"};
  t.priority = 1000;
  t.time_limit_ms = 60'000;
  t.node_groups = {"cpu"};
  t.max_cores = 16;
  t.max_time_limit_ms = 3'600'000;
  t.allowed_node_groups = {"cpu", "debug"};
  auto back = JobTemplateFromJson(ToJson(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->members, t.members);
  EXPECT_EQ(back->priority, 1000);
  EXPECT_FALSE(back->cores.has_value());
  EXPECT_EQ(back->time_limit_ms, 60'000);
  EXPECT_EQ(back->max_cores, 16);
  EXPECT_EQ(back->allowed_node_groups, t.allowed_node_groups);
  auto bad = JobTemplateFromJson(json::parse(R"({"name": "x", "limits": {"max_priority": 5000}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("0-4000"), std::string::npos);
  auto typo = JobTemplateFromJson(json::parse(R"({"name": "x", "defaults": {"prio": 1}})"));
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("prio"), std::string::npos);
}

}  // namespace
}  // namespace drover
