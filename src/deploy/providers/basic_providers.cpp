// Providers of the resources that run no process: Drover::Secret, Drover::Database (SQLite),
// Drover::NodeTemplate and Drover::DnsRecord.
#include <filesystem>

#include <fmt/format.h>

#include "common/codec.h"
#include "deploy/providers/basic_providers.h"
#include "deploy/providers/local_instance.h"
#include "os/files.h"
#include "store/sqlite/sqlite_store.h"

namespace drover::deploy {
namespace json = boost::json;

namespace {

void SetAttributes(ResourceOp& op, json::object attributes) {
  op.stack.WithState([&](StackState& s) {
    if (ResourceState* r = s.Find(op.name)) r->attributes = std::move(attributes);
  });
}

}  // namespace

// ---- Drover::Secret -------------------------------------------------------------------------

Status SecretProvider::Create(ResourceOp& op) {
  std::string name = StringProp(op.properties, "Name");
  if (name.empty() || name[0] != '/') {
    return InvalidArgument(fmt::format("{}: secret names start with '/' (got '{}')", op.name, name));
  }
  int64_t length = IntProp(op.properties, "Length", 32);
  if (length < 8 || length > 1024) return InvalidArgument(fmt::format("{}: Length must be 8..1024", op.name));
  ASSIGN_OR_RETURN(secrets::SecretStore * store, op.stack.Secrets());
  RETURN_IF_ERROR(store->GetOrCreateRandom(name, static_cast<size_t>(length)).status());
  int version = 0;
  ASSIGN_OR_RETURN(auto list, store->List());
  for (const auto& info : list) {
    if (info.name == name) version = info.latest_version;
  }
  SetAttributes(op, json::object{{"Ref", name}, {"Name", name}, {"Version", version}});
  op.stack.Event(op.name, "CREATE_IN_PROGRESS", fmt::format("secret {} is in the store (version {})", name, version));
  return Status::Ok();
}

Status SecretProvider::Delete(ResourceOp& op, bool retain) {
  std::string name = StringProp(op.old_properties, "Name");
  if (retain || name.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(secrets::SecretStore * store, op.stack.Secrets());
  Status st = store->Delete(name);
  return st.code() == StatusCode::kNotFound ? Status::Ok() : st;
}

// ---- Drover::Database -----------------------------------------------------------------------

namespace {

std::string DataPath(const ResourceOp& op, const json::object& props) {
  std::string path = StringProp(props, "DataPath");
  if (path.empty()) return os::JoinPath(op.stack.paths().ResourceDir(op.name), "data");
  return os::AbsolutePath(path);
}

constexpr const char* kStoreNames[] = {"Management", "Scheduler", "Reporting", "Diagnostics", "Monitoring"};

}  // namespace

Status DatabaseProvider::Create(ResourceOp& op) {
  if (auto* dbs = op.properties.if_contains("Databases")) {
    for (const auto& d : dbs->as_array()) {
      bool known = false;
      for (const char* n : kStoreNames) known = known || (d.is_string() && d.as_string() == n);
      if (!known) {
        return InvalidArgument(fmt::format("{}: Databases lists '{}'; the stores are Management, Scheduler, "
                                           "Reporting, Diagnostics and Monitoring", op.name, json::serialize(d)));
      }
    }
  }
  std::string path = DataPath(op, op.properties);
  bool existed = os::Exists(os::JoinPath(path, "management.db"));
  RETURN_IF_ERROR(os::MakeDirs(path, 0700));
  ASSIGN_OR_RETURN(auto store, OpenSqliteStore(path));
  ASSIGN_OR_RETURN(auto versions, store->SchemaVersions());
  ASSIGN_OR_RETURN(JobId max_job, store->MaxJobId());
  std::string detail;
  for (const auto& [name, v] : versions) detail += fmt::format("{}{} v{}", detail.empty() ? "" : ", ", name, v);
  op.stack.Event(op.name, "CREATE_IN_PROGRESS",
                 existed ? fmt::format("attached the existing stores at {} ({}; last job {})", path, detail, max_job)
                         : fmt::format("created the stores at {} ({})", path, detail));
  SetAttributes(op, json::object{{"Ref", op.name}, {"Engine", "sqlite"}, {"Endpoint", path}, {"DataPath", path}});
  return Status::Ok();
}

Status DatabaseProvider::Delete(ResourceOp& op, bool retain) {
  std::string path = DataPath(op, op.old_properties);
  if (retain) {
    op.stack.Progress(op.name, fmt::format("retained its data at {}", path));
    return Status::Ok();
  }
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Unavailable(fmt::format("cannot remove {}: {}", path, ec.message()));
  return Status::Ok();
}

// ---- Drover::NodeTemplate -------------------------------------------------------------------

namespace {

std::string TemplateName(const ResourceOp& op, const json::object& props) {
  std::string name = StringProp(props, "Name");
  return name.empty() ? op.name : name;
}

}  // namespace

Diff NodeTemplateProvider::Compare(const json::object& applied, const json::object& desired) const {
  return CompareProperties(applied, desired, {"Description", "AutoApprove", "BringOnline"});
}

Status NodeTemplateProvider::Create(ResourceOp& op) {
  std::string head = StringProp(op.properties, "HeadNode");
  ASSIGN_OR_RETURN(auto client, HeadClient(op.stack, head));
  NodeTemplate t;
  t.name = TemplateName(op, op.properties);
  t.description = StringProp(op.properties, "Description");
  t.auto_approve = BoolProp(op.properties, "AutoApprove", true);
  t.bring_online = BoolProp(op.properties, "BringOnline", true);
  ASSIGN_OR_RETURN(auto resp, client->Request("POST", "/api/v1/node-templates", json::serialize(ToJson(t)), 10000));
  if (resp.status / 100 != 2) return net::StatusFromErrorResponse(resp).WithContext(op.name);
  SetAttributes(op, json::object{{"Ref", t.name}, {"Name", t.name}});
  return Status::Ok();
}

Status NodeTemplateProvider::Delete(ResourceOp& op, bool /*retain*/) {
  // The head node keeps node templates its nodes were approved by: nodes name them, and a template
  // no group refers to any more does nothing. Removing it from the stack forgets it here only.
  (void)op;
  return Status::Ok();
}

// ---- Drover::DnsRecord ----------------------------------------------------------------------

Diff DnsRecordProvider::Compare(const json::object& applied, const json::object& desired) const {
  return CompareProperties(applied, desired, {"Target"});
}

Status WriteHostsFile(StackRuntime& stack) {
  std::string text = "# Names of this stack's instances (Drover::DnsRecord); written by drover.\n";
  stack.WithState([&](StackState& s) {
    for (const auto& [name, r] : s.resources) {
      if (r.type != kDnsRecord) continue;
      auto* n = r.attributes.if_contains("Name");
      auto* a = r.attributes.if_contains("Address");
      if (n && a && n->is_string() && a->is_string() && !a->as_string().empty()) {
        text += fmt::format("{} {}\n", std::string(a->as_string()), std::string(n->as_string()));
      }
    }
  });
  return os::WriteFileAtomic(stack.paths().Hosts(), text, 0644);
}

Status DnsRecordProvider::Create(ResourceOp& op) {
  std::string name = StringProp(op.properties, "Name");
  std::string target = StringProp(op.properties, "Target");
  ASSIGN_OR_RETURN(auto target_attributes, op.stack.Attributes(target));
  std::string address = StringProp(target_attributes, "Address");
  if (address.empty()) {
    return FailedPrecondition(fmt::format("{}: target {} has no address (is it an instance?)", op.name, target));
  }
  SetAttributes(op, json::object{{"Ref", name}, {"Name", name}, {"Address", address}, {"Target", target}});
  RETURN_IF_ERROR(WriteHostsFile(op.stack));
  op.stack.Event(op.name, "CREATE_IN_PROGRESS", fmt::format("{} -> {}", name, address));
  return Status::Ok();
}

Status DnsRecordProvider::Delete(ResourceOp& op, bool /*retain*/) {
  SetAttributes(op, json::object{});
  return WriteHostsFile(op.stack);
}

Result<bool> DnsRecordProvider::Repair(ResourceOp& op) {
  // Follows the target when the supervisor has replaced it.
  std::string target = StringProp(op.properties, "Target");
  auto target_attributes = op.stack.Attributes(target);
  if (!target_attributes.ok()) return false;
  std::string address = StringProp(*target_attributes, "Address");
  ASSIGN_OR_RETURN(auto mine, op.stack.Attributes(op.name));
  if (address.empty() || StringProp(mine, "Address") == address) return false;
  std::string name = StringProp(op.properties, "Name");
  mine["Address"] = address;
  SetAttributes(op, mine);
  RETURN_IF_ERROR(WriteHostsFile(op.stack));
  op.stack.Event(op.name, "UPDATE_COMPLETE", fmt::format("{} now points at {} (its target was replaced)", name, address));
  return true;
}

}  // namespace drover::deploy
