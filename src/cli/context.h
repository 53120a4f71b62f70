// Where the CLI finds its cluster and its credential.
//
// In order: DROVER_URL + DROVER_CREDENTIALS (a directory holding ca.crt, client.crt, client.key),
// else $DROVER_HOME/context.json (written by `drover up`), with DROVER_HOME defaulting to ~/.drover.
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
};

std::string DroverHome();
Result<Context> LoadContext();
Status SaveContext(const std::string& path, const Context& context);

// A client for the context's head node.
Result<std::unique_ptr<net::HttpsClient>> Connect(const Context& context);

}  // namespace drover::cli
