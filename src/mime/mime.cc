#include "mime/mime.h"

#include <cctype>

#include "base/base64.h"
#include "base/ids.h"
#include "base/strings.h"

namespace sesame::mime {
namespace {

Error Bad(const std::string& m) { return Error::Permanent("mime", m); }

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

bool HasCrLf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// Longest line (without CRLF) in `s`.
size_t LongestLine(std::string_view s) {
  size_t longest = 0, start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    size_t end = nl == std::string_view::npos ? s.size() : nl;
    size_t len = end - start;
    if (len > 0 && s[end - 1] == '\r') --len;
    longest = std::max(longest, len);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return longest;
}

// Normalizes line endings to CRLF.
std::string Crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 40);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += "\r\n";
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (s[i] == '\n') {
      out += "\r\n";
    } else {
      out += s[i];
    }
  }
  return out;
}

// A text part: 7bit when ASCII with short lines, else quoted-printable when
// mostly ASCII, else base64.
std::string TextPart(const std::string& type, std::string_view content) {
  std::string body = Crlf(content);
  std::string headers = "Content-Type: " + type + "; charset=UTF-8\r\n";
  if (IsAscii(body) && LongestLine(body) <= 76) {
    return headers + "Content-Transfer-Encoding: 7bit\r\n\r\n" + body +
           (body.empty() || body.back() == '\n' ? "" : "\r\n");
  }
  size_t high = 0;
  for (unsigned char c : body) high += c >= 0x80;
  if (high * 4 < body.size()) {
    // A soft break keeps the decoded text exact when it lacks a final newline.
    bool eol =
        body.size() >= 2 && body.compare(body.size() - 2, 2, "\r\n") == 0;
    return headers + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
           QuotedPrintable(body) + (eol ? "" : "=\r\n");
  }
  return headers + "Content-Transfer-Encoding: base64\r\n\r\n" +
         Base64Lines(body);
}

std::string Boundary(const std::string& seed, int n) {
  return "=_sesame_" + seed + "_" + std::to_string(n);
}

std::string Multipart(const std::string& subtype, const std::string& boundary,
                      const std::vector<std::string>& parts) {
  std::string out = "Content-Type: multipart/" + subtype +
                    ";\r\n\tboundary=\"" + boundary + "\"\r\n\r\n";
  for (const auto& p : parts)
    out += "--" + boundary + "\r\n" + p +
           (p.size() >= 2 && p.substr(p.size() - 2) == "\r\n" ? "" : "\r\n");
  out += "--" + boundary + "--\r\n";
  return out;
}

