#include "net/pki.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace drover::pki {
namespace {

// ---- Helpers: raw OpenSSL access to look inside what the module produced ----------------------

template <auto FreeFn>
struct Free {
  template <typename T>
  void operator()(T* p) const { FreeFn(p); }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Free<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Free<SSL_free>>;

X509Ptr LoadCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr LoadKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

bool ExtensionIsCritical(X509* cert, int nid) {
  int index = X509_get_ext_by_NID(cert, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

bool IsLowerHex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Identity NewCa(const std::string& cn = "drover-ca") {
  auto ca = CreateCa(cn);
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  return ca.ok() ? *ca : Identity{};
}

CertProfile NodeProfile(const std::string& name) {
  CertProfile p;
  p.subject = {name, "node"};
  p.client_auth = true;
  return p;
}

CertProfile ServerProfile() {
  CertProfile p;
  p.subject = {"head", "server"};
  p.dns_names = {"head.cluster.local", "localhost"};
  p.ip_addresses = {"10.0.0.1", "::1"};
  p.server_auth = true;
  return p;
}

// A certificate and key for `profile`, issued by `ca` through the CSR path.
Identity NodeIdentity(const Identity& ca, const CertProfile& profile) {
  auto key = GenerateKey();
  EXPECT_TRUE(key.ok());
  auto csr = CreateCsr(*key, profile.subject);
  EXPECT_TRUE(csr.ok()) << csr.status().ToString();
  auto cert = SignCsr(ca, *csr, profile);
  EXPECT_TRUE(cert.ok()) << cert.status().ToString();
  return {cert.ok() ? *cert : "", *key};
}

// ---- Tests -----------------------------------------------------------------------------------

TEST(Pki, GenerateKeyIsPkcs8EcP256) {
  auto a = GenerateKey();
  auto b = GenerateKey();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_NE(*a, *b);
  PkeyPtr key = LoadKey(*a);
  ASSERT_TRUE(key);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
  char curve[64] = {};
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), curve, sizeof(curve), &len), 1);
  EXPECT_STREQ(curve, "prime256v1");
}

TEST(Pki, CreateCaAndParse) {
  TimeMs before = SystemClock().Now();
  auto ca = CreateCa("drover-ca", 3650);
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto info = ParseCertificate(ca->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject.common_name, "drover-ca");
  EXPECT_EQ(info->subject.organizational_unit, "");
  EXPECT_EQ(info->issuer_common_name, "drover-ca");
  EXPECT_EQ(info->serial_hex.size(), 32u);
  EXPECT_TRUE(IsLowerHex(info->serial_hex)) << info->serial_hex;
  EXPECT_EQ(info->sha256_fingerprint.size(), 64u);
  EXPECT_TRUE(IsLowerHex(info->sha256_fingerprint));
  // notBefore is five minutes back; notAfter valid_days ahead (second precision).
  constexpr TimeMs kMinute = 60'000, kDay = 86'400'000;
  EXPECT_NEAR(static_cast<double>(info->not_before), static_cast<double>(before - 5 * kMinute), 5000);
  EXPECT_NEAR(static_cast<double>(info->not_after), static_cast<double>(before + 3650 * kDay), 5000);

  X509Ptr cert = LoadCert(ca->cert_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_TRUE(ExtensionIsCritical(cert.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_check_issued(cert.get(), cert.get()), X509_V_OK);

  auto matches = KeyMatchesCertificate(ca->key_pem, ca->cert_pem);
  ASSERT_TRUE(matches.ok());
  EXPECT_TRUE(*matches);
}

TEST(Pki, SignCsrTakesSubjectFromProfileAndVerifies) {
  Identity ca = NewCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  // The node asks to be the head node; the CA decides it is node-7.
  auto csr = CreateCsr(*key, {"head", "server"});
  ASSERT_TRUE(csr.ok()) << csr.status().ToString();
  EXPECT_EQ(csr->rfind("-----BEGIN CERTIFICATE REQUEST-----", 0), 0u);

  auto cert = SignCsr(ca, *csr, NodeProfile("node-7"));
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  Status verified = VerifyCertificate(ca.cert_pem, *cert);
  EXPECT_TRUE(verified.ok()) << verified.ToString();

  auto info = ParseCertificate(*cert);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->subject.common_name, "node-7");
  EXPECT_EQ(info->subject.organizational_unit, "node");
  EXPECT_EQ(info->issuer_common_name, "drover-ca");

  auto matches = KeyMatchesCertificate(*key, *cert);
  ASSERT_TRUE(matches.ok());
  EXPECT_TRUE(*matches);

  X509Ptr x = LoadCert(*cert);
  X509Ptr ca_x = LoadCert(ca.cert_pem);
  ASSERT_TRUE(x && ca_x);
  EXPECT_EQ(X509_check_ca(x.get()), 0);
  EXPECT_TRUE(ExtensionIsCritical(x.get(), NID_basic_constraints));
  EXPECT_EQ(X509_get_key_usage(x.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(x.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_get_ext_by_NID(x.get(), NID_subject_alt_name, -1), -1);  // no SANs asked for
  ASSERT_NE(X509_get0_authority_key_id(x.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x.get()),
                                  X509_get0_subject_key_id(ca_x.get())),
            0);
  EXPECT_EQ(X509_get_signature_nid(x.get()), NID_ecdsa_with_SHA256);
}

TEST(Pki, SerialsAreRandomAndFingerprintsDiffer) {
  Identity ca = NewCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto a = IssueCertificate(ca, *key, NodeProfile("n"));
  auto b = IssueCertificate(ca, *key, NodeProfile("n"));
  ASSERT_TRUE(a.ok() && b.ok());
  auto ia = ParseCertificate(*a);
  auto ib = ParseCertificate(*b);
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_NE(ia->serial_hex, ib->serial_hex);
  EXPECT_NE(ia->sha256_fingerprint, ib->sha256_fingerprint);
  EXPECT_EQ(ia->serial_hex.size(), 32u);
}

TEST(Pki, CertificateFromAnotherCaIsRefused) {
  // Two clusters that both called their CA "drover-ca": same issuer name, different keys.
  Identity ours = NewCa("drover-ca");
  Identity theirs = NewCa("drover-ca");
  Identity other_node = NodeIdentity(theirs, NodeProfile("node-1"));

  Status st = VerifyCertificate(ours.cert_pem, other_node.cert_pem);
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(st.message(), "certificate was not issued by this cluster's CA");

  // A foreign CA with a different name, and a foreign CA certificate itself (self-signed).
  Identity stranger = NewCa("someone-else");
  st = VerifyCertificate(ours.cert_pem, NodeIdentity(stranger, NodeProfile("x")).cert_pem);
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(st.message(), "certificate was not issued by this cluster's CA");
  st = VerifyCertificate(ours.cert_pem, stranger.cert_pem);
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(st.message(), "certificate was not issued by this cluster's CA");
}

TEST(Pki, CertificateAlteredAfterSigningIsRefused) {
  Identity ca = NewCa();
  Identity node = NodeIdentity(ca, NodeProfile("node-1"));
  X509Ptr original = LoadCert(node.cert_pem);
  ASSERT_TRUE(original);
  // Rename the holder in the DER bytes ("node-1" -> "node-9") without re-signing.
  unsigned char* der = nullptr;
  int len = i2d_X509(original.get(), &der);
  ASSERT_GT(len, 0);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  size_t at = bytes.find("node-1");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 5] = '9';
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
  ASSERT_TRUE(cert);
  auto info = ParseCertificate(ToPem(cert.get()));
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->subject.common_name, "node-9");
  Status st = VerifyCertificate(ca.cert_pem, ToPem(cert.get()));
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(st.message(), "certificate was not issued by this cluster's CA");
}

TEST(Pki, ExpiredCertificateIsRefused) {
  Identity ca = NewCa();
  Identity node = NodeIdentity(ca, NodeProfile("node-1"));
  // Move the validity period into the past and re-sign with the CA key.
  X509Ptr cert = LoadCert(node.cert_pem);
  PkeyPtr ca_key = LoadKey(ca.key_pem);
  ASSERT_TRUE(cert && ca_key);
  ASSERT_NE(X509_time_adj_ex(X509_getm_notBefore(cert.get()), -10, 0, nullptr), nullptr);
  ASSERT_NE(X509_time_adj_ex(X509_getm_notAfter(cert.get()), -1, 0, nullptr), nullptr);
  ASSERT_GT(X509_sign(cert.get(), ca_key.get(), EVP_sha256()), 0);

  Status st = VerifyCertificate(ca.cert_pem, ToPem(cert.get()));
  EXPECT_EQ(st.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(st.message(), "certificate has expired");
}

TEST(Pki, MalformedInputIsInvalidArgument) {
  Identity ca = NewCa();
  Identity node = NodeIdentity(ca, NodeProfile("node-1"));
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto csr = CreateCsr(*key, {"n", "node"});
  ASSERT_TRUE(csr.ok());
  std::string truncated_csr = csr->substr(0, csr->size() / 2) + "\n-----END CERTIFICATE REQUEST-----\n";

  for (const std::string& bad : {std::string(), std::string("garbage"), truncated_csr, node.cert_pem}) {
    auto r = SignCsr(ca, bad, NodeProfile("n"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("malformed certificate request: ", 0), 0u) << r.status().message();
  }

  std::string truncated_cert = node.cert_pem.substr(0, node.cert_pem.size() / 2) + "\n-----END CERTIFICATE-----\n";
  for (const std::string& bad : {std::string("garbage"), truncated_cert, *csr}) {
    auto parsed = ParseCertificate(bad);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message().rfind("malformed certificate: ", 0), 0u) << parsed.status().message();
    Status st = VerifyCertificate(ca.cert_pem, bad);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(KeyMatchesCertificate(*key, bad).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(VerifyCertificate("junk", node.cert_pem).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(KeyMatchesCertificate("junk", node.cert_pem).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCsr("junk", {"n", "node"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueCertificate(ca, "junk", NodeProfile("n")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(IssueCertificate({"junk", ca.key_pem}, *key, NodeProfile("n")).status().code(),
            StatusCode::kInvalidArgument);
  // The error queue is left empty for whoever uses OpenSSL next on this thread.
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(Pki, TamperedCsrSignatureIsRefused) {
  Identity ca = NewCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto csr = CreateCsr(*key, {"node-1", "node"});
  ASSERT_TRUE(csr.ok());
  BioPtr in(BIO_new_mem_buf(csr->data(), static_cast<int>(csr->size())));
  ReqPtr req(PEM_read_bio_X509_REQ(in.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(req);

  // Flip a bit in the last byte of the DER encoding, which lies inside the signature value.
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req.get(), &der);
  ASSERT_GT(len, 0);
  der[len - 1] ^= 0x01;
  const unsigned char* p = der;
  ReqPtr tampered(d2i_X509_REQ(nullptr, &p, len));
  OPENSSL_free(der);
  ASSERT_TRUE(tampered);
  BioPtr out(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(out.get(), tampered.get()), 1);
  char* data = nullptr;
  long n = BIO_get_mem_data(out.get(), &data);
  std::string tampered_pem(data, static_cast<size_t>(n));

  auto r = SignCsr(ca, tampered_pem, NodeProfile("node-1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("signature is invalid"), std::string::npos) << r.status().message();

  // A request whose public key was swapped after signing (someone else's key, our signature).
  auto other = GenerateKey();
  ASSERT_TRUE(other.ok());
  PkeyPtr other_key = LoadKey(*other);
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), other_key.get()), 1);
  BioPtr out2(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(out2.get(), req.get()), 1);
  n = BIO_get_mem_data(out2.get(), &data);
  r = SignCsr(ca, std::string(data, static_cast<size_t>(n)), NodeProfile("node-1"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(Pki, SubjectAltNamesArePresent) {
  Identity ca = NewCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto cert = IssueCertificate(ca, *key, ServerProfile());
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  X509Ptr x = LoadCert(*cert);
  ASSERT_TRUE(x);

  EXPECT_EQ(X509_check_host(x.get(), "head.cluster.local", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(x.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(x.get(), "other.cluster.local", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(x.get(), "10.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(x.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(x.get(), "10.0.0.2", 0), 0);

  // Exactly the four entries asked for, in order.
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x.get(), NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  ASSERT_EQ(sk_GENERAL_NAME_num(names), 4);
  EXPECT_EQ(sk_GENERAL_NAME_value(names, 0)->type, GEN_DNS);
  EXPECT_EQ(sk_GENERAL_NAME_value(names, 1)->type, GEN_DNS);
  EXPECT_EQ(sk_GENERAL_NAME_value(names, 2)->type, GEN_IPADD);
  EXPECT_EQ(sk_GENERAL_NAME_value(names, 3)->type, GEN_IPADD);
  GENERAL_NAMES_free(names);
}

TEST(Pki, InvalidProfileIsInvalidArgument) {
  Identity ca = NewCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  CertProfile p = ServerProfile();
  p.ip_addresses = {"10.0.0.300"};
  EXPECT_EQ(IssueCertificate(ca, *key, p).status().code(), StatusCode::kInvalidArgument);
  p = ServerProfile();
  p.dns_names = {"evil.example,DNS:other.example"};  // no injection through the name
  EXPECT_EQ(IssueCertificate(ca, *key, p).status().code(), StatusCode::kInvalidArgument);
  p = ServerProfile();
  p.valid_days = 0;
  EXPECT_EQ(IssueCertificate(ca, *key, p).status().code(), StatusCode::kInvalidArgument);
  p = ServerProfile();
  p.subject.common_name = "";
  EXPECT_EQ(IssueCertificate(ca, *key, p).status().code(), StatusCode::kInvalidArgument);
  p = ServerProfile();
  p.subject.common_name = std::string(65, 'a');  // over the X.520 bound of 64
  EXPECT_EQ(IssueCertificate(ca, *key, p).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCa("").status().code(), StatusCode::kInvalidArgument);
  // The CA's key must belong to its certificate.
  Identity other = NewCa();
  EXPECT_EQ(IssueCertificate({ca.cert_pem, other.key_pem}, *key, ServerProfile()).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Pki, KeyMatchesCertificate) {
  Identity ca = NewCa();
  Identity node = NodeIdentity(ca, NodeProfile("node-1"));
  auto yes = KeyMatchesCertificate(node.key_pem, node.cert_pem);
  ASSERT_TRUE(yes.ok()) << yes.status().ToString();
  EXPECT_TRUE(*yes);
  auto other = GenerateKey();
  ASSERT_TRUE(other.ok());
  auto no = KeyMatchesCertificate(*other, node.cert_pem);
  ASSERT_TRUE(no.ok()) << no.status().ToString();
  EXPECT_FALSE(*no);
  auto ca_key_on_node = KeyMatchesCertificate(ca.key_pem, node.cert_pem);
  ASSERT_TRUE(ca_key_on_node.ok());
  EXPECT_FALSE(*ca_key_on_node);
}

TEST(Pki, IssueCertificateForServer) {
  Identity ca = NewCa();
  auto key = GenerateKey();
  ASSERT_TRUE(key.ok());
  auto cert = IssueCertificate(ca, *key, ServerProfile());
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  EXPECT_TRUE(VerifyCertificate(ca.cert_pem, *cert).ok());
  auto matches = KeyMatchesCertificate(*key, *cert);
  ASSERT_TRUE(matches.ok());
  EXPECT_TRUE(*matches);
  auto info = ParseCertificate(*cert);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->subject.common_name, "head");
  EXPECT_EQ(info->subject.organizational_unit, "server");
  constexpr TimeMs kDay = 86'400'000, kMinute = 60'000;
  EXPECT_NEAR(static_cast<double>(info->not_after - info->not_before),
              static_cast<double>(825 * kDay + 5 * kMinute), 2000);

  X509Ptr x = LoadCert(*cert);
  ASSERT_TRUE(x);
  EXPECT_EQ(X509_get_extended_key_usage(x.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_purpose(x.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_NE(X509_check_purpose(x.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
}

// The issued certificates work for mutual TLS as OpenSSL itself checks them: server and client
// handshake over memory BIOs, each verifying the other against the cluster CA (and the host name).
TEST(Pki, IssuedCertificatesCompleteMutualTls) {
  Identity ca = NewCa();
  auto server_key = GenerateKey();
  ASSERT_TRUE(server_key.ok());
  auto server_cert = IssueCertificate(ca, *server_key, ServerProfile());
  ASSERT_TRUE(server_cert.ok());
  Identity client = NodeIdentity(ca, NodeProfile("node-1"));

  auto make_ctx = [&](const SSL_METHOD* method, const std::string& cert_pem, const std::string& key_pem) {
    SslCtxPtr ctx(SSL_CTX_new(method));
    X509Ptr cert = LoadCert(cert_pem);
    PkeyPtr key = LoadKey(key_pem);
    X509Ptr ca_cert = LoadCert(ca.cert_pem);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key.get()), 1);
    EXPECT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca_cert.get()), 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    return ctx;
  };
  SslCtxPtr server_ctx = make_ctx(TLS_server_method(), *server_cert, *server_key);
  SslCtxPtr client_ctx = make_ctx(TLS_client_method(), client.cert_pem, client.key_pem);
  SslPtr server(SSL_new(server_ctx.get()));
  SslPtr client_ssl(SSL_new(client_ctx.get()));
  ASSERT_EQ(SSL_set1_host(client_ssl.get(), "head.cluster.local"), 1);

  BIO* client_side = nullptr;
  BIO* server_side = nullptr;
  ASSERT_EQ(BIO_new_bio_pair(&client_side, 0, &server_side, 0), 1);
  SSL_set_bio(client_ssl.get(), client_side, client_side);  // each SSL owns its end
  SSL_set_bio(server.get(), server_side, server_side);
  SSL_set_connect_state(client_ssl.get());
  SSL_set_accept_state(server.get());

  bool client_done = false, server_done = false;
  for (int i = 0; i < 20 && !(client_done && server_done); ++i) {
    if (!client_done) {
      int rc = SSL_do_handshake(client_ssl.get());
      if (rc == 1) client_done = true;
      else ASSERT_EQ(SSL_get_error(client_ssl.get(), rc), SSL_ERROR_WANT_READ);
    }
    if (!server_done) {
      int rc = SSL_do_handshake(server.get());
      if (rc == 1) server_done = true;
      else ASSERT_EQ(SSL_get_error(server.get(), rc), SSL_ERROR_WANT_READ);
    }
  }
  ASSERT_TRUE(client_done && server_done);
  EXPECT_EQ(SSL_get_verify_result(client_ssl.get()), X509_V_OK);
  EXPECT_EQ(SSL_get_verify_result(server.get()), X509_V_OK);
}

}  // namespace
}  // namespace drover::pki
