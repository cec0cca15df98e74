#include "smtp/address.h"

#include <cctype>

namespace sesame::smtp {
namespace {

bool IsAtext(unsigned char c) {
  if (c >= 0x80) return true;  // UTF-8 (RFC 6531); validity checked separately
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
  }
  return false;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int n = c < 0x80         ? 0
            : (c >> 5) == 6  ? 1
            : (c >> 4) == 14 ? 2
            : (c >> 3) == 30 ? 3
                             : -1;
    if (n < 0 || (n == 1 && c < 0xC2)) return false;
    if (n > 0 && i + n >= s.size()) return false;
    for (int k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

Error Bad(std::string msg) {
  return Error::Permanent("syntax", std::move(msg));
}

// Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str].
bool ValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 255) return false;
  size_t start = 0;
  while (true) {
    size_t dot = d.find('.', start);
    std::string_view label =
        d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    for (size_t i = 0; i < label.size(); ++i) {
      unsigned char c = label[i];
      bool ok = std::isalnum(c) || c >= 0x80 ||
                (c == '-' && i != 0 && i + 1 != label.size());
      if (!ok) return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool ValidIpv4(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    int v = 0;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) &&
           j - i < 3) {
      v = v * 10 + (s[j] - '0');
      ++j;
    }
    if (j == i || v > 255) return false;
    ++parts;
    if (j == s.size()) break;
    if (s[j] != '.') return false;
    i = j + 1;
  }
  return parts == 4;
}

bool ValidAddressLiteral(std::string_view lit) {  // without brackets
  if (lit.empty()) return false;
  if (ValidIpv4(lit)) return true;
  size_t colon = lit.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view tag = lit.substr(0, colon);
  for (char c : tag) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  std::string_view rest = lit.substr(colon + 1);
  if (rest.empty()) return false;
  if (AsciiLower(tag) == "ipv6") {
    for (char c : rest) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return false;
    }
    return rest.find(':') != std::string_view::npos;
  }
  for (unsigned char c : rest) {
    if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\') return false;
  }
  return true;
}

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string HeaderValue(std::string_view message, std::string_view name) {
  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = message.size();
    std::string_view line = message.substr(pos, eol - pos);
    if (line.empty()) break;  // end of the header block
    if (line.size() > name.size() && line[name.size()] == ':' &&
        AsciiLower(line.substr(0, name.size())) == AsciiLower(name)) {
      std::string value(line.substr(name.size() + 1));
      // Unfold continuation lines.
      size_t next = eol + 2;
      while (next < message.size() &&
             (message[next] == ' ' || message[next] == '\t')) {
        size_t e = message.find("\r\n", next);
        if (e == std::string_view::npos) e = message.size();
        value += " ";
        value += message.substr(next, e - next);
        next = e + 2;
      }
      size_t b = value.find_first_not_of(" \t");
      size_t e = value.find_last_not_of(" \t");
      return b == std::string::npos ? "" : value.substr(b, e - b + 1);
    }
    pos = eol + 2;
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> MessageTagPairs(
    std::string_view value) {
  auto trim = [](std::string_view s) {
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string_view::npos ? std::string()
                                       : std::string(s.substr(b, e - b + 1));
  };
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < value.size()) {
    size_t comma = value.find(',', pos);
    std::string_view item = value.substr(pos, comma == std::string_view::npos
                                                  ? std::string_view::npos
                                                  : comma - pos);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string k = trim(item.substr(0, eq));
      if (!k.empty()) out.emplace_back(std::move(k), trim(item.substr(eq + 1)));
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::string WithoutHeaders(std::string message,
                           std::initializer_list<std::string_view> names) {
  auto named = [&](std::string_view line) {
    for (std::string_view name : names)
      if (line.size() > name.size() && line[name.size()] == ':' &&
          AsciiLower(line.substr(0, name.size())) == AsciiLower(name))
        return true;
    return false;
  };
  std::string out;
  bool changed = false, dropping = false;
  size_t pos = 0;
  while (pos < message.size()) {
    size_t eol = message.find("\r\n", pos);
    size_t end = eol == std::string::npos ? message.size() : eol + 2;
    std::string_view line(message.data() + pos, end - pos);
    if (line == "\r\n" || line.empty()) break;  // the body follows
    bool continuation = line[0] == ' ' || line[0] == '\t';
    if (!continuation) dropping = named(line);
    if (dropping) {
      if (!changed) out.assign(message, 0, pos);
      changed = true;
    } else if (changed) {
      out.append(line);
    }
    pos = end;
  }
  if (!changed) return message;
  out.append(message, pos, std::string::npos);
  return out;
}

std::string WithoutSesHeaders(std::string message) {
  return WithoutHeaders(std::move(message),
                        {"X-SES-CONFIGURATION-SET", "X-SES-MESSAGE-TAGS"});
}

bool IsValidDomain(std::string_view domain) {
  return ValidUtf8(domain) && ValidDomain(domain);
}

bool SafeCommandText(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) ==
         std::string_view::npos;
}

Result<Path> ParseMailbox(std::string_view address) {
  if (address.empty()) return Bad("empty address");
  if (address.front() == '<' || address.back() == '>')
    return Bad("address must not be enclosed in <>");
  std::string bracketed;
  bracketed.reserve(address.size() + 2);
  bracketed.append("<").append(address).append(">");
  auto p = ParsePath(bracketed, /*allow_null=*/false,
                     /*allow_postmaster=*/false);
  if (!p.ok()) return p;
  if (p->source_route) return Bad("source routes are not allowed");
  return p;
}

bool LocalPartRoutes(std::string_view local) {
  return local.find_first_of("%!@") != std::string_view::npos;
}

Result<Path> ParsePath(std::string_view text, bool allow_null,
                       bool allow_postmaster) {
  Path p;
  if (text.size() < 2 || text.front() != '<' || text.back() != '>') {
    return Bad("address must be enclosed in <>");
  }
  if (text.size() > 256 + 2) return Bad("path longer than 256 octets");
  std::string_view in = text.substr(1, text.size() - 2);
  if (!ValidUtf8(in)) return Bad("address is not valid UTF-8");
  if (in.empty()) {
    if (!allow_null) return Bad("null path not allowed here");
    p.null = true;
    return p;
  }
  if (allow_postmaster && AsciiLower(in) == "postmaster") {
    p.postmaster = true;
    p.local = std::string(in);
    return p;
  }
  // Source route: "@a,@b:mailbox" (RFC 5321 4.1.2; to be ignored, C.).
  if (in.front() == '@') {
    size_t colon = in.find(':');
    if (colon == std::string_view::npos) return Bad("source route without ':'");
    std::string_view adl = in.substr(0, colon);
    size_t start = 0;
    while (start < adl.size()) {
      size_t comma = adl.find(',', start);
      std::string_view at =
          adl.substr(start, comma == adl.npos ? adl.npos : comma - start);
      if (at.size() < 2 || at[0] != '@' || !ValidDomain(at.substr(1))) {
        return Bad("malformed source route");
      }
      if (comma == adl.npos) break;
      start = comma + 1;
    }
    p.source_route = true;
    in = in.substr(colon + 1);
  }
  // Local part.
  size_t i = 0;
  if (!in.empty() && in[0] == '"') {
    i = 1;
    bool closed = false;
    while (i < in.size()) {
      unsigned char c = in[i];
      if (c == '\\') {
        if (i + 1 >= in.size() || static_cast<unsigned char>(in[i + 1]) < 32 ||
            static_cast<unsigned char>(in[i + 1]) > 126) {
          return Bad("bad quoted-pair in local part");
        }
        i += 2;
        continue;
      }
      if (c == '"') {
        closed = true;
        ++i;
        break;
      }
      if (c < 32 || c == 127)
        return Bad("control character in quoted local part");
      ++i;
    }
    if (!closed) return Bad("unterminated quoted local part");
  } else {
    bool prev_dot = true;  // a leading dot is invalid
    while (i < in.size() && in[i] != '@') {
      unsigned char c = in[i];
      if (c == '.') {
        if (prev_dot)
          return Bad("empty atom in local part (\"..\" or leading \".\")");
        prev_dot = true;
      } else if (IsAtext(c)) {
        prev_dot = false;
      } else {
        return Bad(std::string("invalid character in local part: '") + char(c) +
                   "'");
      }
      ++i;
    }
    if (i == 0) return Bad("empty local part");
    if (prev_dot) return Bad("local part ends with \".\"");
  }
  p.local = std::string(in.substr(0, i));
  if (p.local.size() > 64) return Bad("local part longer than 64 octets");
  if (i >= in.size() || in[i] != '@') return Bad("missing @domain");
  std::string_view domain = in.substr(i + 1);
  if (domain.empty()) return Bad("empty domain");
  if (domain.front() == '[') {
    if (domain.back() != ']' ||
        !ValidAddressLiteral(domain.substr(1, domain.size() - 2))) {
      return Bad("malformed address literal");
    }
    p.domain_literal = true;
  } else if (!ValidDomain(domain)) {
    return Bad("malformed domain");
  }
  p.domain = std::string(domain);
  for (unsigned char c : in) {
    if (c >= 0x80) {
      p.non_ascii = true;
      break;
    }
  }
  return p;
}

}  // namespace sesame::smtp
