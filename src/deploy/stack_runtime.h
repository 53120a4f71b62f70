// What the providers of one stack share while `up`, `down` or the supervisor runs: the stack's
// paths, its state (behind a mutex: providers run on their own threads), the secret store and the
// event stream. Every event is recorded in the state file and printed as it happens.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/status.h"
#include "deploy/stack_state.h"
#include "secrets/secret_store.h"

namespace drover::deploy {

using EventSink = std::function<void(const std::string& line)>;

class StackRuntime {
 public:
  StackRuntime(std::string home, StackPaths paths, StackState& state, EventSink sink);

  const std::string& home() const { return home_; }
  const StackPaths& paths() const { return paths_; }
  const std::string& stack() const { return stack_name_; }

  // Runs `f` on the state under the mutex.
  template <typename F>
  auto WithState(F&& f) {
    std::lock_guard lock(mu_);
    return f(state_);
  }
  // Copies of another resource's attributes / properties; NotFound when it has none yet.
  Result<boost::json::object> Attributes(const std::string& resource);
  Result<boost::json::object> Properties(const std::string& resource);

  // Records a resource transition (status, reason) in the state, saves it and prints one line.
  void Event(const std::string& resource, const std::string& status, const std::string& reason);
  // Prints a progress line without recording it.
  void Progress(const std::string& resource, const std::string& text);
  Status Save();

  // The stack's secret store ($DROVER_HOME/secrets, key $DROVER_HOME/secrets.key), opened once.
  Result<secrets::SecretStore*> Secrets();
  // Replaces every {{resolve:secret:...}} in `text` with the secret's value.
  Result<std::string> ResolveSecrets(const std::string& text);

  // A new instance of `resource`: a fresh name <prefix>-<n>, an address and a directory; on the netns
  // provider also its own network namespace on the stack's bridge.
  Result<Instance> NewInstance(const std::string& resource, const std::string& prefix);
  // Frees what NewInstance set up (the namespace; the directory stays for its logs).
  Status ReleaseInstance(const Instance& instance);
  // Removes an instance's directory once its processes are gone; after KeepInstanceLogs(), its logs
  // (*.log) stay where errors pointed at them and only the rest goes.
  void RemoveInstanceDir(const Instance& instance);
  // A rollback calls this first, so that the logs of what failed outlive it. Call it while no provider
  // runs on another thread.
  void KeepInstanceLogs() { keep_instance_logs_ = true; }
  // Starts a daemon inside the instance (see os::SpawnDaemon).
  Result<pid_t> SpawnDaemon(const Instance& instance, std::vector<std::string> argv, const std::string& log,
                            const std::string& pid_file, const std::string& input = "");
  const std::string& provider() const { return provider_; }

  double Elapsed() const;

 private:
  std::string home_;
  StackPaths paths_;
  std::string stack_name_;
  std::string provider_;
  std::mutex mu_;
  StackState& state_;
  EventSink sink_;
  std::unique_ptr<secrets::SecretStore> secrets_;
  bool keep_instance_logs_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace drover::deploy
