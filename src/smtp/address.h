#pragma once

#include <string>
#include <string_view>

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

// True when the local part carries a classic relay trick: '%' or '!' routing,
// or a quoted '@'.
bool LocalPartRoutes(std::string_view local);

// The unfolded value of the first header field `name` (case-insensitive) in
// the header block of an RFC 5322 message, trimmed; "" when absent.
std::string HeaderValue(std::string_view message, std::string_view name);

// Lower-cases ASCII letters.
std::string AsciiLower(std::string_view s);

}  // namespace sesame::smtp
