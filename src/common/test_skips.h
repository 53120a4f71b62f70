// Skipping a test for what the machine lacks (root, cgroups, Open MPI, PostgreSQL), in a way a run
// can forbid. With DROVER_NO_SKIPS=1 (scripts/test.sh sets it when run as root, where every such
// test can run) a skip is a failure with the same message: lost coverage, or a detection bug that
// would show up as a skip, fails the run instead of passing quietly.
//
//   if (::geteuid() != 0) DROVER_SKIP() << "needs root: creates Unix users";
//
// For tests only (it needs gtest); it returns from the test like GTEST_SKIP().
#pragma once

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

namespace drover::testing {

inline bool SkipsAreFailures() {
  const char* v = std::getenv("DROVER_NO_SKIPS");
  return v && std::strcmp(v, "1") == 0;
}

}  // namespace drover::testing

#define DROVER_SKIP()                                                                                          \
  return ::testing::internal::AssertHelper(::drover::testing::SkipsAreFailures()                               \
                                               ? ::testing::TestPartResult::kFatalFailure                      \
                                               : ::testing::TestPartResult::kSkip,                             \
                                           __FILE__, __LINE__,                                                 \
                                           ::drover::testing::SkipsAreFailures()                               \
                                               ? "skipped, but DROVER_NO_SKIPS=1 requires this test to run"    \
                                               : "")                                                           \
             = ::testing::Message()
