#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "deploy/template/template.h"
#include "deploy/template/template_testing.h"

namespace drover::deploy {
namespace {

using testing::ExpectProblem;
using testing::MustParse;
using testing::Parse;

TEST(TemplateParse, ReadsEverySection) {
  Template t = MustParse(R"(AWSTemplateFormatVersion: "2010-09-09"
Description: A small cluster
Parameters:
  Nodes:
    Type: Number
    Default: 2
    MinValue: 1
    MaxValue: 8
    Description: compute nodes
  Env:
    Type: String
    AllowedValues: [dev, prod]
    Default: dev
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Store:
    Type: Test::Bucket
    DeletionPolicy: Retain
    UpdateReplacePolicy: Delete
    Metadata: {note: anything}
  Head:
    Type: Test::Server
    DependsOn: Store
    Condition: IsProd
    CreationPolicy:
      ResourceSignal: {Count: 2, Timeout: PT10M}
    Properties:
      Name: !Sub "${AWS::StackName}-head"
      Size: !Ref Nodes
      Anything: !GetAtt Store.Arn
Outputs:
  Address:
    Description: where the head node listens
    Value: !GetAtt Head.Address
    Condition: IsProd
)");
  EXPECT_EQ(t.file, "t.yaml");
  EXPECT_EQ(t.description, "A small cluster");
  ASSERT_EQ(t.parameters.size(), 2u);
  EXPECT_EQ(t.parameters[0].name, "Nodes");
  EXPECT_EQ(t.parameters[0].type, ParameterType::kNumber);
  EXPECT_EQ(t.parameters[0].default_value, "2");
  EXPECT_EQ(t.parameters[0].min_value, 1);
  EXPECT_EQ(t.parameters[0].max_value, 8);
  EXPECT_EQ(t.parameters[0].description, "compute nodes");
  EXPECT_EQ(t.parameters[0].where.ToString(), "t.yaml:4:3");
  EXPECT_EQ(t.parameters[1].allowed_values, (std::vector<std::string>{"dev", "prod"}));
  ASSERT_EQ(t.conditions.size(), 1u);
  EXPECT_EQ(t.conditions[0].first, "IsProd");
  EXPECT_TRUE(t.conditions[0].second.IsFunction("Fn::Equals"));
  ASSERT_EQ(t.resources.size(), 2u);
  const Resource& store = t.resources[0];
  EXPECT_EQ(store.deletion_policy, DeletionPolicy::kRetain);
  EXPECT_EQ(store.update_replace_policy, DeletionPolicy::kDelete);
  EXPECT_EQ(store.metadata.kind, Node::Kind::kMapping);
  EXPECT_EQ(store.properties.kind, Node::Kind::kNull);
  const Resource* head = t.FindResource("Head");
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->type, "Test::Server");
  EXPECT_EQ(head->condition, "IsProd");
  EXPECT_EQ(head->depends_on, std::vector<std::string>{"Store"});
  EXPECT_EQ(head->references, std::vector<std::string>{"Store"});
  EXPECT_EQ(head->Dependencies(), std::vector<std::string>{"Store"});
  ASSERT_TRUE(head->creation_policy.has_value());
  EXPECT_EQ(head->creation_policy->count, 2);
  EXPECT_EQ(head->creation_policy->timeout_ms, 600000);
  EXPECT_FALSE(head->deletion_policy.has_value());
  EXPECT_EQ(head->where.line, 22);
  EXPECT_EQ(head->where.column, 3);
  ASSERT_EQ(t.outputs.size(), 1u);
  EXPECT_EQ(t.outputs[0].condition, "IsProd");
  EXPECT_TRUE(t.outputs[0].value.IsFunction("Fn::GetAtt"));
  EXPECT_EQ(t.types.count("Test::Server"), 1u);
  EXPECT_EQ(t.FindResource("Nope"), nullptr);
}

TEST(TemplateParse, NodesKeepTheirShapeAndPlace) {
  Template t = MustParse(R"(Resources:
  A:
    Type: Test::Server
    Properties:
      Name: "quoted"
      Tags: [a, 'b', 3]
      Settings:
        z: 1
        a: 2
      Anything: |
        block text
)");
  const Node& props = t.resources[0].properties;
  ASSERT_EQ(props.kind, Node::Kind::kMapping);
  const Node* name = props.Find("Name");
  ASSERT_NE(name, nullptr);
  EXPECT_TRUE(name->quoted);
  EXPECT_EQ(name->where.ToString(), "t.yaml:5:13");
  const Node* tags = props.Find("Tags");
  ASSERT_EQ(tags->items.size(), 3u);
  EXPECT_FALSE(tags->items[0].quoted);
  EXPECT_TRUE(tags->items[1].quoted);
  EXPECT_EQ(tags->items[2].where.line, 6);
  const Node* settings = props.Find("Settings");
  ASSERT_EQ(settings->entries.size(), 2u);
  EXPECT_EQ(settings->entries[0].first, "z");  // written order
  EXPECT_EQ(settings->entries[1].first, "a");
  EXPECT_TRUE(props.Find("Anything")->quoted);
}

TEST(TemplateParse, ScalarsFollowTheYaml12CoreSchema) {
  Template t = MustParse(R"(Resources:
  A:
    Type: Test::Server
    Properties:
      Name: x
      Anything: [42, -7, 0x1F, 0o17, 1.5, 2e3, .inf, true, False, null, ~, "42", 'true', yes, 12abc, 99999999999999999999]
)");
  const Node& list = *t.resources[0].properties.Find("Anything");
  auto v = [&](size_t i) { return ScalarValue(list.items.at(i)); };
  EXPECT_EQ(v(0), boost::json::value(int64_t{42}));
  EXPECT_EQ(v(1), boost::json::value(int64_t{-7}));
  EXPECT_EQ(v(2), boost::json::value(int64_t{31}));
  EXPECT_EQ(v(3), boost::json::value(int64_t{15}));
  EXPECT_EQ(v(4), boost::json::value(1.5));
  EXPECT_EQ(v(5), boost::json::value(2000.0));
  EXPECT_TRUE(v(6).is_double() && std::isinf(v(6).get_double()));
  EXPECT_EQ(v(7), boost::json::value(true));
  EXPECT_EQ(v(8), boost::json::value(false));
  EXPECT_TRUE(v(9).is_null());
  EXPECT_TRUE(v(10).is_null());
  EXPECT_EQ(v(11), boost::json::value("42"));
  EXPECT_EQ(v(12), boost::json::value("true"));
  EXPECT_EQ(v(13), boost::json::value("yes"));  // YAML 1.1 booleans are strings in 1.2
  EXPECT_EQ(v(14), boost::json::value("12abc"));
  EXPECT_TRUE(v(15).is_double());
}

TEST(TemplateParse, LongAndShortFormsGiveTheSameFunction) {
  Template t = MustParse(R"(Resources:
  A:
    Type: Test::Server
    Properties:
      Name: {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, x]]}
      Anything: !Join ["-", [!Ref AWS::StackName, x]]
)");
  const Node& props = t.resources[0].properties;
  const Node& long_form = *props.Find("Name");
  const Node& short_form = *props.Find("Anything");
  EXPECT_TRUE(long_form.IsFunction("Fn::Join"));
  EXPECT_TRUE(short_form.IsFunction("Fn::Join"));
  EXPECT_TRUE(long_form.items[0].items[1].items[0].IsFunction("Ref"));
  EXPECT_TRUE(short_form.items[0].items[1].items[0].IsFunction("Ref"));
}

