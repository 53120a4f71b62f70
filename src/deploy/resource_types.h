// The resource types a Drover template can declare, with their properties and attributes.
//
//   Drover::Secret        a generated secret in the stack's secret store (kept across ups)
//   Drover::Database      the five stores (Management, Scheduler, Reporting, Diagnostics, Monitoring)
//   Drover::HeadNode      the head node: scheduler, node templates, members, HTTPS endpoint
//   Drover::NodeTemplate  how joining nodes are approved and brought online
//   Drover::ComputeGroup  an auto scaling group of compute nodes
//   Drover::DnsRecord     a stable name for an instance (follows it when it is replaced)
#pragma once

#include <string_view>

#include "deploy/template/template.h"

namespace drover::deploy {

inline constexpr std::string_view kSecret = "Drover::Secret";
inline constexpr std::string_view kDatabase = "Drover::Database";
inline constexpr std::string_view kHeadNode = "Drover::HeadNode";
inline constexpr std::string_view kNodeTemplate = "Drover::NodeTemplate";
inline constexpr std::string_view kComputeGroup = "Drover::ComputeGroup";
inline constexpr std::string_view kDnsRecord = "Drover::DnsRecord";

// Every type above, with its schema.
const ResourceTypeRegistry& DroverResourceTypes();

// What a type keeps when `down` runs and the template says nothing: the database's data and the head
// node's state (certificates) are retained.
DeletionPolicy DefaultDeletionPolicy(std::string_view type);

}  // namespace drover::deploy
