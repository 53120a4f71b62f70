#include "net/http.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace drover::net {

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (!part.empty()) {
      if (eq == std::string_view::npos) {
        out[PercentDecode(part)] = "";
      } else {
        out[PercentDecode(part.substr(0, eq))] = PercentDecode(part.substr(eq + 1));
      }
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDataLoss:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

HttpResponse ErrorResponse(const Status& status) {
  HttpResponse r;
  r.status = HttpStatusFor(status.code());
  boost::json::object err{{"code", StatusCodeName(status.code())}, {"message", status.message()}};
  r.body = boost::json::serialize(boost::json::object{{"error", std::move(err)}});
  return r;
}

Result<Url> ParseUrl(std::string_view url) {
  Url u;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return InvalidArgument(fmt::format("'{}' is not a URL (expected https://host:port)", url));
  }
  u.scheme = std::string(url.substr(0, scheme_end));
  auto rest = url.substr(scheme_end + 3);
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  u.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  auto colon = hostport.rfind(':');
  if (colon == std::string_view::npos || (hostport.front() == '[' && hostport.find(']') > colon)) {
    u.host = std::string(hostport);
    u.port = u.scheme == "https" || u.scheme == "wss" ? 443 : 80;
  } else {
    u.host = std::string(hostport.substr(0, colon));
    try {
      int p = std::stoi(std::string(hostport.substr(colon + 1)));
      if (p <= 0 || p > 65535) throw std::out_of_range("port");
      u.port = static_cast<uint16_t>(p);
    } catch (const std::exception&) {
      return InvalidArgument(fmt::format("URL '{}' has an invalid port", url));
    }
  }
  if (u.host.size() > 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
  if (u.host.empty()) return InvalidArgument(fmt::format("URL '{}' has no host", url));
  return u;
}

}  // namespace drover::net
