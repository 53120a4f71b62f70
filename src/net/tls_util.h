// Internal to src/net: building OpenSSL contexts and reading peer certificates.
#pragma once

#include <boost/asio/ssl.hpp>

#include "common/status.h"
#include "net/http.h"
#include "net/tls.h"

namespace drover::net {

Status ConfigureServerContext(boost::asio::ssl::context& ctx, const TlsIdentity& tls);
Status ConfigureClientContext(boost::asio::ssl::context& ctx, const TlsIdentity& tls);
PeerIdentity ReadPeerIdentity(SSL* ssl);

}  // namespace drover::net
