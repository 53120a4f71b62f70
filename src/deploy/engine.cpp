#include "deploy/engine.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "deploy/providers/netns_network.h"
#include "deploy/providers/provider.h"
#include "deploy/resource_types.h"
#include "deploy/template/template.h"
#include "head/credentials.h"
#include "net/cluster_context.h"
#include "os/daemon.h"
#include "os/files.h"
#include "secrets/secret_store.h"

namespace drover::deploy {
namespace json = boost::json;

namespace {

// The supervisor holds the lock only for one repair at a time (a replacement may take seconds): up
// and down wait for it, up to a minute, while anything else holding the lock refuses them at once.
Result<StackLock> AcquireForChange(const StackPaths& paths, const std::string& holder) {
  for (int waited_ms = 0;; waited_ms += 100) {
    auto lock = StackLock::Acquire(paths, holder, /*wait=*/false);
    if (lock.ok() || lock.status().code() != StatusCode::kFailedPrecondition ||
        lock.status().message().find("drover supervisor") == std::string::npos || waited_ms >= 60000) {
      return lock;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

constexpr const char* kDefaultTemplateName = "examples/local.yaml";

bool Complete(const std::string& status) { return status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE"; }

Result<Template> LoadTemplate(const StackOptions& o) {
  if (o.template_path.empty()) return ParseTemplate(DefaultTemplate(), kDefaultTemplateName, DroverResourceTypes());
  return LoadTemplateFile(o.template_path, DroverResourceTypes());
}

// The providers `up` can run instances on.
Status CheckProviderName(const std::string& name, const std::string& where) {
  if (name == "local" || name == "netns") return Status::Ok();
  return InvalidArgument(fmt::format("{}unknown provider '{}' (local or netns)", where, name));
}

// The provider this run asks for: --provider, else the one the template is written for
// (Metadata.Drover.Provider); "" when neither says. A --provider that contradicts the template is refused.
Result<std::string> RequestedProvider(const StackOptions& o, const Template& t) {
  if (!t.provider.empty()) {
    RETURN_IF_ERROR(CheckProviderName(t.provider, t.provider_where.ToString() + ": Metadata.Drover.Provider: "));
  }
  if (o.provider.empty()) return t.provider;
  RETURN_IF_ERROR(CheckProviderName(o.provider, "--provider: "));
  if (!t.provider.empty() && t.provider != o.provider) {
    return InvalidArgument(fmt::format(
        "{} is written for the {} provider (Metadata.Drover.Provider, line {}), not for --provider {}: leave "
        "--provider out to run it on {}, or use a template written for {}",
        t.file, t.provider, t.provider_where.line, o.provider, t.provider, o.provider));
  }
  return o.provider;
}

// Parameters as shown in the state: NoEcho values masked.
json::object ShownParameters(const Template& t, const std::map<std::string, json::value>& values) {
  json::object out;
  for (const auto& p : t.parameters) {
    auto it = values.find(p.name);
    if (it != values.end()) out[p.name] = p.no_echo ? json::value("****") : it->second;
  }
  return out;
}

// A NoEcho parameter's value never enters the stack's state, plan or events: it is kept in the
// secret store as <stack prefix>parameters/<Name> (a new version only when it changed), and the
// template sees a dynamic reference to that version instead of the value. Properties (and so the
// state) hold the reference, resolved where secrets are (boot scripts, Environment, passwords); a
// changed value is a changed reference, so what uses it is updated. With `write` false (plan),
// nothing is stored and the reference names the version `up` would make.
Status HideNoEchoValues(const Template& t, const std::string& stack, secrets::SecretStore& store, bool write,
                        std::map<std::string, json::value>& params) {
  std::map<std::string, int> latest;
  bool listed = false;
  for (const auto& p : t.parameters) {
    auto it = params.find(p.name);
    if (!p.no_echo || it == params.end()) continue;
    if (!listed) {
      ASSIGN_OR_RETURN(auto infos, store.List());
      for (const auto& i : infos) latest[i.name] = i.latest_version;
      listed = true;
    }
    std::string value = it->second.is_string() ? std::string(it->second.as_string()) : json::serialize(it->second);
    std::string name = head::StackSecretPrefix(stack) + "parameters/" + p.name;
    int version = latest.count(name) ? latest[name] : 0;
    bool same = false;
    if (version > 0) {
      auto current = store.Get(name, version);
      same = current.ok() && *current == value;
    }
    if (!same && write) {
      ASSIGN_OR_RETURN(version, store.Put(name, value));
    } else if (!same) {
      ++version;
    }
    it->second = fmt::format("{{{{resolve:secret:{}:{}}}}}", name, version);
  }
  return Status::Ok();
}

bool HasNoEcho(const Template& t) {
  for (const auto& p : t.parameters) {
    if (p.no_echo) return true;
  }
  return false;
}

// Parameters for this run: those given, then the values the stack's last up used (as CloudFormation's
// UsePreviousValue), then the template's defaults. NoEcho values are never kept, so they fall back
// to their default.
Result<std::map<std::string, json::value>> BindWithPrevious(const Template& t,
                                                             std::map<std::string, std::string> overrides,
                                                             const StackState& previous) {
  for (const auto& p : t.parameters) {
    if (overrides.count(p.name) || p.no_echo) continue;
    auto* v = previous.parameters.if_contains(p.name);
    if (!v) continue;
    if (v->is_string()) {
      overrides[p.name] = std::string(v->as_string());
    } else if (v->is_array()) {
      std::string joined;
      for (const auto& item : v->as_array()) {
        joined += (joined.empty() ? "" : ",") + (item.is_string() ? std::string(item.as_string()) : json::serialize(item));
      }
      overrides[p.name] = joined;
    } else {
      overrides[p.name] = json::serialize(*v);
    }
  }
  return BindParameters(t, overrides);
}

// Resources in an order where each comes after what it depends on (names outside `names` ignored).
std::vector<std::string> DependencyOrder(const std::map<std::string, std::vector<std::string>>& deps) {
  std::vector<std::string> out;
  std::set<std::string> done, visiting;
  std::function<void(const std::string&)> visit = [&](const std::string& n) {
    if (done.count(n) || visiting.count(n)) return;
    visiting.insert(n);
    auto it = deps.find(n);
    if (it != deps.end()) {
      for (const auto& d : it->second) {
        if (deps.count(d)) visit(d);
      }
    }
    visiting.erase(n);
    done.insert(n);
    out.push_back(n);
  };
  for (const auto& [n, _] : deps) visit(n);
  return out;
}

std::map<std::string, std::vector<std::string>> StateDependencies(const StackState& s) {
  std::map<std::string, std::vector<std::string>> deps;
  for (const auto& [n, r] : s.resources) deps[n] = r.dependencies;
  return deps;
}

ResourceResolver ResolverFor(StackRuntime* rt, const StackState* planned, bool plan) {
  ResourceResolver r;
  r.ref = [=](const std::string& name) -> Result<json::value> {
    json::object a;
    if (rt) {
      auto got = rt->Attributes(name);
      if (got.ok()) a = *got;
    } else if (const ResourceState* s = planned->Find(name)) {
      a = s->attributes;
    }
    if (auto* v = a.if_contains("Ref")) return *v;
    return json::value(name);
  };
  r.get_att = [=](const std::string& name, const std::string& attr) -> Result<json::value> {
    json::object a;
    if (rt) {
      auto got = rt->Attributes(name);
      if (got.ok()) a = *got;
    } else if (const ResourceState* s = planned->Find(name)) {
      a = s->attributes;
    }
    if (auto* v = a.if_contains(attr)) return *v;
    if (plan) return json::value(fmt::format("(known after up: {}.{})", name, attr));
    return FailedPrecondition(fmt::format("{}.{} is not known: {} has not been created", name, attr, name));
  };
  return r;
}

void StartSupervisor(const std::string& home, const StackPaths& paths, const std::string& stack) {
  if (os::RunningDaemon(paths.SupervisorPid(), "supervise")) return;
  std::vector<std::string> argv = {os::SelfExe(), "stack", "supervise", "--home", home, "--stack", stack};
  (void)os::SpawnDaemon(argv, paths.SupervisorLog(), paths.SupervisorPid());
}

// One resource's part in an `up`.
struct Step {
  const Resource* resource = nullptr;
  enum class State { kWaiting, kRunning, kDone, kFailed, kSkipped } state = State::kWaiting;
  std::string action;  // create, update, replace, none
  bool existed = false;
  json::object old_properties;
  json::object properties;
  Status result;
};

}  // namespace

std::string StackName(const StackOptions& o) {
  if (!o.stack.empty()) return o.stack;
  if (o.template_path.empty()) return "local";
  return std::filesystem::path(o.template_path).stem().string();
}

Result<StackState> LoadStack(const std::string& home, const std::string& stack) {
  RETURN_IF_ERROR(ValidateStackName(stack));
  auto s = LoadStackState(PathsFor(home, stack));
  if (s.status().code() == StatusCode::kNotFound) {
    return NotFound(fmt::format("there is no stack named '{}' under {} (drover up creates it)", stack, home));
  }
  return s;
}

Result<std::vector<PlannedChange>> PlanStack(const StackOptions& o) {
  ASSIGN_OR_RETURN(Template t, LoadTemplate(o));
  RETURN_IF_ERROR(RequestedProvider(o, t).status());
  std::string stack = StackName(o);
  RETURN_IF_ERROR(ValidateStackName(stack));
  StackState state;
  if (auto s = LoadStackState(PathsFor(o.home, stack)); s.ok()) state = std::move(*s);
  ASSIGN_OR_RETURN(auto params, BindWithPrevious(t, o.parameters, state));
  if (HasNoEcho(t)) {
    ASSIGN_OR_RETURN(auto store, secrets::OpenWithKeyFile(os::JoinPath(o.home, "secrets"), os::JoinPath(o.home, "secrets.key")));
    RETURN_IF_ERROR(HideNoEchoValues(t, stack, *store, /*write=*/false, params));
  }
  Evaluator ev(t, params, ResolverFor(nullptr, &state, /*plan=*/true), stack);
  std::vector<PlannedChange> out;
  std::set<std::string> wanted;
  for (const auto& r : t.resources) {
    ASSIGN_OR_RETURN(bool enabled, ev.Enabled(r));
    if (!enabled) continue;
    wanted.insert(r.name);
    PlannedChange c{r.name, r.type, "create", {}};
    const ResourceState* s = state.Find(r.name);
    auto props = ev.Properties(r);
    if (!props.ok()) {
      if (props.status().message().find("known after up") == std::string::npos) return props.status();
      c.details.push_back("properties depend on values known after up");
    }
    if (s && Complete(s->status)) {
      if (!props.ok()) {
        c.action = "update";
      } else {
        Diff d = LocalProvider(r.type)->Compare(s->properties, *props);
        c.action = d.change == Change::kNone ? "none" : d.change == Change::kUpdate ? "update" : "replace";
        c.details = d.details;
      }
    }
    out.push_back(std::move(c));
  }
  auto order = DependencyOrder(StateDependencies(state));
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (!wanted.count(*it)) out.push_back({*it, state.Find(*it)->type, "delete", {}});
  }
  return out;
}

Status UpStack(const StackOptions& o, const EventSink& sink) {
  ASSIGN_OR_RETURN(Template t, LoadTemplate(o));
  std::string stack = StackName(o);
  RETURN_IF_ERROR(ValidateStackName(stack));
  StackPaths paths = PathsFor(o.home, stack);
  StackState state;
  if (auto s = LoadStackState(paths); s.ok()) {
    state = std::move(*s);
  } else if (s.status().code() != StatusCode::kNotFound) {
    return s.status();
  }
  // Checked before the lock is taken, so a template, provider or parameter error leaves no trace.
  ASSIGN_OR_RETURN(std::string provider, RequestedProvider(o, t));
  ASSIGN_OR_RETURN(auto params, BindWithPrevious(t, o.parameters, state));
  ASSIGN_OR_RETURN(StackLock lock, AcquireForChange(paths, "drover up"));
  if (auto s = LoadStackState(paths); s.ok()) {
    state = std::move(*s);
  } else if (s.status().code() != StatusCode::kNotFound) {
    return s.status();
  }
  state.name = stack;
  if (!provider.empty()) {
    bool has_instances = false;
    for (const auto& [_, r] : state.resources) has_instances = has_instances || !r.instances.empty();
    if (has_instances && provider != state.provider) {
      return FailedPrecondition(fmt::format("stack {} runs on the {} provider; take it down before moving it to {}",
                                            stack, state.provider, provider));
    }
    state.provider = provider;
  }
  if (state.provider == "netns") RETURN_IF_ERROR(netns::EnsureNetwork(paths, state));
  state.template_path = o.template_path.empty() ? kDefaultTemplateName : os::AbsolutePath(o.template_path);
  state.parameters = ShownParameters(t, params);
  ::setenv("DROVER_HOSTS_FILE", paths.Hosts().c_str(), 1);
  if (!os::Exists(paths.Hosts())) RETURN_IF_ERROR(os::WriteFileAtomic(paths.Hosts(), "", 0644));

  StackRuntime rt(o.home, paths, state, sink);
  state.status = "UP_IN_PROGRESS";
  rt.Event("", "UP_IN_PROGRESS", fmt::format("template {}", state.template_path));
  if (HasNoEcho(t)) {
    ASSIGN_OR_RETURN(secrets::SecretStore * store, rt.Secrets());
    RETURN_IF_ERROR(HideNoEchoValues(t, stack, *store, /*write=*/true, params));
  }
  Evaluator ev(t, params, ResolverFor(&rt, nullptr, /*plan=*/false), stack);

  std::map<std::string, Step> steps;
  for (const auto& r : t.resources) {
    ASSIGN_OR_RETURN(bool enabled, ev.Enabled(r));
    if (enabled) steps[r.name].resource = &r;
  }
  for (const auto& [name, step] : steps) {
    for (const auto& d : step.resource->Dependencies()) {
      if (!steps.count(d)) {
        return InvalidArgument(fmt::format("{}: {} depends on {}, which its condition leaves out",
                                           step.resource->where.ToString(), name, d));
      }
    }
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::thread> threads;
  std::vector<std::string> started_order;
  bool failed = false;
  size_t unchanged = 0;

  auto finish = [&](const std::string& name, Status st) {
    std::lock_guard l(mu);
    Step& step = steps[name];
    step.result = st;
    step.state = st.ok() ? Step::State::kDone : Step::State::kFailed;
    if (!st.ok()) failed = true;
    cv.notify_all();
  };

  for (;;) {
    std::unique_lock l(mu);
    bool running = false, progressed = false;
    for (auto& [name, step] : steps) {
      if (step.state == Step::State::kRunning) running = true;
      if (step.state != Step::State::kWaiting || failed) continue;
      bool ready = true;
      for (const auto& d : step.resource->Dependencies()) {
        Step::State ds = steps[d].state;
        if (ds == Step::State::kFailed || ds == Step::State::kSkipped) step.state = Step::State::kSkipped;
        ready = ready && ds == Step::State::kDone;
      }
      if (!ready || step.state == Step::State::kSkipped) continue;
      progressed = true;
      const Resource& r = *step.resource;
      ResourceProvider* provider = LocalProvider(r.type);
      auto props = ev.Properties(r);
      if (!props.ok()) {
        step.state = Step::State::kFailed;
        step.result = props.status();
        failed = true;
        l.unlock();
        rt.Event(name, "CREATE_FAILED", props.status().message());
        l.lock();
        continue;
      }
      step.properties = *props;
      Diff diff;
      rt.WithState([&](StackState& s) {
        ResourceState* existing = s.Find(name);
        step.existed = existing && Complete(existing->status);
        if (existing) step.old_properties = existing->properties;
        if (!step.existed) {
          step.action = "create";
        } else {
          diff = provider->Compare(existing->properties, step.properties);
          step.action = diff.change == Change::kNone ? "none" : diff.change == Change::kUpdate ? "update" : "replace";
        }
        ResourceState& rs = s.resources[name];
        rs.name = name;
        rs.type = r.type;
        rs.dependencies = r.Dependencies();
        rs.deletion_policy = r.deletion_policy.value_or(DefaultDeletionPolicy(r.type));
      });
      if (step.action == "none") {
        step.state = Step::State::kDone;
        ++unchanged;
        continue;
      }
      step.state = Step::State::kRunning;
      running = true;
      started_order.push_back(name);
      std::string details;
      for (const auto& d : diff.details) details += (details.empty() ? "" : "; ") + d;
      l.unlock();
      rt.Event(name, step.action == "create" ? "CREATE_IN_PROGRESS" : "UPDATE_IN_PROGRESS",
               step.action == "create" ? r.type : fmt::format("{}: {}", step.action, details));
      l.lock();
      bool retain = r.deletion_policy.value_or(DefaultDeletionPolicy(r.type)) == DeletionPolicy::kRetain;
      threads.emplace_back([&, name, provider, action = step.action, props = step.properties,
                            old = step.old_properties, policy = r.creation_policy, type = r.type, retain] {
        ResourceOp op{rt, name, type, props, old, policy};
        Status st;
        if (action == "create") {
          st = provider->Create(op);
        } else if (action == "update") {
          st = provider->Update(op);
        } else {
          ResourceOp del{rt, name, op.type, old, old, policy};
          st = provider->Delete(del, retain);
          if (st.ok()) st = provider->Create(op);
        }
        if (st.ok()) {
          rt.WithState([&](StackState& s) { s.Find(name)->properties = props; });
          rt.Event(name, action == "create" ? "CREATE_COMPLETE" : "UPDATE_COMPLETE", "");
        } else {
          // A failed create keeps what it tried, so that its leftovers can be deleted.
          if (action == "create") rt.WithState([&](StackState& s) { s.Find(name)->properties = props; });
          rt.Event(name, action == "create" ? "CREATE_FAILED" : "UPDATE_FAILED", st.message());
        }
        finish(name, st);
      });
    }
    if (progressed) continue;
    if (!running) break;
    cv.wait(l);
  }
  for (auto& th : threads) th.join();

  if (failed) {
    std::string what;
    for (const auto& [name, step] : steps) {
      if (step.state == Step::State::kFailed) what += fmt::format("\n  {}: {}", name, step.result.message());
    }
    if (!o.rollback) {
      state.status = "UP_FAILED";
      rt.Event("", "UP_FAILED", "left as it is for inspection (--no-rollback)");
      return FailedPrecondition(fmt::format("up failed; nothing was rolled back:{}", what));
    }
    rt.Event("", "ROLLBACK_IN_PROGRESS", "undoing what this up changed");
    rt.KeepInstanceLogs();  // the errors above point at them
    bool rollback_ok = true;
    for (auto it = started_order.rbegin(); it != started_order.rend(); ++it) {
      Step& step = steps[*it];
      const Resource& r = *step.resource;
      ResourceProvider* provider = LocalProvider(r.type);
      Status st;
      if (!step.existed) {
        bool retain = r.deletion_policy.value_or(DefaultDeletionPolicy(r.type)) == DeletionPolicy::kRetain;
        ResourceOp op{rt, *it, r.type, step.properties, step.properties, r.creation_policy};
        st = provider->Delete(op, retain);
        if (st.ok()) {
          rt.Event(*it, "DELETE_COMPLETE", "rolled back");
          rt.WithState([&](StackState& s) { s.resources.erase(*it); });
        }
      } else {
        ResourceOp op{rt, *it, r.type, step.old_properties, step.properties, r.creation_policy};
        st = step.action == "update" ? provider->Update(op) : provider->Create(op);
        if (st.ok()) {
          rt.WithState([&](StackState& s) { s.Find(*it)->properties = step.old_properties; });
          rt.Event(*it, "UPDATE_COMPLETE", "rolled back to the previous properties");
        }
      }
      if (!st.ok()) {
        rollback_ok = false;
        rt.Event(*it, "ROLLBACK_FAILED", st.message());
      }
    }
    state.status = rollback_ok ? "ROLLBACK_COMPLETE" : "ROLLBACK_FAILED";
    rt.Event("", state.status, "");
    return FailedPrecondition(fmt::format("up failed and was rolled back:{}", what));
  }

  // Resources the template no longer has (or whose condition is now false), dependents first.
  auto order = DependencyOrder(StateDependencies(state));
  size_t deleted = 0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (steps.count(*it)) continue;
    auto [type, props, policy] = rt.WithState([&](StackState& s) {
      ResourceState* r = s.Find(*it);
      return std::make_tuple(r->type, r->properties, r->deletion_policy);
    });
    ResourceProvider* provider = LocalProvider(type);
    rt.Event(*it, "DELETE_IN_PROGRESS", "no longer in the template");
    ResourceOp op{rt, *it, type, props, props, std::nullopt};
    Status st = provider ? provider->Delete(op, policy == DeletionPolicy::kRetain) : Status::Ok();
    if (!st.ok()) {
      rt.Event(*it, "DELETE_FAILED", st.message());
      state.status = "UP_FAILED";
      rt.Event("", "UP_FAILED", "");
      return st.WithContext(fmt::format("deleting {}", *it));
    }
    rt.Event(*it, "DELETE_COMPLETE", "");
    rt.WithState([&](StackState& s) { s.resources.erase(*it); });
    ++deleted;
  }

  json::object outputs;
  for (const auto& out : t.outputs) {
    if (!out.condition.empty()) {
      ASSIGN_OR_RETURN(bool on, ev.Condition(out.condition));
      if (!on) continue;
    }
    ASSIGN_OR_RETURN(json::value v, ev.Evaluate(out.value));
    outputs[out.name] = v;
  }
  rt.WithState([&](StackState& s) { s.outputs = outputs; });
  state.status = "UP_COMPLETE";
  if (started_order.empty() && deleted == 0) {
    rt.Event("", "UP_COMPLETE", fmt::format("no changes: {} resources up to date", unchanged));
  } else {
    rt.Event("", "UP_COMPLETE",
             fmt::format("{} created or changed, {} deleted, {} unchanged", started_order.size(), deleted, unchanged));
  }
  if (o.supervise) StartSupervisor(o.home, paths, stack);
  // The stack brought up last is the one the CLI talks to, and what commands without --stack mean.
  if (os::Exists(paths.Context())) {
    ASSIGN_OR_RETURN(std::string context, os::ReadFile(paths.Context()));
    RETURN_IF_ERROR(os::WriteFileAtomic(net::CurrentContextPath(o.home), context, 0600));
  }
  return Status::Ok();
}

Status DownStack(const std::string& home, const std::string& stack, bool purge, const EventSink& sink) {
  RETURN_IF_ERROR(ValidateStackName(stack));
  StackPaths paths = PathsFor(home, stack);
  if (!os::Exists(paths.dir)) {
    // No state at all: what the stack made outside its directory may still be there.
    StackState none;
    none.name = stack;
    ASSIGN_OR_RETURN(auto removed, netns::RemoveNetwork(paths, stack, none));
    if (removed.empty()) return NotFound(fmt::format("there is no stack named '{}' under {}", stack, home));
    if (sink) {
      for (const auto& what : removed) sink(fmt::format("removed {}, left by stack {}", what, stack));
    }
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(StackLock lock, AcquireForChange(paths, "drover down"));
  RETURN_IF_ERROR(os::StopDaemon(paths.SupervisorPid(), "supervise", 10000));
  StackState state;
  if (auto s = LoadStackState(paths); s.ok()) {
    state = std::move(*s);
  } else if (s.status().code() != StatusCode::kNotFound) {
    return s.status();
  }
  state.name = stack;
  ::setenv("DROVER_HOSTS_FILE", paths.Hosts().c_str(), 1);
  StackRuntime rt(home, paths, state, sink);
  state.status = "DOWN_IN_PROGRESS";
  rt.Event("", "DOWN_IN_PROGRESS", purge ? "purging every resource's data" : "");
  // A resource that cannot be deleted stays in the state (a later down tries again), and the others
  // are still deleted: a down removes all it can.
  std::string failures;
  auto order = DependencyOrder(StateDependencies(state));
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    auto [type, props, policy] = rt.WithState([&](StackState& s) {
      ResourceState* r = s.Find(*it);
      return std::make_tuple(r->type, r->properties, r->deletion_policy);
    });
    bool retain = !purge && policy == DeletionPolicy::kRetain;
    rt.Event(*it, "DELETE_IN_PROGRESS", retain ? "DeletionPolicy Retain: its data is kept" : "");
    ResourceProvider* provider = LocalProvider(type);
    ResourceOp op{rt, *it, type, props, props, std::nullopt};
    Status st = provider ? provider->Delete(op, retain) : Status::Ok();
    if (!st.ok()) {
      rt.Event(*it, "DELETE_FAILED", st.message());
      failures += fmt::format("\n  {}: {}", *it, st.message());
      continue;
    }
    rt.Event(*it, retain ? "DELETE_SKIPPED" : "DELETE_COMPLETE", retain ? "retained" : "");
    rt.WithState([&](StackState& s) { s.resources.erase(*it); });
  }
  // What the state no longer names: daemons of instances it lost, and the stack's network.
  for (const auto& id : os::ListDir(os::JoinPath(paths.dir, "instances"))) {
    std::string pid_file = os::JoinPath(paths.InstanceDir(id), "daemon.pid");
    if (os::RunningDaemon(pid_file, paths.dir + "/")) {
      (void)os::StopDaemon(pid_file, paths.dir + "/", 5000);
      rt.Progress(stack, fmt::format("stopped the daemon of instance {}, which the stack's state did not name", id));
    }
  }
  auto removed = rt.WithState([&](StackState& s) { return netns::RemoveNetwork(paths, stack, s); });
  if (!removed.ok()) failures += fmt::format("\n  network: {}", removed.status().message());
  if (removed.ok()) {
    for (const auto& what : *removed) rt.Progress(stack, "removed " + what);
  }
  if (!failures.empty()) {
    state.status = "DOWN_FAILED";
    rt.Event("", "DOWN_FAILED", "");
    return FailedPrecondition(fmt::format("down could not remove everything; run it again:{}", failures));
  }
  state.status = "DOWN_COMPLETE";
  rt.Event("", "DOWN_COMPLETE", "");
  if (purge) {
    std::error_code ec;
    std::filesystem::remove_all(paths.dir, ec);
    if (ec) return Unavailable(fmt::format("cannot remove {}: {}", paths.dir, ec.message()));
    if (sink) sink(fmt::format("removed {}", paths.dir));
  }
  return Status::Ok();
}

int RunSupervisor(const std::string& home, const std::string& stack) {
  StackPaths paths = PathsFor(home, stack);
  ::setenv("DROVER_HOSTS_FILE", paths.Hosts().c_str(), 1);
  ::signal(SIGPIPE, SIG_IGN);
  auto log = [](const std::string& line) { fmt::print("{}\n", line), std::fflush(stdout); };
  for (;;) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (!os::Exists(paths.State())) return 0;
    auto lock = StackLock::Acquire(paths, "drover supervisor", /*wait=*/false);
    if (!lock.ok()) continue;  // up or down is at work
    auto loaded = LoadStackState(paths);
    if (!loaded.ok()) continue;
    StackState state = std::move(*loaded);
    if (state.status == "DOWN_COMPLETE" || state.status == "DOWN_IN_PROGRESS") return 0;
    if (state.status != "UP_COMPLETE") continue;
    // A netns stack brought up by an older version records no network yet: its first repair would
    // need one.
    if (state.provider == "netns" && state.bridge.empty()) {
      Status st = netns::EnsureNetwork(paths, state);
      if (st.ok()) st = SaveStackState(paths, state);
      if (!st.ok()) log(st.message());
    }
    StackRuntime rt(home, paths, state, log);
    bool changed = false;
    for (const auto& name : DependencyOrder(StateDependencies(state))) {
      auto [type, props] = rt.WithState([&](StackState& s) {
        ResourceState* r = s.Find(name);
        return std::make_pair(r->type, r->properties);
      });
      ResourceProvider* provider = LocalProvider(type);
      if (!provider) continue;
      ResourceOp op{rt, name, type, props, props, std::nullopt};
      auto repaired = provider->Repair(op);
      if (!repaired.ok()) log(fmt::format("repairing {} failed: {}", name, repaired.status().message()));
      changed = changed || (repaired.ok() && *repaired);
    }
    if (changed) (void)rt.Save();
  }
}

}  // namespace drover::deploy
