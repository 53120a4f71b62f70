#include "common/protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace drover::protocol {
// Readable failure messages for task references. The same inline definition is in every unit test
// that prints a TaskRef, so gtest's printer templates agree across translation units.
inline void PrintTo(const TaskRef& r, std::ostream* os) { *os << r.job_id << "." << r.task_id << "#" << r.attempt; }
}  // namespace drover::protocol

namespace drover::protocol {
namespace {

TaskResult FullResult(TaskId task) {
  TaskResult r;
  r.ref = {42, task, 3};
  r.exit_code = 137;
  r.signal = 9;
  r.start_time = 1'700'000'000'123;
  r.end_time = 1'700'000'009'456;
  r.cpu_time_ms = 8800;
  r.max_rss_kb = 1 << 20;
  r.error = "killed: \"out of memory\" \xc3\xbc";
  return r;
}

void ExpectSame(const TaskResult& a, const TaskResult& b) {
  EXPECT_EQ(a.ref, b.ref);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.signal, b.signal);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.end_time, b.end_time);
  EXPECT_EQ(a.cpu_time_ms, b.cpu_time_ms);
  EXPECT_EQ(a.max_rss_kb, b.max_rss_kb);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.timed_out, b.timed_out);
  EXPECT_EQ(a.out_of_memory, b.out_of_memory);
}

template <class T>
T RoundTripAgent(const T& m) {
  std::string text = Encode(AgentMessage(m));
  auto decoded = DecodeAgentMessage(text);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString() << "\n" << text;
  if (!decoded.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*decoded)) << text;
  return std::holds_alternative<T>(*decoded) ? std::get<T>(*decoded) : T{};
}

template <class T>
T RoundTripHead(const T& m) {
  std::string text = Encode(HeadMessage(m));
  auto decoded = DecodeHeadMessage(text);
  EXPECT_TRUE(decoded.ok()) << decoded.status().ToString() << "\n" << text;
  if (!decoded.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*decoded)) << text;
  return std::holds_alternative<T>(*decoded) ? std::get<T>(*decoded) : T{};
}

// ---- Round trips --------------------------------------------------------------------------------

