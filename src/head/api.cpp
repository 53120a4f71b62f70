#include "head/api.h"

#include <cinttypes>
#include <cstdio>

#include <regex>
#include <set>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/codec.h"
#include "head/accounting.h"
#include "head/credentials.h"
#include "head/views.h"

namespace drover::head {
namespace json = boost::json;
using net::HttpRequest;
using net::HttpResponse;
using net::Responder;

namespace {

HttpResponse Json(const json::value& v, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.body = json::serialize(v);
  return r;
}

Status RequireRole(const Principal& who, Role needed, std::string_view what) {
  if (static_cast<int>(who.role) >= static_cast<int>(needed)) return Status::Ok();
  return PermissionDenied(fmt::format("{} needs the {} role; {} is a {}", what, ToString(needed), who.name,
                                      ToString(who.role)));
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

Result<JobId> ParseJobId(const std::string& s) {
  try {
    size_t used = 0;
    long long v = std::stoll(s, &used);
    if (used == s.size() && v > 0) return static_cast<JobId>(v);
  } catch (const std::exception&) {
  }
  return InvalidArgument(fmt::format("'{}' is not a job id", s));
}

Result<json::object> BodyObject(const HttpRequest& r) {
  if (r.body.empty()) return json::object{};
  ASSIGN_OR_RETURN(auto v, ParseJson(r.body));
  if (!v.is_object()) return InvalidArgument("the request body must be a JSON object");
  return std::move(v.as_object());
}

std::string StringField(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

bool ValidNodeName(const std::string& name) {
  static const std::regex kName("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  return std::regex_match(name, kName);
}

}  // namespace

Status Api::MayManageJob(const Principal& who, JobId id) {
  if (who.role != Role::kUser) return Status::Ok();
  std::string owner;
  if (const Job* job = cluster_.FindJob(id)) {
    owner = job->spec().owner;
  } else {
    ASSIGN_OR_RETURN(auto rec, store_.LoadJob(id));
    if (!rec) return NotFound(fmt::format("job {} does not exist", id));
    owner = rec->spec.owner;
  }
  if (owner == who.name) return Status::Ok();
  return PermissionDenied(fmt::format("job {} belongs to {}; a User may see and manage only their own jobs", id,
                                      owner));
}

void Api::Handle(const HttpRequest& r, Responder respond) {
  if (r.path == "/healthz") return respond(Json(json::object{{"status", "ok"}}));
  if (r.path == "/api/v1/join") {
    if (r.method != "POST") return respond(net::ErrorResponse(InvalidArgument("use POST for /api/v1/join")));
    return Join(r, std::move(respond));
  }
  // Processes of a multi-node task: the task's own secret token authenticates, not a member.
  if (r.path.rfind("/api/v1/exec", 0) == 0) return Exec(r, std::move(respond));
  auto authenticated = members_.Authenticate(r.peer);
  if (!authenticated.ok()) return respond(net::ErrorResponse(authenticated.status()));
  const Principal who = *authenticated;
  auto fail = [&](const Status& st) { respond(net::ErrorResponse(st)); };
  if (r.path == "/metrics") return respond(Metrics());

  auto parts = SplitPath(r.path);
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1") {
    return fail(NotFound(fmt::format("no endpoint at {}", r.path)));
  }
  const std::string& collection = parts[2];
  bool get = r.method == "GET", post = r.method == "POST";
  auto bad_method = [&] { fail(InvalidArgument(fmt::format("{} is not allowed on {}", r.method, r.path))); };

  if (collection == "cluster" && parts.size() == 3) return get ? respond(ClusterSummary()) : bad_method();

  if (collection == "jobs") {
    if (parts.size() == 3) {
      if (post) return SubmitJob(who, r, std::move(respond));
      if (!get) return bad_method();
      bool all = r.query.count("all") && r.query.at("all") != "0";
      json::array jobs;
      for (const Job* j : cluster_.Jobs(all)) {
        if (who.role == Role::kUser && j->spec().owner != who.name) continue;
        jobs.push_back(JobSummaryJson(*j));
      }
      return respond(Json(json::object{{"jobs", std::move(jobs)}}));
    }
    auto id = ParseJobId(parts[3]);
    if (!id.ok()) return fail(id.status());
    if (Status st = MayManageJob(who, *id); !st.ok()) return fail(st);
    if (parts.size() == 4) return get ? GetJob(*id, r, std::move(respond)) : bad_method();
    if (parts.size() == 5 && parts[4] == "wait") return get ? WaitJob(*id, r, std::move(respond)) : bad_method();
    if (parts.size() == 5 && (parts[4] == "hold" || parts[4] == "release" || parts[4] == "requeue")) {
      if (!post) return bad_method();
      return JobControl(who, *id, parts[4], std::move(respond));
    }
    if (parts.size() == 5 && parts[4] == "cancel") {
      if (!post) return bad_method();
      Status st = cluster_.Cancel(*id);
      if (!st.ok()) return fail(st);
      members_.Audit(who.name, "job.cancel", fmt::format("job {}", *id));
      return committer_.AfterCommit([respond, id = *id] {
        respond(Json(json::object{{"id", id}, {"state", "Canceled"}}));
      });
    }
  }

  if (collection == "nodes") {
    if (parts.size() == 3) {
      if (!get) return bad_method();
      json::array nodes;
      for (const Node* n : cluster_.Nodes()) nodes.push_back(NodeJson(*n, cluster_.TemplateOf(*n)));
      return respond(Json(json::object{{"nodes", std::move(nodes)}}));
    }
    if (parts.size() == 4) {
      if (!get) return bad_method();
      const Node* n = cluster_.FindNode(parts[3]);
      if (!n) return fail(NotFound(fmt::format("node '{}' does not exist", parts[3])));
      return respond(Json(NodeJson(*n, cluster_.TemplateOf(*n))));
    }
    if (parts.size() == 5) {
      if (!post) return bad_method();
      if (Status st = RequireRole(who, Role::kAdministrator, "changing a node"); !st.ok()) return fail(st);
      return NodeAction(who, parts[3], parts[4], r, std::move(respond));
    }
  }

  if (collection == "node-templates" && parts.size() == 3) {
    if (get) {
      json::array out;
      for (const auto& t : cluster_.Templates()) out.push_back(ToJson(t));
      return respond(Json(json::object{{"node_templates", std::move(out)}}));
    }
    if (!post) return bad_method();
    if (Status st = RequireRole(who, Role::kAdministrator, "changing node templates"); !st.ok()) return fail(st);
    auto v = ParseJson(r.body);
    if (!v.ok()) return fail(v.status());
    auto t = NodeTemplateFromJson(*v);
    if (!t.ok()) return fail(t.status());
    if (Status st = cluster_.PutTemplate(*t); !st.ok()) return fail(st);
    members_.Audit(who.name, "node_template.put", t->name, json::serialize(ToJson(*t)));
    return committer_.AfterCommit([respond, t = *t] { respond(Json(ToJson(t), 201)); });
  }

  if (collection == "job-templates") return JobTemplates(who, r, parts, std::move(respond));
  if (collection == "scheduler" && parts.size() == 3) return SchedulerSettings(who, r, std::move(respond));

  if (collection == "members") {
    if (Status st = RequireRole(who, Role::kAdministrator, "managing members"); !st.ok()) return fail(st);
    if (parts.size() == 3 && get) {
      json::array out;
      for (const auto& m : members_.List()) {
        out.push_back(json::object{{"name", m.name}, {"role", ToString(m.role)}, {"created_time", FormatTime(m.created_time)}});
      }
      return respond(Json(json::object{{"members", std::move(out)}}));
    }
    if (parts.size() == 3 && post) return AddMember(who, r, std::move(respond));
    if (parts.size() == 5 && parts[4] == "remove" && post) {
      if (Status st = members_.Remove(parts[3]); !st.ok()) return fail(st);
      members_.Audit(who.name, "member.remove", parts[3]);
      return committer_.AfterCommit([respond, name = parts[3]] {
        respond(Json(json::object{{"name", name}, {"removed", true}}));
      });
    }
    return bad_method();
  }

  if (collection == "secrets") {
    if (Status st = RequireRole(who, Role::kAdministrator, "using the secret store"); !st.ok()) return fail(st);
    return Secrets(who, r, std::move(respond));
  }

  if (collection == "audit" && parts.size() == 3) {
    if (!get) return bad_method();
    if (Status st = RequireRole(who, Role::kAdministrator, "reading the audit log"); !st.ok()) return fail(st);
    int64_t since = 0, limit = 1000;
    try {
      if (r.query.count("since_ms")) since = std::stoll(r.query.at("since_ms"));
      if (r.query.count("limit")) limit = std::clamp<int64_t>(std::stoll(r.query.at("limit")), 1, 100000);
    } catch (const std::exception&) {
      return fail(InvalidArgument("since_ms and limit must be numbers"));
    }
    auto entries = store_.QueryAudit(since, static_cast<size_t>(limit));
    if (!entries.ok()) return fail(entries.status());
    json::array out;
    for (const auto& e : *entries) {
      out.push_back(json::object{{"time", FormatTime(e.time)}, {"actor", e.actor}, {"action", e.action},
                                 {"target", e.target}, {"detail", e.detail}});
    }
    return respond(Json(json::object{{"entries", std::move(out)}}));
  }

  if (collection == "accounting" && (parts.size() == 3 || (parts.size() == 4 && parts[3] == "report"))) {
    if (!get) return bad_method();
    return Accounting(who, r, parts.size() == 4, std::move(respond));
  }

  fail(NotFound(fmt::format("no endpoint at {}", r.path)));
}

// GET /api/v1/accounting[/report]: a User sees only their own records; JobAdministrator and
// Administrator see everyone's.
void Api::Accounting(const Principal& who, const HttpRequest& r, bool report, Responder respond) {
  auto fail = [&](const Status& st) { respond(net::ErrorResponse(st)); };
  AccountingQuery q;
  std::set<std::string> states;
  try {
    if (r.query.count("start_ms")) q.start_after = std::stoll(r.query.at("start_ms"));
    if (r.query.count("end_ms")) q.end_before = std::stoll(r.query.at("end_ms"));
    if (r.query.count("limit")) q.limit = static_cast<size_t>(std::clamp<int64_t>(std::stoll(r.query.at("limit")), 1, 1'000'000));
  } catch (const std::exception&) {
    return fail(InvalidArgument("start_ms, end_ms and limit must be numbers"));
  }
  if (r.query.count("job")) {
    auto id = ParseJobId(r.query.at("job"));
    if (!id.ok()) return fail(id.status());
    q.job_id = *id;
  }
  if (r.query.count("user") && !r.query.at("user").empty()) q.owner = r.query.at("user");
  if (who.role == Role::kUser) {
    if (q.owner && *q.owner != who.name) {
      return fail(PermissionDenied(fmt::format("a User sees only their own accounting; {} asked for {}'s", who.name, *q.owner)));
    }
    q.owner = who.name;
  }
  if (r.query.count("state")) {
    std::string list = r.query.at("state");
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!name.empty()) {
        auto st = ParseTaskState(name);
        if (!st) {
          return fail(InvalidArgument(fmt::format(
              "unknown state '{}': use Running, Finished, Failed, Canceled, Timeout or OutOfMemory", name)));
        }
        states.insert(std::string(ToString(*st)));
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  auto records = store_.QueryAccounting(q);
  if (!records.ok()) return fail(records.status());
  bool truncated = records->size() >= q.limit;
  if (report) {
    UsageReport rep = Report(*records, q.start_after, q.end_before);
    json::array users, groups;
    for (const auto& u : rep.users) users.push_back(ToJson(u));
    for (const auto& g : rep.groups) groups.push_back(ToJson(g));
    return respond(Json(json::object{{"start_ms", q.start_after}, {"end_ms", q.end_before}, {"users", std::move(users)},
                                     {"groups", std::move(groups)}, {"total", ToJson(rep.total)},
                                     {"truncated", truncated}}));
  }
  json::array jobs;
  for (auto& j : SummarizeJobs(*records)) {
    json::object o = ToJson(j);
    // A job the head node still runs is Running, whatever its ended tasks say.
    if (const Job* live = cluster_.FindJob(j.job_id); live && !IsTerminal(live->record().state)) {
      o["state"] = ToString(TaskState::kRunning);
      o["end_ms"] = 0;
    }
    if (!states.empty() && !states.count(std::string(o["state"].as_string()))) continue;
    jobs.push_back(std::move(o));
  }
  respond(Json(json::object{{"jobs", std::move(jobs)}, {"truncated", truncated}}));
}

void Api::Secrets(const Principal& who, const HttpRequest& r, Responder respond) {
  auto fail = [&](const Status& st) { respond(net::ErrorResponse(st)); };
  const std::string prefix = "/api/v1/secrets";
  std::string name = r.path.substr(prefix.size());
  if (name.empty() || name == "/") {
    if (r.method != "GET") return fail(InvalidArgument(fmt::format("{} is not allowed on {}", r.method, r.path)));
    auto list = secrets_.List();
    if (!list.ok()) return fail(list.status());
    json::array out;
    for (const auto& s : *list) {
      out.push_back(json::object{{"name", s.name}, {"version", s.latest_version}, {"versions", s.versions},
                                 {"updated", FormatTime(s.updated)}});
    }
    return respond(Json(json::object{{"secrets", std::move(out)}}));
  }
  if (Status st = secrets::ValidateSecretName(name); !st.ok()) return fail(st);
  if (IsReservedSecretName(name)) {
    return fail(PermissionDenied(fmt::format(
        "{} is one of Drover's own secrets (names under {} hold the cluster CA's key, join tokens and NoEcho "
        "parameters): it is not read or written through the API; on the machine that holds the store, use "
        "'drover secret --local'",
        name, kReservedSecretPrefix)));
  }
  // Every use of a value is audited (by name and version, never the value), and the audit row is
  // committed before the store is read or changed: there is no change or read without its row. A
  // change that then fails is audited as failed.
  if (r.method == "GET") {
    std::optional<int> version;
    if (r.query.count("version")) {
      try {
        version = std::stoi(r.query.at("version"));
      } catch (const std::exception&) {
        return fail(InvalidArgument("version must be a number"));
      }
    }
    members_.Audit(who.name, "secret.get", name, version ? fmt::format("version {}", *version) : "latest version");
    return committer_.AfterCommit([this, respond, name, version] {
      auto value = secrets_.Get(name, version);
      if (!value.ok()) return respond(net::ErrorResponse(value.status()));
      respond(Json(json::object{{"name", name}, {"value", *value}}));
    });
  }
  if (r.method == "POST") {
    auto body = BodyObject(r);
    if (!body.ok()) return fail(body.status());
    auto* value = body->if_contains("value");
    if (!value || !value->is_string() || value->as_string().empty()) {
      return fail(InvalidArgument("field 'value' (a non-empty string) is required"));
    }
    members_.Audit(who.name, "secret.put", name, "a new version");  // never the value
    return committer_.AfterCommit([this, who, respond, name, v = std::string(value->as_string())] {
      auto version = secrets_.Put(name, v);
      if (!version.ok()) {
        members_.Audit(who.name, "secret.put.failed", name, version.status().message());
        return respond(net::ErrorResponse(version.status()));
      }
      respond(Json(json::object{{"name", name}, {"version", *version}}, 201));
    });
  }
  if (r.method == "DELETE") {
    members_.Audit(who.name, "secret.delete", name);
    return committer_.AfterCommit([this, who, respond, name] {
      if (Status st = secrets_.Delete(name); !st.ok()) {
        members_.Audit(who.name, "secret.delete.failed", name, st.message());
        return respond(net::ErrorResponse(st));
      }
      respond(Json(json::object{{"name", name}, {"deleted", true}}));
    });
  }
  fail(InvalidArgument(fmt::format("{} is not allowed on {}", r.method, r.path)));
}

void Api::AddMember(const Principal& who, const HttpRequest& r, Responder respond) {
  auto body = BodyObject(r);
  if (!body.ok()) return respond(net::ErrorResponse(body.status()));
  std::string name = StringField(*body, "name"), role_name = StringField(*body, "role"), csr = StringField(*body, "csr");
  auto role = ParseRole(role_name.empty() ? "User" : role_name);
  if (!role) {
    return respond(net::ErrorResponse(InvalidArgument(
        fmt::format("unknown role '{}' (User, JobAdministrator, Administrator)", role_name))));
  }
  if (!ValidMemberName(name)) {
    return respond(net::ErrorResponse(InvalidArgument(fmt::format("'{}' is not a valid member name", name))));
  }
  if (csr.empty()) return respond(net::ErrorResponse(InvalidArgument("field 'csr' is required")));
  pki::CertProfile profile;
  profile.subject = {name, "member"};
  profile.client_auth = true;
  profile.valid_days = 397;
  auto cert = pki::SignCsr(context_.ca, csr, profile);
  if (!cert.ok()) return respond(net::ErrorResponse(cert.status()));
  auto info = pki::ParseCertificate(*cert);
  if (!info.ok()) return respond(net::ErrorResponse(info.status()));
  if (Status st = members_.Add(name, *role, info->serial_hex); !st.ok()) return respond(net::ErrorResponse(st));
  members_.Audit(who.name, "member.add", name, std::string(ToString(*role)));
  committer_.AfterCommit([this, respond, cert = *cert, name, role = *role] {
    respond(Json(json::object{{"name", name},
                              {"role", ToString(role)},
                              {"certificate", cert},
                              {"ca_certificate", context_.ca.cert_pem}},
                 201));
  });
}

void Api::Join(const HttpRequest& r, Responder respond) {
  auto body = BodyObject(r);
  if (!body.ok()) return respond(net::ErrorResponse(body.status()));
  std::string token = StringField(*body, "token"), name = StringField(*body, "name");
  std::string hostname = StringField(*body, "hostname"), csr = StringField(*body, "csr");
  if (!ValidNodeName(name)) {  // checked first: only a valid name ever reaches a log line
    return respond(net::ErrorResponse(InvalidArgument(
        "the node name is not valid (letters, digits, '.', '_', '-'; at most 63 characters)")));
  }
  if (!ConstantTimeEquals(token, context_.join_token)) {
    spdlog::warn("refused a join as '{}': wrong join token", name);
    return respond(net::ErrorResponse(Unauthenticated("the join token is not valid for this cluster")));
  }
  if (csr.empty()) return respond(net::ErrorResponse(InvalidArgument("field 'csr' is required")));
  pki::CertProfile profile;
  profile.subject = {name, "node"};
  profile.client_auth = true;
  auto cert = pki::SignCsr(context_.ca, csr, profile);
  if (!cert.ok()) return respond(net::ErrorResponse(cert.status()));
  auto info = pki::ParseCertificate(*cert);
  if (!info.ok()) return respond(net::ErrorResponse(info.status()));
  auto node = cluster_.Join(name, hostname, info->serial_hex, StringField(*body, "template"));
  if (!node.ok()) return respond(net::ErrorResponse(node.status()));
  members_.Audit(name, "node.join", name,
                 fmt::format("host {}, now {}", ValidNodeName(hostname) ? hostname : "(unprintable)",
                             ToString(node->state)));
  committer_.AfterCommit([this, respond, cert = *cert, name] {
    const Node* n = cluster_.FindNode(name);
    respond(Json(json::object{{"certificate", cert},
                              {"ca_certificate", context_.ca.cert_pem},
                              {"state", n ? std::string(ToString(n->record.state)) : "Unapproved"}}));
  });
}

// /api/v1/job-templates: GET lists them (everyone: users need their names); POST puts one and
// /api/v1/job-templates/NAME/delete removes one (Administrators).
void Api::JobTemplates(const Principal& who, const HttpRequest& r, const std::vector<std::string>& parts,
                       Responder respond) {
  auto fail = [&](const Status& st) { respond(net::ErrorResponse(st)); };
  if (parts.size() == 3 && r.method == "GET") {
    json::array out;
    for (const auto& t : cluster_.JobTemplates()) out.push_back(ToJson(t));
    return respond(Json(json::object{{"job_templates", std::move(out)}}));
  }
  if (Status st = RequireRole(who, Role::kAdministrator, "changing job templates"); !st.ok()) return fail(st);
  if (parts.size() == 3 && r.method == "POST") {
    auto v = ParseJson(r.body);
    if (!v.ok()) return fail(v.status());
    auto t = JobTemplateFromJson(*v);
    if (!t.ok()) return fail(t.status());
    if (Status st = cluster_.PutJobTemplate(*t); !st.ok()) return fail(st);
    members_.Audit(who.name, "job_template.put", t->name, json::serialize(ToJson(*t)));
    return committer_.AfterCommit([respond, t = *t] { respond(Json(ToJson(t), 201)); });
  }
  if (parts.size() == 5 && parts[4] == "delete" && r.method == "POST") {
    if (Status st = cluster_.DeleteJobTemplate(parts[3]); !st.ok()) return fail(st);
    members_.Audit(who.name, "job_template.delete", parts[3]);
    return committer_.AfterCommit([respond, name = parts[3]] {
      respond(Json(json::object{{"name", name}, {"deleted", true}}));
    });
  }
  fail(InvalidArgument(fmt::format("{} is not allowed on {}", r.method, r.path)));
}

// /api/v1/scheduler: GET shows the scheduling settings; POST replaces them (Administrators).
void Api::SchedulerSettings(const Principal& who, const HttpRequest& r, Responder respond) {
  auto fail = [&](const Status& st) { respond(net::ErrorResponse(st)); };
  if (r.method == "GET") {
    json::object o = ToJson(cluster_.scheduling_config());
    // The fair-share factor of every owner with queued work, as the next pass will weigh them.
    std::set<std::string> owners;
    for (const Job* j : cluster_.Jobs(false)) {
      if (j->HasQueued()) owners.insert(j->spec().owner);
    }
    json::object factors;
    for (const auto& owner : owners) factors[owner] = cluster_.FairShareFactor(owner);
    o["fair_share_factors"] = std::move(factors);
    return respond(Json(o));
  }
  if (r.method != "POST") return fail(InvalidArgument(fmt::format("{} is not allowed on {}", r.method, r.path)));
  if (Status st = RequireRole(who, Role::kAdministrator, "changing the scheduler settings"); !st.ok()) return fail(st);
  auto v = ParseJson(r.body);
  if (!v.ok()) return fail(v.status());
  auto c = SchedulingConfigFromJson(*v);
  if (!c.ok()) return fail(c.status());
  if (Status st = cluster_.SetSchedulingConfig(*c); !st.ok()) return fail(st);
  members_.Audit(who.name, "scheduler.set", "scheduler", json::serialize(ToJson(*c)));
  committer_.AfterCommit([respond, c = *c] { respond(Json(ToJson(c))); });
}

void Api::SubmitJob(const Principal& who, const HttpRequest& r, Responder respond) {
  auto v = ParseJson(r.body);
  if (!v.ok()) return respond(net::ErrorResponse(v.status()));
  auto spec = JobSpecFromJson(*v);
  if (!spec.ok()) return respond(net::ErrorResponse(spec.status()));
  // Jobs run as their owner. Only an Administrator may submit on behalf of another user.
  if (spec->owner.empty()) spec->owner = who.name;
  if (spec->owner != who.name) {
    if (Status st = RequireRole(who, Role::kAdministrator, fmt::format("submitting a job as '{}'", spec->owner));
        !st.ok()) {
      return respond(net::ErrorResponse(st));
    }
  }
  // A job may wait only for jobs its submitter may see.
  for (const auto& d : spec->dependencies) {
    if (Status st = MayManageJob(who, d.job); !st.ok()) {
      return respond(net::ErrorResponse(st.WithContext(fmt::format("dependency on job {}", d.job))));
    }
  }
  std::string owner = spec->owner;
  // A job template's defaults fill only what the submitter left out of the request.
  GivenFields given;
  given.priority = v->as_object().contains("priority");
  const auto* task = v->as_object().if_contains("task");
  given.cores = task && task->is_object() && task->as_object().contains("cores");
  auto id = cluster_.Submit(std::move(*spec), given);
  if (!id.ok()) return respond(net::ErrorResponse(id.status()));
  members_.Audit(who.name, "job.submit", fmt::format("job {}", *id), fmt::format("owner {}", owner));
  // Acknowledge only once the job is durable.
  committer_.AfterCommit([this, respond, id = *id] {
    const Job* job = cluster_.FindJob(id);
    respond(Json(json::object{{"id", id}, {"tasks", job ? job->size() : 0}}, 201));
  });
}

void Api::JobControl(const Principal& who, JobId id, const std::string& action, Responder respond) {
  Status st = action == "hold"      ? cluster_.Hold(id)
              : action == "release" ? cluster_.Release(id)
                                    : cluster_.Requeue(id);
  if (!st.ok()) return respond(net::ErrorResponse(st));
  members_.Audit(who.name, "job." + action, fmt::format("job {}", id));
  committer_.AfterCommit([this, respond, id] {
    const Job* job = cluster_.FindJob(id);
    respond(Json(job ? JobSummaryJson(*job) : json::object{{"id", id}}));
  });
}

void Api::Exec(const HttpRequest& r, Responder respond) {
  auto fail = [&](const Status& st) { respond(net::ErrorResponse(st)); };
  if (r.method != "POST") return fail(InvalidArgument(fmt::format("use POST for {}", r.path)));
  auto body = BodyObject(r);
  if (!body.ok()) return fail(body.status());
  std::string token = StringField(*body, "token");
  auto parts = SplitPath(r.path);  // api v1 exec [id action]
  if (parts.size() == 3) {
    auto* job = body->if_contains("job");
    auto* task = body->if_contains("task");
    if (!job || !job->is_int64() || !task || !task->is_int64() || task->as_int64() < 1 ||
        task->as_int64() > UINT32_MAX) {
      return fail(InvalidArgument("fields 'job' and 'task' (numbers) are required"));
    }
    std::string host = StringField(*body, "host"), command = StringField(*body, "command");
    if (host.empty() || command.empty()) return fail(InvalidArgument("fields 'host' and 'command' are required"));
    auto id = cluster_.StartExec(job->as_int64(), static_cast<TaskId>(task->as_int64()), token, host, command);
    if (!id.ok()) return fail(id.status());
    return committer_.AfterCommit([respond, id = *id] { respond(Json(json::object{{"id", id}}, 201)); });
  }
  uint64_t id = 0;
  if (parts.size() != 5 || std::sscanf(parts[3].c_str(), "%" SCNu64, &id) != 1) {
    return fail(NotFound(fmt::format("no endpoint at {}", r.path)));
  }
  if (parts[4] == "status") {
    auto st = cluster_.GetExec(id, token);
    if (!st.ok()) return fail(st.status());
    return respond(Json(json::object{{"done", st->done}, {"exit_code", st->exit_code}, {"error", st->error}}));
  }
  if (parts[4] == "kill") {
    if (Status st = cluster_.KillExec(id, token); !st.ok()) return fail(st);
    return committer_.AfterCommit([respond] { respond(Json(json::object{{"killed", true}})); });
  }
  fail(NotFound(fmt::format("no endpoint at {}", r.path)));
}

void Api::GetJob(JobId id, const HttpRequest& r, Responder respond) {
  std::string tasks = r.query.count("tasks") ? r.query.at("tasks") : "";
  if (const Job* job = cluster_.FindJob(id)) return respond(Json(JobDetailJson(*job, tasks, cluster_)));
  auto rec = store_.LoadJob(id);
  if (!rec.ok()) return respond(net::ErrorResponse(rec.status()));
  if (!*rec) return respond(net::ErrorResponse(NotFound(fmt::format("job {} does not exist", id))));
  auto rows = store_.LoadTasks(id);
  if (!rows.ok()) return respond(net::ErrorResponse(rows.status()));
  Job job(**rec);
  std::unordered_map<std::string, int32_t> no_nodes;
  job.LoadTaskRows(*rows, no_nodes);
  respond(Json(JobDetailJson(job, tasks, cluster_, &*rows)));
}

void Api::WaitJob(JobId id, const HttpRequest& r, Responder respond) {
  if (!cluster_.FindJob(id)) return GetJob(id, r, std::move(respond));
  int64_t timeout_ms = 30000;
  if (r.query.count("timeout_ms")) {
    try {
      timeout_ms = std::clamp<int64_t>(std::stoll(r.query.at("timeout_ms")), 0, 600000);
    } catch (const std::exception&) {
      return respond(net::ErrorResponse(InvalidArgument("timeout_ms must be a number of milliseconds")));
    }
  }
  // Whichever comes first, the end of the job or the timeout, answers; the waiter left with the job
  // then holds only an empty slot, not the connection. The job may have left memory by the time
  // the answer runs: then the store answers.
  auto pending = std::make_shared<std::optional<Responder>>(std::move(respond));
  auto answer = [this, id, pending, target = r.target, query = r.query] {
    if (!pending->has_value()) return;
    Responder respond = std::move(**pending);
    pending->reset();
    if (const Job* job = cluster_.FindJob(id)) return respond(Json(JobSummaryJson(*job)));
    HttpRequest lookup;
    lookup.target = target;
    lookup.query = query;
    GetJob(id, lookup, respond);
  };
  auto timer = std::shared_ptr<net::Timer>(loop_.RunAfter(timeout_ms, answer));
  cluster_.OnJobEnded(id, [timer, answer] {
    timer->Cancel();
    answer();
  });
}

void Api::NodeAction(const Principal& who, const std::string& name, const std::string& action,
                     const HttpRequest& r, Responder respond) {
  Status st;
  if (action == "approve") {
    auto body = BodyObject(r);
    if (!body.ok()) return respond(net::ErrorResponse(body.status()));
    std::string t = StringField(*body, "template");
    st = cluster_.Approve(name, t.empty() ? "Default" : t);
  } else if (action == "online") {
    st = cluster_.SetOnline(name);
  } else if (action == "offline") {
    st = cluster_.SetOffline(name);
  } else if (action == "drain") {
    st = cluster_.Drain(name);
  } else if (action == "remove") {
    st = cluster_.RemoveNode(name);
    if (!st.ok()) return respond(net::ErrorResponse(st));
    members_.Audit(who.name, "node.remove", name);
    return committer_.AfterCommit([respond, name] {
      respond(Json(json::object{{"name", name}, {"state", "Removed"}}));
    });
  } else {
    return respond(net::ErrorResponse(
        NotFound(fmt::format("unknown node action '{}' (approve, online, offline, drain, remove)", action))));
  }
  if (!st.ok()) return respond(net::ErrorResponse(st));
  members_.Audit(who.name, "node." + action, name);
  committer_.AfterCommit([this, respond, name] {
    const Node* n = cluster_.FindNode(name);
    respond(Json(n ? NodeJson(*n) : json::object{}));
  });
}

HttpResponse Api::ClusterSummary() {
  auto c = cluster_.counts();
  json::object nodes;
  for (const Node* n : cluster_.Nodes()) {
    auto key = std::string(ToString(n->record.state));
    nodes[key] = (nodes.contains(key) ? nodes[key].as_int64() : 0) + 1;
  }
  json::object schema;
  if (auto versions = store_.SchemaVersions(); versions.ok()) {
    for (const auto& [store, v] : *versions) schema[store] = v;
  }
  return Json(json::object{{"name", context_.cluster_name},
                           {"version", DROVER_VERSION},
                           {"jobs_active", c.jobs_active},
                           {"tasks_queued", c.tasks_queued},
                           {"tasks_running", c.tasks_running},
                           {"nodes", std::move(nodes)},
                           {"schema_versions", std::move(schema)}});
}

HttpResponse Api::Metrics() {
  auto c = cluster_.counts();
  std::string out;
  out += "# TYPE drover_jobs_active gauge\n";
  out += fmt::format("drover_jobs_active {}\n", c.jobs_active);
  out += "# TYPE drover_tasks_queued gauge\n";
  out += fmt::format("drover_tasks_queued {}\n", c.tasks_queued);
  out += "# TYPE drover_tasks_running gauge\n";
  out += fmt::format("drover_tasks_running {}\n", c.tasks_running);
  out += "# TYPE drover_tasks_dispatched_total counter\n";
  out += fmt::format("drover_tasks_dispatched_total {}\n", c.tasks_dispatched);
  out += "# TYPE drover_tasks_completed_total counter\n";
  out += fmt::format("drover_tasks_completed_total {}\n", c.tasks_completed);
  out += "# TYPE drover_store_commits_total counter\n";
  out += fmt::format("drover_store_commits_total {}\n", committer_.commits());
  out += "# TYPE drover_nodes gauge\n";
  std::map<std::string, int> by_state;
  for (const Node* n : cluster_.Nodes()) {
    ++by_state[fmt::format("state=\"{}\",health=\"{}\"", ToString(n->record.state), ToString(n->health))];
  }
  for (const auto& [labels, count] : by_state) out += fmt::format("drover_nodes{{{}}} {}\n", labels, count);
  if (context_.pass_times) out += context_.pass_times->Prometheus();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace drover::head
