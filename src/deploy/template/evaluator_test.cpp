#include <gtest/gtest.h>

#include "deploy/template/template.h"
#include "deploy/template/template_testing.h"

namespace drover::deploy {
namespace {

namespace json = boost::json;
using testing::MustParse;

// A resolver that knows every resource: Ref gives "ref-<name>", GetAtt gives "<name>.<attr>" (Port: 8443).
ResourceResolver FakeResolver() {
  ResourceResolver r;
  r.ref = [](const std::string& name) -> Result<json::value> { return json::value("ref-" + name); };
  r.get_att = [](const std::string& name, const std::string& attr) -> Result<json::value> {
    if (attr == "Port") return json::value(int64_t{8443});
    return json::value(name + "." + attr);
  };
  return r;
}

// Evaluates the `Anything` property of resource A in a template with parameters and conditions.
class IntrinsicsTest : public ::testing::Test {
 protected:
  void Load(const std::string& value, const std::map<std::string, std::string>& overrides = {}) {
    t_ = MustParse(R"(Parameters:
  Env: {Type: String, Default: prod}
  Count: {Type: Number, Default: 3}
  Zones: {Type: CommaDelimitedList, Default: "a, b ,c"}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Many: !Equals [!Ref Count, 3]
  Both: !And [!Condition IsProd, !Condition Many]
  Either: {"Fn::Or": [{Condition: IsDev}, {"Fn::Equals": [!Ref Env, staging]}]}
Resources:
  B: {Type: Test::Bucket}
  A:
    Type: Test::Server
    Properties:
      Name: x
      Anything: )" + value + "\n");
    auto params = BindParameters(t_, overrides);
    ASSERT_TRUE(params.ok()) << params.status().message();
    evaluator_.emplace(t_, *params, FakeResolver(), "stack1");
  }
  const Node& Value() {
    static const Node kMissing;
    const Resource* a = t_.FindResource("A");
    const Node* v = a ? a->properties.Find("Anything") : nullptr;
    return v ? *v : kMissing;
  }
  json::value Eval(const std::string& value, const std::map<std::string, std::string>& overrides = {}) {
    Load(value, overrides);
    auto v = evaluator_->Evaluate(Value());
    EXPECT_TRUE(v.ok()) << value << ": " << v.status().message();
    return v.ok() ? *v : json::value("<error>");
  }
  std::string Error(const std::string& value) {
    Load(value);
    auto v = evaluator_->Evaluate(Value());
    EXPECT_FALSE(v.ok()) << value << " gave " << json::serialize(*v);
    return v.ok() ? "" : v.status().message();
  }

