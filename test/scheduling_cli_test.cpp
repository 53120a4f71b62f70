// The scheduler through the command line: node templates give nodes their groups, #DROVER lines and
// flags ask for groups, memory and time, job templates fill what the user left out, and `drover
// queue` says why a job waits.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include <fmt/format.h>

#include "os/files.h"
#include "test/harness.h"

namespace drover::testing {
namespace {

struct Output {
  int code = -1;
  std::string out;
};

class SchedulingCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover-schedcli-XXXXXX";
    home_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    Drover("down --purge");
    std::error_code ec;
    std::filesystem::remove_all(home_, ec);
  }

  // Runs `drover <args>` in `home_/work` with DROVER_HOME=home_; stdout and stderr together.
  Output Drover(const std::string& args) {
    (void)os::MakeDirs(home_ + "/work");
    std::string cmd = fmt::format("cd {}/work && DROVER_HOME={} {} {} 2>&1", home_, home_, DroverBinary(), args);
    Output o;
    FILE* p = ::popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) o.out.append(buf.data(), n);
    int status = ::pclose(p);
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return o;
  }
  std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }
  bool Finished(const std::string& id) {
    return TestCluster::Eventually([&] { return Drover("job show " + id).out.find("Finished") != std::string::npos; },
                                   30000);
  }

  std::string home_;
};

TEST_F(SchedulingCli, GroupsTemplatesLimitsAndReasons) {
  auto up = Drover("up --nodes 2 --cores 2");
  ASSERT_EQ(up.code, 0) << up.out;
  auto put = Drover("nodetemplate put Fast --groups fast --features ib,avx512");
  ASSERT_EQ(put.code, 0) << put.out;
  const std::string node = "compute-001";
  ASSERT_EQ(Drover("node approve " + node + " --template Fast").code, 0);
  auto listed = Drover("nodetemplate list");
  EXPECT_NE(listed.out.find("ib,avx512"), std::string::npos) << listed.out;

  // #DROVER lines ask for the group, memory and a time limit; every task lands on the Fast node.
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/work/job.sh",
                                  "#!/bin/sh\n#DROVER -p fast --mem 1M\n#DROVER -t 5 -n 3\necho $DROVER_NODE\n", 0755)
                  .ok());
  auto submitted = Drover("submit -o 'out.%t' job.sh");
  ASSERT_EQ(submitted.code, 0) << submitted.out;
  std::string id = FirstLine(submitted.out);
  ASSERT_TRUE(Finished(id)) << Drover("job show " + id).out;
  auto show = Drover("job show " + id);
  EXPECT_NE(show.out.find("time limit 00:05:00"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("1 MB"), std::string::npos) << show.out;
  for (int t = 1; t <= 3; ++t) {
    auto out = os::ReadFile(fmt::format("{}/work/out.{}", home_, t));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(*out, node + "\n");
  }

  // A job template fills the priority the user left out.
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/work/low.json",
                                  R"({"name": "Low", "defaults": {"priority": 1500}, "limits": {"max_priority": 2000}})",
                                  0644)
                  .ok());
  auto jt = Drover("jobtemplate put low.json");
  ASSERT_EQ(jt.code, 0) << jt.out;
  EXPECT_NE(Drover("jobtemplate list").out.find("Low"), std::string::npos);
  auto low = Drover("submit --template Low -- true");
  ASSERT_EQ(low.code, 0) << low.out;
  std::string low_id = FirstLine(low.out);
  ASSERT_TRUE(Finished(low_id));
  EXPECT_NE(Drover("job show " + low_id).out.find("Priority:  1500"), std::string::npos)
      << Drover("job show " + low_id).out;
  auto refused = Drover("submit --template Low --priority 3000 -- true");
  EXPECT_NE(refused.code, 0);
  EXPECT_NE(refused.out.find("outside what job template 'Low' allows (0-2000)"), std::string::npos) << refused.out;

  // More memory than any node: Queued, and the queue says why.
  auto big = Drover("submit --mem 100T -- true");
  ASSERT_EQ(big.code, 0) << big.out;
  EXPECT_TRUE(TestCluster::Eventually([&] { return Drover("queue").out.find("TooLarge") != std::string::npos; },
                                      10000))
      << Drover("queue").out;
  EXPECT_NE(Drover("submit -t soon -- true").out.find("--time"), std::string::npos);

  // The scheduler's settings round-trip through show and set.
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/work/sched.json",
                                  R"({"default_time_limit": "2:00:00", "user_limits": {"max_cores": 64}})", 0644)
                  .ok());
  auto set = Drover("scheduler set sched.json");
  ASSERT_EQ(set.code, 0) << set.out;
  auto shown = Drover("scheduler show");
  EXPECT_NE(shown.out.find("\"default_time_limit\":\"02:00:00\""), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("\"max_cores\":64"), std::string::npos) << shown.out;
  ASSERT_TRUE(os::WriteFileAtomic(home_ + "/work/shown.json", shown.out, 0644).ok());
  EXPECT_EQ(Drover("scheduler set shown.json").code, 0) << "show's output can be set again";
  auto bad = Drover("scheduler set low.json");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("unknown field 'name'"), std::string::npos) << bad.out;
  Drover("cancel " + FirstLine(big.out));
}

}  // namespace
}  // namespace drover::testing
