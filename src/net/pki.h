// The cluster's public-key infrastructure: an EC P-256 certificate authority that issues the head
// node's server certificate, node certificates (from CSRs sent at join) and client certificates.
// All values are PEM text. Built on OpenSSL 3; nothing here touches sockets.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace drover::pki {

struct Identity {
  std::string cert_pem;
  std::string key_pem;
};

// What a certificate says about its holder. The organizational unit carries the kind of holder:
// "node" for compute nodes, "server" for the head node, "member" for users.
struct Subject {
  std::string common_name;
  std::string organizational_unit;
};

struct CertProfile {
  Subject subject;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries
  bool server_auth = false;               // extendedKeyUsage serverAuth
  bool client_auth = false;               // extendedKeyUsage clientAuth
  int valid_days = 825;
};

struct CertificateInfo {
  Subject subject;
  std::string issuer_common_name;
  // Lowercase hex, two digits per byte, no leading zero bytes, no separators. Serials issued here
  // are always 32 digits (a 128-bit field holding 126 random bits).
  std::string serial_hex;
  std::string sha256_fingerprint;  // lowercase hex of the DER encoding, no separators
  TimeMs not_before = 0;  // milliseconds since the epoch; issued certificates start 5 minutes back
  TimeMs not_after = 0;
};

// Errors: malformed PEM input (key, certificate, request) or an invalid profile (empty common name,
// valid_days outside 1..36500, a bad DNS name or IP address) is InvalidArgument, with the OpenSSL
// error text where there is one. Failures inside OpenSSL are Internal. Nothing here throws.

// A new EC P-256 private key (PKCS#8 PEM).
Result<std::string> GenerateKey();

// A new self-signed CA certificate and key (basicConstraints CA:TRUE, keyCertSign, cRLSign).
Result<Identity> CreateCa(const std::string& common_name, int valid_days = 3650);

// A PKCS#10 request for `key_pem`, with the given subject.
Result<std::string> CreateCsr(const std::string& key_pem, const Subject& subject);

// Signs a request with the CA. The CSR's signature is checked; its subject and extensions are
// ignored: the issued certificate carries `profile` (the CA decides who the holder is).
// A malformed CSR or a bad signature is InvalidArgument.
Result<std::string> SignCsr(const Identity& ca, const std::string& csr_pem, const CertProfile& profile);

// Issues a certificate for an existing key (used for the head node's own and for client credentials).
Result<std::string> IssueCertificate(const Identity& ca, const std::string& key_pem,
                                     const CertProfile& profile);

// Checks that `cert_pem` was issued by `ca_cert_pem` and is within its validity period.
// Fails with Unauthenticated and a message that says why (not issued by this CA, expired, ...).
// Messages: "certificate was not issued by this cluster's CA", "certificate has expired", else
// OpenSSL's text for the verification error. Malformed PEM in either argument is InvalidArgument.
// No purpose (serverAuth/clientAuth) is checked here; TLS does that at handshake.
Status VerifyCertificate(const std::string& ca_cert_pem, const std::string& cert_pem);

// A plain message for an OpenSSL X509_V_ERR_* code found at chain depth `depth` (0: the leaf);
// shared by VerifyCertificate and the TLS layer's client-certificate check.
std::string DescribeVerifyError(long error, int depth);

Result<CertificateInfo> ParseCertificate(const std::string& cert_pem);

// True when `key_pem` is the private key of `cert_pem`.
Result<bool> KeyMatchesCertificate(const std::string& key_pem, const std::string& cert_pem);

}  // namespace drover::pki