TEST(TemplateParse, DroverVersionAndListDependsOn) {
  Template t = MustParse(R"(DroverTemplateFormatVersion: "1"
Resources:
  A: {Type: Test::Bucket}
  B: {Type: Test::Bucket}
  C:
    Type: Test::Bucket
    DependsOn: [B, A]
    Properties: {Label: !Ref B}
)");
  EXPECT_EQ(t.resources[2].Dependencies(), (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(t.resources[2].references, std::vector<std::string>{"B"});
}

TEST(TemplateParse, CreationPolicyDefaultsAsCloudFormation) {
  Template t = MustParse(R"(Resources:
  A:
    Type: Test::Bucket
    CreationPolicy: {ResourceSignal: {}}
)");
  ASSERT_TRUE(t.resources[0].creation_policy.has_value());
  EXPECT_EQ(t.resources[0].creation_policy->count, 1);
  EXPECT_EQ(t.resources[0].creation_policy->timeout_ms, 300000);
}

TEST(TemplateParse, LoadsAFile) {
  std::string path = ::testing::TempDir() + "/template_parse_loads_a_file.yaml";
  {
    std::ofstream out(path);
    out << "Resources:\n  A: {Type: Test::Bucket}\n  B: {Type: Test::Nope}\n";
  }
  auto t = LoadTemplateFile(path, testing::TestTypes());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(path + ":3:"), std::string::npos) << t.status().message();
  std::remove(path.c_str());
  EXPECT_EQ(LoadTemplateFile(path, testing::TestTypes()).status().code(), StatusCode::kNotFound);
}

TEST(TemplateParse, ReportsEveryProblemAtOnceInOrder) {
  auto t = Parse(R"(Resources:
  A:
    Type: Test::Nope
  B:
    Type: Test::Server
    Properties:
      Name: x
      Size: abc
    DependsOn: Missing
)");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "t.yaml:3:11: Resources.A: unknown resource type 'Test::Nope' (known: Test::Bucket, Test::Server)\n"
            "t.yaml:8:13: Resources.B.Properties.Size: expected an integer, got 'abc'\n"
            "t.yaml:9:16: Resources.B.DependsOn: no resource named 'Missing'");
}

