#include <gtest/gtest.h>

#include "deploy/template/template.h"
#include "deploy/template/template_testing.h"

namespace drover::deploy {
namespace {

namespace json = boost::json;
using testing::MustParse;

Template WithParameters(const std::string& params) {
  return MustParse("Parameters:\n" + params + "Resources:\n  A: {Type: Test::Bucket}\n");
}

std::string BindError(const Template& t, const std::map<std::string, std::string>& overrides) {
  auto v = BindParameters(t, overrides);
  EXPECT_FALSE(v.ok());
  if (v.ok()) return "";
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  return v.status().message();
}

TEST(ParametersBind, DefaultsAndOverridesWithTheirTypes) {
  Template t = WithParameters(R"(  Name: {Type: String, Default: head}
  Nodes: {Type: Number, Default: 2}
  Ratio: {Type: Number, Default: 0.25}
  Zones: {Type: CommaDelimitedList, Default: " a, b,c "}
  Empty: {Type: String, Default: ""}
)");
  auto v = BindParameters(t, {});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->at("Name"), json::value("head"));
  EXPECT_EQ(v->at("Nodes"), json::value(int64_t{2}));
  EXPECT_EQ(v->at("Ratio"), json::value(0.25));
  EXPECT_EQ(v->at("Zones"), json::parse(R"(["a","b","c"])"));
  EXPECT_EQ(v->at("Empty"), json::value(""));
  v = BindParameters(t, {{"Nodes", "16"}, {"Ratio", "1e2"}, {"Zones", "x"}, {"Name", "n1"}});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->at("Nodes"), json::value(int64_t{16}));
  EXPECT_EQ(v->at("Ratio"), json::value(100.0));
  EXPECT_EQ(v->at("Zones"), json::parse(R"(["x"])"));
  EXPECT_EQ(v->at("Name"), json::value("n1"));
}

TEST(ParametersBind, UnknownOverrideAndMissingValue) {
  Template t = WithParameters("  Needed: {Type: String}\n");
  std::string e = BindError(t, {{"Neded", "x"}});
  EXPECT_NE(e.find("--param Neded: the template has no parameter 'Neded' (it has: Needed)"), std::string::npos) << e;
  EXPECT_NE(e.find("t.yaml:2:3: parameter 'Needed' has no Default; give it with --param Needed=VALUE"), std::string::npos) << e;
  EXPECT_TRUE(BindParameters(t, {{"Needed", "x"}}).ok());
}

TEST(ParametersBind, AllowedValues) {
  Template t = WithParameters("  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}\n");
  EXPECT_TRUE(BindParameters(t, {{"Env", "prod"}}).ok());
  EXPECT_NE(BindError(t, {{"Env", "Prod"}}).find("parameter 'Env': 'Prod' is not one of the allowed values ('dev', 'prod')"),
            std::string::npos);
  Template n = WithParameters("  N: {Type: Number, AllowedValues: [1, 2.5], Default: 1}\n");
  EXPECT_TRUE(BindParameters(n, {{"N", "2.50"}}).ok());
  EXPECT_NE(BindError(n, {{"N", "3"}}).find("not one of the allowed values"), std::string::npos);
  Template l = WithParameters("  L: {Type: CommaDelimitedList, AllowedValues: [a, b], Default: a}\n");
  EXPECT_TRUE(BindParameters(l, {{"L", "b, a"}}).ok());
  EXPECT_NE(BindError(l, {{"L", "a,c"}}).find("'c' is not one of the allowed values"), std::string::npos);
}

TEST(ParametersBind, MinAndMaxValue) {
  Template t = WithParameters("  N: {Type: Number, MinValue: 1, MaxValue: 10, Default: 1}\n");
  EXPECT_TRUE(BindParameters(t, {{"N", "10"}}).ok());
  EXPECT_TRUE(BindParameters(t, {{"N", "1.5"}}).ok());
  EXPECT_NE(BindError(t, {{"N", "0"}}).find("'0' is less than MinValue 1"), std::string::npos);
  EXPECT_NE(BindError(t, {{"N", "11"}}).find("'11' is greater than MaxValue 10"), std::string::npos);
}

