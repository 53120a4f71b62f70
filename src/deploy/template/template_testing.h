// Helpers shared by the template tests: a small registry of resource types and assertions on problems.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "deploy/template/template.h"

namespace drover::deploy::testing {

// Test::Server and Test::Bucket: every property type, a required property, AllowedValues, attributes.
inline ResourceTypeRegistry TestTypes() {
  ResourceTypeRegistry r;
  r.Add({"Test::Server",
         {{"Name", PropertyType::kString, true, {}},
          {"Size", PropertyType::kInteger, false, {}},
          {"Ratio", PropertyType::kNumber, false, {}},
          {"Enabled", PropertyType::kBoolean, false, {}},
          {"Tags", PropertyType::kList, false, {}},
          {"Settings", PropertyType::kMap, false, {}},
          {"Tier", PropertyType::kString, false, {"small", "large"}},
          {"Anything", PropertyType::kAny, false, {}}},
         {"Address", "Port"},
         "a server"});
  r.Add({"Test::Bucket", {{"Label", PropertyType::kString, false, {}}}, {"Arn"}, "a bucket"});
  return r;
}

inline Result<Template> Parse(const std::string& text) { return ParseTemplate(text, "t.yaml", TestTypes()); }

// The template must parse; returns it.
inline Template MustParse(const std::string& text) {
  auto t = Parse(text);
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return Template{};
  return std::move(*t);
}

// The template must be rejected with a problem on `line` whose message holds `text`.
inline void ExpectProblem(const std::string& yaml, int line, const std::string& text) {
  auto t = Parse(yaml);
  ASSERT_FALSE(t.ok()) << "expected a problem at line " << line << ": " << text;
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  std::istringstream lines(t.status().message());
  std::string l;
  const std::string prefix = "t.yaml:" + std::to_string(line) + ":";
  while (std::getline(lines, l)) {
    if (l.rfind(prefix, 0) == 0 && l.find(text) != std::string::npos) return;
  }
  ADD_FAILURE() << "no problem at line " << line << " holding '" << text << "' in:\n" << t.status().message();
}

}  // namespace drover::deploy::testing
