#include "head/credentials.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

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

namespace {

constexpr const char* kCaKeySecret = "/drover/cluster-ca/private-key";
constexpr const char* kJoinTokenSecret = "/drover/join-token";

// The CA certificate is public (pki/ca.crt); its key lives only in the secret store.
Result<pki::Identity> LoadOrCreateCa(const std::string& dir, const std::string& cluster_name,
                                     secrets::SecretStore& secrets) {
  std::string crt = os::JoinPath(dir, "ca.crt"), legacy_key = os::JoinPath(dir, "ca.key");
  if (os::Exists(crt)) {
    pki::Identity ca;
    ASSIGN_OR_RETURN(ca.cert_pem, os::ReadFile(crt));
    if (os::Exists(legacy_key)) {  // a key kept in a file by an older head node: move it into the store
      ASSIGN_OR_RETURN(std::string key_pem, os::ReadFile(legacy_key));
      RETURN_IF_ERROR(secrets.Put(kCaKeySecret, key_pem).status());
      RETURN_IF_ERROR(os::RemoveFile(legacy_key));
    }
    auto key = secrets.Get(kCaKeySecret);
    if (!key.ok()) {
      return Status(key.status().code(),
                    fmt::format("the cluster CA's key is not in the secret store: {}", key.status().message()));
    }
    ca.key_pem = *key;
    ASSIGN_OR_RETURN(bool match, pki::KeyMatchesCertificate(ca.key_pem, ca.cert_pem));
    if (!match) return DataLoss(fmt::format("secret {} is not the key of {}", kCaKeySecret, crt));
    return ca;
  }
  ASSIGN_OR_RETURN(auto ca, pki::CreateCa(cluster_name + " cluster CA"));
  RETURN_IF_ERROR(secrets.Put(kCaKeySecret, ca.key_pem).status());
  RETURN_IF_ERROR(os::WriteFileAtomic(crt, ca.cert_pem, 0644));
  spdlog::info("created the cluster CA in {}; its key is secret {}", dir, kCaKeySecret);
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
                                           secrets::SecretStore& secrets) {
  std::string dir = os::JoinPath(state_dir, "pki");
  RETURN_IF_ERROR(os::MakeDirs(dir, 0700));
  HeadCredentials out;
  ASSIGN_OR_RETURN(out.ca, LoadOrCreateCa(dir, cluster_name, secrets));

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
    RETURN_IF_ERROR(secrets.Put(kJoinTokenSecret, token).status());
    RETURN_IF_ERROR(os::RemoveFile(legacy_token));
  }
  ASSIGN_OR_RETURN(out.join_token, secrets.GetOrCreateRandom(kJoinTokenSecret, 32));
  return out;
}

}  // namespace drover::head
