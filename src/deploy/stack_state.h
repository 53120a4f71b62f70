// A stack's record of what it runs: the resources `up` created, their applied properties and
// attributes, their instances, the outputs, and the recent events. Kept in one JSON file under
// the stack's directory, replaced atomically, and changed only while holding the stack's lock.
//
// $DROVER_HOME/stacks/<stack>/
//   state.json                 this file
//   lock                       flock(2): held by `up`, `down` and, for each repair, the supervisor
//   hosts                      names from Drover::DnsRecord, in hosts(5) format
//   context.json               how to reach the stack's head node (see net/cluster_context.h)
//   supervisor.pid .log        the process that keeps groups at size
//   resources/<Name>/          a resource's own data, kept across its instances (head node state,
//                              database files)
//   instances/<id>/            an instance's disk: boot.log, its daemon's log and pid file
//
// Secret values never enter this file: properties are kept with {{resolve:secret:...}} unresolved.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "deploy/template/template.h"

namespace drover::deploy {

// One process tree standing for one machine: its name, its loopback address, its directory.
struct Instance {
  std::string id;
  std::string address;
  std::string dir;
  TimeMs started = 0;
  std::string netns;  // the network namespace it runs in (netns provider); "" on the local provider
  std::string link;   // the host side of its veth pair on the stack's bridge (netns provider)
};

struct ResourceState {
  std::string name;
  std::string type;
  std::string status;  // CREATE_COMPLETE, UPDATE_FAILED, ... as CloudFormation names them
  std::string reason;
  boost::json::object properties;  // as last applied
  boost::json::object attributes;
  std::vector<std::string> dependencies;
  DeletionPolicy deletion_policy = DeletionPolicy::kDelete;
  std::vector<Instance> instances;
  int next_instance = 1;  // instance names are never reused
};

struct StackEvent {
  TimeMs time = 0;
  std::string resource;  // "" for the stack itself
  std::string status;
  std::string reason;
};

struct StackState {
  std::string name;
  std::string template_path;
  std::string status;  // UP_IN_PROGRESS, UP_COMPLETE, UP_FAILED, ROLLBACK_COMPLETE, DOWN_COMPLETE
  std::string provider = "local";  // local | netns: where its instances run
  boost::json::object parameters;
  std::map<std::string, ResourceState> resources;
  boost::json::object outputs;
  std::vector<StackEvent> events;  // the most recent kMaxEvents
  int next_address = 1;           // loopback addresses handed out so far
  // The netns provider's network while the stack has one: its bridge and the first two octets of its
  // /16 ("10.77"), chosen at the first up among those no interface of this machine uses.
  std::string bridge;
  std::string subnet;

  static constexpr size_t kMaxEvents = 500;
  void AddEvent(StackEvent event);
  ResourceState* Find(const std::string& name);
  const ResourceState* Find(const std::string& name) const;
};

struct StackPaths {
  std::string dir;
  // 8 hex digits derived from `dir` (so from DROVER_HOME and the stack's name): part of the names of
  // what the stack makes outside its directory (network namespaces, bridge, veths, addresses), so
  // that stacks of one name in two homes never share them.
  std::string tag;
  std::string Context() const;
  std::string State() const;
  std::string Lock() const;
  std::string Hosts() const;
  std::string SupervisorPid() const;
  std::string SupervisorLog() const;
  std::string ResourceDir(const std::string& resource) const;
  std::string InstanceDir(const std::string& instance) const;
};

StackPaths PathsFor(const std::string& drover_home, const std::string& stack);
// Stack names are used as directory names: letters, digits, '-', '_'; at most 63 characters.
Status ValidateStackName(const std::string& name);

// NotFound when the stack has no state yet.
Result<StackState> LoadStackState(const StackPaths& paths);
Status SaveStackState(const StackPaths& paths, const StackState& state);

boost::json::value ToJson(const StackState& state);
Result<StackState> StackStateFromJson(const boost::json::value& v);

// An exclusive flock on the stack's lock file, released when destroyed. The lock file records
// the holder's pid so a refusal can say who holds it.
class StackLock {
 public:
  // `wait`: block until free; otherwise fail at once with FailedPrecondition naming the holder.
  static Result<StackLock> Acquire(const StackPaths& paths, const std::string& holder, bool wait);
  StackLock(StackLock&& other) noexcept;
  StackLock& operator=(StackLock&& other) noexcept;
  StackLock(const StackLock&) = delete;
  StackLock& operator=(const StackLock&) = delete;
  ~StackLock();

 private:
  explicit StackLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// The loopback address of the n-th instance of a stack (n >= 1): 127.<s>.<hi>.<lo>, where <s> and
// the range of <hi> are derived from `key` (the stack's tag) so that two stacks on one machine
// rarely share addresses; 6250 addresses per stack, then they are reused.
std::string LoopbackAddress(const std::string& key, int n);

}  // namespace drover::deploy
