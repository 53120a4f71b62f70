// Internal to src/net: converting between Beast's HTTP messages and Drover's plain HttpRequest /
// HttpResponse, shared by the HTTPS server and the local-socket server.
#pragma once

#include <memory>

#include <boost/beast/http.hpp>

#include "net/http.h"

namespace drover::net {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

HttpRequest FromBeast(BeastRequest&& req, const PeerIdentity& peer);
std::shared_ptr<BeastResponse> ToBeast(HttpResponse&& r, unsigned version, bool keep_alive);

}  // namespace drover::net