// Metadata.Drover names the provider a template is written for; the rest of Metadata stays free-form.
TEST(TemplateParse, MetadataNamesTheProvider) {
  Template t = MustParse("Metadata:\n  Drover: {Provider: netns}\n  Notes: [anything]\nResources: {A: {Type: Test::Bucket}}\n");
  EXPECT_EQ(t.provider, "netns");
  EXPECT_EQ(t.provider_where.ToString(), "t.yaml:2:22");
  EXPECT_EQ(MustParse("Metadata: {Author: me}\nResources: {A: {Type: Test::Bucket}}\n").provider, "");
  ExpectProblem("Metadata:\n  Drover: netns\nResources: {A: {Type: Test::Bucket}}\n", 2,
                "Metadata.Drover: expected a mapping such as {Provider: netns}");
  ExpectProblem("Metadata:\n  Drover: {Provder: netns}\nResources: {A: {Type: Test::Bucket}}\n", 2,
                "Metadata.Drover: unknown key 'Provder' (allowed: Provider)");
  ExpectProblem("Metadata:\n  Drover: {Provider: !Ref X}\nResources: {A: {Type: Test::Bucket}}\n", 2,
                "Metadata.Drover.Provider: expected a literal string");
  ExpectProblem("Metadata:\n  Drover: {Provider: ''}\nResources: {A: {Type: Test::Bucket}}\n", 2,
                "Metadata.Drover.Provider: name the provider");
}

// --- Each validation error, at its line -----------------------------------------------------------------

TEST(TemplateValidation, YamlSyntaxError) {
  ExpectProblem("Resources:\n  A: {Type: Test::Bucket\n  B: [x\n", 3, "YAML syntax error");
  ExpectProblem("Resources:\n  A:\n    Type: Test::Bucket\n   bad: 1\n", 4, "YAML syntax error");
}

TEST(TemplateValidation, AliasesCannotExplode) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    std::string list;
    for (int j = 0; j < 10; ++j) list += (j ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + list + "]\n";
  }
  yaml += "Resources: {A: {Type: Test::Bucket}}\n";
  auto t = Parse(yaml);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("the template expands to more than 50000 values"), std::string::npos);
  // An alias inside its own anchor is a value that contains itself.
  ExpectProblem("Resources: {A: {Type: Test::Bucket}}\nMetadata: &m [1, *m]\n", 2, "nested more than 100 levels deep");
}

TEST(TemplateValidation, DuplicateKeysAnywhere) {
  ExpectProblem(R"(Resources:
  A: {Type: Test::Bucket}
  A: {Type: Test::Server}
)", 3, "duplicate key 'A' (first at line 2)");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Server
    Properties:
      Name: x
      Settings:
        k: 1
        k: 2
)", 8, "duplicate key 'k' (first at line 7)");
  ExpectProblem("Description: a\nDescription: b\nResources: {A: {Type: Test::Bucket}}\n", 2, "duplicate key 'Description'");
}

TEST(TemplateValidation, TopLevelSections) {
  ExpectProblem("Resources: {A: {Type: Test::Bucket}}\nRules: {}\n", 2, "unknown top-level section 'Rules'");
  ExpectProblem("Description: nothing\n", 1, "no Resources section");
  ExpectProblem("Resources: {}\n", 1, "at least one resource");
  ExpectProblem("AWSTemplateFormatVersion: 2011-01-01\nResources: {A: {Type: Test::Bucket}}\n", 1, "unsupported version");
  ExpectProblem("- a\n- b\n", 1, "a template is a mapping");
}