TEST(ParametersBind, NumberMustParse) {
  Template t = WithParameters("  N: {Type: Number, Default: 1}\n");
  EXPECT_NE(BindError(t, {{"N", "ten"}}).find("'ten' is not a number"), std::string::npos);
  EXPECT_NE(BindError(t, {{"N", "1x"}}).find("'1x' is not a number"), std::string::npos);
  EXPECT_NE(BindError(t, {{"N", ""}}).find("is not a number"), std::string::npos);
  EXPECT_NE(BindError(t, {{"N", "inf"}}).find("is not a number"), std::string::npos);
  auto v = BindParameters(t, {{"N", "-3"}});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->at("N"), json::value(int64_t{-3}));
}

TEST(ParametersBind, MinAndMaxLength) {
  Template t = WithParameters("  S: {Type: String, MinLength: 2, MaxLength: 3, Default: ab}\n");
  EXPECT_TRUE(BindParameters(t, {{"S", "abc"}}).ok());
  EXPECT_NE(BindError(t, {{"S", "a"}}).find("'a' is shorter than MinLength 2"), std::string::npos);
  EXPECT_NE(BindError(t, {{"S", "abcd"}}).find("'abcd' is longer than MaxLength 3"), std::string::npos);
  Template l = WithParameters("  L: {Type: CommaDelimitedList, MaxLength: 2, Default: ab}\n");
  EXPECT_NE(BindError(l, {{"L", "ab, abc"}}).find("'abc' is longer than MaxLength 2"), std::string::npos);
}

TEST(ParametersBind, AllowedPatternMatchesTheWholeValue) {
  Template t = WithParameters("  S: {Type: String, AllowedPattern: \"[a-z][a-z0-9-]*\", Default: head}\n");
  EXPECT_TRUE(BindParameters(t, {{"S", "node-1"}}).ok());
  EXPECT_NE(BindError(t, {{"S", "Node"}}).find("'Node' does not match AllowedPattern '[a-z][a-z0-9-]*'"), std::string::npos);
  EXPECT_NE(BindError(t, {{"S", "node 1"}}).find("does not match"), std::string::npos);
}

TEST(ParametersBind, NoEchoValuesAreNotShown) {
  Template t = WithParameters("  Pw: {Type: String, NoEcho: true, MinLength: 8, Default: \"12345678\"}\n");
  EXPECT_TRUE(t.parameters[0].no_echo);
  std::string e = BindError(t, {{"Pw", "hunter2"}});
  EXPECT_EQ(e.find("hunter2"), std::string::npos) << e;
  EXPECT_NE(e.find("the value is shorter than MinLength 8"), std::string::npos) << e;
}

TEST(ParametersBind, ReportsEveryProblem) {
  Template t = WithParameters("  N: {Type: Number, Default: 1}\n  S: {Type: String, MaxLength: 1, Default: x}\n");
  std::string e = BindError(t, {{"N", "x"}, {"S", "yy"}, {"T", "z"}});
  EXPECT_NE(e.find("t.yaml:2:3: parameter 'N': 'x' is not a number"), std::string::npos) << e;
  EXPECT_NE(e.find("t.yaml:3:3: parameter 'S': 'yy' is longer than MaxLength 1"), std::string::npos) << e;
  EXPECT_NE(e.find("--param T: the template has no parameter 'T' (it has: N, S)"), std::string::npos) << e;
}

TEST(ParametersCheckValue, ListItemsAreTrimmed) {
  Parameter p;
  p.name = "L";
  p.type = ParameterType::kCommaDelimitedList;
  auto v = CheckParameterValue(p, "a , b,, c");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, json::parse(R"(["a","b","","c"])"));
}

}  // namespace
}  // namespace drover::deploy
