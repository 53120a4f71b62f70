#include "common/constraint.h"

#include <gtest/gtest.h>

namespace drover {
namespace {

using F = std::vector<std::string>;

TEST(Constraint, AndOrAndPrecedence) {
  auto c = Constraint::Parse("gpu&a100|h100");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->Matches(F{"gpu", "a100"}));
  EXPECT_TRUE(c->Matches(F{"h100"}));
  EXPECT_FALSE(c->Matches(F{"a100"}));
  EXPECT_FALSE(c->Matches(F{}));
  auto all = Constraint::Parse("ib&avx512");
  EXPECT_TRUE(all->Matches(F{"avx512", "ib", "x"}));
  EXPECT_FALSE(all->Matches(F{"ib"}));
  EXPECT_TRUE(Constraint::Parse("")->Matches(F{}));
}

TEST(Constraint, MalformedSaysWhere) {
  for (const char* bad : {"a&", "|a", "a||b", "a b", "a,b", "(a)"}) {
    auto c = Constraint::Parse(bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find(bad), std::string::npos) << c.status().message();
  }
}

}  // namespace
}  // namespace drover