TEST(TemplateValidation, UnknownResourceType) {
  ExpectProblem(R"(Resources:
  Head:
    Type: Drover::Hed
)", 3, "Resources.Head: unknown resource type 'Drover::Hed' (known: Test::Bucket, Test::Server)");
  ExpectProblem("Resources:\n  Head:\n    Properties: {}\n", 2, "Resources.Head: missing Type");
}

TEST(TemplateValidation, UnknownKeyInResource) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Propertes: {Label: x}
)", 4, "Resources.A: unknown key 'Propertes'");
}

TEST(TemplateValidation, ResourceNamesAreAlphanumeric) {
  ExpectProblem("Resources:\n  Head-Node:\n    Type: Test::Bucket\n", 2, "names may hold only letters and digits");
}

TEST(TemplateValidation, UnknownProperty) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Lable: x
)", 5, "Resources.A.Properties: unknown property 'Lable' for type Test::Bucket (known: Label)");
}

TEST(TemplateValidation, MissingRequiredProperty) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Server
    Properties:
      Size: 2
)", 5, "missing required property 'Name' for type Test::Server");
  ExpectProblem("Resources:\n  A:\n    Type: Test::Server\n", 2, "missing required property 'Name'");
}

TEST(TemplateValidation, LiteralOfTheWrongType) {
  const char* head = "Resources:\n  A:\n    Type: Test::Server\n    Properties:\n      Name: x\n";
  ExpectProblem(std::string(head) + "      Size: \"abc\"\n", 6, "Size: expected an integer, got 'abc'");
  ExpectProblem(std::string(head) + "      Size: 1.5\n", 6, "Size: expected an integer, got '1.5'");
  ExpectProblem(std::string(head) + "      Ratio: many\n", 6, "Ratio: expected a number, got 'many'");
  ExpectProblem(std::string(head) + "      Enabled: yes\n", 6, "Enabled: expected true or false, got 'yes'");
  ExpectProblem(std::string(head) + "      Tags: a\n", 6, "Tags: expected a list, got 'a'");
  ExpectProblem(std::string(head) + "      Settings: [a]\n", 6, "Settings: expected a mapping, got a list");
  ExpectProblem(std::string(head) + "      Tier: [a]\n", 6, "Tier: expected a string, got a list");
  ExpectProblem(std::string(head) + "      Tier:\n", 6, "Tier: expected a string, got nothing");
  // Numbers written in strings are numbers, as CloudFormation takes them; numbers are fine as strings.
  MustParse(std::string(head) + "      Size: \"3\"\n      Ratio: \"0.5\"\n      Enabled: \"true\"\n      Tier: small\n");
}

TEST(TemplateValidation, AllowedValuesOfAProperty) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Server
    Properties:
      Name: x
      Tier: medium
)", 6, "Tier: 'medium' is not one of the allowed values (small, large)");
}

TEST(TemplateValidation, RefToNothing) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !Ref Nothing
)", 5, "!Ref to unknown parameter or resource 'Nothing'");
  ExpectProblem(R"(Resources:
  A: {Type: Test::Bucket}
Outputs:
  O: {Value: {Ref: Ghost}}
)", 4, "Outputs.O.Value: !Ref to unknown parameter or resource 'Ghost'");
}

TEST(TemplateValidation, GetAttToNothing) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !GetAtt Ghost.Arn
)", 5, "!GetAtt Ghost.Arn: no resource named 'Ghost'");
  ExpectProblem(R"(Parameters:
  P: {Type: String, Default: x}
Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !GetAtt [P, Arn]
)", 7, "'P' is a parameter, not a resource");
}

TEST(TemplateValidation, GetAttOfAnUnknownAttribute) {
  ExpectProblem(R"(Resources:
  B: {Type: Test::Bucket}
  A:
    Type: Test::Bucket
    Properties:
      Label: !GetAtt B.Address
)", 6, "type Test::Bucket has no attribute 'Address' (it has: Arn)");
}