std::string Param(const std::string& value) {
  // A quoted MIME parameter; non-ASCII names as RFC 2047 words (what mail
  // clients read, despite RFC 2231).
  std::string v = IsAscii(value) ? value : EncodeWord(value);
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string DecodeQp(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && i + 1 < s.size()) {
      if (s[i + 1] == '\r' || s[i + 1] == '\n') {  // soft line break
        i += (s[i + 1] == '\r' && i + 2 < s.size() && s[i + 2] == '\n') ? 2 : 1;
        continue;
      }
      if (i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
          HexValue(s[i + 2]) >= 0) {
        out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string DecodeBase64Loose(std::string_view s) {
  std::string clean;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' ||
        c == '=')
      clean += c;
  }
  while (clean.size() % 4) clean += '=';
  auto d = Base64Decode(clean);
  return d ? *d : std::string();
}

std::string HeaderParam(const std::string& value, const std::string& name) {
  std::string lower = AsciiLowerCopy(value);
  size_t pos = 0;
  while ((pos = lower.find(name + "=", pos)) != std::string::npos) {
    if (pos == 0 || lower[pos - 1] == ';' || lower[pos - 1] == ' ' ||
        lower[pos - 1] == '\t')
      break;
    pos += name.size();
  }
  if (pos == std::string::npos) return "";
  size_t v = pos + name.size() + 1;
  if (v < value.size() && value[v] == '"') {
    size_t end = value.find('"', v + 1);
    return value.substr(
        v + 1, end == std::string::npos ? std::string::npos : end - v - 1);
  }
  size_t end = value.find_first_of("; \t", v);
  return value.substr(v,
                      end == std::string::npos ? std::string::npos : end - v);
}

Result<Part> ParsePart(std::string_view text, int depth) {
  if (depth > 20) return Bad("MIME nesting deeper than 20 levels");
  Part p;
  size_t sep = text.find("\r\n\r\n");
  size_t sep_len = 4;
  if (sep == std::string_view::npos) {
    if (text.size() >= 2 && text.substr(text.size() - 2) == "\r\n" &&
        text.find("\r\n\r\n") == std::string_view::npos) {
      sep = text.size();  // headers only, empty body
      sep_len = 0;
    } else {
      return Bad("message has no blank line between headers and body");
    }
  }
  if (text.substr(0, 2) == "\r\n") {  // no headers at all
    sep = 0;
    sep_len = 2;
  }
  std::string_view head = text.substr(0, sep);
  std::string_view body = sep + sep_len <= text.size()
                              ? text.substr(sep + sep_len)
                              : std::string_view();
  size_t start = 0;
  while (start < head.size()) {
    size_t eol = head.find("\r\n", start);
    if (eol == std::string_view::npos) eol = head.size();
    std::string_view line = head.substr(start, eol - start);
    start = eol + 2;
    if (line.empty()) continue;
    if (line[0] == ' ' || line[0] == '\t') {
      if (p.headers.empty())
        return Bad("header continuation before any header");
      p.headers.back().second += " " + TrimCopy(line);
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Bad("malformed header line: " + std::string(line.substr(0, 60)));
    }
    p.headers.emplace_back(std::string(line.substr(0, colon)),
                           TrimCopy(line.substr(colon + 1)));
  }
  std::string type = p.ContentType();
  if (type.rfind("multipart/", 0) == 0) {
    std::string boundary = HeaderParam(p.Header("Content-Type"), "boundary");
    if (boundary.empty()) return Bad("multipart part without a boundary");
    std::string delim = "--" + boundary;
    size_t pos = body.find(delim);
    if (pos == std::string_view::npos)
      return Bad("multipart boundary never appears");
    while (true) {
      size_t after = pos + delim.size();
      if (body.substr(after, 2) == "--") break;  // closing delimiter
      size_t content = body.find("\r\n", after);
      if (content == std::string_view::npos) return Bad("truncated multipart");
      content += 2;
      size_t next = body.find("\r\n" + delim, content);
      if (next == std::string_view::npos)
        return Bad("multipart without a closing boundary");
      auto child =
          ParsePart(body.substr(content, next - content + 2), depth + 1);
      if (!child.ok()) return child.error();
      p.children.push_back(std::move(*child));
      pos = next + 2;
    }
    return p;
  }
  std::string cte = AsciiLowerCopy(p.Header("Content-Transfer-Encoding"));
  if (cte == "base64") {
    p.body = DecodeBase64Loose(body);
  } else if (cte == "quoted-printable") {
    p.body = DecodeQp(body);
  } else {
    p.body = std::string(body);
  }
  return p;
}

}  // namespace

std::string EncodeWord(std::string_view s) {
  if (IsAscii(s) && !HasCrLf(s)) return std::string(s);
  // Base64 words of at most 45 input bytes, split on UTF-8 boundaries.
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t n = std::min<size_t>(45, s.size() - i);
    while (n > 0 && i + n < s.size() &&
           (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80)
      --n;
    if (n == 0) n = std::min<size_t>(45, s.size() - i);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + Base64Encode(s.substr(i, n)) + "?=";
    i += n;
  }
  return out;
}

