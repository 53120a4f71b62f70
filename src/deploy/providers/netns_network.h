// The netns provider's network: every instance is a host of its own, a Linux network namespace
// joined to the stack's bridge by a veth pair, with an address in the stack's 10.<s>.0.0/16. The
// bridge carries the host's own address (10.<s>.0.1) so that commands on this machine reach the
// head node; nothing routes out of the bridge. Needs root.
//
// Everything is named per stack, with the stack's tag (8 hex digits of its directory, so of
// DROVER_HOME and its name) and within Linux's 15-character limit for interfaces:
//   bridge  dr<tag>                          one per stack; its alias marks its owner
//   netns   drover-<stack>.<tag>-<instance>  one per instance
//   veth    dv<tag><n, hex> <-> eth0 inside the namespace; its alias marks its owner
// <s> is chosen at the stack's first up among the /16s no interface of this machine uses, and kept
// in the stack's state. An up never adopts a bridge or namespace that it did not record itself.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "deploy/stack_state.h"

namespace drover::deploy::netns {

// FailedPrecondition with a clear message when this process cannot create namespaces.
Status CheckPrivileges();

std::string BridgeName(const StackPaths& paths);
// The prefix of every network namespace name of the stack.
std::string NamespacePrefix(const std::string& stack, const StackPaths& paths);
// The address of the n-th instance (n >= 1) in `subnet` (its first two octets); n = 0 is the host's.
std::string Address(const std::string& subnet, int n);

// Creates the stack's bridge (choosing its /16) when `state` records none, else checks that the
// recorded one is there and the stack's. Records the bridge and subnet in `state`.
// FailedPrecondition, saying what to do, when a bridge of that name exists and is not the stack's own.
Status EnsureNetwork(const StackPaths& paths, StackState& state);
// Removes every namespace of the stack (killing what still runs in it), its veths and its bridge:
// those `state` records and those found by their names and owner marks, so also when the state is
// gone. Forgets the network in `state`. Returns what it removed. Idempotent.
Result<std::vector<std::string>> RemoveNetwork(const StackPaths& paths, const std::string& stack, StackState& state);

// Creates the instance's namespace and veth pair on `state`'s bridge and gives it
// `instance.address`; fills instance.netns and instance.link. Refuses (FailedPrecondition) a
// namespace or link of those names that already exists: it is not this instance's.
Status CreateHost(const StackPaths& paths, const StackState& state, int n, Instance& instance);
Status RemoveHost(const Instance& instance);

// Brings the host side of the instance's link up or down (a cut network cable).
Status SetLink(const Instance& instance, bool up);

// The argv prefix that runs a command inside the instance's namespace.
std::vector<std::string> ExecPrefix(const Instance& instance);

}  // namespace drover::deploy::netns
