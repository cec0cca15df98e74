#include "feedback/report.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <set>

#include "base/base64.h"

namespace sesame::feedback {

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

char LowerChar(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = LowerChar(c);
  return out;
}
std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// Any of CRLF, CR or LF line ends becomes LF.
std::string NormalizeLines(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r') {
      out += '\n';
      if (i + 1 < in.size() && in[i + 1] == '\n') ++i;
    } else {
      out += in[i];
    }
  }
  return out;
}

// Splits a header block from its body at the first empty line; unfolds.
void SplitMessage(std::string_view msg, Headers* headers,
                  std::string_view* body) {
  size_t pos = 0;
  std::string current_name, current_value;
  auto flush = [&] {
    if (!current_name.empty())
      headers->emplace_back(Lower(current_name), Trim(current_value));
    current_name.clear();
    current_value.clear();
  };
  while (pos < msg.size()) {
    size_t nl = msg.find('\n', pos);
    std::string_view line = msg.substr(
        pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    size_t next = nl == std::string_view::npos ? msg.size() : nl + 1;
    if (line.empty()) {
      pos = next;
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !current_name.empty()) {
      current_value += " " + Trim(line);
    } else {
      size_t colon = line.find(':');
      bool valid = colon != std::string_view::npos && colon > 0;
      for (size_t i = 0; valid && i < colon; ++i) {
        unsigned char c = static_cast<unsigned char>(line[i]);
        valid = c > 32 && c < 127;
      }
      if (!valid) {
        // Not a header: the body starts here (no blank line separator).
        flush();
        *body = msg.substr(pos);
        return;
      }
      flush();
      current_name = std::string(line.substr(0, colon));
      current_value = std::string(line.substr(colon + 1));
    }
    pos = next;
  }
  flush();
  *body = pos < msg.size() ? msg.substr(pos) : std::string_view();
}

std::string HeaderOf(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h) {
    if (k == name) return v;
  }
  return "";
}

// A Content-Type parameter ("boundary", "report-type"), unquoted.
std::string Param(const std::string& content_type, std::string_view name) {
  std::string lower = Lower(content_type);
  size_t pos = 0;
  while ((pos = lower.find(name, pos)) != std::string::npos) {
    bool start_ok = pos == 0 || lower[pos - 1] == ';' ||
                    lower[pos - 1] == ' ' || lower[pos - 1] == '\t';
    size_t eq = pos + name.size();
    while (eq < lower.size() && lower[eq] == ' ') ++eq;
    if (!start_ok || eq >= lower.size() || lower[eq] != '=') {
      pos += name.size();
      continue;
    }
    size_t v = eq + 1;
    while (v < content_type.size() && content_type[v] == ' ') ++v;
    if (v < content_type.size() && content_type[v] == '"') {
      size_t end = content_type.find('"', v + 1);
      return content_type.substr(
          v + 1, end == std::string::npos ? std::string::npos : end - v - 1);
    }
    size_t end = content_type.find_first_of("; \t", v);
    return content_type.substr(
        v, end == std::string::npos ? std::string::npos : end - v);
  }
  return "";
}

std::string DecodeQuotedPrintable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && i + 1 < s.size() && s[i + 1] == '\n') {
      ++i;
    } else if (s[i] == '=' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(
          std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Leaf {
  std::string type;  // lower-case type/subtype
  Headers headers;
  std::string body;  // transfer-decoded, LF line ends
};

void Walk(const Headers& headers, std::string_view body, int depth,
          std::vector<Leaf>* leaves) {
  std::string ct = HeaderOf(headers, "content-type");
  std::string type = Lower(Trim(ct.substr(0, ct.find(';'))));
  if (type.empty()) type = "text/plain";
  if (type.rfind("multipart/", 0) == 0 && depth < 8) {
    std::string boundary = Param(ct, "boundary");
    if (!boundary.empty()) {
      std::string delim = "--" + boundary;
      std::vector<std::string_view> parts;
      size_t pos = 0;
      size_t start = std::string_view::npos;
      while (pos <= body.size()) {
        size_t nl = body.find('\n', pos);
        std::string_view line = body.substr(pos, nl == std::string_view::npos
                                                     ? std::string_view::npos
                                                     : nl - pos);
        std::string_view trimmed = line;
        while (!trimmed.empty() &&
               (trimmed.back() == ' ' || trimmed.back() == '\t'))
          trimmed.remove_suffix(1);
        if (trimmed.substr(0, delim.size()) == delim &&
            (trimmed.size() == delim.size() ||
             trimmed.substr(delim.size()) == "--")) {
          if (start != std::string_view::npos)
            parts.push_back(
                body.substr(start, pos > start ? pos - start - 1 : 0));
          if (trimmed.substr(delim.size()) == "--") {
            start = std::string_view::npos;
            break;
          }
          start = nl == std::string_view::npos ? body.size() : nl + 1;
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
      }
      // A truncated multipart (common in bounces): keep the last part.
      if (start != std::string_view::npos && start < body.size())
        parts.push_back(body.substr(start));
      if (!parts.empty()) {
        for (std::string_view p : parts) {
          Headers h;
          std::string_view b;
          SplitMessage(p, &h, &b);
          Walk(h, b, depth + 1, leaves);
        }
        return;
      }
    }
  }
  Leaf leaf;
  leaf.type = type;
  leaf.headers = headers;
  std::string cte = Lower(Trim(HeaderOf(headers, "content-transfer-encoding")));
  if (cte == "base64") {
    std::string compact;
    for (char c : body) {
      if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
    }
    auto decoded = Base64Decode(compact);
    leaf.body = decoded ? NormalizeLines(*decoded) : std::string(body);
  } else if (cte == "quoted-printable") {
    leaf.body = DecodeQuotedPrintable(body);
  } else {
    leaf.body = std::string(body);
  }
  leaves->push_back(std::move(leaf));
}

bool AddressChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || u >= 0x80 ||
         std::string_view("._%+-=!#$&'*/?^`{|}~").find(c) !=
             std::string_view::npos;
}
bool DomainChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '.' || c == '-' || u >= 0x80;
}

// RFC 3464 fields of a delivery-status body: the per-message block, then one
// block per recipient.
std::vector<Headers> StatusBlocks(std::string_view body) {
  std::vector<Headers> blocks;
  std::string text(body);
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && text[pos] == '\n') ++pos;
    if (pos >= text.size()) break;
    size_t end = text.find("\n\n", pos);
    std::string_view block(
        text.data() + pos,
        (end == std::string::npos ? text.size() : end) - pos);
    Headers h;
    std::string_view rest;
    SplitMessage(std::string(block) + "\n", &h, &rest);
    if (!h.empty()) blocks.push_back(std::move(h));
    if (end == std::string::npos) break;
    pos = end + 2;
  }
  return blocks;
}

