#include "events/webhook_target.h"

#include <arpa/inet.h>

#include <boost/asio.hpp>

#include "base/strings.h"
#include "httpc/client.h"

namespace sesame::events {

namespace asio = boost::asio;

// httpc's parser (the one rule for what a URL may hold), in the form the
// webhook client connects with: a bracketed IPv6 host, the port as text.
std::optional<Url> ParseUrl(const std::string& s) {
  auto u = httpc::ParseUrl(s);
  if (!u.ok()) return std::nullopt;
  std::string host =
      u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host;
  return Url{u->tls, host, std::to_string(u->port), u->target};
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
