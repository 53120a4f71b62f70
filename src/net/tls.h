// Certificates and keys a TLS endpoint presents and trusts (PEM text).
#pragma once

#include <string>

namespace drover::net {

struct TlsIdentity {
  std::string ca_cert_pem;  // the cluster CA: peers must chain to it
  std::string cert_pem;     // our certificate; may be empty for a client without one
  std::string key_pem;
};

}  // namespace drover::net
