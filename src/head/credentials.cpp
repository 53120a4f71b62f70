#include "head/credentials.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "os/files.h"

namespace drover::head {

std::string GenerateToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) std::abort();  // no entropy: nothing is safe to do
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string CaKeySecretName(const std::string& prefix) { return prefix + "cluster-ca/private-key"; }
std::string JoinTokenSecretName(const std::string& prefix) { return prefix + "join-token"; }
std::string StackSecretPrefix(const std::string& stack) { return fmt::format("/drover/stacks/{}/", stack); }

namespace {

// The version of `name` that is the key of `cert_pem`, if any (newest first).
Result<std::optional<std::string>> FindMatchingKey(secrets::SecretStore& secrets, const std::string& name,
                                                   const std::string& cert_pem) {
  ASSIGN_OR_RETURN(auto list, secrets.List());
  for (const auto& info : list) {
    if (info.name != name) continue;
    for (int v = info.latest_version; v >= 1; --v) {
      auto key = secrets.Get(name, v);
      if (!key.ok()) continue;  // a version that was pruned
      auto match = pki::KeyMatchesCertificate(*key, cert_pem);
      if (match.ok() && *match) return std::optional<std::string>(*key);
    }
  }
  return std::optional<std::string>();
}

// The CA certificate is public (pki/ca.crt); its key lives only in the secret store.
Result<pki::Identity> LoadOrCreateCa(const std::string& dir, const std::string& cluster_name,
                                     secrets::SecretStore& secrets, const std::string& prefix) {
  std::string name = CaKeySecretName(prefix);
  std::string crt = os::JoinPath(dir, "ca.crt"), legacy_key = os::JoinPath(dir, "ca.key");
  if (os::Exists(crt)) {
    pki::Identity ca;
    ASSIGN_OR_RETURN(ca.cert_pem, os::ReadFile(crt));
    if (os::Exists(legacy_key)) {  // a key kept in a file by an older head node: move it into the store
      ASSIGN_OR_RETURN(std::string key_pem, os::ReadFile(legacy_key));
      RETURN_IF_ERROR(secrets.Put(name, key_pem).status());
      RETURN_IF_ERROR(os::RemoveFile(legacy_key));
    }
    auto key = secrets.Get(name);
    std::string legacy = CaKeySecretName(kDefaultSecretPrefix);
    if (key.status().code() == StatusCode::kNotFound && name != legacy) {
      // Made under the default name by an older version, where several stacks shared it: the version
      // that is this CA's key moves to the prefix's name. The default name stays (another stack's
      // key may be one of its versions).
      ASSIGN_OR_RETURN(auto found, FindMatchingKey(secrets, legacy, ca.cert_pem));
      if (found) {
        RETURN_IF_ERROR(secrets.Put(name, *found).status());
        spdlog::info("the cluster CA's key moved from secret {} to {}", legacy, name);
        key = *found;
      }
    }
    if (!key.ok()) {
      return Status(key.status().code(),
                    fmt::format("the cluster CA's key is not in the secret store: {}. Without it this cluster's "
                                "certificates cannot be issued; put the key of {} there, or start afresh by "
                                "removing {}",
                                key.status().message(), crt, dir));
    }
    ca.key_pem = *key;
    ASSIGN_OR_RETURN(bool match, pki::KeyMatchesCertificate(ca.key_pem, ca.cert_pem));
    if (!match) {
      // Perhaps an earlier version of the secret: a later one may have been written over it.
      ASSIGN_OR_RETURN(auto found, FindMatchingKey(secrets, name, ca.cert_pem));
      if (!found) {
        return DataLoss(fmt::format("no version of secret {} is the key of {}; put the key there, or start afresh "
                                    "by removing {}",
                                    name, crt, dir));
      }
      RETURN_IF_ERROR(secrets.Put(name, *found).status());
      spdlog::warn("secret {} had been replaced by a key that is not this CA's; its earlier version is back", name);
      ca.key_pem = *found;
    }
    return ca;
  }
  ASSIGN_OR_RETURN(auto ca, pki::CreateCa(cluster_name + " cluster CA"));
  RETURN_IF_ERROR(secrets.Put(name, ca.key_pem).status());
  RETURN_IF_ERROR(os::WriteFileAtomic(crt, ca.cert_pem, 0644));
  spdlog::info("created the cluster CA in {}; its key is secret {}", dir, name);
  return ca;
}

Status IssueIdentity(const pki::Identity& ca, const pki::CertProfile& profile, const std::string& crt,
                     const std::string& key) {
  ASSIGN_OR_RETURN(std::string key_pem, pki::GenerateKey());
  ASSIGN_OR_RETURN(std::string cert_pem, pki::IssueCertificate(ca, key_pem, profile));
  RETURN_IF_ERROR(os::WriteFileAtomic(key, key_pem, 0600));
  return os::WriteFileAtomic(crt, cert_pem, 0644);
}

}  // namespace

Result<HeadCredentials> PrepareCredentials(const std::string& state_dir, const std::string& cluster_name,
                                           const std::vector<std::string>& dns_names,
                                           const std::vector<std::string>& ip_addresses,
                                           secrets::SecretStore& secrets, const std::string& secret_prefix) {
  if (secret_prefix.empty() || secret_prefix.front() != '/' || secret_prefix.back() != '/') {
    return InvalidArgument(fmt::format("the secret prefix '{}' must start and end with '/'", secret_prefix));
  }
  RETURN_IF_ERROR(secrets::ValidateSecretName(JoinTokenSecretName(secret_prefix)).WithContext("secret prefix"));
  std::string dir = os::JoinPath(state_dir, "pki");
  RETURN_IF_ERROR(os::MakeDirs(dir, 0700));
  HeadCredentials out;
  ASSIGN_OR_RETURN(out.ca, LoadOrCreateCa(dir, cluster_name, secrets, secret_prefix));

  pki::CertProfile server;
  server.subject = {"headnode", "server"};
  server.dns_names = dns_names;
  server.ip_addresses = ip_addresses;
  server.server_auth = true;
  std::string server_crt = os::JoinPath(dir, "server.crt"), server_key = os::JoinPath(dir, "server.key");
  RETURN_IF_ERROR(IssueIdentity(out.ca, server, server_crt, server_key));
  out.server.ca_cert_pem = out.ca.cert_pem;
  ASSIGN_OR_RETURN(out.server.cert_pem, os::ReadFile(server_crt));
  ASSIGN_OR_RETURN(out.server.key_pem, os::ReadFile(server_key));

  std::string admin_crt = os::JoinPath(dir, "admin.crt");
  if (!os::Exists(admin_crt)) {
    pki::CertProfile admin;
    admin.subject = {kInitialAdministrator, "member"};
    admin.client_auth = true;
    RETURN_IF_ERROR(IssueIdentity(out.ca, admin, admin_crt, os::JoinPath(dir, "admin.key")));
  }

  ASSIGN_OR_RETURN(out.admin_cert_pem, os::ReadFile(admin_crt));

  std::string legacy_token = os::JoinPath(state_dir, "join-token");
  if (os::Exists(legacy_token)) {  // a token kept in a file by an older head node: move it into the store
    ASSIGN_OR_RETURN(std::string token, os::ReadFile(legacy_token));
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    RETURN_IF_ERROR(secrets.Put(JoinTokenSecretName(secret_prefix), token).status());
    RETURN_IF_ERROR(os::RemoveFile(legacy_token));
  }
  ASSIGN_OR_RETURN(out.join_token, secrets.GetOrCreateRandom(JoinTokenSecretName(secret_prefix), 32));
  return out;
}

}  // namespace drover::head
