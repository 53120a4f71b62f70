// The cluster PKI on OpenSSL 3. Every OpenSSL object is owned by a std::unique_ptr with a deleter
// that calls the matching *_free function, so early returns never leak. Each public function starts
// and ends with an empty OpenSSL error queue (OpensslErrorScope): failures are reported through the
// returned Status, which carries the queued OpenSSL error strings, and nothing is left on the
// thread's queue to confuse later TLS calls on the same thread.
#include "net/pki.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <climits>
#include <ctime>
#include <memory>

#include <fmt/format.h>

namespace drover::pki {
namespace {

// ---- RAII ------------------------------------------------------------------------------------

template <auto FreeFn>
struct Free {
  template <typename T>
  void operator()(T* p) const { FreeFn(p); }
};
struct OpensslStringFree {
  void operator()(char* p) const { OPENSSL_free(p); }
};

using BioPtr = std::unique_ptr<BIO, Free<BIO_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Free<X509_NAME_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;
using GenNamesPtr = std::unique_ptr<GENERAL_NAMES, Free<GENERAL_NAMES_free>>;
using GenNamePtr = std::unique_ptr<GENERAL_NAME, Free<GENERAL_NAME_free>>;
using Ia5Ptr = std::unique_ptr<ASN1_IA5STRING, Free<ASN1_IA5STRING_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Free<ASN1_OCTET_STRING_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
using OsslStrPtr = std::unique_ptr<char, OpensslStringFree>;

// Clears the thread's OpenSSL error queue on entry and on exit of a public function.
class OpensslErrorScope {
 public:
  OpensslErrorScope() { ERR_clear_error(); }
  ~OpensslErrorScope() { ERR_clear_error(); }
  OpensslErrorScope(const OpensslErrorScope&) = delete;
  OpensslErrorScope& operator=(const OpensslErrorScope&) = delete;
};

// Drains the error queue into one string ("error:...; error:..."), oldest first.
std::string OpensslError() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

// `what` failed: a Status with `code` and the OpenSSL error strings appended.
Status Failure(StatusCode code, const std::string& what) {
  return Status(code, what + ": " + OpensslError());
}

// ---- PEM in and out --------------------------------------------------------------------------

// Never prompts on the terminal for a passphrase (OpenSSL's default callback would): encrypted
// keys are simply rejected as malformed.
int NoPassphrase(char*, int, int, void*) { return 0; }

Result<BioPtr> ReadBio(const std::string& pem) {
  if (pem.size() > static_cast<size_t>(INT_MAX)) return InvalidArgument("PEM input is too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Failure(StatusCode::kInternal, "cannot allocate memory BIO");
  return bio;
}

Result<PkeyPtr> ReadPrivateKey(const std::string& pem) {
  ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) return Failure(StatusCode::kInvalidArgument, "malformed private key");
  return key;
}

// `what` names the input in the error message ("certificate", "CA certificate").
Result<X509Ptr> ReadCertificate(const std::string& pem, const std::string& what) {
  ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert) return Failure(StatusCode::kInvalidArgument, "malformed " + what);
  return cert;
}

Result<ReqPtr> ReadCsr(const std::string& pem) {
  ASSIGN_OR_RETURN(BioPtr bio, ReadBio(pem));
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!req) return Failure(StatusCode::kInvalidArgument, "malformed certificate request");
  return req;
}

// Runs `write(bio)` (a PEM_write_bio_* call returning 1 on success) and returns the text.
template <typename WriteFn>
Result<std::string> WritePem(const char* what, WriteFn write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return Failure(StatusCode::kInternal, "cannot allocate memory BIO");
  if (write(bio.get()) != 1) return Failure(StatusCode::kInternal, fmt::format("cannot encode {}", what));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return Internal(fmt::format("cannot encode {}: empty output", what));
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  // PEM_write_bio_PrivateKey writes unencrypted PKCS#8 ("BEGIN PRIVATE KEY").
  return WritePem("private key", [key](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

Result<std::string> CertToPem(X509* cert) {
  return WritePem("certificate", [cert](BIO* b) { return PEM_write_bio_X509(b, cert); });
}

// ---- Building blocks -------------------------------------------------------------------------

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Failure(StatusCode::kInternal, "EC P-256 key generation failed");
  return key;
}

// An X.509 name with CN and, when set, OU. Over-long or otherwise invalid values (OpenSSL enforces
// the X.520 upper bounds, e.g. 64 characters for CN) are InvalidArgument.
Result<NamePtr> MakeName(const Subject& subject) {
  if (subject.common_name.empty()) return InvalidArgument("subject has no common name");
  NamePtr name(X509_NAME_new());
  if (!name) return Failure(StatusCode::kInternal, "cannot allocate X509_NAME");
  auto add = [&name](int nid, const std::string& value) {
    return X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.data()),
                                      static_cast<int>(value.size()), -1, 0) == 1;
  };
  if (!add(NID_commonName, subject.common_name))
    return Failure(StatusCode::kInvalidArgument, "invalid subject common name");
  if (!subject.organizational_unit.empty() && !add(NID_organizationalUnitName, subject.organizational_unit))
    return Failure(StatusCode::kInvalidArgument, "invalid subject organizational unit");
  return name;
}

