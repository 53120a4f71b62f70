#include "head/scheduling_config.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/time_limit.h"

namespace drover::head {
namespace json = boost::json;

namespace {

std::string TimeText(int64_t ms) { return ms > 0 ? FormatTimeLimit(ms) : "infinite"; }

Status ReadTime(const json::object& o, std::string_view key, const std::string& where, int64_t& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_string()) {
    return InvalidArgument(fmt::format("{}{} must be a time such as \"1-00:00:00\" or \"infinite\"", where, key));
  }
  auto t = ParseTimeLimit(v->as_string());
  if (!t.ok()) return t.status().WithContext(where + std::string(key));
  out = *t == kUnlimitedTime ? 0 : *t;
  return Status::Ok();
}

Status ReadCount(const json::object& o, std::string_view key, const std::string& where, int& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_int64() || v->as_int64() < 0 || v->as_int64() > 1'000'000'000) {
    return InvalidArgument(fmt::format("{}{} must be a non-negative integer", where, key));
  }
  out = static_cast<int>(v->as_int64());
  return Status::Ok();
}

Status ReadNumber(const json::object& o, std::string_view key, const std::string& where, double& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return Status::Ok();
  if (!v->is_number() || v->to_number<double>() < 0) {
    return InvalidArgument(fmt::format("{}{} must be a non-negative number", where, key));
  }
  out = v->to_number<double>();
  return Status::Ok();
}

Status CheckFields(const json::object& o, std::initializer_list<std::string_view> known, const std::string& where) {
  for (const auto& [k, _] : o) {
    if (std::find(known.begin(), known.end(), std::string_view(k)) == known.end()) {
      return InvalidArgument(fmt::format("unknown field '{}{}' in the scheduler settings", where, std::string_view(k)));
    }
  }
  return Status::Ok();
}

const json::object* Object(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->as_object() : nullptr;
}

}  // namespace

json::object ToJson(const SchedulingConfig& c) {
  json::object groups;
  for (const auto& [name, g] : c.node_groups) {
    groups[name] = json::object{{"default_time_limit", TimeText(g.default_time_limit_ms)},
                                {"max_running_jobs", g.limits.max_running_jobs},
                                {"max_cores", g.limits.max_cores}};
  }
  return json::object{
      {"default_time_limit", TimeText(c.default_time_limit_ms)},
      {"fair_share", json::object{{"half_life", TimeText(c.fair_share.half_life_ms)},
                                  {"weight", c.fair_share_weight},
                                  {"gpu_weight", c.fair_share.gpu_weight}}},
      {"user_limits", json::object{{"max_running_jobs", c.user_limits.max_running_jobs},
                                   {"max_cores", c.user_limits.max_cores}}},
      {"node_groups", std::move(groups)}};
}

Result<SchedulingConfig> SchedulingConfigFromJson(const json::value& v) {
  if (!v.is_object()) return InvalidArgument("the scheduler settings must be a JSON object");
  const auto& o = v.as_object();
  // "fair_share_factors" is what `drover scheduler show` adds; ignored so that its output can be set.
  RETURN_IF_ERROR(
      CheckFields(o, {"default_time_limit", "fair_share", "user_limits", "node_groups", "fair_share_factors"}, ""));
  SchedulingConfig c;
  RETURN_IF_ERROR(ReadTime(o, "default_time_limit", "", c.default_time_limit_ms));
  for (const char* key : {"fair_share", "user_limits", "node_groups"}) {
    if (o.if_contains(key) && !o.at(key).is_object() && !o.at(key).is_null()) {
      return InvalidArgument(fmt::format("{} must be an object", key));
    }
  }
  if (const auto* fs = Object(o, "fair_share")) {
    RETURN_IF_ERROR(CheckFields(*fs, {"half_life", "weight", "gpu_weight"}, "fair_share."));
    RETURN_IF_ERROR(ReadTime(*fs, "half_life", "fair_share.", c.fair_share.half_life_ms));
    RETURN_IF_ERROR(ReadNumber(*fs, "weight", "fair_share.", c.fair_share_weight));
    RETURN_IF_ERROR(ReadNumber(*fs, "gpu_weight", "fair_share.", c.fair_share.gpu_weight));
  }
  if (const auto* ul = Object(o, "user_limits")) {
    RETURN_IF_ERROR(CheckFields(*ul, {"max_running_jobs", "max_cores"}, "user_limits."));
    RETURN_IF_ERROR(ReadCount(*ul, "max_running_jobs", "user_limits.", c.user_limits.max_running_jobs));
    RETURN_IF_ERROR(ReadCount(*ul, "max_cores", "user_limits.", c.user_limits.max_cores));
  }
  if (const auto* groups = Object(o, "node_groups")) {
    for (const auto& [name, gv] : *groups) {
      std::string where = fmt::format("node_groups.{}.", std::string_view(name));
      if (!gv.is_object()) return InvalidArgument(fmt::format("node_groups.{} must be an object", std::string_view(name)));
      const auto& g = gv.as_object();
      RETURN_IF_ERROR(CheckFields(g, {"default_time_limit", "max_running_jobs", "max_cores"}, where));
      NodeGroupConfig ng;
      RETURN_IF_ERROR(ReadTime(g, "default_time_limit", where, ng.default_time_limit_ms));
      RETURN_IF_ERROR(ReadCount(g, "max_running_jobs", where, ng.limits.max_running_jobs));
      RETURN_IF_ERROR(ReadCount(g, "max_cores", where, ng.limits.max_cores));
      c.node_groups[std::string(name)] = ng;
    }
  }
  return c;
}

}  // namespace drover::head
