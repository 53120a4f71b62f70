// The template's data types, scalar typing and the small helpers the other template files share.
#include "deploy/template/template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include "deploy/template/template_internal.h"

namespace drover::deploy {

namespace json = boost::json;
using namespace template_internal;

std::string SourceLocation::ToString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const Node* Node::Find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

namespace {

bool IsCoreNull(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<json::value> CoreInteger(std::string_view s) {
  static const std::regex kDecimal("[-+]?[0-9]+");
  static const std::regex kOctal("0o[0-7]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  std::string text(s);
  auto parse_base = [&](std::string_view digits, int base) -> std::optional<json::value> {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec != std::errc() || p != digits.data() + digits.size() ||
        v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return json::value(static_cast<int64_t>(v));
  };
  if (std::regex_match(text, kDecimal)) {
    if (auto v = ParseInteger(s)) return json::value(*v);
    return json::value(std::strtod(text.c_str(), nullptr));  // too large for int64
  }
  if (std::regex_match(text, kOctal)) return parse_base(s.substr(2), 8);
  if (std::regex_match(text, kHex)) return parse_base(s.substr(2), 16);
  return std::nullopt;
}

std::optional<double> CoreFloat(std::string_view s) {
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  std::string text(s);
  if (std::regex_match(text, kFloat)) return std::strtod(text.c_str(), nullptr);
  if (text == ".inf" || text == ".Inf" || text == ".INF" || text == "+.inf" || text == "+.Inf" || text == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (text == "-.inf" || text == "-.Inf" || text == "-.INF") return -std::numeric_limits<double>::infinity();
  if (text == ".nan" || text == ".NaN" || text == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

}  // namespace

json::value ScalarValue(const Node& node) {
  if (node.kind != Node::Kind::kScalar) return nullptr;
  const std::string& s = node.scalar;
  if (node.quoted) return json::value(s);
  if (IsCoreNull(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (auto i = CoreInteger(s)) return *i;
  if (auto d = CoreFloat(s)) return *d;
  return json::value(s);
}

std::vector<std::string> Resource::Dependencies() const {
  std::vector<std::string> all = depends_on;
  all.insert(all.end(), references.begin(), references.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  return all;
}

const PropertySchema* ResourceTypeSchema::FindProperty(std::string_view name) const {
  for (const auto& p : properties) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

void ResourceTypeRegistry::Add(ResourceTypeSchema schema) {
  std::string type = schema.type;
  schemas_.insert_or_assign(std::move(type), std::move(schema));
}

const ResourceTypeSchema* ResourceTypeRegistry::Find(std::string_view type) const {
  auto it = schemas_.find(type);
  return it == schemas_.end() ? nullptr : &it->second;
}

std::vector<std::string> ResourceTypeRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : schemas_) out.push_back(name);
  return out;
}

const Resource* Template::FindResource(std::string_view name) const {
  for (const auto& r : resources) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const Parameter* Template::FindParameter(std::string_view name) const {
  for (const auto& p : parameters) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Node* Template::FindCondition(std::string_view name) const {
  for (const auto& [n, node] : conditions) {
    if (n == name) return &node;
  }
  return nullptr;
}

const Node* Template::FindMapping(std::string_view name) const {
  for (const auto& [n, node] : mappings) {
    if (n == name) return &node;
  }
  return nullptr;
}

Result<Template> LoadTemplateFile(const std::string& path, const ResourceTypeRegistry& types) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read template " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return NotFound("cannot read template " + path);
  return ParseTemplate(text.str(), path, types);
}

namespace template_internal {

void Diagnostics::Add(const SourceLocation& where, std::string message) {
  problems_.emplace_back(where, std::move(message));
}

Status Diagnostics::ToStatus() const {
  if (problems_.empty()) return Status::Ok();
  auto sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return std::pair(a.first.line, a.first.column) < std::pair(b.first.line, b.first.column);
  });
  std::string out;
  for (const auto& [where, message] : sorted) {
    if (!out.empty()) out += "\n";
    out += where.ToString() + ": " + message;
  }
  return InvalidArgument(out);
}

bool IsNoValue(std::string_view name) { return name == "Drover::NoValue" || name == "AWS::NoValue"; }
bool IsStackName(std::string_view name) { return name == "Drover::StackName" || name == "AWS::StackName"; }
bool IsPseudoParameter(std::string_view name) { return IsNoValue(name) || IsStackName(name); }

std::optional<std::string> ScalarText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_bool()) return v.get_bool() ? "true" : "false";
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_double()) return FormatNumber(v.get_double());
  return std::nullopt;
}

std::string FormatNumber(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<double> ParseNumber(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace template_internal
}  // namespace drover::deploy
