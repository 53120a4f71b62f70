#include <gtest/gtest.h>

#include "deploy/template/template.h"

namespace drover::deploy {
namespace {

TEST(TemplateSecretReferencesFind, FindsWellFormedSecretReferences) {
  auto refs = FindSecretReferences("user={{resolve:secret:/db/user}} pw={{resolve:secret:/db/pass_word-1.x:12}} end");
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0], (SecretReference{"/db/user", std::nullopt}));
  EXPECT_EQ(refs[1], (SecretReference{"/db/pass_word-1.x", 12}));
  EXPECT_TRUE(FindSecretReferences("no references {{ here }} ${Sub}").empty());
  EXPECT_TRUE(FindSecretReferences("{{resolve:ssm:/x}}").empty());
}

TEST(TemplateSecretReferencesCheck, ReportsEachMalformedReference) {
  EXPECT_TRUE(CheckDynamicReferences("a {{resolve:secret:/a}} b {{resolve:secret:/b:1}}").empty());
  auto errors = CheckDynamicReferences("{{resolve:ssm:/a}} {{resolve:secret:a}} {{resolve:secret:/a:0}} {{resolve:secret:/a b}} "
                                       "{{resolve:secret:}} {{resolve:secret:/}} {{resolve:secret:/a:1:2}} {{resolve:secret:/x");
  ASSERT_EQ(errors.size(), 8u);
  EXPECT_NE(errors[0].find("kind 'ssm' is not supported"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1].find("secret names start with '/'"), std::string::npos) << errors[1];
  EXPECT_NE(errors[2].find("version '0' is not a positive integer"), std::string::npos) << errors[2];
  EXPECT_NE(errors[3].find("hold only letters, digits"), std::string::npos) << errors[3];
  EXPECT_NE(errors[4].find("secret names start with '/'"), std::string::npos) << errors[4];
  EXPECT_NE(errors[5].find("names no secret"), std::string::npos) << errors[5];
  EXPECT_NE(errors[6].find("hold only letters, digits"), std::string::npos) << errors[6];
  EXPECT_NE(errors[7].find("has no closing '}}'"), std::string::npos) << errors[7];
}

TEST(TemplateSecretReferencesResolve, ReplacesEachReferenceWithItsValue) {
  std::vector<SecretReference> asked;
  auto lookup = [&](const SecretReference& r) -> Result<std::string> {
    asked.push_back(r);
    return r.name == "/db/user" ? std::string("alice") : std::string("s3cret") + (r.version ? std::to_string(*r.version) : "");
  };
  auto out = ResolveSecretReferences("postgres://{{resolve:secret:/db/user}}:{{resolve:secret:/db/pw:2}}@host/{{x}}", lookup);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "postgres://alice:s3cret2@host/{{x}}");
  EXPECT_EQ(asked.size(), 2u);
  auto plain = ResolveSecretReferences("nothing to do", lookup);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, "nothing to do");
}

TEST(TemplateSecretReferencesResolve, ErrorsFromLookupOrMalformedText) {
  auto missing = [](const SecretReference& r) -> Result<std::string> { return NotFound("no secret " + r.name); };
  auto out = ResolveSecretReferences("{{resolve:secret:/gone}}", missing);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(out.status().message(), "no secret /gone");
  auto never = [](const SecretReference&) -> Result<std::string> { return std::string("x"); };
  auto bad = ResolveSecretReferences("{{resolve:secret:gone}}", never);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(TemplateDurations, AcceptsWhatCloudFormationAccepts) {
  EXPECT_EQ(*ParseIsoDuration("PT30S"), 30000);
  EXPECT_EQ(*ParseIsoDuration("PT5M"), 300000);
  EXPECT_EQ(*ParseIsoDuration("PT1H30M"), 5400000);
  EXPECT_EQ(*ParseIsoDuration("PT1H2M3S"), 3723000);
  EXPECT_EQ(*ParseIsoDuration("P1D"), 86400000);
  EXPECT_EQ(*ParseIsoDuration("P1DT2H"), 93600000);
  EXPECT_EQ(*ParseIsoDuration("PT0S"), 0);
  EXPECT_EQ(*ParseIsoDuration("PT90M"), 5400000);
}

TEST(TemplateDurations, RejectsMalformedWithAClearMessage) {
  for (const char* bad : {"", "30S", "P", "PT", "P1DT", "PT1S1M", "PT1D", "P1H", "PTM", "PT5", "PT5X", "pt5m", "PT-5M",
                          "PT1.5S", "P1DT2HT3M", "PT99999999999999999S", " PT5M"}) {
    auto r = ParseIsoDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(r.status().message().find("is not an ISO 8601 duration"), std::string::npos) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace drover::deploy