  Template t_;
  std::optional<Evaluator> evaluator_;
};

TEST_F(IntrinsicsTest, Ref) {
  EXPECT_EQ(Eval("!Ref Env"), json::value("prod"));
  EXPECT_EQ(Eval("{Ref: Env}"), json::value("prod"));
  EXPECT_EQ(Eval("!Ref Count"), json::value(int64_t{3}));
  EXPECT_EQ(Eval("!Ref Zones"), json::parse(R"(["a","b","c"])"));
  EXPECT_EQ(Eval("!Ref B"), json::value("ref-B"));
  EXPECT_EQ(Eval("{Ref: B}"), json::value("ref-B"));
  EXPECT_EQ(Eval("!Ref Drover::StackName"), json::value("stack1"));
  EXPECT_EQ(Eval("!Ref AWS::StackName"), json::value("stack1"));
  EXPECT_EQ(Eval("!Ref Env", {{"Env", "dev"}}), json::value("dev"));
}

TEST_F(IntrinsicsTest, GetAtt) {
  EXPECT_EQ(Eval("!GetAtt B.Arn"), json::value("B.Arn"));
  EXPECT_EQ(Eval("!GetAtt [B, Arn]"), json::value("B.Arn"));
  EXPECT_EQ(Eval("{\"Fn::GetAtt\": [B, Arn]}"), json::value("B.Arn"));
  EXPECT_EQ(Eval("{\"Fn::GetAtt\": B.Arn}"), json::value("B.Arn"));
}

TEST_F(IntrinsicsTest, ResolverErrorsCarryTheLocation) {
  Load("!GetAtt B.Arn");
  ResourceResolver failing;
  failing.get_att = [](const std::string&, const std::string&) -> Result<json::value> {
    return FailedPrecondition("B is not created yet");
  };
  Evaluator e(t_, {}, failing, "s");
  auto v = e.Evaluate(Value());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(v.status().message(), "t.yaml:17:17: !GetAtt B.Arn: B is not created yet");
}

TEST_F(IntrinsicsTest, Sub) {
  EXPECT_EQ(Eval("!Sub \"${AWS::StackName}-${Env}-${Count}\""), json::value("stack1-prod-3"));
  EXPECT_EQ(Eval("!Sub \"${B}/${B.Arn}\""), json::value("ref-B/B.Arn"));
  EXPECT_EQ(Eval("!Sub \"${!Literal} and ${ Env } $5 {x}\""), json::value("${Literal} and prod $5 {x}"));
  EXPECT_EQ(Eval("!Sub [\"${Greeting}, ${Env}\", {Greeting: !Join [\" \", [hello, there]]}]"), json::value("hello there, prod"));
  EXPECT_EQ(Eval("!Sub [\"${Env}\", {Env: shadowed}]"), json::value("shadowed"));
  EXPECT_EQ(Eval("{\"Fn::Sub\": \"${Drover::StackName}\"}"), json::value("stack1"));
  EXPECT_EQ(Eval("{\"Fn::Sub\": [\"n=${N}\", {N: 7}]}"), json::value("n=7"));
  EXPECT_EQ(Eval("!Sub \"pw={{resolve:secret:/db/pw}}\""), json::value("pw={{resolve:secret:/db/pw}}"));
}

TEST_F(IntrinsicsTest, SubOfANonScalarIsAnError) {
  EXPECT_NE(Error("!Sub \"${Zones}\"").find("t.yaml:17:17: !Sub: ${Zones} is a list, not a string or number"), std::string::npos);
  EXPECT_NE(Error("!Sub [\"${M}\", {M: {a: 1}}]").find("${M} is a mapping"), std::string::npos);
}

TEST_F(IntrinsicsTest, Join) {
  EXPECT_EQ(Eval("!Join [\",\", [a, 2, true]]"), json::value("a,2,true"));
  EXPECT_EQ(Eval("{\"Fn::Join\": [\"-\", !Ref Zones]}"), json::value("a-b-c"));
  EXPECT_EQ(Eval("!Join [\"\", [a, !Ref AWS::NoValue, b]]"), json::value("ab"));
  EXPECT_NE(Error("!Join [\",\", [a, [b]]]").find("!Join: cannot join a list"), std::string::npos);
}

TEST_F(IntrinsicsTest, Select) {
  EXPECT_EQ(Eval("!Select [1, [a, b, c]]"), json::value("b"));
  EXPECT_EQ(Eval("!Select [\"2\", !Ref Zones]"), json::value("c"));
  EXPECT_EQ(Eval("{\"Fn::Select\": [0, !Split [\",\", \"x,y\"]]}"), json::value("x"));
  EXPECT_EQ(Error("!Select [3, [a, b]]"), "t.yaml:17:17: !Select: index 3 is out of range for a list of 2 items");
}

TEST_F(IntrinsicsTest, Split) {
  EXPECT_EQ(Eval("!Split [\",\", \"a,,b\"]"), json::parse(R"(["a","","b"])"));
  EXPECT_EQ(Eval("{\"Fn::Split\": [\"::\", !Sub \"${Env}::x\"]}"), json::parse(R"(["prod","x"])"));
  EXPECT_EQ(Eval("!Split [\"-\", 123]"), json::parse(R"(["123"])"));
}

TEST_F(IntrinsicsTest, If) {
  EXPECT_EQ(Eval("!If [IsProd, big, small]"), json::value("big"));
  EXPECT_EQ(Eval("!If [IsProd, big, small]", {{"Env", "dev"}}), json::value("small"));
  EXPECT_EQ(Eval("{\"Fn::If\": [IsDev, 1, [2]]}"), json::parse("[2]"));
}

TEST_F(IntrinsicsTest, ConditionFunctions) {
  EXPECT_EQ(Eval("!Equals [a, a]"), json::value(true));
  EXPECT_EQ(Eval("!Equals [!Ref Count, \"3\"]"), json::value(true));  // compared as text
  EXPECT_EQ(Eval("{\"Fn::Equals\": [[1], [1]]}"), json::value(true));
  EXPECT_EQ(Eval("!Not [!Equals [a, b]]"), json::value(true));
  EXPECT_EQ(Eval("{\"Fn::Not\": [{Condition: IsProd}]}"), json::value(false));
  EXPECT_EQ(Eval("!And [!Condition IsProd, !Condition Many]"), json::value(true));
  EXPECT_EQ(Eval("{\"Fn::And\": [{Condition: IsProd}, !Equals [x, y]]}"), json::value(false));
  EXPECT_EQ(Eval("!Or [!Condition IsDev, !Equals [x, x]]"), json::value(true));
  EXPECT_EQ(Eval("{\"Fn::Or\": [{Condition: IsDev}, !Condition IsDev]}"), json::value(false));
  EXPECT_EQ(Eval("!Condition Both"), json::value(true));
}

TEST_F(IntrinsicsTest, Conditions) {
  Load("x", {{"Env", "staging"}});
  EXPECT_EQ(*evaluator_->Condition("IsProd"), false);
  EXPECT_EQ(*evaluator_->Condition("IsDev"), true);
  EXPECT_EQ(*evaluator_->Condition("Both"), false);
  EXPECT_EQ(*evaluator_->Condition("Either"), true);
  EXPECT_FALSE(evaluator_->Condition("Ghost").ok());
  Resource r;
  EXPECT_EQ(*evaluator_->Enabled(r), true);
  r.condition = "IsProd";
  EXPECT_EQ(*evaluator_->Enabled(r), false);
}

TEST_F(IntrinsicsTest, Base64) {
  EXPECT_EQ(Eval("!Base64 \"#!/bin/sh\""), json::value("IyEvYmluL3No"));
  EXPECT_EQ(Eval("!Base64 ab"), json::value("YWI="));
  EXPECT_EQ(Eval("{\"Fn::Base64\": !Sub \"${Env}\"}"), json::value("cHJvZA=="));
  EXPECT_EQ(Eval("!Base64 \"\""), json::value(""));
}

TEST_F(IntrinsicsTest, NoValueRemovesItemsAndEntries) {
  EXPECT_EQ(Eval("[a, !Ref Drover::NoValue, !If [IsDev, c, !Ref AWS::NoValue]]"), json::parse(R"(["a"])"));
  EXPECT_EQ(Eval("{k: !Ref AWS::NoValue, j: 1}"), json::parse(R"({"j":1})"));
  EXPECT_TRUE(Eval("!Ref Drover::NoValue").is_null());
}

TEST(IntrinsicsFindInMap, LooksUpBothForms) {
  Template t = MustParse(R"(Parameters:
  Size: {Type: String, Default: small}
Mappings:
  Sizes:
    small: {Cores: 2, Zones: [a, b]}
    large: {Cores: 16, Zones: [c]}
Resources:
  A:
    Type: Test::Server
    Properties:
      Name: x
      Size: !FindInMap [Sizes, !Ref Size, Cores]
      Tags: {"Fn::FindInMap": [Sizes, large, Zones]}
      Anything: !FindInMap [Sizes, !Ref Size, Nope]
)");
  const Node& props = t.resources.at(0).properties;
  for (const char* size : {"small", "large"}) {
    auto params = BindParameters(t, {{"Size", size}});
    ASSERT_TRUE(params.ok());
    Evaluator e(t, *params, FakeResolver(), "s");
    EXPECT_EQ(*e.Evaluate(*props.Find("Size")), json::value(int64_t{std::string(size) == "small" ? 2 : 16}));
    EXPECT_EQ(*e.Evaluate(*props.Find("Tags")), json::parse(R"(["c"])"));
    auto missing = e.Evaluate(*props.Find("Anything"));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.status().message(), "t.yaml:14:17: !FindInMap: mapping 'Sizes' has no key '" + std::string(size) + ".Nope'");
  }
}

TEST(IntrinsicsConditions, CyclesAreAnErrorWhenEvaluating) {
  // Parse rejects cycles; an Evaluator over a hand-built Template still must not recurse forever.
  Template t;
  t.file = "t.yaml";
  auto condition = [](const std::string& other) {
    Node name{Node::Kind::kScalar, other};
    Node fn;
    fn.kind = Node::Kind::kFunction;
    fn.function = "Condition";
    fn.items.push_back(name);
    return fn;
  };
  t.conditions.emplace_back("A", condition("B"));
  t.conditions.emplace_back("B", condition("A"));
  Evaluator e(t, {}, {}, "s");
  auto v = e.Condition("A");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("condition cycle A -> B -> A"), std::string::npos) << v.status().message();
}

