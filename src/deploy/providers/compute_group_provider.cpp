// Drover::ComputeGroup on the local provider: each instance is `drover computenode` as a daemon with
// its own directory and address. A new instance runs the group's boot script, joins the head node
// with the join token (handed over on its standard input), is approved by the group's node template
// and comes Online; the group signals ready when its count of nodes is Online.
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "common/codec.h"
#include "deploy/providers/basic_providers.h"
#include "deploy/providers/local_instance.h"
#include "head/credentials.h"
#include "os/daemon.h"
#include "os/files.h"

namespace drover::deploy {
namespace json = boost::json;

namespace {

constexpr int kDefaultReadyTimeoutMs = 120000;
constexpr int kBootTimeoutMs = 300000;

struct GroupShape {
  int64_t min = 0, max = 0, desired = 0;
};

Result<GroupShape> ShapeOf(const ResourceOp& op) {
  GroupShape g;
  g.min = IntProp(op.properties, "MinSize");
  g.max = IntProp(op.properties, "MaxSize");
  g.desired = IntProp(op.properties, "DesiredCapacity", g.min);
  if (g.min < 0 || g.max < g.min || g.max > 1000) {
    return InvalidArgument(fmt::format("{}: need 0 <= MinSize ({}) <= MaxSize ({}) <= 1000", op.name, g.min, g.max));
  }
  if (g.desired < g.min || g.desired > g.max) {
    return InvalidArgument(
        fmt::format("{}: DesiredCapacity ({}) must lie within MinSize ({}) and MaxSize ({})", op.name, g.desired, g.min, g.max));
  }
  return g;
}

std::string Prefix(const ResourceOp& op) {
  std::string p = StringProp(op.properties, "NamePrefix");
  if (!p.empty()) return p;
  for (char c : op.name) p += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return p;
}

std::vector<Instance> Instances(ResourceOp& op) {
  return op.stack.WithState([&](StackState& s) { return s.Find(op.name)->instances; });
}

void UpdateAttributes(ResourceOp& op) {
  op.stack.WithState([&](StackState& s) {
    ResourceState* r = s.Find(op.name);
    json::array nodes;
    for (const auto& i : r->instances) nodes.emplace_back(i.id);
    auto retired = r->attributes.if_contains("Retired") ? r->attributes["Retired"] : json::array();
    r->attributes = json::object{{"Ref", op.name},
                                 {"Size", static_cast<int64_t>(r->instances.size())},
                                 {"Nodes", std::move(nodes)},
                                 {"NamePrefix", Prefix(op)},
                                 {"Retired", retired}};
  });
}

// Boots and starts one new instance (not waiting for it to come Online).
Result<Instance> StartInstance(ResourceOp& op) {
  std::string head = StringProp(op.properties, "HeadNode");
  ASSIGN_OR_RETURN(auto h, op.stack.Attributes(head));
  std::string url = StringProp(h, "Url"), ca = StringProp(h, "CaFile");
  if (url.empty()) return FailedPrecondition(fmt::format("{}: head node {} is not running", op.name, head));
  ASSIGN_OR_RETURN(secrets::SecretStore * store, op.stack.Secrets());
  std::string token_secret = head::JoinTokenSecretName(head::StackSecretPrefix(op.stack.stack()));
  ASSIGN_OR_RETURN(std::string token, store->Get(token_secret));

  ASSIGN_OR_RETURN(Instance instance, op.stack.NewInstance(op.name, Prefix(op)));
  op.stack.WithState([&](StackState& s) { s.Find(op.name)->instances.push_back(instance); });
  UpdateAttributes(op);
  std::map<std::string, std::string> env{{"DROVER_STACK", op.stack.stack()},   {"DROVER_RESOURCE", op.name},
                                         {"DROVER_INSTANCE", instance.id},       {"DROVER_NODE_NAME", instance.id},
                                         {"DROVER_ADDRESS", instance.address},   {"DROVER_HEAD_URL", url}};
  if (auto* extra = op.properties.if_contains("Environment"); extra && extra->is_object()) {
    for (const auto& [k, v] : extra->as_object()) {
      std::string value = v.is_string() ? std::string(v.as_string()) : json::serialize(v);
      ASSIGN_OR_RETURN(env[std::string(k)], op.stack.ResolveSecrets(value));
    }
  }
  if (std::string script = StringProp(op.properties, "BootScript"); !script.empty()) {
    ASSIGN_OR_RETURN(std::string resolved, op.stack.ResolveSecrets(script));
    RETURN_IF_ERROR(RunBootScript(instance, resolved, env, kBootTimeoutMs));
  }
  std::vector<std::string> argv = {os::SelfExe(), "computenode", "--state-dir", os::JoinPath(instance.dir, "state"),
                                   "--head", url, "--name", instance.id, "--ca-file", ca, "--token-file", "-"};
  if (std::string t = StringProp(op.properties, "NodeTemplate"); !t.empty()) argv.insert(argv.end(), {"--template", t});
  if (int64_t cores = IntProp(op.properties, "CoresPerNode"); cores > 0) {
    argv.insert(argv.end(), {"--cores", std::to_string(cores)});
  }
  if (int64_t mem = IntProp(op.properties, "MemoryPerNodeMiB"); mem > 0) {
    argv.insert(argv.end(), {"--memory-mb", std::to_string(mem)});
  }
  RETURN_IF_ERROR(os::MakeDirs(os::JoinPath(instance.dir, "state"), 0700));
  ASSIGN_OR_RETURN(pid_t pid, op.stack.SpawnDaemon(instance, argv, DaemonLog(instance), PidFile(instance), token + "\n"));
  op.stack.Progress(op.name, fmt::format("instance {} starting (pid {})", instance.id, pid));
  return instance;
}

// Asks the head node to forget `node`: its tasks are requeued. OK when it is already gone.
Status RemoveNode(ResourceOp& op, const std::string& node) {
  ASSIGN_OR_RETURN(auto client, HeadClient(op.stack, StringProp(op.properties, "HeadNode")));
  ASSIGN_OR_RETURN(auto resp, client->Request("POST", fmt::format("/api/v1/nodes/{}/remove", node), "{}", 10000));
  if (resp.status / 100 == 2 || resp.status == 404) return Status::Ok();
  return net::StatusFromErrorResponse(resp);
}

// Stops an instance's agent, then kills what its tasks left running, then removes it from the head.
Status StopInstance(ResourceOp& op, const Instance& instance) {
  RETURN_IF_ERROR(os::StopDaemon(PidFile(instance), "computenode", 10000));
  RETURN_IF_ERROR(op.stack.ReleaseInstance(instance));
  if (Status st = RemoveNode(op, instance.id); !st.ok()) {
    // The node stays known to the head node (Unreachable) until `drover node remove`; nothing runs on it.
    op.stack.Progress(op.name, fmt::format("the head node did not forget {}: {}", instance.id, st.message()));
  }
  return Status::Ok();
}

// Waits until `count` of the group's instances are Online on the head node.
Status WaitOnline(ResourceOp& op, size_t count, int timeout_ms) {
  ASSIGN_OR_RETURN(auto client, HeadClient(op.stack, StringProp(op.properties, "HeadNode")));
  size_t last = SIZE_MAX;
  Status st = WaitUntil(timeout_ms, [&]() -> Status {
    auto instances = Instances(op);
    std::set<std::string> mine;
    for (const auto& i : instances) {
      if (!os::RunningDaemon(PidFile(i), "computenode")) {
        return FailedPrecondition(fmt::format("instance {} exited; see {}", i.id, DaemonLog(i)));
      }
      mine.insert(i.id);
    }
    ASSIGN_OR_RETURN(auto resp, client->Request("GET", "/api/v1/nodes", "", 5000));
    if (resp.status != 200) return net::StatusFromErrorResponse(resp);
    ASSIGN_OR_RETURN(auto v, ParseJson(resp.body));
    size_t online = 0;
    for (const auto& n : v.at("nodes").as_array()) {
      const auto& o = n.as_object();
      if (mine.count(std::string(o.at("name").as_string())) && o.at("state") == "Online" &&
          o.at("connected").as_bool()) {
        ++online;
      }
    }
    if (online != last) {
      op.stack.Progress(op.name, fmt::format("{}/{} nodes Online", online, count));
      last = online;
    }
    return online >= count ? Status::Ok() : Unavailable("waiting for nodes");
  });
  if (st.code() == StatusCode::kUnavailable) {
    return FailedPrecondition(fmt::format("{} of {} nodes came Online within {} ms (the readiness signal's timeout)",
                                          last == SIZE_MAX ? 0 : last, count, timeout_ms));
  }
  return st;
}

int ReadyTimeout(const ResourceOp& op) {
  return op.creation_policy && op.creation_policy->timeout_ms > 0 ? static_cast<int>(op.creation_policy->timeout_ms)
                                                                 : kDefaultReadyTimeoutMs;
}

// Starts or stops instances until the group has `desired`, then waits for the signal count.
Status Resize(ResourceOp& op, int64_t desired) {
  auto instances = Instances(op);
  while (static_cast<int64_t>(instances.size()) > desired) {
    Instance last = instances.back();
    instances.pop_back();
    op.stack.Progress(op.name, fmt::format("stopping instance {}", last.id));
    RETURN_IF_ERROR(StopInstance(op, last));
    op.stack.WithState([&](StackState& s) { s.Find(op.name)->instances = instances; });
    op.stack.RemoveInstanceDir(last);
  }
  for (auto n = static_cast<int64_t>(instances.size()); n < desired; ++n) RETURN_IF_ERROR(StartInstance(op).status());
  UpdateAttributes(op);
  // A group signals ready when every instance it wants is Online (the signal count is the group's size).
  return WaitOnline(op, static_cast<size_t>(desired), ReadyTimeout(op));
}

}  // namespace

Diff ComputeGroupProvider::Compare(const json::object& applied, const json::object& desired) const {
  return CompareProperties(applied, desired, {"MinSize", "MaxSize", "DesiredCapacity"});
}

Status ComputeGroupProvider::Create(ResourceOp& op) {
  ASSIGN_OR_RETURN(GroupShape g, ShapeOf(op));
  for (const auto& i : Instances(op)) (void)StopInstance(op, i);  // leftovers of a failed attempt
  op.stack.WithState([&](StackState& s) { s.Find(op.name)->instances.clear(); });
  return Resize(op, g.desired);
}

Status ComputeGroupProvider::Update(ResourceOp& op) {
  ASSIGN_OR_RETURN(GroupShape g, ShapeOf(op));
  return Resize(op, g.desired);
}

Status ComputeGroupProvider::Delete(ResourceOp& op, bool /*retain*/) {
  if (op.properties.empty()) op.properties = op.old_properties;
  for (const auto& i : Instances(op)) {
    RETURN_IF_ERROR(StopInstance(op, i));
    op.stack.RemoveInstanceDir(i);
  }
  op.stack.WithState([&](StackState& s) {
    ResourceState* r = s.Find(op.name);
    r->instances.clear();
    r->attributes = json::object{};
  });
  return Status::Ok();
}

Result<bool> ComputeGroupProvider::Repair(ResourceOp& op) {
  bool changed = false;
  for (const auto& i : Instances(op)) {
    if (os::RunningDaemon(PidFile(i), "computenode")) continue;
    op.stack.Event(op.name, "UPDATE_IN_PROGRESS", fmt::format("instance {} is gone; replacing it", i.id));
    op.stack.WithState([&](StackState& s) {
      ResourceState* r = s.Find(op.name);
      std::erase_if(r->instances, [&](const Instance& x) { return x.id == i.id; });
      if (!r->attributes.contains("Retired") || !r->attributes["Retired"].is_array()) r->attributes["Retired"] = json::array();
      r->attributes["Retired"].as_array().emplace_back(i.id);
    });
    (void)op.stack.ReleaseInstance(i);
    auto started = StartInstance(op);
    if (!started.ok()) {
      op.stack.Event(op.name, "UPDATE_FAILED", fmt::format("cannot replace {}: {}", i.id, started.status().message()));
      return started.status();
    }
    op.stack.Event(op.name, "UPDATE_COMPLETE", fmt::format("replaced {} by {}", i.id, started->id));
    changed = true;
  }
  // The head node forgets replaced nodes, which requeues whatever they were running.
  auto retired = op.stack.WithState([&](StackState& s) {
    auto* v = s.Find(op.name)->attributes.if_contains("Retired");
    return v && v->is_array() ? v->as_array() : json::array();
  });
  json::array still;
  for (const auto& name : retired) {
    if (!name.is_string()) continue;
    if (!RemoveNode(op, std::string(name.as_string())).ok()) {
      still.push_back(name);
    } else {
      changed = true;
    }
  }
  op.stack.WithState([&](StackState& s) { s.Find(op.name)->attributes["Retired"] = still; });
  UpdateAttributes(op);
  return changed;
}

}  // namespace drover::deploy
