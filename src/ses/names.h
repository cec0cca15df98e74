#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace sesame::ses {

// SES's and SNS's published rules for the names a caller gives resources.
// A name is used as a store key, in ARNs, logs and (for identities) in DNS
// and SMTP, so nothing else is let through. Each returns Ok or a permanent
// error with code "invalid" whose message is SES's kind of sentence. Pure.

// Configuration sets, templates, dedicated IP pools: ASCII letters, digits,
// '_' and '-', 1 to 64 characters.
Status CheckResourceName(std::string_view kind, std::string_view name);

// An email identity is a bare address (an RFC 5321 mailbox, no display
// name); a domain identity an RFC 5321 domain of at least two labels, at
// most 253 characters.
Status CheckIdentityName(std::string_view identity);

// The addr-spec of an address field as SES takes it ("local@domain" or
// "Display Name <local@domain>"), checked as an RFC 5321 path: it reaches
// MAIL FROM or RCPT TO, so nothing in it may change an SMTP command.
Result<std::string> FieldMailbox(std::string_view field);

}  // namespace sesame::ses