std::string DecodeWords(std::string_view s) {
  std::string out;
  size_t i = 0;
  bool last_was_word = false;
  while (i < s.size()) {
    size_t start = s.find("=?", i);
    if (start == std::string_view::npos) {
      out += s.substr(i);
      break;
    }
    size_t q1 = s.find('?', start + 2);
    size_t q2 = q1 == std::string_view::npos ? q1 : s.find('?', q1 + 1);
    size_t end = q2 == std::string_view::npos ? q2 : s.find("?=", q2 + 1);
    if (end == std::string_view::npos) {
      out += s.substr(i);
      break;
    }
    std::string_view between = s.substr(i, start - i);
    if (!(last_was_word && TrimCopy(between).empty()))
      out += between;  // whitespace between words vanishes
    char enc =
        static_cast<char>(std::toupper(static_cast<unsigned char>(s[q1 + 1])));
    std::string_view text = s.substr(q2 + 1, end - q2 - 1);
    if (enc == 'B') {
      out += DecodeBase64Loose(text);
    } else {
      std::string t(text);
      for (char& c : t) {
        if (c == '_') c = ' ';
      }
      out += DecodeQp(t);
    }
    i = end + 2;
    last_was_word = true;
  }
  return out;
}

std::string QuotedPrintable(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  size_t line = 0;
  auto emit = [&](const std::string& token) {
    if (line + token.size() > 75) {
      out += "=\r\n";
      line = 0;
    }
    out += token;
    line += token.size();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
      // Trailing whitespace before a line break must be encoded.
      if (!out.empty() && (out.back() == ' ' || out.back() == '\t')) {
        char ws = out.back();
        out.pop_back();
        out += std::string("=") + kHex[ws >> 4] + kHex[ws & 15];
      }
      out += "\r\n";
      line = 0;
      ++i;
      continue;
    }
    if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') {
      emit(std::string(1, static_cast<char>(c)));
    } else {
      emit(std::string("=") + kHex[c >> 4] + kHex[c & 15]);
    }
  }
  return out;
}

std::string Base64Lines(std::string_view s) {
  std::string b = Base64Encode(s), out;
  for (size_t i = 0; i < b.size(); i += 76) out += b.substr(i, 76) + "\r\n";
  return out;
}

std::string AddrSpec(std::string_view address) {
  size_t lt = address.rfind('<');
  size_t gt = address.rfind('>');
  if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) {
    return TrimCopy(address.substr(lt + 1, gt - lt - 1));
  }
  return TrimCopy(address);
}

Result<std::string> FormatAddress(std::string_view address) {
  if (HasCrLf(address)) return Bad("address contains CR or LF");
  std::string spec = AddrSpec(address);
  if (spec.empty() || spec.find('@') == std::string::npos)
    return Bad("invalid address: " + std::string(address));
  size_t lt = address.rfind('<');
  if (lt == std::string_view::npos) return spec;
  std::string name = TrimCopy(address.substr(0, lt));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"')
    name = name.substr(1, name.size() - 2);
  if (name.empty()) return "<" + spec + ">";
  if (!IsAscii(name)) return EncodeWord(name) + " <" + spec + ">";
  if (name.find_first_of("()<>[]:;@\\,.\"") != std::string::npos) {
    std::string q = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return q + "\" <" + spec + ">";
  }
  return name + " <" + spec + ">";
}

