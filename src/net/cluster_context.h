// Where a cluster is and how to reach it: what the CLI talks to, what `drover up` records for the
// stack it brought up, and what the deployment engine uses to reach a stack's head node.
//
// LoadClusterContext looks, in order, at: DROVER_SOCKET (the head node's local socket, on its
// machine: the caller is known by its uid; DROVER_URL then only names the network address, for the
// credentials `member add` writes); DROVER_CREDENTIALS (a directory holding ca.crt, client.crt,
// client.key, url) with an optional DROVER_URL; $DROVER_HOME/context.json (the current context:
// that of the stack `drover up` brought up last); $DROVER_HOME/credentials (written by `drover
// member add`). DROVER_HOME defaults to ~/.drover.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "net/https_client.h"

namespace drover::net {

struct ClusterContext {
  std::string url;
  std::string ca_path;
  std::string cert_path;
  std::string key_path;
  std::string socket_path;  // when set, the local socket is used instead of HTTPS
  std::string hosts_file;   // names resolved before DNS (a stack's Drover::DnsRecord names)
  std::string stack;        // the stack whose head node this is; "" when not a stack's
};

std::string DroverHome();
// $DROVER_HOME/context.json.
std::string CurrentContextPath(const std::string& home);
Result<ClusterContext> LoadClusterContext();
// The context saved at `path` (a context.json), with no environment applied.
Result<ClusterContext> ReadClusterContext(const std::string& path);
Status SaveClusterContext(const std::string& path, const ClusterContext& context);
// The stack the home's current context belongs to; "" when there is none or it names no stack.
std::string CurrentStack(const std::string& home);

// A client for the context's head node.
Result<std::unique_ptr<HttpsClient>> ConnectToCluster(const ClusterContext& context);

}  // namespace drover::net
