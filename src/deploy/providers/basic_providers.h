// The local provider's resource types. Secret, Database (SQLite), NodeTemplate and DnsRecord run
// no process; HeadNode and ComputeGroup run instances (see instance_providers.cpp).
#pragma once

#include "deploy/providers/provider.h"
#include "deploy/resource_types.h"

namespace drover::deploy {

class SecretProvider : public ResourceProvider {
 public:
  Status Create(ResourceOp& op) override;
  Status Delete(ResourceOp& op, bool retain) override;
};

// SQLite: the stores live in DataPath (default: the resource's directory); created when absent,
// reattached (and migrated forward) when present. PostgreSQL: see postgres_database.h.
class DatabaseProvider : public ResourceProvider {
 public:
  Status Create(ResourceOp& op) override;
  Status Delete(ResourceOp& op, bool retain) override;
  Result<bool> Repair(ResourceOp& op) override;
};

class NodeTemplateProvider : public ResourceProvider {
 public:
  Diff Compare(const boost::json::object& applied, const boost::json::object& desired) const override;
  Status Create(ResourceOp& op) override;
  Status Delete(ResourceOp& op, bool retain) override;
};

// Names go into the stack's hosts file, which Drover's clients and agents consult before DNS
// (DROVER_HOSTS_FILE).
class DnsRecordProvider : public ResourceProvider {
 public:
  Diff Compare(const boost::json::object& applied, const boost::json::object& desired) const override;
  Status Create(ResourceOp& op) override;
  Status Delete(ResourceOp& op, bool retain) override;
  Result<bool> Repair(ResourceOp& op) override;
};

// The head node: one instance with its own loopback address; replaced by the supervisor when it dies
// (same state directory, same database, same port, new address; DNS records follow).
class HeadNodeProvider : public ResourceProvider {
 public:
  Diff Compare(const boost::json::object& applied, const boost::json::object& desired) const override;
  Status Create(ResourceOp& op) override;
  // Members are added or removed in place; a new BootScript applies from the next instance on.
  Status Update(ResourceOp& op) override;
  Status Delete(ResourceOp& op, bool retain) override;
  Result<bool> Repair(ResourceOp& op) override;
};

// An auto scaling group of compute nodes: keeps DesiredCapacity (default MinSize) instances,
// within [MinSize, MaxSize]; a dead instance is replaced by a new one with a new name.
class ComputeGroupProvider : public ResourceProvider {
 public:
  Diff Compare(const boost::json::object& applied, const boost::json::object& desired) const override;
  Status Create(ResourceOp& op) override;
  Status Update(ResourceOp& op) override;
  Status Delete(ResourceOp& op, bool retain) override;
  Result<bool> Repair(ResourceOp& op) override;
};

Status WriteHostsFile(StackRuntime& stack);

}  // namespace drover::deploy