TEST(TemplateValidation, SubToNothing) {
  ExpectProblem(R"(Resources:
  B: {Type: Test::Bucket}
  A:
    Type: Test::Bucket
    Properties:
      Label: !Sub "${Ghost}-${B.Nope}-${Missing.Arn}-${!Literal}"
)", 6, "!Sub ${Ghost} to unknown parameter or resource 'Ghost'");
  ExpectProblem(R"(Resources:
  B: {Type: Test::Bucket}
  A:
    Type: Test::Bucket
    Properties:
      Label: !Sub "${Ghost}-${B.Nope}-${Missing.Arn}-${!Literal}"
)", 6, "type Test::Bucket has no attribute 'Nope'");
  ExpectProblem(R"(Resources:
  B: {Type: Test::Bucket}
  A:
    Type: Test::Bucket
    Properties:
      Label: !Sub "${Ghost}-${B.Nope}-${Missing.Arn}-${!Literal}"
)", 6, "no resource named 'Missing'");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !Sub "${Unclosed"
)", 5, "has no closing '}'");
  // Variables of the list form are known.
  MustParse(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !Sub ["${Mine}-${AWS::StackName}", {Mine: x}]
)");
}

TEST(TemplateValidation, DependsOnNothing) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    DependsOn:
      - A2
      - Ghost
  A2: {Type: Test::Bucket}
)", 6, "Resources.A.DependsOn: no resource named 'Ghost'");
}

TEST(TemplateValidation, DependencyCycles) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    DependsOn: B
  B:
    Type: Test::Bucket
    Properties:
      Label: !GetAtt A.Arn
)", 2, "Resources.A: dependency cycle A -> B -> A");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties: {Label: !Sub "${C}"}
  B:
    Type: Test::Bucket
    DependsOn: A
  C:
    Type: Test::Bucket
    DependsOn: B
)", 2, "dependency cycle A -> C -> B -> A");
  ExpectProblem("Resources:\n  A:\n    Type: Test::Bucket\n    Properties: {Label: !Ref A}\n", 2, "dependency cycle A -> A");
}

TEST(TemplateValidation, UnknownIntrinsicTags) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !ImportValue x
)", 5, "unknown intrinsic function tag '!ImportValue'");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: {"Fn::Frobnicate": x}
)", 5, "unknown intrinsic function 'Fn::Frobnicate'");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: {Ref: x, Other: y}
)", 5, "'Ref' must be the only key of its mapping");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !!int 3
)", 5, "unsupported YAML tag '!!int'");
}

TEST(TemplateValidation, WrongIntrinsicShapes) {
  auto with = [](const std::string& value) {
    return "Resources:\n  A:\n    Type: Test::Server\n    Properties:\n      Name: x\n      Anything: " + value + "\n";
  };
  ExpectProblem(with("!Select [0, [a], b]"), 6, "!Select takes [index, list], got 3 items");
  ExpectProblem(with("!Select [-1, [a]]"), 6, "!Select takes a non-negative integer index, got '-1'");
  ExpectProblem(with("!Select [0, a]"), 6, "!Select takes a list to select from, got a scalar");
  ExpectProblem(with("!Join [\",\"]"), 6, "!Join takes [delimiter, list], got 1 item");
  ExpectProblem(with("!Join [[a], [b]]"), 6, "!Join takes a string delimiter");
  ExpectProblem(with("!Split [\",\", [a]]"), 6, "!Split takes a string to split, got a list");
  ExpectProblem(with("!If [C, a]"), 6, "!If takes [condition, value if true, value if false], got 2 items");
  ExpectProblem(with("!GetAtt NoDot"), 6, "!GetAtt takes 'Resource.Attribute' or [Resource, Attribute]");
  ExpectProblem(with("!GetAtt [A]"), 6, "got 1 item");
  ExpectProblem(with("!Ref [a]"), 6, "!Ref takes a name, got a list");
  ExpectProblem(with("!Sub [a, b]"), 6, "!Sub takes a mapping of variables as its second item");
  ExpectProblem(with("!Equals [a]"), 6, "!Equals takes [value, value], got 1 item");
  ExpectProblem(with("!Base64 [a]"), 6, "!Base64 takes a string, got a list");
  ExpectProblem(with("{\"Fn::Select\": [1]}"), 6, "!Select takes [index, list], got 1 item");
}

TEST(TemplateValidation, ConditionsNamingUnknownConditions) {
  ExpectProblem(R"(Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Both: !And [!Condition IsProd, !Condition Ghost]
  Either: {"Fn::Or": [{Condition: IsProd}, {Condition: Phantom}]}
Resources:
  A: {Type: Test::Bucket}
)", 5, "!Condition names no condition 'Ghost'");
  ExpectProblem(R"(Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Either: {"Fn::Or": [{Condition: IsProd}, {Condition: Phantom}]}
Resources:
  A: {Type: Test::Bucket}
)", 5, "!Condition names no condition 'Phantom'");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Properties:
      Label: !If [Ghost, a, b]
)", 5, "!If names no condition 'Ghost'");
}

