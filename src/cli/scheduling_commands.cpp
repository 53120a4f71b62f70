#include "cli/scheduling_commands.h"

#include <iostream>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/api_client.h"
#include "cli/commands.h"
#include "common/codec.h"
#include "net/http.h"
#include "os/files.h"

namespace drover::cli {
namespace json = boost::json;

namespace {

std::vector<std::string> SplitCommas(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (!text.empty() && pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string Joined(const json::value& v) {
  std::string out;
  if (!v.is_array()) return out;
  for (const auto& e : v.as_array()) {
    if (e.is_string()) out += (out.empty() ? "" : ",") + std::string(e.as_string());
  }
  return out;
}

Result<json::value> ReadJsonFile(const std::string& path) {
  auto text = os::ReadFile(path == "-" ? "/dev/stdin" : path);
  if (!text.ok()) return text.status();
  auto v = ParseJson(*text);
  if (!v.ok()) return v.status().WithContext(path);
  return v;
}

std::string Field(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return "";
  return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
}

}  // namespace

SchedulingCommands::SchedulingCommands(CLI::App& app) {
  auto* nt = app.add_subcommand("nodetemplate", "Node templates: node groups and features of the nodes they hold");
  nt->require_subcommand(1);
  nt_list_ = nt->add_subcommand("list", "List node templates");
  nt_list_->add_flag("--json", json_, "JSON output");
  nt_put_ = nt->add_subcommand("put", "Create or replace a node template (Administrator)");
  nt_put_->add_option("name", name_, "Template name")->required();
  nt_put_->add_option("--description", description_, "Description");
  nt_put_->add_option("--groups", groups_, "Node groups (partitions) of its nodes, A,B");
  nt_put_->add_option("--features", features_, "Features of its nodes for --constraint, X,Y");
  nt_put_->add_flag("--auto-approve", auto_approve_, "Nodes that join get this template without an administrator");
  nt_put_->add_flag("--manual-online", manual_online_, "Assigned nodes stay Offline until brought online");

  auto* jt = app.add_subcommand("jobtemplate", "Job templates: defaults and allowed ranges for jobs");
  jt->require_subcommand(1);
  jt_list_ = jt->add_subcommand("list", "List job templates");
  jt_list_->add_flag("--json", json_, "JSON output");
  jt_put_ = jt->add_subcommand("put", "Create or replace a job template from a JSON file, '-' for stdin (Administrator)");
  jt_put_->add_option("file", file_, "JSON: {name, description, members, defaults{...}, limits{...}}")->required();
  jt_delete_ = jt->add_subcommand("delete", "Delete a job template (Administrator)");
  jt_delete_->add_option("name", name_, "Template name")->required();

  auto* sched = app.add_subcommand("scheduler", "The scheduler's settings: time limits, fair share, limits");
  sched->require_subcommand(1);
  sched_show_ = sched->add_subcommand("show", "Show the settings (JSON)");
  sched_set_ = sched->add_subcommand("set", "Replace the settings from a JSON file, '-' for stdin (Administrator)");
  sched_set_->add_option("file", file_, "JSON settings (docs/operations.md)")->required();
}

std::optional<int> SchedulingCommands::Run() {
  bool chosen = false;
  for (CLI::App* sub : {nt_list_, nt_put_, jt_list_, jt_put_, jt_delete_, sched_show_, sched_set_}) {
    chosen = chosen || sub->parsed();
  }
  if (!chosen) return std::nullopt;
  auto api = ApiClient::FromContext();
  if (!api.ok()) return Fail(api.status().message());

  if (nt_list_->parsed() || jt_list_->parsed()) {
    bool nodes = nt_list_->parsed();
    auto resp = api->Get(nodes ? "/api/v1/node-templates" : "/api/v1/job-templates");
    if (!resp.ok()) return Fail(resp.status().message());
    if (json_) {
      std::cout << json::serialize(*resp) << "\n";
      return 0;
    }
    const auto& list = resp->at(nodes ? "node_templates" : "job_templates").as_array();
    std::vector<std::vector<std::string>> rows;
    if (nodes) {
      rows.push_back({"NAME", "GROUPS", "FEATURES", "AUTO_APPROVE", "DESCRIPTION"});
      for (const auto& v : list) {
        const auto& t = v.as_object();
        rows.push_back({Field(t, "name"), Joined(t.at("node_groups")), Joined(t.at("features")),
                        Field(t, "auto_approve"), Field(t, "description")});
      }
    } else {
      rows.push_back({"NAME", "MEMBERS", "DEFAULTS", "LIMITS", "DESCRIPTION"});
      for (const auto& v : list) {
        const auto& t = v.as_object();
        std::string members = Joined(t.at("members"));
        rows.push_back({Field(t, "name"), members.empty() ? "everyone" : members, Field(t, "defaults"),
                        Field(t, "limits"), Field(t, "description")});
      }
    }
    PrintTable(rows);
    return 0;
  }
  if (nt_put_->parsed()) {
    json::array groups, features;
    for (const auto& g : SplitCommas(groups_)) groups.emplace_back(g);
    for (const auto& f : SplitCommas(features_)) features.emplace_back(f);
    json::object body{{"name", name_},          {"description", description_}, {"auto_approve", auto_approve_},
                      {"bring_online", !manual_online_}, {"node_groups", std::move(groups)},
                      {"features", std::move(features)}};
    auto resp = api->Post("/api/v1/node-templates", body);
    if (!resp.ok()) return Fail(resp.status().message());
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  if (jt_put_->parsed() || sched_set_->parsed()) {
    auto body = ReadJsonFile(file_);
    if (!body.ok()) return Fail(body.status().message());
    auto resp = api->Post(jt_put_->parsed() ? "/api/v1/job-templates" : "/api/v1/scheduler", *body);
    if (!resp.ok()) return Fail(resp.status().message());
    std::cout << json::serialize(*resp) << "\n";
    return 0;
  }
  if (jt_delete_->parsed()) {
    auto resp = api->Post(fmt::format("/api/v1/job-templates/{}/delete", net::PercentEncode(name_)), json::object{});
    if (!resp.ok()) return Fail(resp.status().message());
    std::cout << "job template " << name_ << " deleted\n";
    return 0;
  }
  auto resp = api->Get("/api/v1/scheduler");
  if (!resp.ok()) return Fail(resp.status().message());
  std::cout << json::serialize(*resp) << "\n";
  return 0;
}

}  // namespace drover::cli
