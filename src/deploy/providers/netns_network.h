// The netns provider's network: every instance is a host of its own, a Linux network namespace
// joined to the stack's bridge by a veth pair, with an address in the stack's 10.<s>.0.0/16. The
// bridge carries the host's own address (10.<s>.0.1) so that commands on this machine reach the
// head node; nothing routes out of the bridge. Needs root.
//
//   bridge  dr<hash>            one per stack
//   netns   drover-<stack>-<id> one per instance
//   veth    dv<hash><n> <-> eth0 inside the namespace
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "deploy/stack_state.h"

namespace drover::deploy::netns {

// FailedPrecondition with a clear message when this process cannot create namespaces.
Status CheckPrivileges();

std::string BridgeName(const std::string& stack);
// The address of the n-th instance (n >= 1) on the stack's bridge; n = 0 is the host's.
std::string Address(const std::string& stack, int n);

// Creates the stack's bridge (idempotent).
Status EnsureBridge(const std::string& stack);
// Removes the bridge and every namespace of the stack that is left (idempotent).
Status RemoveNetwork(const std::string& stack);

// Creates the instance's namespace and veth pair and gives it `instance.address`; fills
// instance.netns and instance.link. Idempotent.
Status CreateHost(const std::string& stack, int n, Instance& instance);
Status RemoveHost(const Instance& instance);

// Brings the host side of the instance's link up or down (a cut network cable).
Status SetLink(const Instance& instance, bool up);

// The argv prefix that runs a command inside the instance's namespace.
std::vector<std::string> ExecPrefix(const Instance& instance);

}  // namespace drover::deploy::netns
