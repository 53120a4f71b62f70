#include "deploy/providers/provider.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "deploy/providers/basic_providers.h"

namespace drover::deploy {
namespace json = boost::json;

Diff CompareProperties(const json::object& applied, const json::object& desired,
                       const std::vector<std::string>& in_place) {
  Diff d;
  std::set<std::string> keys;
  for (const auto& [k, _] : applied) keys.emplace(k);
  for (const auto& [k, _] : desired) keys.emplace(k);
  for (const auto& k : keys) {
    const json::value* a = applied.if_contains(k);
    const json::value* b = desired.if_contains(k);
    if (a && b && *a == *b) continue;
    auto show = [](const json::value* v) {
      if (!v) return std::string("(none)");
      std::string s = json::serialize(*v);
      return s.size() > 60 ? s.substr(0, 57) + "..." : s;
    };
    d.details.push_back(fmt::format("{}: {} -> {}", k, show(a), show(b)));
    bool update = std::find(in_place.begin(), in_place.end(), k) != in_place.end();
    d.change = std::max(d.change, update ? Change::kUpdate : Change::kReplace);
  }
  return d;
}

ResourceProvider* LocalProvider(std::string_view type) {
  static SecretProvider secret;
  static DatabaseProvider database;
  static HeadNodeProvider head;
  static NodeTemplateProvider node_template;
  static ComputeGroupProvider group;
  static DnsRecordProvider dns;
  if (type == kSecret) return &secret;
  if (type == kDatabase) return &database;
  if (type == kHeadNode) return &head;
  if (type == kNodeTemplate) return &node_template;
  if (type == kComputeGroup) return &group;
  if (type == kDnsRecord) return &dns;
  return nullptr;
}

std::string StringProp(const json::object& p, const char* key, const std::string& fallback) {
  auto* v = p.if_contains(key);
  if (!v || v->is_null()) return fallback;
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

int64_t IntProp(const json::object& p, const char* key, int64_t fallback) {
  auto* v = p.if_contains(key);
  if (!v) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  if (v->is_string()) {
    try {
      return std::stoll(std::string(v->as_string()));
    } catch (...) {
      return fallback;
    }
  }
  return fallback;
}

bool BoolProp(const json::object& p, const char* key, bool fallback) {
  auto* v = p.if_contains(key);
  if (!v) return fallback;
  if (v->is_bool()) return v->as_bool();
  if (v->is_string()) return v->as_string() == "true";
  return fallback;
}

}  // namespace drover::deploy