TEST(TemplateValidation, ConditionsDefinitions) {
  ExpectProblem("Conditions:\n  C: yes\nResources: {A: {Type: Test::Bucket}}\n", 2, "a condition is !Equals, !And, !Or, !Not or !Condition");
  ExpectProblem("Conditions:\n  C: !Not [!Ref A]\nResources: {A: {Type: Test::Bucket}}\n", 2, "!Not takes conditions");
  ExpectProblem("Conditions:\n  C: !Equals [!Ref A, x]\nResources: {A: {Type: Test::Bucket}}\n", 2,
                "conditions can name only parameters, not resources");
  ExpectProblem("Conditions:\n  C: !Not [!Condition D]\n  D: !Not [!Condition C]\nResources: {A: {Type: Test::Bucket}}\n", 2,
                "condition cycle C -> D -> C");
}

TEST(TemplateValidation, ResourceConditionNamingAnUnknownCondition) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    Condition: Ghost
)", 4, "Resources.A.Condition: no condition named 'Ghost'");
  ExpectProblem(R"(Resources:
  A: {Type: Test::Bucket}
Outputs:
  O:
    Value: x
    Condition: Ghost
)", 6, "Outputs.O.Condition: no condition named 'Ghost'");
}

TEST(TemplateValidation, BadParameterDefinitions) {
  auto with = [](const std::string& param) { return "Parameters:\n  P:\n" + param + "Resources: {A: {Type: Test::Bucket}}\n"; };
  ExpectProblem(with("    Type: Strin\n"), 3, "Parameters.P.Type: unknown parameter type 'Strin'");
  ExpectProblem(with("    Default: x\n"), 2, "Parameters.P: missing Type");
  ExpectProblem(with("    Type: String\n    AllowedValues: [a, b]\n    Default: c\n"), 5,
                "Parameters.P.Default: 'c' is not one of the allowed values ('a', 'b')");
  ExpectProblem(with("    Type: Number\n    MinValue: 2\n    Default: 1\n"), 5, "'1' is less than MinValue 2");
  ExpectProblem(with("    Type: Number\n    MaxValue: 2\n    Default: 3\n"), 5, "'3' is greater than MaxValue 2");
  ExpectProblem(with("    Type: Number\n    Default: many\n"), 4, "'many' is not a number");
  ExpectProblem(with("    Type: String\n    MinLength: 3\n    Default: ab\n"), 5, "shorter than MinLength 3");
  ExpectProblem(with("    Type: String\n    MaxLength: 1\n    Default: ab\n"), 5, "longer than MaxLength 1");
  ExpectProblem(with("    Type: String\n    AllowedPattern: \"[a-z]+\"\n    Default: A1\n"), 5, "does not match AllowedPattern '[a-z]+'");
  ExpectProblem(with("    Type: String\n    AllowedPattern: \"[a-z\"\n"), 4, "not a valid regular expression");
  ExpectProblem(with("    Type: String\n    MinValue: 1\n"), 4, "MinValue: applies only to Number parameters");
  ExpectProblem(with("    Type: Number\n    MaxLength: 1\n"), 4, "MaxLength: applies only to String");
  ExpectProblem(with("    Type: Number\n    MinValue: 5\n    MaxValue: 1\n"), 2, "MinValue is greater than MaxValue");
  ExpectProblem(with("    Type: String\n    Colour: blue\n"), 4, "Parameters.P: unknown key 'Colour'");
  ExpectProblem(with("    Type: CommaDelimitedList\n    Default: [a, b]\n"), 4, "a list is written \"a,b,c\"");
  ExpectProblem(with("    Type: CommaDelimitedList\n    AllowedValues: [a, b]\n    Default: \"a, c\"\n"), 5, "'c' is not one of the allowed values");
  ExpectProblem(with("    Type: String\n    NoEcho: maybe\n"), 4, "NoEcho: expected true or false");
  ExpectProblem("Parameters:\n  A: {Type: String, Default: x}\nResources:\n  A: {Type: Test::Bucket}\n", 4,
                "the name is also a parameter's");
}

