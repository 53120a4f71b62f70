// Pieces the local provider's instances share: boot scripts, waiting for readiness, and a client
// for the stack's head node.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"
#include "deploy/stack_state.h"
#include "deploy/stack_runtime.h"
#include "net/https_client.h"

namespace drover::deploy {

// Runs `script` with /bin/sh in the instance's directory, with the caller's environment plus `env`,
// appending its output to <instance>/boot.log. Runs at every start of an instance, so scripts must be
// safe to re-run. Fails when it exits non-zero or outlives `timeout_ms` (then its process group is killed).
Status RunBootScript(const Instance& instance, const std::string& script,
                     const std::map<std::string, std::string>& env, int timeout_ms);

// Polls `check` every 100 ms until it is OK, it fails with something other than Unavailable, or
// `timeout_ms` passes; returns the last status.
Status WaitUntil(int timeout_ms, const std::function<Status()>& check);

// An Administrator's client for the head node resource `head` (its address, not its DNS name).
Result<std::unique_ptr<net::HttpsClient>> HeadClient(StackRuntime& stack, const std::string& head);

// The instance's daemon's pid file and log.
std::string PidFile(const Instance& instance);
std::string DaemonLog(const Instance& instance);

}  // namespace drover::deploy
