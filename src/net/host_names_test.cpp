#include "net/host_names.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace drover::net {
namespace {

TEST(HostNames, LooksUpNamesAndIgnoresComments) {
  std::string path = ::testing::TempDir() + "/drover-hosts-test";
  std::ofstream(path) << "# comment\n127.64.0.2 head.example head # trailing\n\n127.64.0.3 db.example\n";
  EXPECT_EQ(LookupHostsFile(path, "head"), "127.64.0.2");
  EXPECT_EQ(LookupHostsFile(path, "db.example"), "127.64.0.3");
  EXPECT_EQ(LookupHostsFile(path, "comment"), std::nullopt);
  EXPECT_EQ(LookupHostsFile(path + ".missing", "head"), std::nullopt);
  ::setenv("DROVER_HOSTS_FILE", path.c_str(), 1);
  EXPECT_EQ(ResolveHostName("head.example"), "127.64.0.2");
  EXPECT_EQ(ResolveHostName("other"), "other");
  ::unsetenv("DROVER_HOSTS_FILE");
  EXPECT_EQ(ResolveHostName("head.example"), "head.example");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace drover::net
