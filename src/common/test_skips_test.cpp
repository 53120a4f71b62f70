#include "common/test_skips.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <fmt/format.h>

namespace drover::testing {
namespace {

// Skips only when the test below runs it in a child; alone it has nothing to check.
TEST(TestSkips, Probe) {
  if (std::getenv("DROVER_SKIP_PROBE")) DROVER_SKIP() << "the probe lacks what it needs";
}

struct ProbeRun {
  int code = -1;
  std::string out;
};

ProbeRun RunProbe(const std::string& no_skips) {
  std::string cmd = fmt::format(
      "DROVER_SKIP_PROBE=1 DROVER_NO_SKIPS={} /proc/{}/exe --gtest_filter=TestSkips.Probe 2>&1", no_skips, ::getpid());
  ProbeRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(TestSkips, ASkipIsAFailureWhenSkipsAreForbidden) {
  ProbeRun allowed = RunProbe("0");
  EXPECT_EQ(allowed.code, 0) << allowed.out;
  EXPECT_NE(allowed.out.find("[  SKIPPED ] TestSkips.Probe"), std::string::npos) << allowed.out;
  ProbeRun forbidden = RunProbe("1");
  EXPECT_NE(forbidden.code, 0) << forbidden.out;
  EXPECT_NE(forbidden.out.find("[  FAILED  ] TestSkips.Probe"), std::string::npos) << forbidden.out;
  EXPECT_NE(forbidden.out.find("skipped, but DROVER_NO_SKIPS=1 requires this test to run\nthe probe lacks what it needs"),
            std::string::npos)
      << forbidden.out;
}

}  // namespace
}  // namespace drover::testing
