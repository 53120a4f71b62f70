// What scripts/demo.sh and scripts/test.sh print: one line per phase, the phases' own output in logs,
// a failed phase shown with the end of its log, and a test summary that names each failed test with
// its output and counts each program's tests.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "os/files.h"

namespace drover::testing {
namespace {

namespace fs = std::filesystem;

struct ShellResult {
  int code = -1;
  std::string out;
};

ShellResult RunShell(const std::string& command) {
  ShellResult r;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class Scripts : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/drover-scripts-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Scripts, PhasesPrintOneLineEachAndKeepTheirOutputInLogs) {
  std::string script = fmt::format(R"(set -euo pipefail
PHASES=3
source {src}/scripts/progress.sh
phase "installing" {dir}/install.log bash -c 'echo apt says a lot; echo on stderr too >&2'
build_phase "building" {dir}/build.log bash -c 'for i in 1 2; do echo "[$i/2] Building x$i.o"; done'
phase "deploying" {dir}/deploy.log bash -c 'echo step one; echo the reason it broke; exit 3'
echo not reached
)",
                                   fmt::arg("src", DROVER_SOURCE_DIR), fmt::arg("dir", dir_));
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/phases.sh", script).ok());
  auto quiet = RunShell(fmt::format("bash {}/phases.sh 2>&1", dir_));
  EXPECT_EQ(quiet.code, 1) << quiet.out;
  EXPECT_TRUE(Contains(quiet.out, "[1/3] installing ...\n[2/3] building ...\n[3/3] deploying ...\n")) << quiet.out;
  EXPECT_FALSE(Contains(quiet.out, "apt says a lot")) << quiet.out;
  EXPECT_FALSE(Contains(quiet.out, "Building x1.o")) << quiet.out;
  EXPECT_TRUE(Contains(quiet.out, fmt::format("FAILED: deploying. The end of its log ({}/deploy.log):", dir_)))
      << quiet.out;
  EXPECT_TRUE(Contains(quiet.out, "  | the reason it broke")) << quiet.out;
  EXPECT_FALSE(Contains(quiet.out, "not reached"));
  EXPECT_EQ(*os::ReadFile(dir_ + "/install.log"), "apt says a lot\non stderr too\n");
  EXPECT_EQ(*os::ReadFile(dir_ + "/build.log"), "[1/2] Building x1.o\n[2/2] Building x2.o\n");

  auto verbose = RunShell(fmt::format("VERBOSE=1 bash {}/phases.sh 2>&1", dir_));
  EXPECT_TRUE(Contains(verbose.out, "apt says a lot")) << verbose.out;
  EXPECT_TRUE(Contains(verbose.out, "[2/2] Building x2.o")) << verbose.out;
  EXPECT_EQ(*os::ReadFile(dir_ + "/install.log"), "apt says a lot\non stderr too\n") << "logged as well";
}

// A `ctest -V` log of two GoogleTest programs: a failed, a skipped and a passed test in one, and a
// test that never finished (a timeout) in the other.
constexpr const char* kCtestLog = R"(test 1
    Start 1: unit

1: Test command: /build/drover_unit_tests
1: [==========] Running 3 tests from 2 test suites.
1: [ RUN      ] Suite.Passes
1: [       OK ] Suite.Passes (0 ms)
1: [ RUN      ] Suite.Fails
1: src/x_test.cpp:12: Failure
1: Expected equality of these values: 1 and 2
1: [  FAILED  ] Suite.Fails (3 ms)
1: [ RUN      ] Other.Skips
1: src/y_test.cpp:20: Skipped
1: needs root
1: [  SKIPPED ] Other.Skips (0 ms)
1: [==========] 3 tests from 2 test suites ran. (5 ms total)
1: [  PASSED  ] 1 test.
1: [  SKIPPED ] 1 test, listed below:
1: [  SKIPPED ] Other.Skips
1: [  FAILED  ] 1 test, listed below:
1: [  FAILED  ] Suite.Fails
1/2 Test #1: unit .............................***Failed    0.05 sec
test 2
    Start 2: integration

2: Test command: /build/drover_integration_tests
2: [ RUN      ] Cluster.Passes
2: [       OK ] Cluster.Passes (1200 ms)
2: [ RUN      ] Cluster.Hangs
2: still waiting for the head node
2/2 Test #2: integration ......................***Timeout 1500.02 sec

50% tests passed, 2 tests failed out of 2
)";

TEST_F(Scripts, TestSummaryShowsWhatFailedAndCountsEveryProgram) {
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctest.log", kCtestLog).ok());
  auto report = [&](const char* mode) {
    return RunShell(fmt::format("awk -v mode={} -f {}/scripts/ctest_summary.awk {}/ctest.log", mode, DROVER_SOURCE_DIR,
                           dir_))
        .out;
  };
  EXPECT_EQ(report("count"), "2\n");
  EXPECT_EQ(report("summary"),
            "unit             3 tests:     1 passed,   1 skipped,   1 failed  (Failed, 0.05 s)\n"
            "integration      2 tests:     1 passed,   0 skipped,   1 failed  (Timeout, 1500.02 s)\n");
  std::string failures = report("failures");
  EXPECT_TRUE(Contains(failures, "--- unit: Suite.Fails ---\n  | [ RUN      ] Suite.Fails\n"
                                 "  | src/x_test.cpp:12: Failure\n"))
      << failures;
  EXPECT_TRUE(Contains(failures, "--- integration: Cluster.Hangs (did not finish: Timeout) ---\n"
                                 "  | [ RUN      ] Cluster.Hangs\n  | still waiting for the head node\n"))
      << failures;
  EXPECT_FALSE(Contains(failures, "Suite.Passes")) << failures;
  EXPECT_FALSE(Contains(failures, "needs root")) << "a skipped test is not a failure: " << failures;
}

}  // namespace
}  // namespace drover::testing
