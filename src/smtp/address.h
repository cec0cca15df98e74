#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sesame::smtp {

// A parsed RFC 5321 path: "<>", "<Postmaster>", or
// "<[@route,...:]local@domain>".
struct Path {
  bool null = false;        // "<>" (reverse-path only)
  bool postmaster = false;  // "<Postmaster>" without a domain
  bool source_route = false;
  std::string local;   // as sent, quotes and escapes kept
  std::string domain;  // as sent; "[...]" for address literals
  bool domain_literal = false;
  bool non_ascii = false;  // needs SMTPUTF8

  std::string Address() const {
    if (null) return "";
    if (postmaster) return "Postmaster";
    return local + "@" + domain;
  }
};

// Parses the text between "MAIL FROM:" / "RCPT TO:" and the parameters, i.e.
// "<...>". Errors are permanent and their message says what is wrong.
// UTF-8 is accepted in the local part and domain (RFC 6531); the caller
// decides whether SMTPUTF8 was requested (Path::non_ascii).
Result<Path> ParsePath(std::string_view text, bool allow_null,
                       bool allow_postmaster);

// Validates a bare mailbox ("local@domain", as an API field or a stored
// setting gives it) as an RFC 5321 path fit for MAIL FROM or RCPT TO: the
// same grammar as ParsePath, no null path, no source route, no Postmaster
// without a domain. Anything that would change the meaning of an SMTP command
// (CR, LF, NUL, '<', '>', a space outside quotes, ESMTP parameters) fails.
Result<Path> ParseMailbox(std::string_view address);

// True for an RFC 5321 domain: dot-separated letter-digit-hyphen labels of
// 1..63 octets (UTF-8 allowed, RFC 6531), at most 255 octets in all.
bool IsValidDomain(std::string_view domain);

// True when `text` may be sent as (part of) one SMTP command line: no CR, LF
// or NUL. The SMTP client checks every command with it (defence in depth:
// addresses are validated before they are stored).
bool SafeCommandText(std::string_view text);

// True when the local part carries a classic relay trick: '%' or '!' routing,
// or a quoted '@'.
bool LocalPartRoutes(std::string_view local);

// The unfolded value of the first header field `name` (case-insensitive) in
// the header block of an RFC 5322 message, trimmed; "" when absent.
std::string HeaderValue(std::string_view message, std::string_view name);

// The name=value pairs of an X-SES-MESSAGE-TAGS value ("a=b, c=d"), in
// order, names and values trimmed; an item without '=' or a name is skipped.
// Pure.
std::vector<std::pair<std::string, std::string>> MessageTagPairs(
    std::string_view value);

// The message without SES's own instruction headers, X-SES-CONFIGURATION-SET
// and X-SES-MESSAGE-TAGS (with their continuation lines), which SES removes
// before mail leaves: a recipient must not see an application's tags. Only
// the header block is read; `message` is returned unchanged (moved) when it
// has neither. Pure.
std::string WithoutSesHeaders(std::string message);
// The message without every field named in `names` (case-insensitive), with
// their continuation lines; unchanged (moved) when it has none. Pure.
std::string WithoutHeaders(std::string message,
                           std::initializer_list<std::string_view> names);

// Lower-cases ASCII letters.
std::string AsciiLower(std::string_view s);

}  // namespace sesame::smtp
