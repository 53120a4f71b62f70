// Names that Drover resolves before DNS: a hosts(5)-format file named by DROVER_HOSTS_FILE, written
// by a stack's Drover::DnsRecord resources. Read at every lookup, so a record that follows a replaced
// instance takes effect at the next connection.
#pragma once

#include <optional>
#include <string>

namespace drover::net {

// The address `host` has in the file at `path`; nullopt when absent (or the file is).
std::optional<std::string> LookupHostsFile(const std::string& path, const std::string& host);

// `host` as DROVER_HOSTS_FILE maps it, or `host` itself.
std::string ResolveHostName(const std::string& host);

}  // namespace drover::net