// The RFC 822 address inside an X.400 one ("/C=US/ADMD=x/RFC-822=
// user(a)example.com/"), with RFC 2156's escapes undone: (a) '@', (p) '%',
// (b) '!', (q) '"', (u) '_', (l) '(', (r) ')'. "" when there is none.
std::string X400Rfc822(std::string_view v) {
  std::string lower = Lower(v);
  size_t p = lower.find("rfc-822=");
  if (p == std::string::npos) return "";
  p += 8;
  size_t end = v.find('/', p);
  std::string_view enc = v.substr(
      p, end == std::string_view::npos ? std::string_view::npos : end - p);
  std::string out;
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '(' && i + 2 < enc.size() && enc[i + 2] == ')') {
      static const std::pair<char, char> kEscapes[] = {
          {'a', '@'}, {'p', '%'}, {'b', '!'}, {'q', '"'},
          {'u', '_'}, {'l', '('}, {'r', ')'}};
      char c = static_cast<char>(
          std::tolower(static_cast<unsigned char>(enc[i + 1])));
      bool known = false;
      for (const auto& [code, ch] : kEscapes)
        if (c == code) out += ch, known = true;
      if (known) {
        i += 2;
        continue;
      }
    }
    out += enc[i];
  }
  return out.find('@') != std::string::npos ? out : "";
}

// "rfc822; a@b" -> "a@b"; "<a@b>" -> "a@b"; "x400; /.../RFC-822=a(a)b/"
// -> "a@b".
std::string FieldAddress(std::string_view v) {
  std::string s = Trim(v);
  if (size_t semi = s.find(';'); semi != std::string::npos)
    s = Trim(s.substr(semi + 1));
  if (std::string x400 = X400Rfc822(s); !x400.empty()) return x400;
  auto found = FindAddresses(s);
  if (!found.empty()) return found[0];
  if (!s.empty() && s.front() == '<') s = s.substr(1);
  if (!s.empty() && s.back() == '>') s.pop_back();
  return s;
}

// The enhanced status code in a text ("5.1.1"), or "".
std::string FindStatus(std::string_view text) {
  for (size_t i = 0; i + 5 <= text.size(); ++i) {
    char c = text[i];
    if ((c != '2' && c != '4' && c != '5') || text[i + 1] != '.') continue;
    if (i > 0 && (std::isdigit(static_cast<unsigned char>(text[i - 1])) ||
                  text[i - 1] == '.'))
      continue;
    size_t j = i + 2, d1 = 0, d2 = 0;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])))
      ++j, ++d1;
    if (d1 == 0 || d1 > 3 || j >= text.size() || text[j] != '.') continue;
    ++j;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])))
      ++j, ++d2;
    if (d2 == 0 || d2 > 3) continue;
    if (j < text.size() &&
        (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.'))
      if (j + 1 < text.size() &&
          std::isdigit(static_cast<unsigned char>(text[j + 1])))
        continue;  // an IP address or version number
    return std::string(text.substr(i, j - i));
  }
  return "";
}

// A three-digit SMTP reply code standing alone ("550 ", "550-"), or "".
std::string FindReplyCode(std::string_view text) {
  for (size_t i = 0; i + 3 <= text.size(); ++i) {
    char c = text[i];
    if (c != '4' && c != '5' && c != '2') continue;
    if (i > 0 && (std::isalnum(static_cast<unsigned char>(text[i - 1])) ||
                  text[i - 1] == '.' || text[i - 1] == '#' ||
                  text[i - 1] == '-' || text[i - 1] == ':'))
      continue;
    if (!std::isdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isdigit(static_cast<unsigned char>(text[i + 2])) ||
        text[i + 1] > '5')
      continue;
    if (i + 3 < text.size() && text[i + 3] != ' ' && text[i + 3] != '-' &&
        text[i + 3] != '\n' && text[i + 3] != ')' && text[i + 3] != ']')
      continue;
    return std::string(text.substr(i, 3));
  }
  return "";
}