// A random positive serial in a 128-bit field: the top bit is cleared (DER integers are signed) and
// the next one set, so every serial is exactly 16 bytes / 32 hex digits and never zero
// (126 random bits; RFC 5280 asks for at most 20 octets and CA/B for at least 64 random bits).
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Failure(StatusCode::kInternal, "random serial");
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  BnPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr)
    return Failure(StatusCode::kInternal, "cannot set serial number");
  return Status::Ok();
}

// notBefore = now - 5 minutes (tolerates clock skew between nodes); notAfter = now + valid_days.
Status SetValidity(X509* cert, int valid_days) {
  if (X509_time_adj_ex(X509_getm_notBefore(cert), 0, -5 * 60, nullptr) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert), valid_days, 0, nullptr) == nullptr)
    return Failure(StatusCode::kInternal, "cannot set validity period");
  return Status::Ok();
}

// Adds one extension written in OpenSSL's config syntax (e.g. "critical,CA:TRUE"). `ctx` names
// the issuer and subject certificates, needed for the key identifier extensions.
Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext) return Failure(StatusCode::kInternal, fmt::format("cannot build extension {}", OBJ_nid2sn(nid)));
  if (X509_add_ext(cert, ext.get(), -1) != 1)
    return Failure(StatusCode::kInternal, fmt::format("cannot add extension {}", OBJ_nid2sn(nid)));
  return Status::Ok();
}

// A DNS name for subjectAltName: letters, digits, '-', '_', '.' and '*' (wildcards), nothing else.
bool IsValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.' && c != '*') return false;
  }
  return true;
}

// subjectAltName, built from GENERAL_NAME objects rather than a config string so that names can
// never inject extra entries. Not added when the profile has no DNS or IP entries.
Status AddSubjectAltNames(X509* cert, const CertProfile& profile) {
  if (profile.dns_names.empty() && profile.ip_addresses.empty()) return Status::Ok();
  GenNamesPtr names(GENERAL_NAMES_new());
  if (!names) return Failure(StatusCode::kInternal, "cannot allocate subjectAltName");
  auto push = [&names](GenNamePtr name) {
    if (sk_GENERAL_NAME_push(names.get(), name.get()) <= 0) return false;
    name.release();  // owned by `names` now
    return true;
  };
  for (const std::string& dns : profile.dns_names) {
    if (!IsValidDnsName(dns)) return InvalidArgument("invalid DNS name in certificate profile: '" + dns + "'");
    Ia5Ptr ia5(ASN1_IA5STRING_new());
    GenNamePtr name(GENERAL_NAME_new());
    if (!ia5 || !name || ASN1_STRING_set(ia5.get(), dns.data(), static_cast<int>(dns.size())) != 1)
      return Failure(StatusCode::kInternal, "cannot build DNS subjectAltName");
    GENERAL_NAME_set0_value(name.get(), GEN_DNS, ia5.release());
    if (!push(std::move(name))) return Failure(StatusCode::kInternal, "cannot build subjectAltName");
  }
  for (const std::string& ip : profile.ip_addresses) {
    OctetPtr octets(a2i_IPADDRESS(ip.c_str()));  // IPv4 or IPv6 text form
    if (!octets) {
      ERR_clear_error();
      return InvalidArgument("invalid IP address in certificate profile: '" + ip + "'");
    }
    GenNamePtr name(GENERAL_NAME_new());
    if (!name) return Failure(StatusCode::kInternal, "cannot build IP subjectAltName");
    GENERAL_NAME_set0_value(name.get(), GEN_IPADD, octets.release());
    if (!push(std::move(name))) return Failure(StatusCode::kInternal, "cannot build subjectAltName");
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    return Failure(StatusCode::kInternal, "cannot add subjectAltName");
  return Status::Ok();
}

// Limits on a profile's validity: at least a day, at most 100 years.
constexpr int kMaxValidDays = 36500;

Status CheckValidDays(int valid_days) {
  if (valid_days < 1 || valid_days > kMaxValidDays)
    return InvalidArgument("certificate validity must be 1.." + std::to_string(kMaxValidDays) +
                           " days, got " + std::to_string(valid_days));
  return Status::Ok();
}

struct LoadedCa {
  X509Ptr cert;
  PkeyPtr key;
};

// Loads the CA and checks that its key belongs to its certificate.
Result<LoadedCa> LoadCa(const Identity& ca) {
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(ca.cert_pem, "CA certificate"));
  ASSIGN_OR_RETURN(PkeyPtr key, ReadPrivateKey(ca.key_pem));
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgument("CA key does not match the CA certificate");
  }
  return LoadedCa{std::move(cert), std::move(key)};
}

