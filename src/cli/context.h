// Where the CLI finds its cluster and its credential.
//
// In order: DROVER_SOCKET (the head node's local socket, on its machine: the caller is known by its
// uid; DROVER_URL then only names the network address, for credentials `member add` writes); DROVER_CREDENTIALS (a directory holding ca.crt, client.crt, client.key, url) with an optional
// DROVER_URL; $DROVER_HOME/context.json (written by `drover up`); $DROVER_HOME/credentials (written
// by `drover member add`). DROVER_HOME defaults to ~/.drover.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "net/https_client.h"

namespace drover::cli {

struct Context {
  std::string url;
  std::string ca_path;
  std::string cert_path;
  std::string key_path;
  std::string socket_path;  // when set, the local socket is used instead of HTTPS
  std::string hosts_file;   // names resolved before DNS (a stack's Drover::DnsRecord names)
};

std::string DroverHome();
Result<Context> LoadContext();
Status SaveContext(const std::string& path, const Context& context);

// A client for the context's head node.
Result<std::unique_ptr<net::HttpsClient>> Connect(const Context& context);

}  // namespace drover::cli
