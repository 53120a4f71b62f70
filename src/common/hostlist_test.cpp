#include "common/hostlist.h"

#include <gtest/gtest.h>

namespace drover {
namespace {

using V = std::vector<std::string>;

TEST(Hostlist, PlainNamesAndCommas) {
  EXPECT_EQ(*ExpandHostlist("a,b,c"), (V{"a", "b", "c"}));
  EXPECT_EQ(*ExpandHostlist("login"), (V{"login"}));
  EXPECT_TRUE(ExpandHostlist("")->empty());
}

TEST(Hostlist, RangesKeepPadding) {
  EXPECT_EQ(*ExpandHostlist("node[01-03,07]"), (V{"node01", "node02", "node03", "node07"}));
  EXPECT_EQ(*ExpandHostlist("n[8-10]"), (V{"n8", "n9", "n10"}));
  EXPECT_EQ(*ExpandHostlist("n[08-10]"), (V{"n08", "n09", "n10"}));
}

TEST(Hostlist, SuffixAndProduct) {
  EXPECT_EQ(*ExpandHostlist("n[1-3]-ib"), (V{"n1-ib", "n2-ib", "n3-ib"}));
  EXPECT_EQ(*ExpandHostlist("r[1-2]n[1-2]"), (V{"r1n1", "r1n2", "r2n1", "r2n2"}));
  EXPECT_EQ(*ExpandHostlist("node[01-16,20],login")->rbegin(), "login");
  EXPECT_EQ(ExpandHostlist("node[01-16,20]")->size(), 17u);
}

TEST(Hostlist, DuplicatesOnce) { EXPECT_EQ(*ExpandHostlist("n[1-2],n2,n1"), (V{"n1", "n2"})); }

TEST(Hostlist, MalformedSaysWhat) {
  for (const char* bad : {"n[1-", "n]", "n[a-b]", "n[3-1]", "n[]", "a,,b", "n[1-2[3]]"}) {
    auto r = ExpandHostlist(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
  auto big = ExpandHostlist("n[1-99999999]", 1000);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("more than 1000"), std::string::npos);
}

TEST(Hostlist, FormatFoldsRuns) {
  EXPECT_EQ(FormatHostlist({"node03", "node01", "node02", "node07"}), "node[01-03,07]");
  EXPECT_EQ(FormatHostlist({"n9", "n10", "n11"}), "n[9-11]");
  EXPECT_EQ(FormatHostlist({"n1-ib", "n2-ib", "login"}), "login,n[1-2]-ib");
  EXPECT_EQ(FormatHostlist({"solo1"}), "solo1");
  EXPECT_EQ(FormatHostlist({}), "");
}

TEST(Hostlist, FormatThenExpandIsTheSameSet) {
  V names = {"a01", "a02", "a04", "b", "c7", "c8", "x1y", "x2y", "x10y"};
  auto back = ExpandHostlist(FormatHostlist(names));
  ASSERT_TRUE(back.ok()) << back.status().message();
  V sorted_back = *back;
  std::sort(sorted_back.begin(), sorted_back.end());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(sorted_back, names);
}

}  // namespace
}  // namespace drover
