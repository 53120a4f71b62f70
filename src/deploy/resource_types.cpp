#include "deploy/resource_types.h"

namespace drover::deploy {

namespace {

using P = PropertyType;

ResourceTypeRegistry Build() {
  ResourceTypeRegistry r;
  r.Add({std::string(kSecret),
         {{"Name", P::kString, true, {}},
          {"Length", P::kInteger, false, {}},
          {"Description", P::kString, false, {}}},
         {"Name", "Version"},
         "A random secret generated once into the secret store; !Ref gives its name"});
  r.Add({std::string(kDatabase),
         {{"Engine", P::kString, true, {"sqlite", "postgresql"}},
          {"DataPath", P::kString, false, {}},
          {"Databases", P::kList, false, {}},
          {"ServiceAccount", P::kString, false, {}},
          {"ServiceAccountPassword", P::kString, false, {}},
          {"DatabasePrefix", P::kString, false, {}},
          {"Host", P::kString, false, {}},
          {"Port", P::kInteger, false, {}},
          {"BootScript", P::kString, false, {}}},
         {"Engine", "Endpoint", "DataPath", "Address", "Port", "PasswordSecret"},
         "The cluster's five stores; created when absent, reattached when present"});
  r.Add({std::string(kHeadNode),
         {{"ClusterName", P::kString, true, {}},
          {"Database", P::kString, true, {}},
          {"DnsName", P::kString, false, {}},
          {"Port", P::kInteger, false, {}},
          {"HeartbeatTimeoutMs", P::kInteger, false, {}},
          {"AutoApprove", P::kBoolean, false, {}},
          {"Members", P::kList, false, {}},
          {"BootScript", P::kString, false, {}}},
         {"Address", "Port", "Url", "Name", "CaFile"},
         "The head node: job scheduler, node templates, members; one instance, replaced when it fails"});
  r.Add({std::string(kNodeTemplate),
         {{"HeadNode", P::kString, true, {}},
          {"Name", P::kString, false, {}},
          {"Description", P::kString, false, {}},
          {"AutoApprove", P::kBoolean, false, {}},
          {"BringOnline", P::kBoolean, false, {}}},
         {"Name"},
         "A node template on the head node; joining nodes of a group that names it are approved by it"});
  r.Add({std::string(kComputeGroup),
         {{"HeadNode", P::kString, true, {}},
          {"NodeTemplate", P::kString, false, {}},
          {"MinSize", P::kInteger, true, {}},
          {"MaxSize", P::kInteger, true, {}},
          {"DesiredCapacity", P::kInteger, false, {}},
          {"NamePrefix", P::kString, false, {}},
          {"CoresPerNode", P::kInteger, false, {}},
          {"MemoryPerNodeMiB", P::kInteger, false, {}},
          {"BootScript", P::kString, false, {}},
          {"Environment", P::kMap, false, {}}},
         {"Size", "Nodes", "NamePrefix"},
         "An auto scaling group of compute nodes kept at its desired size"});
  r.Add({std::string(kDnsRecord),
         {{"Name", P::kString, true, {}}, {"Target", P::kString, true, {}}},
         {"Name", "Address"},
         "A stable name for an instance's address; follows the instance when it is replaced"});
  return r;
}

}  // namespace

const ResourceTypeRegistry& DroverResourceTypes() {
  static const ResourceTypeRegistry registry = Build();
  return registry;
}

DeletionPolicy DefaultDeletionPolicy(std::string_view type) {
  // The head node's state is the cluster's identity (its certificates, which the members in the
  // database refer to): it goes with the database.
  return type == kDatabase || type == kHeadNode ? DeletionPolicy::kRetain : DeletionPolicy::kDelete;
}

}  // namespace drover::deploy
