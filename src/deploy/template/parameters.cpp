// Parameter values: `--param K=V` overrides over defaults, each checked against its parameter's type and
// constraints.
#include <algorithm>
#include <regex>

#include "deploy/template/template_internal.h"

namespace drover::deploy {

namespace json = boost::json;
using namespace template_internal;

namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::string JoinQuoted(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "'" : ", '") + i + "'";
  return out;
}

std::string Shown(const Parameter& p, const std::string& value) { return p.no_echo ? "the value" : "'" + value + "'"; }

// Checks one string value (a String parameter, or one item of a CommaDelimitedList).
Status CheckText(const Parameter& p, const std::string& value) {
  if (!p.allowed_values.empty() &&
      std::find(p.allowed_values.begin(), p.allowed_values.end(), value) == p.allowed_values.end()) {
    return InvalidArgument(Shown(p, value) + " is not one of the allowed values (" + JoinQuoted(p.allowed_values) + ")");
  }
  if (p.min_length && value.size() < *p.min_length) {
    return InvalidArgument(Shown(p, value) + " is shorter than MinLength " + std::to_string(*p.min_length));
  }
  if (p.max_length && value.size() > *p.max_length) {
    return InvalidArgument(Shown(p, value) + " is longer than MaxLength " + std::to_string(*p.max_length));
  }
  if (!p.allowed_pattern.empty()) {
    bool matches = false;
    try {
      matches = std::regex_match(value, std::regex(p.allowed_pattern, std::regex::ECMAScript));
    } catch (const std::regex_error& e) {
      return InvalidArgument("AllowedPattern is not a valid regular expression: " + std::string(e.what()));
    }
    if (!matches) return InvalidArgument(Shown(p, value) + " does not match AllowedPattern '" + p.allowed_pattern + "'");
  }
  return Status::Ok();
}

std::string NumberText(double v) { return FormatNumber(v); }

}  // namespace

Result<json::value> CheckParameterValue(const Parameter& p, const std::string& text) {
  switch (p.type) {
    case ParameterType::kString:
      RETURN_IF_ERROR(CheckText(p, text));
      return json::value(text);
    case ParameterType::kNumber: {
      std::string t = Trim(text);
      auto number = ParseNumber(t);
      if (!number) return InvalidArgument(Shown(p, text) + " is not a number");
      if (!p.allowed_values.empty()) {
        bool found = false;
        for (const auto& a : p.allowed_values) found = found || ParseNumber(a) == number;
        if (!found) return InvalidArgument(Shown(p, text) + " is not one of the allowed values (" + JoinQuoted(p.allowed_values) + ")");
      }
      if (p.min_value && *number < *p.min_value) return InvalidArgument(Shown(p, text) + " is less than MinValue " + NumberText(*p.min_value));
      if (p.max_value && *number > *p.max_value) return InvalidArgument(Shown(p, text) + " is greater than MaxValue " + NumberText(*p.max_value));
      if (auto i = ParseInteger(t)) return json::value(*i);
      return json::value(*number);
    }
    case ParameterType::kCommaDelimitedList: {
      json::array items;
      size_t start = 0;
      while (true) {
        size_t comma = text.find(',', start);
        std::string item = Trim(std::string_view(text).substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        RETURN_IF_ERROR(CheckText(p, item));
        items.emplace_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      return json::value(std::move(items));
    }
  }
  return Internal("unknown parameter type");
}

Result<std::map<std::string, json::value>> BindParameters(const Template& t, const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> problems;
  for (const auto& [name, _] : overrides) {
    if (!t.FindParameter(name)) {
      std::string known;
      for (const auto& p : t.parameters) known += (known.empty() ? "" : ", ") + p.name;
      problems.push_back("--param " + name + ": the template has no parameter '" + name + "' (it has: " +
                         (known.empty() ? "none" : known) + ")");
    }
  }
  std::map<std::string, json::value> values;
  for (const auto& p : t.parameters) {
    auto it = overrides.find(p.name);
    const std::string* text = it != overrides.end() ? &it->second : (p.default_value ? &*p.default_value : nullptr);
    if (!text) {
      problems.push_back(p.where.ToString() + ": parameter '" + p.name + "' has no Default; give it with --param " + p.name + "=VALUE");
      continue;
    }
    auto value = CheckParameterValue(p, *text);
    if (!value.ok()) {
      problems.push_back(p.where.ToString() + ": parameter '" + p.name + "': " + value.status().message());
      continue;
    }
    values.emplace(p.name, std::move(*value));
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& line : problems) message += (message.empty() ? "" : "\n") + line;
    return InvalidArgument(message);
  }
  return values;
}

}  // namespace drover::deploy