TEST(ProtocolTest, HelloRoundTrips) {
  Hello h;
  h.version = kVersion;
  h.hostname = "cn-001.cluster";
  h.cores = 64;
  h.memory_mb = 512'000;
  h.gpus = {{0, "NVIDIA H100 80GB HBM3", "GPU-1234", 81'559}, {1, "NVIDIA H100 80GB HBM3", "GPU-5678", 81'559}};
  h.running = {{1, 2, 1}, {7, 4'000'000'000u, 12}};
  h.finished = {FullResult(5), TaskResult{}};
  Hello out = RoundTripAgent(h);
  EXPECT_EQ(out.version, kVersion);
  EXPECT_EQ(out.hostname, h.hostname);
  EXPECT_EQ(out.cores, 64);
  EXPECT_EQ(out.memory_mb, 512'000);
  EXPECT_EQ(out.gpus, h.gpus);
  EXPECT_EQ(out.running, h.running);
  ASSERT_EQ(out.finished.size(), 2u);
  ExpectSame(out.finished[0], h.finished[0]);
  ExpectSame(out.finished[1], h.finished[1]);
}

TEST(ProtocolTest, EmptyHelloRoundTrips) {
  Hello out = RoundTripAgent(Hello{});
  EXPECT_TRUE(out.running.empty());
  EXPECT_TRUE(out.finished.empty());
  EXPECT_EQ(out.version, kVersion);
}

TEST(ProtocolTest, HeartbeatRoundTrips) {
  Heartbeat out = RoundTripAgent(Heartbeat{3.25, 123'456, 17});
  EXPECT_DOUBLE_EQ(out.load1, 3.25);
  EXPECT_EQ(out.memory_used_mb, 123'456);
  EXPECT_EQ(out.running_tasks, 17);
}

TEST(ProtocolTest, ResultsRoundTrip) {
  Results r{{FullResult(1), FullResult(2)}};
  r.results[1].error.clear();
  r.results[1].exit_code = 0;
  r.results[1].signal = 0;
  Results out = RoundTripAgent(r);
  ASSERT_EQ(out.results.size(), 2u);
  ExpectSame(out.results[0], r.results[0]);
  ExpectSame(out.results[1], r.results[1]);
}

TEST(ProtocolTest, ResultEndReasonsRoundTrip) {
  Results r{{FullResult(1), FullResult(2)}};
  r.results[0].timed_out = true;
  r.results[1].out_of_memory = true;
  Results out = RoundTripAgent(r);
  ASSERT_EQ(out.results.size(), 2u);
  ExpectSame(out.results[0], r.results[0]);
  ExpectSame(out.results[1], r.results[1]);
}

TEST(ProtocolTest, HelloCarriesGpusAndLimits) {
  Hello h;
  h.memory_mb = 2'000'000;
  h.gpus = {{0, "NVIDIA H200", "GPU-e78bcf19-cdb6-d77c-7878-48742510a344", 143771}, {1, "NVIDIA H200", "GPU-2", 143771}};
  h.limits = "cgroup v1 (memory, cpu)";
  Hello out = RoundTripAgent(h);
  EXPECT_EQ(out.memory_mb, 2'000'000);
  EXPECT_EQ(out.gpus, h.gpus);
  EXPECT_EQ(out.limits, h.limits);
}

TEST(ProtocolTest, LaunchLimitsGpusAndSignalRoundTrip) {
  TaskLaunch a;
  a.ref = {9, 1, 2};
  a.argv = {"/bin/true"};
  a.memory_limit_mb = 4096;
  a.time_limit_ms = 3'600'000;
  a.gpus = {1, 3};
  a.allocated_nodes = {"cn1", "cn2"};
  a.signal = 10;
  a.signal_before_ms = 60'000;
  a.signal_batch_only = true;
  StartTasks out = RoundTripHead(StartTasks{{a, TaskLaunch{}}});
  ASSERT_EQ(out.tasks.size(), 2u);
  const TaskLaunch& got = out.tasks[0];
  EXPECT_EQ(got.memory_limit_mb, 4096);
  EXPECT_EQ(got.time_limit_ms, 3'600'000);
  EXPECT_EQ(got.gpus, a.gpus);
  EXPECT_EQ(got.allocated_nodes, a.allocated_nodes);
  EXPECT_EQ(got.signal, 10);
  EXPECT_EQ(got.signal_before_ms, 60'000);
  EXPECT_TRUE(got.signal_batch_only);
  const TaskLaunch& plain = out.tasks[1];
  EXPECT_EQ(plain.memory_limit_mb, 0);
  EXPECT_EQ(plain.time_limit_ms, 0);
  EXPECT_TRUE(plain.gpus.empty());
  EXPECT_EQ(plain.signal, 0);
  EXPECT_FALSE(plain.signal_batch_only);
}

TEST(ProtocolTest, BadLimitsAreRejected) {
  EXPECT_FALSE(DecodeHeadMessage(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"memory_limit_mb":-1}]})").ok());
  EXPECT_FALSE(DecodeHeadMessage(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"gpus":["0"]}]})").ok());
  EXPECT_FALSE(DecodeAgentMessage(R"({"type":"hello","gpus":[1]})").ok());
  EXPECT_FALSE(DecodeAgentMessage(R"({"type":"results","results":[{"job":1,"task":1,"attempt":1,"timed_out":1}]})").ok());
}

TEST(ProtocolTest, WelcomeRoundTrips) {
  Welcome out = RoundTripHead(Welcome{"cn-001", 2500});
  EXPECT_EQ(out.node_name, "cn-001");
  EXPECT_EQ(out.heartbeat_ms, 2500);
}

TEST(ProtocolTest, HeartbeatAckRoundTrips) {
  std::string text = Encode(HeadMessage(HeartbeatAck{}));
  auto decoded = DecodeHeadMessage(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_TRUE(std::holds_alternative<HeartbeatAck>(*decoded));
}

TEST(ProtocolTest, StartTasksRoundTrips) {
  TaskLaunch a;
  a.ref = {9, 1, 2};
  a.argv = {"/bin/sim", "--in", "a b\tc", "", "\xc3\xa9"};
  a.working_dir = "/home/alice";
  a.env = {{"OMP_NUM_THREADS", "8"}, {"EMPTY", ""}, {"QUOTE", "\"x\""}};
  a.stdout_path = "/home/alice/out.txt";
  a.stderr_path = "/home/alice/err.txt";
  a.cores = 8;
  a.memory_limit_mb = 16'384;
  a.time_limit_ms = 3'600'000;
  a.gpus = {1, 3};
  a.allocated_nodes = {"cn-001", "cn-002"};
  TaskLaunch b;
  b.ref = {9, 2, 1};
  b.script = "#!/bin/sh\necho \"$1\"\n";
  b.argv = {"arg1"};
  b.cores = 1;
  StartTasks out = RoundTripHead(StartTasks{{a, b}});
  ASSERT_EQ(out.tasks.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const TaskLaunch& want = i == 0 ? a : b;
    const TaskLaunch& got = out.tasks[i];
    EXPECT_EQ(got.ref, want.ref);
    EXPECT_EQ(got.argv, want.argv);
    EXPECT_EQ(got.script, want.script);
    EXPECT_EQ(got.working_dir, want.working_dir);
    EXPECT_EQ(got.env, want.env);
    EXPECT_EQ(got.stdout_path, want.stdout_path);
    EXPECT_EQ(got.stderr_path, want.stderr_path);
    EXPECT_EQ(got.cores, want.cores);
    EXPECT_EQ(got.memory_limit_mb, want.memory_limit_mb);
    EXPECT_EQ(got.time_limit_ms, want.time_limit_ms);
    EXPECT_EQ(got.gpus, want.gpus);
    EXPECT_EQ(got.allocated_nodes, want.allocated_nodes);
  }
}

TEST(ProtocolTest, KillTasksRoundTrips) {
  KillTasks k{{{1, 1, 1}, {2, 3, 4}}};
  EXPECT_EQ(RoundTripHead(k).tasks, k.tasks);
  EXPECT_TRUE(RoundTripHead(KillTasks{}).tasks.empty());
}

TEST(ProtocolTest, AckRoundTrips) {
  Ack a{{{int64_t{1} << 40, 5, 6}}};
  EXPECT_EQ(RoundTripHead(a).tasks, a.tasks);
}

TEST(ProtocolTest, EncodingNamesTheType) {
  EXPECT_NE(Encode(AgentMessage(Hello{})).find("\"type\":\"hello\""), std::string::npos);
  EXPECT_NE(Encode(AgentMessage(Heartbeat{})).find("\"type\":\"heartbeat\""), std::string::npos);
  EXPECT_NE(Encode(AgentMessage(Results{})).find("\"type\":\"results\""), std::string::npos);
  EXPECT_NE(Encode(HeadMessage(Welcome{})).find("\"type\":\"welcome\""), std::string::npos);
  EXPECT_NE(Encode(HeadMessage(HeartbeatAck{})).find("\"type\":\"heartbeat_ack\""), std::string::npos);
  EXPECT_NE(Encode(HeadMessage(StartTasks{})).find("\"type\":\"start\""), std::string::npos);
  EXPECT_NE(Encode(HeadMessage(KillTasks{})).find("\"type\":\"kill\""), std::string::npos);
  EXPECT_NE(Encode(HeadMessage(Ack{})).find("\"type\":\"ack\""), std::string::npos);
}

TEST(ProtocolTest, MissingOptionalFieldsTakeDefaults) {
  auto w = DecodeHeadMessage(R"({"type":"welcome","node":"n"})");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(std::get<Welcome>(*w).heartbeat_ms, 1000);
  auto s = DecodeHeadMessage(R"({"type":"start","tasks":[{"job":1,"task":2,"attempt":3}]})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(std::get<StartTasks>(*s).tasks.size(), 1u);
  EXPECT_EQ(std::get<StartTasks>(*s).tasks[0].cores, 1);
  EXPECT_EQ(std::get<StartTasks>(*s).tasks[0].ref, (TaskRef{1, 2, 3}));
}

// ---- Malformed input ----------------------------------------------------------------------------

void ExpectAgentError(const std::string& text, const std::string& mentions) {
  auto r = DecodeAgentMessage(text);
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  EXPECT_FALSE(r.status().message().empty()) << text;
  EXPECT_NE(r.status().message().find(mentions), std::string::npos)
      << text << " -> " << r.status().message() << " should mention " << mentions;
}

void ExpectHeadError(const std::string& text, const std::string& mentions) {
  auto r = DecodeHeadMessage(text);
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  EXPECT_NE(r.status().message().find(mentions), std::string::npos)
      << text << " -> " << r.status().message() << " should mention " << mentions;
}

TEST(ProtocolTest, MalformedJsonIsInvalidArgument) {
  for (const char* text : {"", "{", "{\"type\":", "not json", "{\"type\":\"hello\",}", "[1,2", "\"unterminated"}) {
    auto a = DecodeAgentMessage(text);
    ASSERT_FALSE(a.ok()) << text;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_FALSE(a.status().message().empty());
    auto h = DecodeHeadMessage(text);
    ASSERT_FALSE(h.ok()) << text;
    EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(ProtocolTest, NonObjectMessageIsInvalidArgument) {
  ExpectAgentError("[1,2,3]", "object");
  ExpectAgentError("42", "object");
  ExpectAgentError("null", "object");
  ExpectHeadError("\"hello\"", "object");
}

TEST(ProtocolTest, UnknownOrMissingTypeIsInvalidArgument) {
  ExpectAgentError(R"({"type":"launch_missiles"})", "launch_missiles");
  ExpectAgentError(R"({"cores":4})", "type");
  ExpectAgentError(R"({"type":7})", "type");
  ExpectHeadError(R"({"type":"hello"})", "hello");  // an agent message is not a head message
  ExpectHeadError(R"({"type":"frobnicate"})", "frobnicate");
  ExpectHeadError(R"({"tasks":[]})", "type");
  ExpectHeadError(R"({"type":null})", "type");
}

TEST(ProtocolTest, WrongFieldTypesAreInvalidArgument) {
  ExpectAgentError(R"({"type":"hello","cores":"four"})", "cores");
  ExpectAgentError(R"({"type":"hello","hostname":5})", "hostname");
  ExpectAgentError(R"({"type":"hello","running":{}})", "running");
  ExpectAgentError(R"({"type":"hello","running":[5]})", "task reference");
  ExpectAgentError(R"({"type":"hello","running":[{"job":"x","task":1,"attempt":1}]})", "job");
  ExpectAgentError(R"({"type":"hello","finished":"none"})", "finished");
  ExpectAgentError(R"({"type":"heartbeat","load1":"high"})", "load1");
  ExpectAgentError(R"({"type":"heartbeat","memory_used_mb":[1]})", "memory_used_mb");
  ExpectAgentError(R"({"type":"results","results":7})", "results");
  ExpectAgentError(R"({"type":"results","results":[[]]})", "result");
  ExpectAgentError(R"({"type":"results","results":[{"job":1,"task":1,"attempt":1,"exit_code":true}]})",
                   "exit_code");
  ExpectAgentError(R"({"type":"results","results":[{"job":1,"task":1,"attempt":1,"error":3}]})", "error");

  ExpectHeadError(R"({"type":"welcome","node":["n"]})", "node");
  ExpectHeadError(R"({"type":"welcome","node":"n","heartbeat_ms":"1s"})", "heartbeat_ms");
  ExpectHeadError(R"({"type":"start","tasks":{}})", "tasks");
  ExpectHeadError(R"({"type":"start","tasks":[1]})", "task");
  ExpectHeadError(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"argv":[1]}]})", "argv");
  ExpectHeadError(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"argv":"ls"}]})", "argv");
  ExpectHeadError(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"env":[]}]})", "env");
  ExpectHeadError(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"env":{"A":1}}]})", "env");
  ExpectHeadError(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"cores":"2"}]})", "cores");
  ExpectHeadError(R"({"type":"start","tasks":[{"job":1,"task":1,"attempt":1,"dir":false}]})", "dir");
  ExpectHeadError(R"({"type":"kill","tasks":[{"job":1,"task":{},"attempt":1}]})", "task");
  ExpectHeadError(R"({"type":"ack","tasks":"all"})", "tasks");
}

}  // namespace
}  // namespace drover::protocol

namespace drover::protocol {
namespace {
TEST(ProtocolRange, HugeNumbersAreRejectedNotConverted) {
  auto m = DecodeAgentMessage(R"({"type":"heartbeat","memory_used_mb":1e300})");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("out of range"), std::string::npos) << m.status().message();
}
}  // namespace
}  // namespace drover::protocol
