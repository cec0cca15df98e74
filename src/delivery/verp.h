#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sesame::delivery {

// VERP return paths: "b+<token>@<domain>", where the token carries the
// message id and the recipient's index, sealed with an HMAC so a forged
// bounce is recognized. 52 octets of local part at most (RFC 5321: 64).
// Pure.
struct VerpTarget {
  std::string message_id;
  int recipient = 0;
};

// REQUIRES: message_id in the SES format (spec/ses.md 1.4); 0 <= recipient <
// 256.
std::string VerpAddress(const VerpTarget& t, const std::string& domain,
                        const std::string& key);
// nullopt when the local part is not a VERP token or its HMAC does not match.
std::optional<VerpTarget> ParseVerp(std::string_view local_part,
                                    const std::string& key);

}  // namespace sesame::delivery
