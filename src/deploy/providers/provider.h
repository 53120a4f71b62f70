// A provider makes one resource type real. The engine calls it from a worker thread per resource;
// a provider changes only its own resource's state (through the runtime) and reads others'.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/status.h"
#include "deploy/stack_runtime.h"
#include "deploy/template/template.h"

namespace drover::deploy {

// One operation on one resource.
struct ResourceOp {
  StackRuntime& stack;
  std::string name;
  std::string type;
  boost::json::object properties;      // desired, evaluated; secret references unresolved
  boost::json::object old_properties;  // as applied before (Update, Delete)
  std::optional<CreationPolicy> creation_policy;
};

enum class Change { kNone, kUpdate, kReplace };

struct Diff {
  Change change = Change::kNone;
  std::vector<std::string> details;  // "MinSize: 2 -> 3"
};

// Compares property by property; a change to a key in `in_place` is an update, any other a replace.
Diff CompareProperties(const boost::json::object& applied, const boost::json::object& desired,
                       const std::vector<std::string>& in_place);

class ResourceProvider {
 public:
  virtual ~ResourceProvider() = default;
  virtual Diff Compare(const boost::json::object& applied, const boost::json::object& desired) const {
    return CompareProperties(applied, desired, {});
  }
  // Creates the resource and returns once it has signalled ready (or failed). Sets attributes.
  virtual Status Create(ResourceOp& op) = 0;
  // Changes it in place; called only when Compare said kUpdate.
  virtual Status Update(ResourceOp& op) { return Create(op); }
  // Removes it; with `retain`, stops what runs but keeps its data.
  virtual Status Delete(ResourceOp& op, bool retain) = 0;
  // Called by the supervisor after `up`: puts back what failed (a dead instance). Returns whether
  // anything changed. Must be safe to call repeatedly.
  virtual Result<bool> Repair(ResourceOp& /*op*/) { return false; }
};

// The local provider's implementation of `type`; null when the type has none.
ResourceProvider* LocalProvider(std::string_view type);

// Property accessors with defaults (the template validator has checked the types).
std::string StringProp(const boost::json::object& p, const char* key, const std::string& fallback = "");
int64_t IntProp(const boost::json::object& p, const char* key, int64_t fallback = 0);
bool BoolProp(const boost::json::object& p, const char* key, bool fallback);

}  // namespace drover::deploy
