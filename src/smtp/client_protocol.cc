#include "smtp/client_protocol.h"

#include <cctype>
#include <charconv>

#include "smtp/command.h"

namespace sesame::smtp {

std::string Reply::ToString() const {
  return std::to_string(code) + (lines.empty() ? "" : " " + lines.back());
}

Status ReplyParser::Feed(std::string_view bytes) {
  buf_.append(bytes);
  size_t start = 0;
  while (true) {
    size_t nl = buf_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(buf_.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = nl + 1;
    if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
        !std::isdigit(static_cast<unsigned char>(line[1])) ||
        !std::isdigit(static_cast<unsigned char>(line[2])) ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      buf_.erase(0, start);
      return Error::Permanent("protocol", "malformed reply line: " +
                                              std::string(line.substr(0, 80)));
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599) {
      buf_.erase(0, start);
      return Error::Permanent("protocol", "reply code out of range: " +
                                              std::string(line.substr(0, 80)));
    }
    if (partial_.code != 0 && partial_.code != code) {
      buf_.erase(0, start);
      return Error::Permanent("protocol", "multi-line reply changed its code");
    }
    partial_.code = code;
    partial_.lines.emplace_back(line.size() > 4 ? line.substr(4)
                                                : std::string_view());
    if (line.size() == 3 || line[3] == ' ') {
      ready_.push_back(std::move(partial_));
      partial_ = Reply();
    }
    if (partial_.lines.size() > 1000)
      return Error::Permanent("protocol", "reply with too many lines");
  }
  buf_.erase(0, start);
  if (buf_.size() > 64 * 1024)
    return Error::Permanent("protocol", "reply line too long");
  return Ok{};
}

Reply ReplyParser::TakeReply() {
  Reply r = std::move(ready_.front());
  ready_.erase(ready_.begin());
  return r;
}

Capabilities ParseCapabilities(const Reply& ehlo) {
  Capabilities c;
  for (size_t i = 1; i < ehlo.lines.size(); ++i) {  // line 0 is the greeting
    std::string_view l = ehlo.lines[i];
    size_t sp = l.find(' ');
    std::string kw = AsciiLower(l.substr(0, sp));
    if (kw == "pipelining") c.pipelining = true;
    if (kw == "8bitmime") c.eight_bit_mime = true;
    if (kw == "smtputf8") c.smtputf8 = true;
    if (kw == "starttls") c.starttls = true;
    if (kw == "chunking") c.chunking = true;
    if (kw == "enhancedstatuscodes") c.enhanced_status_codes = true;
    if (kw == "size") {
      uint64_t n = 0;
      if (sp != std::string_view::npos) {
        std::string_view v = l.substr(sp + 1);
        std::from_chars(v.data(), v.data() + v.size(), n);
      }
      c.size = n;
    }
  }
  return c;
}

std::string DotStuff(std::string_view m) {
  std::string out;
  out.reserve(m.size() + m.size() / 64 + 8);
  bool line_start = true;
  size_t i = 0;
  while (i < m.size()) {
    if (line_start && m[i] == '.') out.push_back('.');
    size_t nl = m.find('\n', i);
    size_t end = nl == std::string_view::npos ? m.size() : nl + 1;
    out.append(m.substr(i, end - i));
    line_start = nl != std::string_view::npos;
    i = end;
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)
    out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace sesame::smtp
