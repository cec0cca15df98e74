#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sesame::events {

// Where a webhook subscription points, and the rules that keep it off this
// server's own listeners (server-side request forgery). Pure.

struct Url {
  bool tls = false;
  std::string host, port, target;
};
// http:// or https:// URLs; nullopt for anything else.
std::optional<Url> ParseUrl(const std::string& s);

// True when `ep` reaches one of `own` (address, port): the same port on a
// loopback or unspecified address, or on the listener's own address.
bool IsOwnListener(const boost::asio::ip::tcp::endpoint& ep,
                   const std::vector<std::pair<std::string, uint16_t>>& own);

// The addresses a host stands for without DNS: an IP literal in any form
// inet_aton takes ("127.1", "2130706433", "0x7f000001"), "localhost", or an
// IPv6 literal in brackets.
std::vector<boost::asio::ip::address> LiteralAddresses(std::string host);

}  // namespace sesame::events