// Where a quoted copy of the original message starts in a plain-text bounce.
size_t OriginalMarker(std::string_view text) {
  static const char* const kMarkers[] = {
      "--- below this line is a copy of the message",
      "------ this is a copy of the message",
      "----- original message -----",
      "-----original message-----",
      "original message follows",
      "--- the header of the original message is following",
      "------ original message headers ------",
      "returned message follows",
      "----- unsent message follows -----",
      "----- message header follows -----",
      "the original message headers",
      "original message header:",
      "content-type: message/rfc822",
      "content-type: text/rfc822-headers",
      "--- original message",
      "------- returned message --------",
      "----- transcript of session follows -----",
      "message headers follow",
      "headers of the original message",
      "original message headers",
      "copy of the original message",
      "the header of the original message",
      "------ this is a copy of your message",
      "----- the header of the original message is following. -----",
      "--- original message follows",
  };
  std::string lower = Lower(text);
  size_t best = std::string::npos;
  for (const char* m : kMarkers) {
    size_t p = lower.find(m);
    // The transcript is not the original, but what follows is not the
    // human-readable notice either... except that sendmail puts the
    // diagnostics there; keep it.
    if (std::string_view(m).find("transcript") != std::string_view::npos)
      continue;
    if (p != std::string::npos && p < best) best = p;
  }
  return best;
}

