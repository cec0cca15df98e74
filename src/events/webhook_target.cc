#include "events/webhook_target.h"

#include <arpa/inet.h>

#include <boost/asio.hpp>

#include "base/strings.h"

namespace sesame::events {

namespace asio = boost::asio;

std::optional<Url> ParseUrl(const std::string& s) {
  Url u;
  std::string rest;
  if (s.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = s.substr(8);
  } else if (s.rfind("http://", 0) == 0) {
    rest = s.substr(7);
  } else {
    return std::nullopt;
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon != std::string::npos &&
      (bracket == std::string::npos || colon > bracket)) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = u.tls ? "443" : "80";
  }
  if (u.host.empty()) return std::nullopt;
  return u;
}

bool IsOwnListener(const asio::ip::tcp::endpoint& ep,
                   const std::vector<std::pair<std::string, uint16_t>>& own) {
  asio::ip::address a = ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  for (const auto& [addr, port] : own) {
    if (port != ep.port()) continue;
    if (a.is_loopback() || a.is_unspecified()) return true;
    boost::system::error_code ec;
    if (asio::ip::make_address(addr, ec) == a && !ec) return true;
  }
  return false;
}

std::vector<asio::ip::address> LiteralAddresses(std::string host) {
  std::vector<asio::ip::address> out;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string lower = AsciiLowerCopy(host);
  if (lower == "localhost" ||
      (lower.size() > 10 && lower.ends_with(".localhost"))) {
    out.push_back(asio::ip::make_address("127.0.0.1"));
    out.push_back(asio::ip::make_address("::1"));
    return out;
  }
  boost::system::error_code ec;
  auto a = asio::ip::make_address(host, ec);
  if (!ec) {
    out.push_back(a);
    return out;
  }
  in_addr v4{};
  if (::inet_aton(host.c_str(), &v4))
    out.push_back(asio::ip::address_v4(ntohl(v4.s_addr)));
  return out;
}

}  // namespace sesame::events