// --- Properties: evaluation, NoValue, then the schema -------------------------------------------------------

class TemplatePropertiesTest : public ::testing::Test {
 protected:
  Result<json::object> Properties(const std::string& props, const std::map<std::string, std::string>& overrides = {}) {
    t_ = MustParse(R"(Parameters:
  Size: {Type: String, Default: "4"}
  Tier: {Type: String, Default: small}
Conditions:
  Never: !Equals [a, b]
Resources:
  A:
    Type: Test::Server
    Properties:
)" + props);
    auto params = BindParameters(t_, overrides);
    EXPECT_TRUE(params.ok()) << params.status().message();
    Evaluator e(t_, *params, FakeResolver(), "s");
    return e.Properties(t_.resources[0]);
  }
  Template t_;
};

TEST_F(TemplatePropertiesTest, ConvertsToTheSchemaTypes) {
  auto p = Properties(R"(      Name: 12
      Size: !Ref Size
      Ratio: "0.5"
      Enabled: "true"
      Tier: !Ref Tier
      Tags: [a]
      Settings: {k: v}
      Anything: !GetAtt A2.Port
  A2: {Type: Test::Server, Properties: {Name: y}}
)");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(json::value(*p), json::parse(R"({"Name":"12","Size":4,"Ratio":0.5,"Enabled":true,"Tier":"small",
      "Tags":["a"],"Settings":{"k":"v"},"Anything":8443})"));
}

TEST_F(TemplatePropertiesTest, DropsNoValue) {
  auto p = Properties("      Name: x\n      Size: !If [Never, 3, !Ref Drover::NoValue]\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(json::value(*p), json::parse(R"({"Name":"x"})"));
}

TEST_F(TemplatePropertiesTest, ChecksTypesAfterEvaluation) {
  auto p = Properties("      Name: x\n      Size: !Ref Size\n      Tier: !Ref Tier\n", {{"Size", "four"}, {"Tier", "huge"}});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("t.yaml:11:13: Resources.A.Properties.Size: expected an integer, got 'four'"), std::string::npos)
      << p.status().message();
  EXPECT_NE(p.status().message().find("t.yaml:12:13: Resources.A.Properties.Tier: 'huge' is not one of the allowed values"),
            std::string::npos)
      << p.status().message();
}

TEST_F(TemplatePropertiesTest, RequiredAfterNoValue) {
  auto p = Properties("      Name: !If [Never, x, !Ref AWS::NoValue]\n");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("missing required property 'Name'"), std::string::npos) << p.status().message();
}

}  // namespace
}  // namespace drover::deploy