// True when every line of `text` naming `lower_address` is a header of a
// quoted message (Message-ID, Received, References...), not the notice.
bool OnlyInQuotedHeaders(std::string_view text,
                         const std::string& lower_address) {
  static const char* const kHeaders[] = {
      "message-id:",  "received:",       "references:",
      "in-reply-to:", "from:",           "return-path:",
      "reply-to:",    "sender:",         "x-",
      "id ",          "(envelope-from",  "for <",
      "by ",          "dkim-signature:", "list-",
      "errors-to:"};
  size_t pos = 0;
  bool any = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = Lower(text.substr(
        pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    if (line.find(lower_address) != std::string::npos) {
      std::string t = Trim(line);
      bool header = false;
      for (const char* h : kHeaders) header |= t.rfind(h, 0) == 0;
      if (!header) return false;
      any = true;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return any;
}

bool IsSystemAddress(std::string_view address) {
  std::string a = Lower(address);
  std::string local = a.substr(0, a.find('@'));
  return local == "mailer-daemon" || local == "postmaster" ||
         local == "mail-daemon" || local == "maildaemon" ||
         local == "mailerdaemon" || local == "root" || local == "daemon" ||
         local == "noreply" || local == "no-reply" ||
         local == "mail.delivery.system" || local == "abuse";
}

// A delay warning: its subject says so, or its text says the failure is
// temporary and delivery is still being tried.
bool IsDelayWarning(std::string_view subject, std::string_view text) {
  std::string ls = Lower(subject), lt = Lower(text);
  if (ls.find("delay") != std::string::npos) return true;
  static const char* const kStillTrying[] = {"only a temporary failure report",
                                             "has not yet been delivered",
                                             "will be retried",
                                             "still being retried",
                                             "delay reason:",
                                             "will continue to try"};
  for (const char* p : kStillTrying)
    if (lt.find(p) != std::string::npos) return true;
  return false;
}

bool LooksLikeBounce(const Headers& h) {
  std::string from = Lower(HeaderOf(h, "from"));
  std::string subject = Lower(HeaderOf(h, "subject"));
  static const char* const kFrom[] = {
      "mailer-daemon",   "postmaster",    "mail delivery",
      "mail-daemon",     "maildaemon",    "mail administrator",
      "delivery status", "mail.delivery", "post_master"};
  for (const char* f : kFrom) {
    if (from.find(f) != std::string::npos) return true;
  }
  static const char* const kSubject[] = {"undeliver",
                                         "delivery status notification",
                                         "failure notice",
                                         "returned mail",
                                         "mail delivery failed",
                                         "delivery failure",
                                         "undelivered",
                                         "could not be delivered",
                                         "delivery has failed",
                                         "returned to sender",
                                         "nondeliverable",
                                         "non-deliverable",
                                         "problem delivering",
                                         "delivery notification",
                                         "mail system error",
                                         "delivery failed",
                                         "warning: could not send",
                                         "message not delivered",
                                         "rejected",
                                         "error sending",
                                         "non remis",
                                         "unzustellbar",
                                         "notificacion",
                                         "mail could not be delivered",
                                         "delivery problem",
                                         "failed delivery",
                                         "returned message",
                                         "message delivery failure",
                                         "bounce",
                                         "no se puede entregar"};
  for (const char* s : kSubject) {
    if (subject.find(s) != std::string::npos) return true;
  }
  return !HeaderOf(h, "x-failed-recipients").empty();
}

bool LooksLikeAutoReply(const Headers& h) {
  std::string as = Lower(HeaderOf(h, "auto-submitted"));
  if (!as.empty() && as != "no") return true;
  if (!HeaderOf(h, "x-autoreply").empty() ||
      !HeaderOf(h, "x-autorespond").empty() ||
      !HeaderOf(h, "x-autoresponder").empty())
    return true;
  std::string prec = Lower(HeaderOf(h, "precedence"));
  if (prec == "auto_reply") return true;
  std::string subject = Lower(HeaderOf(h, "subject"));
  static const char* const kSubject[] = {"auto:",
                                         "automatic reply",
                                         "auto-reply",
                                         "autoreply",
                                         "auto reply",
                                         "out of office",
                                         "out of the office",
                                         "vacation",
                                         "abwesenheit",
                                         "absence",
                                         "away from",
                                         "autosvar",
                                         "respuesta automática",
                                         "réponse automatique"};
  for (const char* s : kSubject) {
    if (subject.find(s) != std::string::npos) return true;
  }
  return false;
}

// The human-readable text of a bounce: text parts before the quoted
// original, with HTML reduced to text.
std::string HumanText(const std::vector<Leaf>& leaves) {
  std::string out;
  for (const Leaf& l : leaves) {
    if (l.type.rfind("text/", 0) == 0 || l.type.rfind("multipart/", 0) == 0) {
      if (l.type == "text/rfc822-headers") continue;
      std::string t = l.body;
      if (l.type == "text/html") {
        std::string plain;
        bool in_tag = false;
        for (char c : t) {
          if (c == '<') {
            in_tag = true;
            plain += ' ';
          } else if (c == '>') {
            in_tag = false;
          } else if (!in_tag) {
            plain += c;
          }
        }
        t = plain;
      }
      size_t cut = OriginalMarker(t);
      if (cut != std::string::npos) t = t.substr(0, cut);
      out += t + "\n";
    }
  }
  return out;
}

// The paragraph of `text` about `address`: its line and those after it up to
// an empty line or a line naming another address.
std::string TextAbout(std::string_view text, std::string_view address,
                      const std::set<std::string>& others) {
  std::string lower = Lower(text);
  size_t at = lower.find(Lower(address));
  if (at == std::string::npos) return "";
  size_t begin = lower.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::string out;
  size_t pos = begin;
  int lines = 0;
  bool extended = false;
  while (pos < text.size() && lines < 12) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(
        pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (lines > 0) {
      std::string t = Trim(line);
      bool rule =
          !t.empty() && t.find_first_not_of("=-*_ ") == std::string::npos;
      if (t.empty() || rule) {
        // A blank line or a rule may separate an address from its reason:
        // go on while what was collected says little beyond the address.
        if (Trim(out).size() < address.size() + 24) goto next;
        // One more paragraph when this one gave no reply or status code.
        if (!extended && FindReplyCode(out).empty() &&
            FindStatus(out).empty()) {
          extended = true;
          goto next;
        }
        break;
      }
      bool other = false;
      for (const auto& o : others) {
        if (o != Lower(address) && Lower(line).find(o) != std::string::npos)
          other = true;
      }
      if (other) break;
    }
    out += std::string(line) + "\n";
    ++lines;
  next:
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return out;
}

// The SMTP command a failure answered ("DATA", "RCPT", "MAIL"), from the
// wording of Postfix, Exim, DragonFly and others, or from a session
// transcript (">>> DATA" then "<<< 550 ..."); "" when unknown.
std::string FailedCommand(const std::string& text) {
  std::string t;
  bool space = false;
  for (char c : text) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (c == '\n') {
      // Keep line structure for transcripts, but join wrapped phrases.
      t += '\n';
      space = false;
      continue;
    }
    if (space && !t.empty() && t.back() != '\n') t += ' ';
    space = false;
    t += LowerChar(c);
  }
  std::string joined = t;
  std::replace(joined.begin(), joined.end(), '\n', ' ');
  struct Phrase {
    const char* text;
    const char* command;
  };
  static const Phrase kPhrases[] = {
      {"in reply to end of data", "DATA"},
      {"in reply to data", "DATA"},
      {"after end of data", "DATA"},
      {"after data", "DATA"},
      {"our final data", "DATA"},
      {"in reply to rcpt to", "RCPT"},
      {"after rcpt to", "RCPT"},
      {"our rcpt to", "RCPT"},
      {"in reply to mail from", "MAIL"},
      {"after mail from", "MAIL"},
      {"our mail from", "MAIL"},
      {"after rcpt command", "RCPT"},
      {"[rcpt_to]", "RCPT"},
      {"most progress was rcpt to", "RCPT"},
      {"after data command", "DATA"},
      {"does not like recipient", "RCPT"},
  };
  size_t best = std::string::npos;
  std::string command;
  for (const auto& p : kPhrases) {
    size_t at = joined.find(p.text);
    if (at < best) {
      best = at;
      command = p.command;
    }
  }
  if (!command.empty()) return command;
  // Transcript: the last command sent before the first 4xx/5xx reply.
  std::string last;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    std::string line = Trim(
        t.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (line.rfind(">>> ", 0) == 0) {
      std::string cmd = Trim(line.substr(4));
      last = cmd.rfind("data", 0) == 0 || cmd == "." ? "DATA"
             : cmd.rfind("rcpt", 0) == 0             ? "RCPT"
             : cmd.rfind("mail", 0) == 0             ? "MAIL"
                                                     : "";
    } else if (line.rfind("<<< ", 0) == 0 && line.size() > 4 &&
               (line[4] == '4' || line[4] == '5')) {
      return last;
    }
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return "";
}

void FillCodes(ReportRecipient* r) {
  std::string diag = r->diagnostic;
  // "smtp; 550 5.1.1 ..." -> the reply code after the type.
  std::string_view rest = diag;
  if (size_t semi = diag.find(';'); semi != std::string::npos && semi < 12)
    rest = std::string_view(diag).substr(semi + 1);
  if (r->reply_code.empty()) r->reply_code = FindReplyCode(rest);
  if (r->status.empty()) r->status = FindStatus(diag);
}

void AddComplained(const std::vector<std::string>& addresses, Report* report) {
  for (const auto& a : addresses) {
    ReportRecipient r;
    r.address = a;
    r.action = "complained";
    report->recipients.push_back(std::move(r));
  }
}

// An Amazon SES notification (JSON with notificationType Bounce, Complaint
// or Delivery) in a message body; true when it was one.
bool ParseSesNotification(const std::string& text, Report* report) {
  size_t key = text.find("\"notificationType\"");
  if (key == std::string::npos) {
    // Wrapped in an SNS envelope: the notification is its Message string.
    if (text.find("notificationType\\\"") == std::string::npos) return false;
    size_t open = text.find('{'), close = text.rfind('}');
    if (open == std::string::npos || close == std::string::npos) return false;
    std::string joined;
    for (size_t i = open; i <= close; ++i)
      if (text[i] != '\n') joined += text[i];
    boost::system::error_code ec;
    boost::json::value outer = boost::json::parse(joined, ec);
    if (ec || !outer.is_object()) return false;
    auto* m = outer.as_object().if_contains("Message");
    if (!m || !m->is_string()) return false;
    std::string inner(m->as_string());
    if (inner.find("\"notificationType\"") == std::string::npos) return false;
    return ParseSesNotification(inner, report);
  }
  size_t open = text.rfind('{', key);
  size_t close = text.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < key)
    return false;
  std::string json_text = text.substr(open, close - open + 1);
  // SNS email wraps long lines with "!\n " in some samples; join them.
  std::string joined;
  for (size_t i = 0; i < json_text.size(); ++i) {
    if (json_text[i] == '\n') continue;
    joined += json_text[i];
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(joined, ec);
  if (ec || !v.is_object()) return false;
  const auto& o = v.as_object();
  auto str = [](const boost::json::object& obj, const char* k) -> std::string {
    auto* x = obj.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : "";
  };
  std::string type = str(o, "notificationType");
  if (type.empty()) type = str(o, "eventType");
  auto section = [&](const char* k) -> const boost::json::object* {
    auto* x = o.if_contains(k);
    return x && x->is_object() ? &x->as_object() : nullptr;
  };
  if (type == "Bounce" && section("bounce")) {
    const auto& b = *section("bounce");
    report->kind = ReportKind::kBounce;
    report->reporting_mta = str(b, "reportingMTA");
    auto* list = b.if_contains("bouncedRecipients");
    bool permanent = str(b, "bounceType") == "Permanent";
    for (const auto& e :
         list && list->is_array() ? list->as_array() : boost::json::array()) {
      if (!e.is_object()) continue;
      ReportRecipient r;
      r.address = str(e.as_object(), "emailAddress");
      r.action = str(e.as_object(), "action");
      r.status = str(e.as_object(), "status");
      r.diagnostic = str(e.as_object(), "diagnosticCode");
      if (r.action.empty()) r.action = "failed";
      report->recipients.push_back(std::move(r));
    }
    (void)permanent;
    return true;
  }
  if (type == "Complaint" && section("complaint")) {
    const auto& c = *section("complaint");
    report->kind = ReportKind::kComplaint;
    report->feedback_type = str(c, "complaintFeedbackType");
    if (report->feedback_type.empty()) report->feedback_type = "abuse";
    report->user_agent = str(c, "userAgent");
    report->arrival_date = str(c, "arrivalDate");
    auto* list = c.if_contains("complainedRecipients");
    for (const auto& e :
         list && list->is_array() ? list->as_array() : boost::json::array()) {
      if (!e.is_object()) continue;
      ReportRecipient r;
      r.address = str(e.as_object(), "emailAddress");
      r.action = "complained";
      report->recipients.push_back(std::move(r));
    }
    return true;
  }
  if (type == "Delivery" && section("delivery")) {
    const auto& d = *section("delivery");
    auto* list = d.if_contains("recipients");
    for (const auto& e :
         list && list->is_array() ? list->as_array() : boost::json::array()) {
      if (!e.is_string()) continue;
      ReportRecipient r;
      r.address = std::string(e.as_string());
      r.action = "delivered";
      r.status = "2.6.0";
      r.reply_code = "250";
      r.diagnostic = str(d, "smtpResponse");
      r.classification = ForReason("delivered", false);
      report->recipients.push_back(std::move(r));
    }
    return true;
  }
  return false;
}

}  // namespace

const char* KindName(ReportKind k) {
  switch (k) {
    case ReportKind::kBounce:
      return "bounce";
    case ReportKind::kComplaint:
      return "complaint";
    case ReportKind::kAutoReply:
      return "auto-reply";
    case ReportKind::kNone:
      break;
  }
  return "none";
}

std::string Report::OriginalHeader(std::string_view name) const {
  std::string n = Lower(name);
  for (const auto& [k, v] : original_headers) {
    if (k == n) return v;
  }
  return "";
}

std::vector<std::string> FindAddresses(std::string_view text) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (size_t at = text.find('@'); at != std::string_view::npos;
       at = text.find('@', at + 1)) {
    size_t b = at;
    while (b > 0 && AddressChar(text[b - 1])) --b;
    size_t e = at + 1;
    while (e < text.size() && DomainChar(text[e])) ++e;
    std::string local(text.substr(b, at - b));
    std::string domain(text.substr(at + 1, e - at - 1));
    while (!local.empty() && (local.front() == '.' || local.front() == '\'' ||
                              local.front() == '/'))
      local.erase(0, 1);
    // "rcpt to:<x@y>" style prefixes glued to the address.
    while (!domain.empty() && (domain.back() == '.' || domain.back() == '-'))
      domain.pop_back();
    if (local.empty() || domain.find('.') == std::string::npos ||
        domain.front() == '.' || local.size() > 64)
      continue;
    std::string address = local + "@" + domain;
    std::string key = Lower(address);
    if (seen.insert(key).second) out.push_back(address);
  }
  return out;
}

Report Analyze(std::string_view raw, const Classifier& classifier) {
  Report report;
  std::string msg = NormalizeLines(raw);
  // An mbox "From " line before the headers.
  if (msg.rfind("From ", 0) == 0) msg.erase(0, msg.find('\n') + 1);
  Headers top;
  std::string_view body;
  SplitMessage(msg, &top, &body);
  std::vector<Leaf> leaves;
  Walk(top, body, 0, &leaves);

  // The quoted original: a message/rfc822 or text/rfc822-headers part, or
  // the header block after a marker in a plain-text bounce.
  for (const Leaf& l : leaves) {
    if (l.type == "message/rfc822" || l.type == "text/rfc822-headers" ||
        l.type == "message/rfc822-headers" || l.type == "message/global" ||
        l.type == "message/global-headers") {
      std::string_view b;
      SplitMessage(l.body, &report.original_headers, &b);
      if (!report.original_headers.empty()) break;
    }
  }
  std::string text = HumanText(leaves);
  if (report.original_headers.empty()) {
    for (const Leaf& l : leaves) {
      if (l.type != "text/plain") continue;
      size_t m = OriginalMarker(l.body);
      if (m == std::string::npos) continue;
      size_t start = l.body.find('\n', m);
      if (start == std::string::npos) continue;
      std::string_view rest = std::string_view(l.body).substr(start + 1);
      while (!rest.empty() && rest.front() == '\n') rest.remove_prefix(1);
      std::string_view b;
      SplitMessage(rest, &report.original_headers, &b);
      if (!report.original_headers.empty()) break;
    }
  }

  // --- SES notifications delivered by email (SNS email subscriptions) ------
  // A bounce goes on to be classified below like any other.
  if (ParseSesNotification(text, &report) && report.kind != ReportKind::kBounce)
    return report;

  // --- complaints (RFC 5965) ---------------------------------------------
  std::string ct = Lower(HeaderOf(top, "content-type"));
  const Leaf* feedback = nullptr;
  for (const Leaf& l : leaves) {
    if (l.type == "message/feedback-report") feedback = &l;
  }
  bool arf = feedback || Param(ct, "report-type") == "feedback-report";
  // Microsoft's JMRP: no report part, the complained-about message attached.
  bool jmrp =
      !arf && Lower(HeaderOf(top, "subject")).find("complaint about message") !=
                  std::string::npos;
  if (jmrp) {
    report.kind = ReportKind::kComplaint;
    report.feedback_type = "abuse";
    report.user_agent = "JMRP";
    std::string rcpt = report.OriginalHeader("x-hmxmroriginalrecipient");
    AddComplained(
        FindAddresses(rcpt.empty() ? report.OriginalHeader("to") : rcpt),
        &report);
    return report;
  }
  Headers fields;
  if (feedback) {
    std::string_view b;
    SplitMessage(feedback->body, &fields, &b);
  } else if (!arf) {
    // Some providers send the report fields as plain text.
    for (const Leaf& l : leaves) {
      size_t p = Lower(l.body).find("feedback-type:");
      if (p != std::string::npos && (p == 0 || l.body[p - 1] == '\n')) {
        std::string_view b;
        SplitMessage(std::string_view(l.body).substr(p), &fields, &b);
        arf = !HeaderOf(fields, "feedback-type").empty();
        break;
      }
    }
  }
  if (arf) {
    report.kind = ReportKind::kComplaint;
    report.feedback_type = Lower(HeaderOf(fields, "feedback-type"));
    if (report.feedback_type.empty()) report.feedback_type = "abuse";
    report.user_agent = HeaderOf(fields, "user-agent");
    report.arrival_date = HeaderOf(fields, "arrival-date");
    if (report.arrival_date.empty())
      report.arrival_date = HeaderOf(fields, "received-date");
    report.source_ip = HeaderOf(fields, "source-ip");
    report.reporting_mta = FieldAddress(HeaderOf(fields, "reporting-mta"));
    std::vector<std::string> rcpts;
    for (const auto& [k, v] : fields) {
      if (k == "original-rcpt-to" || k == "removal-recipient") {
        for (auto& a : FindAddresses(v)) rcpts.push_back(a);
      }
    }
    if (rcpts.empty()) rcpts = FindAddresses(report.OriginalHeader("to"));
    AddComplained(rcpts, &report);
    return report;
  }

  // --- DSNs (RFC 3464), also when mislabelled as text ---------------------
  for (const Leaf& l : leaves) {
    bool dsn = l.type == "message/delivery-status" ||
               l.type == "message/global-delivery-status";
    if (!dsn && l.type.rfind("message/", 0) != 0 &&
        (l.body.rfind("Reporting-MTA:", 0) == 0 ||
         l.body.find("\nFinal-Recipient:") != std::string::npos ||
         l.body.rfind("Final-Recipient:", 0) == 0) &&
        l.body.find("\nAction:") != std::string::npos)
      dsn = true;
    if (!dsn) continue;
    std::string_view status_body = l.body;
    if (l.type.rfind("message/", 0) != 0) {
      // Only the field blocks, not the prose around them.
      size_t p = l.body.find("Reporting-MTA:");
      if (p == std::string::npos) p = l.body.find("Final-Recipient:");
      status_body = std::string_view(l.body).substr(p);
    }
    for (const Headers& block : StatusBlocks(status_body)) {
      std::string rm = HeaderOf(block, "reporting-mta");
      if (!rm.empty() && report.reporting_mta.empty())
        report.reporting_mta = Trim(rm.substr(rm.find(';') + 1));
      std::string final_rcpt = HeaderOf(block, "final-recipient");
      std::string original = HeaderOf(block, "original-recipient");
      std::string actual = HeaderOf(block, "x-actual-recipient");
      if (final_rcpt.empty() && original.empty()) continue;
      ReportRecipient r;
      r.address = FieldAddress(final_rcpt.empty() ? original : final_rcpt);
      // Postfix's "expanded from": the address the sender used is the
      // original one; prefer it when it is a real address.
      if (!original.empty() &&
          FieldAddress(original).find('@') != std::string::npos)
        r.original = FieldAddress(original);
      (void)actual;
      r.action = Lower(HeaderOf(block, "action"));
      r.status = Trim(HeaderOf(block, "status"));
      if (size_t sp = r.status.find_first_of(" ("); sp != std::string::npos)
        r.status = r.status.substr(0, sp);
      r.diagnostic = HeaderOf(block, "diagnostic-code");
      r.remote_mta = Trim(HeaderOf(block, "remote-mta"));
      if (size_t semi = r.remote_mta.find(';'); semi != std::string::npos)
        r.remote_mta = Trim(r.remote_mta.substr(semi + 1));
      report.recipients.push_back(std::move(r));
    }
  }

  bool dsn_found = !report.recipients.empty();
  bool bounce_headers = LooksLikeBounce(top);
  if (!dsn_found && !bounce_headers && LooksLikeAutoReply(top)) {
    report.kind = ReportKind::kAutoReply;
    ReportRecipient r;
    auto from = FindAddresses(HeaderOf(top, "from"));
    r.address = from.empty() ? "" : from[0];
    r.action = "auto-replied";
    if (!r.address.empty()) report.recipients.push_back(std::move(r));
    return report;
  }

  // --- non-standard bounces: recipients named in the text -------------------
  std::set<std::string> excluded;
  for (const char* h :
       {"to", "from", "delivered-to", "return-path", "reply-to", "sender"}) {
    for (const auto& a : FindAddresses(HeaderOf(top, h)))
      excluded.insert(Lower(a));
  }
  for (const char* h : {"from", "return-path", "sender"}) {
    for (const auto& a : FindAddresses(report.OriginalHeader(h)))
      excluded.insert(Lower(a));
  }
  if (!dsn_found && bounce_headers) {
    std::vector<std::string> candidates;
    for (const auto& a : FindAddresses(HeaderOf(top, "x-failed-recipients")))
      candidates.push_back(a);
    {
      // Addresses in the notice, less the sender's and the system's, and
      // less those that only appear in a "MAIL FROM:<...>" echo.
      std::string lower_text = Lower(text);
      for (const auto& a : FindAddresses(text)) {
        std::string la = Lower(a);
        if (excluded.count(la) || IsSystemAddress(a)) continue;
        if (OnlyInQuotedHeaders(text, la)) continue;
        size_t p = lower_text.find(la);
        bool mail_from_only = true;
        while (p != std::string::npos) {
          std::string_view before =
              std::string_view(lower_text)
                  .substr(p >= 12 ? p - 12 : 0, p >= 12 ? 12 : p);
          if (before.find("mail from") == std::string_view::npos &&
              before.find("from:<") == std::string_view::npos &&
              before.find("sender") == std::string_view::npos &&
              before.find("envelope-from") == std::string_view::npos)
            mail_from_only = false;
          p = lower_text.find(la, p + 1);
        }
        if (mail_from_only) continue;
        bool dup = false;
        for (const auto& c : candidates) dup |= Lower(c) == la;
        if (!dup) candidates.push_back(a);
      }
    }
    if (candidates.empty()) {
      // Every address in the notice was excluded: a test sent to oneself, or
      // a failure at a postmaster address. Take the first address the notice
      // names other than the reporter's and the original sender's.
      std::set<std::string> senders;
      for (const auto& a : FindAddresses(HeaderOf(top, "from")))
        senders.insert(Lower(a));
      for (const auto& a : FindAddresses(report.OriginalHeader("from")))
        senders.insert(Lower(a));
      for (const auto& a : FindAddresses(text)) {
        if (senders.count(Lower(a)) || OnlyInQuotedHeaders(text, Lower(a)))
          continue;
        candidates.push_back(a);
        break;
      }
    }
    if (candidates.empty()) {
      // Nothing in the notice: the original message's recipients.
      for (const char* h : {"to", "cc"}) {
        for (const auto& a : FindAddresses(report.OriginalHeader(h)))
          if (!IsSystemAddress(a)) candidates.push_back(a);
      }
    }
    std::set<std::string> lower_candidates;
    for (const auto& c : candidates) lower_candidates.insert(Lower(c));
    // A notice without DSN fields may still be a warning that delivery is
    // only late (Exim's "delayed 24 hours", OpenSMTPD's, Gmail's): the
    // recipient is delayed, not failed.
    bool warning = IsDelayWarning(HeaderOf(top, "subject"), text);
    for (const auto& a : candidates) {
      ReportRecipient r;
      r.address = a;
      r.action = warning ? "delayed" : "failed";
      r.diagnostic = TextAbout(text, a, lower_candidates);
      report.recipients.push_back(std::move(r));
    }
  }

  if (report.recipients.empty()) return report;
  std::set<std::string> all_recipients;
  for (const auto& r : report.recipients)
    all_recipients.insert(Lower(r.address));
  bool failed = false;
  for (auto& r : report.recipients) {
    // No Diagnostic-Code: what the notice says about the recipient, or the
    // whole notice.
    if (Trim(r.diagnostic).empty()) {
      r.diagnostic = TextAbout(text, r.address, all_recipients);
      if (Trim(r.diagnostic).empty() && !r.original.empty())
        r.diagnostic = TextAbout(text, r.original, all_recipients);
      if (Trim(r.diagnostic).empty()) r.diagnostic = text;
      if (r.diagnostic.size() > 2000) r.diagnostic.resize(2000);
    }
    r.diagnostic = Trim(r.diagnostic);
    FillCodes(&r);
    if (r.action.empty())
      r.action = !r.status.empty() && r.status[0] == '4' ? "delayed" : "failed";
    if (size_t sp = r.action.find_first_of(" ("); sp != std::string::npos)
      r.action = r.action.substr(0, sp);
    r.classification =
        classifier.Classify(r.diagnostic, r.status, r.reply_code, r.action);
    if (r.classification.reason == "undetermined" && r.diagnostic != text) {
      // The recipient's own lines say nothing known: the whole notice may.
      Classification whole =
          classifier.Classify(text, r.status, r.reply_code, r.action);
      if (whole.reason != "undetermined") r.classification = whole;
    }
    if (r.action == "delayed" && r.classification.reason == "undetermined")
      r.classification = ForReason("expired", false);
    bool temporary_status = !r.status.empty() && r.status[0] == '4';
    if (r.action == "failed" && temporary_status &&
        r.classification.reason == "user_unknown") {
      // A failed (not delayed) recipient with 4.1.1: Postfix's soft_bounce
      // or retries that ran out; the mailbox is still unknown.
      r.classification = ForReason("user_unknown", true);
    }
    const std::string& why = r.classification.reason;
    if (temporary_status && why == "domain_not_found") {
      // A DNS failure that was only temporary: the resolver, not the domain.
      r.classification = ForReason("network_error", false);
    } else if (temporary_status && r.action == "failed" &&
               (why == "undetermined" ||
                (why == "network_error" &&
                 Lower(r.diagnostic).find("timed out") != std::string::npos))) {
      // A failure report with a temporary status: the retries ran out.
      r.classification = ForReason("expired", false);
    }
    // Which command failed refines the reason: "user unknown" in reply to
    // DATA is a filter's verdict on the message, and a rejected MAIL FROM
    // is about the sender, not the recipient.
    std::string command =
        FailedCommand(r.diagnostic + "\n" + TextAbout(text, r.address, {}));
    if (command.empty()) command = FailedCommand(text);
    const std::string& reason = r.classification.reason;
    bool permanent = r.classification.bounce_type == "Permanent" ||
                     (!r.status.empty() && r.status[0] == '5') ||
                     (!r.reply_code.empty() && r.reply_code[0] == '5');
    // A bare "550 unknown user" with no enhanced code and no sign of RCPT TO
    // is what filtering gateways say after accepting the message.
    // A specific status (X.1.1 names a bad mailbox) is trusted whatever the
    // transcript shows: sendmail pipelines RCPT TO and DATA, so its
    // transcript ends with DATA.
    bool generic_status = r.status.empty() || r.status.substr(1) == ".0.0";
    std::string lower_diag = Lower(r.diagnostic);
    // The remote's reply naming the recipient ("550 <x@y>: User unknown") is
    // an RCPT TO answer; look only after the reply code, since Postfix
    // starts its own paragraph with "<x@y>: host ... said:".
    size_t reply_at = r.reply_code.empty() ? std::string::npos
                                           : lower_diag.find(r.reply_code);
    bool echoes_rcpt = (reply_at != std::string::npos &&
                        lower_diag.find("<" + Lower(r.address) + ">:",
                                        reply_at) != std::string::npos) ||
                       lower_diag.find("doesn't have a") != std::string::npos;
    bool bare_reply = !r.reply_code.empty() && r.reply_code[0] == '5' &&
                      FindStatus(r.diagnostic).empty() && command != "RCPT" &&
                      !echoes_rcpt;
    // "User unknown" under a security-policy status (X.7.*) or a mailbox
    // status that names no cause or says disabled (X.2.0, X.2.1), when it
    // did not answer RCPT TO, is a filter's verdict.
    bool filter_status =
        r.status.size() >= 5 && r.status[1] == '.' &&
        (r.status.substr(2, 2) == "7." || r.status.substr(2) == "2.0" ||
         r.status.substr(2) == "2.1") &&
        command != "RCPT";
    if (reason == "user_unknown" && !echoes_rcpt &&
        ((generic_status && (command == "DATA" || bare_reply)) ||
         filter_status)) {
      r.classification = ForReason("filtered", permanent);
    } else if (command == "MAIL" &&
               (reason == "user_unknown" || reason == "domain_not_found" ||
                reason == "mailbox_disabled" || reason == "undetermined" ||
                reason == "system_error" || reason == "syntax_error")) {
      r.classification = ForReason("policy_block", permanent);
    }
    failed |= r.action != "delivered" && r.action != "relayed" &&
              r.action != "expanded";
  }
  report.kind = failed ? ReportKind::kBounce : ReportKind::kNone;
  return report;
}

std::vector<SentRecipient> MapToSent(const Report& report,
                                     const std::vector<std::string>& sent) {
  std::vector<SentRecipient> out;
  std::vector<const ReportRecipient*> unmatched;
  std::set<std::string> taken;
  auto add = [&](const std::string& address, const ReportRecipient* r) {
    if (taken.insert(Lower(address)).second) out.push_back({address, r});
  };
  for (const auto& r : report.recipients) {
    if (r.action == "delivered" || r.action == "relayed" ||
        r.action == "expanded")
      continue;
    std::vector<std::string> names;
    for (const std::string* a : {&r.original, &r.address}) {
      std::string x400 = X400Rfc822(*a);
      const std::string& name = x400.empty() ? *a : x400;
      if (name.find('@') != std::string::npos) names.push_back(name);
    }
    if (sent.empty()) {
      if (!names.empty()) add(names[0], &r);
      continue;
    }
    const std::string* match = nullptr;
    for (const auto& name : names)
      for (const auto& s : sent)
        if (!match && Lower(s) == Lower(name)) match = &s;
    if (match)
      add(*match, &r);
    else
      unmatched.push_back(&r);
  }
  if (out.empty() && sent.size() == 1 && unmatched.size() == 1)
    add(sent[0], unmatched[0]);
  return out;
}

}  // namespace sesame::feedback
