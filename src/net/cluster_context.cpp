#include "net/cluster_context.h"

#include <cctype>
#include <cstdlib>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "common/codec.h"
#include "os/files.h"

namespace drover::net {
namespace json = boost::json;

std::string DroverHome() {
  if (const char* h = std::getenv("DROVER_HOME"); h && *h) return os::AbsolutePath(h);
  const char* home = std::getenv("HOME");
  return os::JoinPath(home && *home ? home : "/tmp", ".drover");
}

std::string CurrentContextPath(const std::string& home) { return os::JoinPath(home, "context.json"); }

namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// A member's credential directory (written by `drover member add`): ca.crt, client.crt,
// client.key, url, and hosts_file when the cluster's names resolve through a stack's hosts file.
Result<ClusterContext> FromCredentials(const std::string& dir, const char* url_override) {
  ClusterContext c{"", os::JoinPath(dir, "ca.crt"), os::JoinPath(dir, "client.crt"), os::JoinPath(dir, "client.key")};
  if (url_override && *url_override) {
    c.url = url_override;
  } else {
    auto url = os::ReadFile(os::JoinPath(dir, "url"));
    if (!url.ok()) return FailedPrecondition(fmt::format("{} has no url file; set DROVER_URL", dir));
    c.url = Trimmed(*url);
  }
  if (auto hosts = os::ReadFile(os::JoinPath(dir, "hosts_file")); hosts.ok()) c.hosts_file = Trimmed(*hosts);
  return c;
}

}  // namespace

Result<ClusterContext> ReadClusterContext(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, os::ReadFile(path));
  ASSIGN_OR_RETURN(auto v, ParseJson(text));
  if (!v.is_object()) return InvalidArgument(fmt::format("{} is not a JSON object", path));
  const auto& o = v.as_object();
  auto get = [&](const char* k) {
    auto* f = o.if_contains(k);
    return f && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  ClusterContext c{get("url"), get("ca"), get("cert"), get("key")};
  c.hosts_file = get("hosts_file");
  c.stack = get("stack");
  return c;
}

Result<ClusterContext> LoadClusterContext() {
  const char* url = std::getenv("DROVER_URL");
  const char* creds = std::getenv("DROVER_CREDENTIALS");
  if (const char* socket = std::getenv("DROVER_SOCKET"); socket && *socket) {
    // Requests go through the socket; DROVER_URL (and DROVER_HOSTS_FILE), when set, say how the head
    // node is reached over the network, which is what `member add` writes into a credential.
    ClusterContext c;
    c.url = url && *url ? url : "local socket";
    c.socket_path = socket;
    if (const char* hosts = std::getenv("DROVER_HOSTS_FILE"); hosts && *hosts && url && *url) c.hosts_file = hosts;
    return c;
  }
  if (creds && *creds) return FromCredentials(creds, url);
  std::string path = CurrentContextPath(DroverHome());
  if (!os::Exists(path)) {
    std::string member_creds = os::JoinPath(DroverHome(), "credentials");
    if (os::Exists(os::JoinPath(member_creds, "client.crt"))) return FromCredentials(member_creds, url);
    return FailedPrecondition(fmt::format(
        "no cluster to talk to: {} does not exist. Run 'drover up' to start the local cluster, or set "
        "DROVER_CREDENTIALS to the directory 'drover member add' wrote",
        path));
  }
  ASSIGN_OR_RETURN(ClusterContext c, ReadClusterContext(path));
  if (url && *url) c.url = url;
  if (c.url.empty()) return InvalidArgument(fmt::format("{} has no 'url'", path));
  return c;
}

Status SaveClusterContext(const std::string& path, const ClusterContext& c) {
  json::object o{{"url", c.url}, {"ca", c.ca_path}, {"cert", c.cert_path}, {"key", c.key_path}};
  if (!c.hosts_file.empty()) o["hosts_file"] = c.hosts_file;
  if (!c.stack.empty()) o["stack"] = c.stack;
  return os::WriteFileAtomic(path, json::serialize(o) + "\n", 0600);
}

std::string CurrentStack(const std::string& home) {
  auto c = ReadClusterContext(CurrentContextPath(home));
  return c.ok() ? c->stack : std::string();
}

Result<std::unique_ptr<HttpsClient>> ConnectToCluster(const ClusterContext& c) {
  if (!c.socket_path.empty()) return HttpsClient::CreateLocal(c.socket_path);
  if (!c.hosts_file.empty()) ::setenv("DROVER_HOSTS_FILE", c.hosts_file.c_str(), 1);
  TlsIdentity tls;
  ASSIGN_OR_RETURN(tls.ca_cert_pem, os::ReadFile(c.ca_path));
  if (!c.cert_path.empty()) {
    ASSIGN_OR_RETURN(tls.cert_pem, os::ReadFile(c.cert_path));
    ASSIGN_OR_RETURN(tls.key_pem, os::ReadFile(c.key_path));
  }
  return HttpsClient::Create(c.url, tls);
}

}  // namespace drover::net
