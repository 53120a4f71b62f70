#include "deploy/stack_runtime.h"

#include <filesystem>

#include <fmt/format.h>

#include "common/clock.h"
#include "deploy/providers/netns_network.h"
#include "os/daemon.h"
#include "os/files.h"

namespace drover::deploy {

StackRuntime::StackRuntime(std::string home, StackPaths paths, StackState& state, EventSink sink)
    : home_(std::move(home)),
      paths_(std::move(paths)),
      stack_name_(state.name),
      provider_(state.provider),
      state_(state),
      sink_(std::move(sink)) {}

Result<boost::json::object> StackRuntime::Attributes(const std::string& resource) {
  std::lock_guard lock(mu_);
  const ResourceState* r = state_.Find(resource);
  if (!r) return NotFound(fmt::format("resource '{}' does not exist in stack {}", resource, stack_name_));
  return r->attributes;
}

Result<boost::json::object> StackRuntime::Properties(const std::string& resource) {
  std::lock_guard lock(mu_);
  const ResourceState* r = state_.Find(resource);
  if (!r) return NotFound(fmt::format("resource '{}' does not exist in stack {}", resource, stack_name_));
  return r->properties;
}

double StackRuntime::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void StackRuntime::Event(const std::string& resource, const std::string& status, const std::string& reason) {
  std::string line;
  {
    std::lock_guard lock(mu_);
    state_.AddEvent({SystemClock().Now(), resource, status, reason});
    if (ResourceState* r = state_.Find(resource)) {
      r->status = status;
      r->reason = reason;
    }
    (void)SaveStackState(paths_, state_);
    line = fmt::format("[{:7.2f}s] {:<16} {:<20} {}", Elapsed(), resource.empty() ? stack_name_ : resource, status, reason);
  }
  if (sink_) sink_(line);
}

void StackRuntime::Progress(const std::string& resource, const std::string& text) {
  if (sink_) sink_(fmt::format("[{:7.2f}s] {:<16} {}", Elapsed(), resource, text));
}

Status StackRuntime::Save() {
  std::lock_guard lock(mu_);
  return SaveStackState(paths_, state_);
}

Result<secrets::SecretStore*> StackRuntime::Secrets() {
  std::lock_guard lock(mu_);
  if (!secrets_) {
    ASSIGN_OR_RETURN(secrets_, secrets::OpenWithKeyFile(os::JoinPath(home_, "secrets"), os::JoinPath(home_, "secrets.key")));
  }
  return secrets_.get();
}

Result<std::string> StackRuntime::ResolveSecrets(const std::string& text) {
  if (FindSecretReferences(text).empty()) return text;
  ASSIGN_OR_RETURN(secrets::SecretStore * store, Secrets());
  return ResolveSecretReferences(text, [&](const SecretReference& ref) -> Result<std::string> {
    auto value = store->Get(ref.name, ref.version);
    if (!value.ok()) {
      return Status(value.status().code(), fmt::format("{{{{resolve:secret:{}}}}}: {}", ref.name, value.status().message()));
    }
    return value;
  });
}

Result<Instance> StackRuntime::NewInstance(const std::string& resource, const std::string& prefix) {
  Instance i;
  int n = 0;
  StackState network;  // what CreateHost needs, copied under the lock
  {
    std::lock_guard lock(mu_);
    ResourceState* r = state_.Find(resource);
    if (!r) return Internal(fmt::format("resource '{}' has no state", resource));
    // A name whose directory exists belonged to an instance the state no longer lists (one that was
    // replaced, or the stack's before a down): its directory holds that instance's logs and its
    // agent's identity, which a new instance must not start from.
    do {
      i.id = fmt::format("{}-{:03}", prefix, r->next_instance++);
    } while (os::Exists(paths_.InstanceDir(i.id)));
    n = state_.next_address++;
    i.address = provider_ == "netns" ? netns::Address(state_.subnet, n) : LoopbackAddress(paths_.tag, n);
    i.dir = paths_.InstanceDir(i.id);
    i.started = SystemClock().Now();
    RETURN_IF_ERROR(os::MakeDirs(i.dir, 0700));
    RETURN_IF_ERROR(SaveStackState(paths_, state_));
    network.name = state_.name;
    network.bridge = state_.bridge;
    network.subnet = state_.subnet;
  }
  if (provider_ == "netns") RETURN_IF_ERROR(netns::CreateHost(paths_, network, n, i));
  return i;
}

Status StackRuntime::ReleaseInstance(const Instance& instance) { return netns::RemoveHost(instance); }

void StackRuntime::RemoveInstanceDir(const Instance& instance) {
  std::error_code ec;
  if (!keep_instance_logs_) {
    std::filesystem::remove_all(instance.dir, ec);
    return;
  }
  for (const auto& entry : std::filesystem::directory_iterator(instance.dir, ec)) {
    std::error_code entry_ec;
    bool log = entry.is_regular_file(entry_ec) && entry.path().extension() == ".log";
    if (!log) std::filesystem::remove_all(entry.path(), entry_ec);
  }
}

Result<pid_t> StackRuntime::SpawnDaemon(const Instance& instance, std::vector<std::string> argv, const std::string& log,
                                        const std::string& pid_file, const std::string& input) {
  return os::SpawnDaemon(argv, log, pid_file, input, instance.netns.empty() ? "" : "/run/netns/" + instance.netns);
}

}  // namespace drover::deploy
