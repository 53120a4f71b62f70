#include "net/tls_util.h"

#include "net/pki.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

namespace drover::net {

namespace ssl = boost::asio::ssl;

namespace {

Status LoadIdentity(ssl::context& ctx, const TlsIdentity& tls, bool require_cert) {
  boost::system::error_code ec;
  if (!tls.ca_cert_pem.empty()) {
    ctx.add_certificate_authority(boost::asio::buffer(tls.ca_cert_pem), ec);
    if (ec) return InvalidArgument("cannot load the cluster CA certificate: " + ec.message());
  }
  if (tls.cert_pem.empty()) {
    if (require_cert) return InvalidArgument("no certificate configured");
    return Status::Ok();
  }
  ctx.use_certificate_chain(boost::asio::buffer(tls.cert_pem), ec);
  if (ec) return InvalidArgument("cannot load certificate: " + ec.message());
  ctx.use_private_key(boost::asio::buffer(tls.key_pem), ssl::context::pem, ec);
  if (ec) return InvalidArgument("cannot load private key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    return InvalidArgument("the private key does not match the certificate");
  }
  return Status::Ok();
}

std::string NameEntry(X509_NAME* name, int nid) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

Status ConfigureServerContext(ssl::context& ctx, const TlsIdentity& tls) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  RETURN_IF_ERROR(LoadIdentity(ctx, tls, /*require_cert=*/true));
  // Ask for a client certificate but let the handshake finish without one or with a foreign one:
  // the application layer answers with a clear 401 instead of a bare TLS alert.
  ctx.set_verify_mode(ssl::verify_peer);
  ctx.set_verify_callback([](bool, ssl::verify_context&) { return true; });
  return Status::Ok();
}

Status ConfigureClientContext(ssl::context& ctx, const TlsIdentity& tls) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (tls.ca_cert_pem.empty()) return InvalidArgument("no cluster CA certificate to verify the head node");
  RETURN_IF_ERROR(LoadIdentity(ctx, tls, /*require_cert=*/false));
  ctx.set_verify_mode(ssl::verify_peer);
  return Status::Ok();
}

PeerIdentity ReadPeerIdentity(SSL* ssl) {
  PeerIdentity id;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return id;
  id.has_certificate = true;
  long result = SSL_get_verify_result(ssl);
  id.verified = result == X509_V_OK;
  if (!id.verified) {
    // SSL_get_verify_result keeps only the code; a failure on the leaf is what a client sees.
    id.verify_error = "the client " + pki::DescribeVerifyError(result, 0);
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  id.common_name = NameEntry(subject, NID_commonName);
  id.unit = NameEntry(subject, NID_organizationalUnitName);
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      id.serial_hex = hex;  // lower-case, as pki::CertificateInfo writes serials
      for (auto& c : id.serial_hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  X509_free(cert);
  return id;
}

}  // namespace drover::net
