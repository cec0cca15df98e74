#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sesame::mime {

struct Attachment {
  std::string filename;
  std::string content_type = "application/octet-stream";
  std::string content;  // raw bytes
  bool inline_disposition = false;
  std::string content_id;  // for inline parts referenced from HTML
};

// What SES v1/v2 "Simple" content describes.
struct SimpleMessage {
  std::string from;  // "Name <a@b>" or "a@b"
  std::vector<std::string> to, cc, reply_to;
  std::string subject;
  std::string text, html;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::vector<Attachment> attachments;
  std::string message_id;  // "<...>"
  int64_t date_ms = 0;
};

// Builds an RFC 5322/MIME message: RFC 2047 for non-ASCII header text,
// multipart/alternative for text+html, related for inline parts, mixed for
// attachments; 7bit, quoted-printable or base64 by content so that no line
// exceeds 998 octets. Rejects CR/LF in any header field (header injection).
// Pure.
Result<std::string> Build(const SimpleMessage& m);

// RFC 2047 "encoded-word" (UTF-8, B or Q) when `s` is not plain ASCII.
std::string EncodeWord(std::string_view s);
// Decodes encoded-words in a header value (B and Q, UTF-8/ASCII/Latin-1 kept as
// bytes).
std::string DecodeWords(std::string_view s);
std::string QuotedPrintable(std::string_view s);
std::string Base64Lines(std::string_view s);
// Formats a mailbox for a header: encodes a non-ASCII display name and
// quotes specials.
Result<std::string> FormatAddress(std::string_view address);
// The bare address of "Name <a@b>" or "a@b".
std::string AddrSpec(std::string_view address);

// A parsed message, for inspection (/_aws/ses) and raw-message validation.
struct Part {
  std::vector<std::pair<std::string, std::string>> headers;  // unfolded
  std::string body;                                          // decoded
  std::vector<Part> children;
  std::string Header(std::string_view name) const;
  std::string ContentType()
      const;  // lower-case type/subtype, "text/plain" default
};
// Parses a message; errors say what is malformed (missing header/body
// separator, bad multipart structure, over-long lines).
Result<Part> Parse(std::string_view message);
// First text/plain and text/html bodies found (depth-first).
void FindBodies(const Part& p, std::string* text, std::string* html);
// Splits an address-list header into addresses ("a@b, Name <c@d>").
std::vector<std::string> AddressList(std::string_view value);

}  // namespace sesame::mime
