#pragma once

#include <string>
#include <string_view>

namespace sesame {

// ASCII-only helpers (protocol text: header names, domains, SMTP verbs).
// Pure; no locale.
inline std::string AsciiLowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Without leading and trailing characters from `chars` (spaces and tabs by
// default).
inline std::string TrimCopy(std::string_view s,
                            std::string_view chars = " \t") {
  size_t b = s.find_first_not_of(chars);
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(chars);
  return std::string(s.substr(b, e - b + 1));
}

// Escapes &, <, >, " and ' for XML text and attributes. Pure.
inline std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace sesame

namespace sesame {
// `s` quoted for an error message or a log line: control characters, '"',
// '\' and non-ASCII bytes become escapes (\r, \n, \x00...), and the text is
// cut at `max` bytes, so hostile input can neither break the message's
// format nor flood it.
inline std::string Quoted(std::string_view s, size_t max = 100) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out + "\"";
}
}  // namespace sesame
