// The head node's certificates and join token, created on first start and reused after.
//
// <state>/pki/
//   ca.crt               the cluster CA's certificate
//   server.crt server.key the head node's TLS certificate, reissued at every start for its names
//   admin.crt admin.key  the first Administrator's client credential
// In the secret store, under the head node's secret prefix (/drover/ by default; a stack's head node
// gets /drover/stacks/<stack>/, so that the stacks of one home never share these):
//   <prefix>cluster-ca/private-key   the CA's key
//   <prefix>join-token               the bootstrap token compute nodes join with
// A head node with another prefix whose CA was made under the default names (a stack created by an
// older version) takes its key over from there: from whichever version of
// /drover/cluster-ca/private-key is the key of its pki/ca.crt.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "net/pki.h"
#include "net/tls.h"
#include "secrets/secret_store.h"

namespace drover::head {

// The member name of the first Administrator's credential (pki/admin.crt). Not a Unix user name
// (no Unix account can be called this), so the local socket can never map a user onto it.
inline constexpr const char* kInitialAdministrator = "admin@drover";

struct HeadCredentials {
  pki::Identity ca;
  net::TlsIdentity server;  // ca + server certificate and key
  std::string join_token;
  std::string admin_cert_pem;  // the first Administrator's certificate
};

inline constexpr const char* kDefaultSecretPrefix = "/drover/";
// Names under this prefix are Drover's own (CA keys, join tokens, stacks' NoEcho parameters): the
// API neither reads nor writes them; only Drover itself and `drover secret --local` do.
inline constexpr const char* kReservedSecretPrefix = "/drover/";
inline bool IsReservedSecretName(const std::string& name) { return name.rfind(kReservedSecretPrefix, 0) == 0; }

// The names of the head node's own secrets under `prefix` (which ends with '/').
std::string CaKeySecretName(const std::string& prefix);
std::string JoinTokenSecretName(const std::string& prefix);
// The prefix of a stack's head node: /drover/stacks/<stack>/.
std::string StackSecretPrefix(const std::string& stack);

Result<HeadCredentials> PrepareCredentials(const std::string& state_dir, const std::string& cluster_name,
                                           const std::vector<std::string>& dns_names,
                                           const std::vector<std::string>& ip_addresses,
                                           secrets::SecretStore& secrets,
                                           const std::string& secret_prefix = kDefaultSecretPrefix);

// A new random token, 32 bytes of entropy, hex.
std::string GenerateToken();

// Compares without leaking where the strings differ.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace drover::head
