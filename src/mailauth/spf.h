#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"

namespace sesame::mailauth {

// What SPF and DMARC ask of DNS. Each returns the records (TXT strings
// joined, addresses as text); an empty list for NXDOMAIN or no data; a
// transient error for a failure to answer.
struct Dns {
  using Lookup =
      std::function<Result<std::vector<std::string>>(const std::string&)>;
  Lookup txt;
  Lookup addresses;     // A and AAAA of a host
  Lookup mx_addresses;  // the addresses of a domain's MX hosts (no implicit MX)
};

// RFC 7208 check_host() results.
enum class SpfResult {
  kNone,
  kNeutral,
  kPass,
  kFail,
  kSoftFail,
  kTempError,
  kPermError
};
const char* SpfResultName(SpfResult r);

// Evaluates the SPF policy of `domain` for mail from `ip` with envelope
// sender `sender` (local@domain; "postmaster@<helo>" for a null sender).
// Mechanisms all, include, a, mx, ip4, ip6, exists (ptr never matches, as
// RFC 7208 5.5 allows), modifiers redirect and exp (ignored); the common
// macros (%{s} %{l} %{o} %{d} %{i} %{h}); the limit of 10 DNS-querying
// terms and 2 void lookups. Pure except for `dns`.
SpfResult CheckHost(const std::string& ip, const std::string& domain,
                    const std::string& sender, const std::string& helo,
                    const Dns& dns);

}  // namespace sesame::mailauth