Result<std::string> Build(const SimpleMessage& m) {
  std::string h;
  auto list = [&](const char* name,
                  const std::vector<std::string>& addrs) -> Status {
    if (addrs.empty()) return Ok{};
    std::string v;
    for (size_t i = 0; i < addrs.size(); ++i) {
      auto a = FormatAddress(addrs[i]);
      if (!a.ok()) return a.error();
      v += (i ? ",\r\n " : "") + *a;
    }
    h += std::string(name) + ": " + v + "\r\n";
    return Ok{};
  };
  auto from = FormatAddress(m.from);
  if (!from.ok()) return from.error();
  if (HasCrLf(m.subject)) return Bad("subject contains CR or LF");
  h += "From: " + *from + "\r\n";
  Status s = list("To", m.to);
  if (!s.ok()) return s.error();
  s = list("Cc", m.cc);
  if (!s.ok()) return s.error();
  s = list("Reply-To", m.reply_to);
  if (!s.ok()) return s.error();
  h += "Subject: " + EncodeWord(m.subject) + "\r\n";
  h += "Message-ID: " + m.message_id + "\r\n";
  h += "Date: " + Rfc5322Date(m.date_ms) + "\r\n";
  h += "MIME-Version: 1.0\r\n";
  for (const auto& [name, value] : m.headers) {
    if (HasCrLf(name) || HasCrLf(value))
      return Bad("header " + name + " contains CR or LF");
    if (name.empty() || name.find_first_of(": \t") != std::string::npos)
      return Bad("invalid header name: " + name);
    h += name + ": " + (IsAscii(value) ? value : EncodeWord(value)) + "\r\n";
  }
  // Boundary characters must be RFC 2046 bchars: keep letters and digits.
  std::string seed;
  for (char c : m.message_id) {
    if (std::isalnum(static_cast<unsigned char>(c)) && seed.size() < 16)
      seed += c;
  }
  if (seed.empty()) seed = "b";
  int nb = 0;
  // Body: alternative(text, html) or one of them.
  std::vector<std::string> alt;
  if (!m.text.empty() || m.html.empty())
    alt.push_back(TextPart("text/plain", m.text));
  if (!m.html.empty()) alt.push_back(TextPart("text/html", m.html));
  std::string body = alt.size() == 1
                         ? alt[0]
                         : Multipart("alternative", Boundary(seed, ++nb), alt);
  std::vector<std::string> inline_parts, attached;
  for (const auto& a : m.attachments) {
    if (HasCrLf(a.filename) || HasCrLf(a.content_type) ||
        HasCrLf(a.content_id)) {
      return Bad("attachment field contains CR or LF");
    }
    std::string part = "Content-Type: " + a.content_type +
                       "; name=" + Param(a.filename) + "\r\n";
    part += "Content-Transfer-Encoding: base64\r\n";
    part += std::string("Content-Disposition: ") +
            (a.inline_disposition ? "inline" : "attachment") +
            "; filename=" + Param(a.filename) + "\r\n";
    if (!a.content_id.empty()) part += "Content-ID: <" + a.content_id + ">\r\n";
    part += "\r\n" + Base64Lines(a.content);
    (a.inline_disposition ? inline_parts : attached).push_back(part);
  }
  if (!inline_parts.empty()) {
    inline_parts.insert(inline_parts.begin(), body);
    body = Multipart("related", Boundary(seed, ++nb), inline_parts);
  }
  if (!attached.empty()) {
    attached.insert(attached.begin(), body);
    body = Multipart("mixed", Boundary(seed, ++nb), attached);
  }
  return h + body;
}

std::string Part::Header(std::string_view name) const {
  std::string n = AsciiLowerCopy(name);
  for (const auto& [k, v] : headers) {
    if (AsciiLowerCopy(k) == n) return v;
  }
  return "";
}

std::string Part::ContentType() const {
  std::string ct = AsciiLowerCopy(Header("Content-Type"));
  std::string t = TrimCopy(ct.substr(0, ct.find(';')));
  return t.empty() ? "text/plain" : t;
}

Result<Part> Parse(std::string_view message) {
  if (LongestLine(message) > 998)
    return Bad("a line is longer than 998 characters");
  return ParsePart(message, 0);
}

void FindBodies(const Part& p, std::string* text, std::string* html) {
  if (p.children.empty()) {
    std::string t = p.ContentType();
    std::string disp = AsciiLowerCopy(p.Header("Content-Disposition"));
    if (disp.rfind("attachment", 0) == 0) return;
    if (t == "text/plain" && text->empty()) *text = p.body;
    if (t == "text/html" && html->empty()) *html = p.body;
    return;
  }
  for (const auto& c : p.children) FindBodies(c, text, html);
}

std::vector<std::string> AddressList(std::string_view value) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  int angle = 0;
  for (char c : value) {
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '<') ++angle;
    if (!quoted && c == '>') --angle;
    if (c == ',' && !quoted && angle == 0) {
      std::string a = AddrSpec(cur);
      if (!a.empty()) out.push_back(a);
      cur.clear();
      continue;
    }
    cur += c;
  }
  std::string a = AddrSpec(cur);
  if (!a.empty()) out.push_back(a);
  return out;
}

}  // namespace sesame::mime