TEST(TemplateValidation, BadCreationPolicy) {
  auto with = [](const std::string& policy) {
    return "Resources:\n  A:\n    Type: Test::Bucket\n    CreationPolicy:\n" + policy;
  };
  ExpectProblem(with("      ResourceSignal: {Count: 0, Timeout: PT5M}\n"), 5, "Count: expected a positive integer, got '0'");
  ExpectProblem(with("      ResourceSignal: {Count: two}\n"), 5, "Count: expected a positive integer, got 'two'");
  ExpectProblem(with("      ResourceSignal: {Count: 1.5}\n"), 5, "expected a positive integer");
  ExpectProblem(with("      ResourceSignal:\n        Timeout: 5 minutes\n"), 6, "Timeout: '5 minutes' is not an ISO 8601 duration");
  ExpectProblem(with("      ResourceSignal: {Count: 1, Wait: PT1M}\n"), 5, "unknown key 'Wait'");
  ExpectProblem(with("      Signal: {}\n"), 5, "unknown key 'Signal'");
  ExpectProblem(with("      ResourceSignal: {Count: !Ref N}\n"), 5, "expected a positive integer");
}

TEST(TemplateValidation, BadDeletionPolicy) {
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    DeletionPolicy: Snapshot
)", 4, "DeletionPolicy: 'Snapshot' is not supported (only Retain or Delete)");
  ExpectProblem(R"(Resources:
  A:
    Type: Test::Bucket
    UpdateReplacePolicy: Keep
)", 4, "UpdateReplacePolicy: 'Keep' is not supported");
}

TEST(TemplateValidation, MalformedDynamicReferences) {
  auto with = [](const std::string& value) {
    return "Resources:\n  A:\n    Type: Test::Bucket\n    Properties:\n      Label: " + value + "\n";
  };
  ExpectProblem(with("\"{{resolve:ssm:/db/password}}\""), 5, "kind 'ssm' is not supported");
  ExpectProblem(with("\"{{resolve:secret:db/password}}\""), 5, "secret names start with '/'");
  ExpectProblem(with("\"pw={{resolve:secret:/db/password:latest}}\""), 5, "version 'latest' is not a positive integer");
  ExpectProblem(with("\"{{resolve:secret:/db/password\""), 5, "has no closing '}}'");
  ExpectProblem(with("!Sub \"${AWS::StackName}{{resolve:secret:nope}}\""), 5, "secret names start with '/'");
  MustParse(with("\"x{{resolve:secret:/db/password}}y{{resolve:secret:/db/user:3}}\""));
}

TEST(TemplateValidation, FindInMap) {
  const std::string head = R"(Mappings:
  Sizes:
    small: {Cores: 2}
    large: {Cores: 16}
Resources:
  A:
    Type: Test::Server
    Properties:
      Name: x
      Anything: )";
  ExpectProblem(head + "!FindInMap [Ghost, small, Cores]\n", 10, "!FindInMap names no mapping 'Ghost'");
  ExpectProblem(head + "!FindInMap [Sizes, medium, Cores]\n", 10, "mapping 'Sizes' has no key 'medium'");
  ExpectProblem(head + "!FindInMap [Sizes, small, Memory]\n", 10, "mapping 'Sizes' has no key 'small.Memory'");
  ExpectProblem(head + "!FindInMap [Sizes, small]\n", 10, "!FindInMap takes [MapName, TopLevelKey, SecondLevelKey], got 2 items");
  ExpectProblem(head + "!FindInMap [Sizes, !Ref Ghost, Cores]\n", 10, "!Ref to unknown parameter or resource 'Ghost'");
  ExpectProblem("Mappings:\n  M:\n    k: v\nResources: {A: {Type: Test::Bucket}}\n", 3, "Mappings.M.k: expected a mapping of keys to values");
  ExpectProblem("Mappings:\n  M:\n    k: {a: !Ref X}\nResources: {A: {Type: Test::Bucket}}\n", 3,
                "Mappings.M.k.a: expected a literal value or a list of them");
}

TEST(TemplateValidation, Outputs) {
  ExpectProblem("Resources: {A: {Type: Test::Bucket}}\nOutputs:\n  O: {Description: x}\n", 3, "Outputs.O: missing Value");
  ExpectProblem("Resources: {A: {Type: Test::Bucket}}\nOutputs:\n  O: {Value: x, Export: {Name: y}}\n", 3, "Export: not supported");
}

}  // namespace
}  // namespace drover::deploy
