#include "net/host_names.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace drover::net {

std::optional<std::string> LookupHostsFile(const std::string& path, const std::string& host) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string address, name;
    if (!(fields >> address)) continue;
    while (fields >> name) {
      if (name == host) return address;
    }
  }
  return std::nullopt;
}

std::string ResolveHostName(const std::string& host) {
  const char* path = std::getenv("DROVER_HOSTS_FILE");
  if (!path || !*path) return host;
  return LookupHostsFile(path, host).value_or(host);
}

}  // namespace drover::net
