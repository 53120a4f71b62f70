// The deployment engine: `drover plan`, `up`, `down`, `status` for a stack described by a template.
//
// `up` applies the template in dependency order, independent resources in parallel, each complete
// only when its provider says it signalled ready; events stream as they happen. A second `up` of the
// same template changes nothing; a changed one changes only what differs (in place where the type
// allows it, otherwise by replacement). A failed `up` rolls back what it created and changed, unless
// told not to. After `up`, a supervisor process keeps instances running (see RunSupervisor).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "deploy/stack_runtime.h"
#include "deploy/stack_state.h"

namespace drover::deploy {

struct StackOptions {
  std::string home;           // $DROVER_HOME
  std::string stack;          // default: the template file's stem ("local" for the default template)
  std::string template_path;  // "": the default template, examples/local.yaml built into drover
  std::map<std::string, std::string> parameters;
  // local | netns; "": the one the template is written for (Metadata.Drover.Provider), else what the
  // stack used before, else local. One that contradicts the template's is refused.
  std::string provider;
  bool rollback = true;
  bool supervise = true;      // start the stack's supervisor after a successful up
};

struct PlannedChange {
  std::string resource;
  std::string type;
  std::string action;  // create, update, replace, delete, none
  std::vector<std::string> details;
};

// The stack name `options` refers to.
std::string StackName(const StackOptions& options);

Result<std::vector<PlannedChange>> PlanStack(const StackOptions& options);
Status UpStack(const StackOptions& options, const EventSink& sink);
// Removes the stack's resources in reverse dependency order; a resource whose DeletionPolicy is
// Retain keeps its data (its processes stop). `purge` ignores Retain and deletes the stack directory.
Status DownStack(const std::string& home, const std::string& stack, bool purge, const EventSink& sink);
Result<StackState> LoadStack(const std::string& home, const std::string& stack);

// Keeps the stack's instances running until the stack is taken down: every second, each resource's
// provider repairs what failed (a dead compute node is replaced by a new one; a dead head node by a
// new instance on the same state and database). Skips a round while `up` or `down` holds the lock.
int RunSupervisor(const std::string& home, const std::string& stack);

// The default template's text (examples/local.yaml, built in).
std::string_view DefaultTemplate();

}  // namespace drover::deploy