// The common path of SignCsr and IssueCertificate: a v3 end-entity certificate for `subject_key`
// (only its public half is used) carrying `profile`, signed by the CA with SHA-256.
Result<std::string> IssueFor(const Identity& ca, EVP_PKEY* subject_key, const CertProfile& profile) {
  RETURN_IF_ERROR(CheckValidDays(profile.valid_days));
  ASSIGN_OR_RETURN(LoadedCa issuer, LoadCa(ca));
  ASSIGN_OR_RETURN(NamePtr name, MakeName(profile.subject));

  X509Ptr cert(X509_new());
  if (!cert) return Failure(StatusCode::kInternal, "cannot allocate certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer.cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1)
    return Failure(StatusCode::kInternal, "cannot fill in certificate");
  RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  RETURN_IF_ERROR(SetValidity(cert.get(), profile.valid_days));

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer.cert.get(), cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  // extendedKeyUsage is omitted when the profile asks for neither purpose.
  std::string eku;
  if (profile.server_auth) eku = "serverAuth";
  if (profile.client_auth) eku += eku.empty() ? "clientAuth" : ",clientAuth";
  if (!eku.empty()) RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_ext_key_usage, eku.c_str()));
  RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), profile));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always"));

  if (X509_sign(cert.get(), issuer.key.get(), EVP_sha256()) <= 0)
    return Failure(StatusCode::kInternal, "cannot sign certificate");
  return CertToPem(cert.get());
}

// ---- Parsing helpers -------------------------------------------------------------------------

// The first entry of `nid` in `name` as UTF-8; "" when absent or undecodable.
std::string NameEntry(const X509_NAME* name, int nid) {
  int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return "";
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

Result<TimeMs> TimeToMs(const ASN1_TIME* t, const char* what) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1)
    return Failure(StatusCode::kInvalidArgument, fmt::format("malformed certificate {}", what));
  return static_cast<TimeMs>(timegm(&tm)) * 1000;
}

std::string LowerHex(const unsigned char* data, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0x0f];
  }
  return out;
}

}  // namespace

// ---- Public API ------------------------------------------------------------------------------

Result<std::string> GenerateKey() {
  OpensslErrorScope errors;
  ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  return KeyToPem(key.get());
}

Result<Identity> CreateCa(const std::string& common_name, int valid_days) {
  OpensslErrorScope errors;
  RETURN_IF_ERROR(CheckValidDays(valid_days));
  ASSIGN_OR_RETURN(NamePtr name, MakeName(Subject{common_name, ""}));
  ASSIGN_OR_RETURN(PkeyPtr key, NewKey());

  X509Ptr cert(X509_new());
  if (!cert) return Failure(StatusCode::kInternal, "cannot allocate certificate");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), name.get()) != 1 ||  // self-signed
      X509_set_pubkey(cert.get(), key.get()) != 1)
    return Failure(StatusCode::kInternal, "cannot fill in CA certificate");
  RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  RETURN_IF_ERROR(SetValidity(cert.get(), valid_days));

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash"));

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
    return Failure(StatusCode::kInternal, "cannot sign CA certificate");
  ASSIGN_OR_RETURN(std::string cert_pem, CertToPem(cert.get()));
  ASSIGN_OR_RETURN(std::string key_pem, KeyToPem(key.get()));
  return Identity{std::move(cert_pem), std::move(key_pem)};
}

Result<std::string> CreateCsr(const std::string& key_pem, const Subject& subject) {
  OpensslErrorScope errors;
  ASSIGN_OR_RETURN(PkeyPtr key, ReadPrivateKey(key_pem));
  ASSIGN_OR_RETURN(NamePtr name, MakeName(subject));
  ReqPtr req(X509_REQ_new());
  if (!req) return Failure(StatusCode::kInternal, "cannot allocate certificate request");
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1)
    return Failure(StatusCode::kInternal, "cannot fill in certificate request");
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
    return Failure(StatusCode::kInternal, "cannot sign certificate request");
  X509_REQ* raw = req.get();
  return WritePem("certificate request", [raw](BIO* b) { return PEM_write_bio_X509_REQ(b, raw); });
}

