#include "smtp/message_check.h"

#include <array>

#include "smtp/address.h"

namespace sesame::smtp {
namespace {

// RFC 5322 3.6: the fields with a maximum of one occurrence.
constexpr std::array<std::string_view, 11> kUniqueFields = {
    "date", "from",       "sender",      "reply-to",   "to",     "cc",
    "bcc",  "message-id", "in-reply-to", "references", "subject"};

Error Bad(std::string msg) {
  return Error::Permanent("content", std::move(msg));
}

// The canonical spelling of a unique field for messages ("Message-ID").
std::string Spelling(std::string_view lower) {
  if (lower == "message-id") return "Message-ID";
  std::string s(lower);
  bool up = true;
  for (char& c : s) {
    if (up && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    up = c == '-';
  }
  return s;
}

bool IsFieldNameChar(unsigned char c) {
  return c >= 33 && c <= 126 && c != ':';
}

}  // namespace

Status CheckMessage(std::string_view m) {
  std::array<int, kUniqueFields.size()> seen{};
  bool in_header = true;
  size_t line = 1;
  for (size_t pos = 0; pos < m.size(); ++line) {
    size_t eol = m.find_first_of(std::string_view("\r\n\0", 3), pos);
    if (eol == std::string_view::npos) eol = m.size();
    if (eol < m.size() && m[eol] == '\0') {
      return Bad("line " + std::to_string(line) +
                 ": NUL character (not allowed in mail; encode binary "
                 "content with base64)");
    }
    if (eol < m.size() && m[eol] == '\n')
      return Bad("line " + std::to_string(line) +
                 ": bare LF (lines end in CRLF)");
    if (eol < m.size() && (eol + 1 >= m.size() || m[eol + 1] != '\n'))
      return Bad("line " + std::to_string(line) +
                 ": bare CR (lines end in CRLF)");
    std::string_view text = m.substr(pos, eol - pos);
    pos = eol == m.size() ? eol : eol + 2;
    if (!in_header) continue;
    if (text.empty()) {
      in_header = false;
      continue;
    }
    if (text[0] == ' ' || text[0] == '\t') {
      if (line == 1)
        return Bad("line 1: a continuation line cannot start the header");
      continue;
    }
    size_t colon = 0;
    while (colon < text.size() &&
           IsFieldNameChar(static_cast<unsigned char>(text[colon])))
      ++colon;
    if (colon == 0 || colon >= text.size() || text[colon] != ':') {
      return Bad("line " + std::to_string(line) +
                 ": malformed header field (expected \"Name: value\")");
    }
    std::string name = AsciiLower(text.substr(0, colon));
    for (size_t i = 0; i < kUniqueFields.size(); ++i) {
      if (name == kUniqueFields[i] && ++seen[i] > 1)
        return Bad("duplicate " + Spelling(name) +
                   " header (RFC 5322 3.6 allows one)");
    }
  }
  return Ok{};
}

std::string CanonicalLineEndings(std::string raw) {
  bool bare_lf = false;
  for (size_t i = raw.find('\n'); i != std::string::npos && !bare_lf;
       i = raw.find('\n', i + 1))
    bare_lf = i == 0 || raw[i - 1] != '\r';
  if (!bare_lf) return raw;
  std::string out;
  out.reserve(raw.size() + raw.size() / 50);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) out += '\r';
    out += raw[i];
  }
  return out;
}

bool HasHeader(std::string_view m, std::string_view name) {
  for (size_t pos = 0; pos < m.size();) {
    size_t eol = m.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = m.size();
    std::string_view line = m.substr(pos, eol - pos);
    if (line.empty()) return false;
    if (line.size() > name.size() && line[name.size()] == ':' &&
        AsciiLower(line.substr(0, name.size())) == AsciiLower(name))
      return true;
    pos = eol + 2;
  }
  return false;
}

}  // namespace sesame::smtp
