// The tests that switch to another Unix user pass wherever the repository is cloned, also inside a
// directory other users cannot enter (a clone in /root, or in a `mktemp -d` directory): the build is
// copied into such a directory and those tests run from there. CI clones into a place everyone may
// enter, so without this test nothing would notice.
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "os/files.h"
#include "test/harness.h"
#include "test/other_user.h"
#include "common/test_skips.h"

namespace drover::testing {
namespace {

namespace fs = std::filesystem;

TEST(Checkout, OtherUsersGetACopyTheyCanReach) {
  char tmpl[] = "/tmp/drover-checkout-XXXXXX";
  std::string closed = ::mkdtemp(tmpl);  // 0700, as mktemp -d makes it
  EXPECT_EQ(UntraversableDirectory(closed + "/build/drover"), closed);
  std::string open = closed + "/open";
  ASSERT_TRUE(os::MakeDirs(open, 0711).ok());
  ASSERT_EQ(::chmod(closed.c_str(), 0711), 0);
  EXPECT_EQ(UntraversableDirectory(open), "");
  std::string copy = DroverForOtherUsers(open);
  EXPECT_EQ(copy, open + "/bin/drover");
  struct stat st;
  ASSERT_EQ(::stat(copy.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_EQ(fs::file_size(copy), fs::file_size(DroverBinary()));
  fs::remove_all(closed);
}

TEST(Checkout, SwitchUserTestsPassFromADirectoryOthersCannotEnter) {
  if (::geteuid() != 0) DROVER_SKIP() << "needs root: the tests it runs create Unix users";
  char tmpl[] = "/tmp/drover-checkout-XXXXXX";
  std::string checkout = ::mkdtemp(tmpl);  // 0700: no other user may enter
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{checkout};
  std::string build = checkout + "/build";
  ASSERT_TRUE(os::MakeDirs(build, 0755).ok());
  ASSERT_EQ(UntraversableDirectory(build), checkout);
  std::string tests = build + "/drover_integration_tests", drover = build + "/drover";
  fs::copy_file(fs::read_symlink("/proc/self/exe"), tests);
  fs::copy_file(DroverBinary(), drover);

  std::string cmd = fmt::format(
      "cd {} && DROVER_BINARY={} {} --gtest_filter=LocalSocket.CallersAreKnownByTheirUid:"
      "Accounting.AUserSeesOnlyTheirOwnRecords 2>&1",
      checkout, drover, tests);
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = ::pclose(p);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("[  PASSED  ] 2 tests."), std::string::npos) << out;
}

}  // namespace
}  // namespace drover::testing
