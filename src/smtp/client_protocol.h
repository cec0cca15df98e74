#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sesame::smtp {

// One SMTP reply, possibly multi-line (RFC 5321 4.2).
struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // text after "NNN-" / "NNN "
  // "250 2.0.0 Ok" style single-line rendering of the last line.
  std::string ToString() const;
  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
};

// Incremental reply parser for the client side: feed bytes as they arrive,
// take complete replies. Malformed lines are a permanent protocol error.
// Owned by one client connection; not thread-safe.
class ReplyParser {
 public:
  // Appends bytes; returns an error on a malformed reply line.
  Status Feed(std::string_view bytes);
  bool HasReply() const { return !ready_.empty(); }
  Reply TakeReply();

 private:
  std::string buf_;
  Reply partial_;
  std::vector<Reply> ready_;
};

// What an EHLO reply advertises.
struct Capabilities {
  bool pipelining = false;
  bool eight_bit_mime = false;
  bool smtputf8 = false;
  bool starttls = false;
  bool chunking = false;
  bool enhanced_status_codes = false;
  std::optional<uint64_t> size;  // SIZE limit; 0 = no fixed limit
};
Capabilities ParseCapabilities(const Reply& ehlo);

// Transparency for DATA (RFC 5321 4.5.2): doubles leading dots, ensures a
// final CRLF, and appends the terminating ".\r\n".
std::string DotStuff(std::string_view message);

}  // namespace sesame::smtp