Result<std::string> SignCsr(const Identity& ca, const std::string& csr_pem, const CertProfile& profile) {
  OpensslErrorScope errors;
  ASSIGN_OR_RETURN(ReqPtr req, ReadCsr(csr_pem));
  EVP_PKEY* pubkey = X509_REQ_get0_pubkey(req.get());  // owned by `req`
  if (pubkey == nullptr) return Failure(StatusCode::kInvalidArgument, "malformed certificate request public key");
  // Proof of possession: the request must be signed by the key it asks a certificate for.
  if (X509_REQ_verify(req.get(), pubkey) != 1)
    return Failure(StatusCode::kInvalidArgument, "certificate request signature is invalid");
  return IssueFor(ca, pubkey, profile);
}

Result<std::string> IssueCertificate(const Identity& ca, const std::string& key_pem,
                                     const CertProfile& profile) {
  OpensslErrorScope errors;
  ASSIGN_OR_RETURN(PkeyPtr key, ReadPrivateKey(key_pem));
  return IssueFor(ca, key.get(), profile);
}

Status VerifyCertificate(const std::string& ca_cert_pem, const std::string& cert_pem) {
  OpensslErrorScope errors;
  ASSIGN_OR_RETURN(X509Ptr ca, ReadCertificate(ca_cert_pem, "CA certificate"));
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(cert_pem, "certificate"));

  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx) return Failure(StatusCode::kInternal, "cannot allocate certificate store");
  if (X509_STORE_add_cert(store.get(), ca.get()) != 1)  // takes its own reference
    return Failure(StatusCode::kInternal, "cannot add CA certificate to store");
  if (X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1)
    return Failure(StatusCode::kInternal, "cannot initialise certificate verification");

  int rc = X509_verify_cert(ctx.get());
  if (rc == 1) return Status::Ok();
  if (rc < 0) return Failure(StatusCode::kInternal, "certificate verification could not run");

  return Unauthenticated(DescribeVerifyError(X509_STORE_CTX_get_error(ctx.get()),
                                             X509_STORE_CTX_get_error_depth(ctx.get())));
}

std::string DescribeVerifyError(long error, int depth) {
  switch (error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    // The CA's key did not produce this signature: a foreign issuer with the same name, or a
    // certificate altered after signing. Either way this CA did not issue it.
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return "certificate was not issued by this cluster's CA";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return depth == 0 ? "certificate has expired" : "the cluster's CA certificate has expired";
    default:
      return X509_verify_cert_error_string(error);
  }
}

Result<CertificateInfo> ParseCertificate(const std::string& cert_pem) {
  OpensslErrorScope errors;
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(cert_pem, "certificate"));
  CertificateInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  info.subject.common_name = NameEntry(subject, NID_commonName);
  info.subject.organizational_unit = NameEntry(subject, NID_organizationalUnitName);
  info.issuer_common_name = NameEntry(X509_get_issuer_name(cert.get()), NID_commonName);

  // Serial: lowercase hex, two digits per byte, no leading zero bytes ("-" prefix if negative).
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (!serial) return Failure(StatusCode::kInvalidArgument, "malformed certificate serial number");
  OsslStrPtr hex(BN_bn2hex(serial.get()));
  if (!hex) return Failure(StatusCode::kInternal, "cannot format serial number");
  info.serial_hex = hex.get();
  for (char& c : info.serial_hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) != 1)
    return Failure(StatusCode::kInternal, "cannot compute certificate fingerprint");
  info.sha256_fingerprint = LowerHex(md, md_len);

  ASSIGN_OR_RETURN(info.not_before, TimeToMs(X509_get0_notBefore(cert.get()), "notBefore"));
  ASSIGN_OR_RETURN(info.not_after, TimeToMs(X509_get0_notAfter(cert.get()), "notAfter"));
  return info;
}

Result<bool> KeyMatchesCertificate(const std::string& key_pem, const std::string& cert_pem) {
  OpensslErrorScope errors;
  ASSIGN_OR_RETURN(PkeyPtr key, ReadPrivateKey(key_pem));
  ASSIGN_OR_RETURN(X509Ptr cert, ReadCertificate(cert_pem, "certificate"));
  const EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  if (cert_key == nullptr) return Failure(StatusCode::kInvalidArgument, "malformed certificate public key");
  // 1: same key; 0: different; negative: different key types (also "no").
  return EVP_PKEY_eq(cert_key, key.get()) == 1;
}

}  // namespace drover::pki
