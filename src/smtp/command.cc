#include "smtp/command.h"

#include <cctype>
#include <charconv>

namespace sesame::smtp {
namespace {

struct VerbEntry {
  std::string_view name;
  Verb verb;
};
constexpr VerbEntry kVerbs[] = {
    {"EHLO", Verb::kEhlo},         {"HELO", Verb::kHelo}, {"MAIL", Verb::kMail},
    {"RCPT", Verb::kRcpt},         {"DATA", Verb::kData}, {"BDAT", Verb::kBdat},
    {"RSET", Verb::kRset},         {"NOOP", Verb::kNoop}, {"QUIT", Verb::kQuit},
    {"HELP", Verb::kHelp},         {"VRFY", Verb::kVrfy}, {"EXPN", Verb::kExpn},
    {"STARTTLS", Verb::kStartTls}, {"AUTH", Verb::kAuth},
};

Error Syntax(std::string msg) {
  return Error::Permanent("501 5.5.4", std::move(msg));
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && StartsWithNoCase(a, b);
}

// Splits "<path> KEY=VAL KEY" into the path and the parameter list. The
// path ends at the first '>' outside a quoted string.
Result<std::pair<std::string_view, std::string_view>> SplitPath(
    std::string_view arg) {
  // RFC 5321 has no space after the colon, but many clients send one.
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  if (arg.empty() || arg.front() != '<')
    return Syntax("address must be enclosed in <>");
  bool quoted = false;
  for (size_t i = 1; i < arg.size(); ++i) {
    char c = arg[i];
    if (quoted && c == '\\') {
      ++i;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (c == '>' && !quoted) {
      std::string_view rest = arg.substr(i + 1);
      if (!rest.empty() && rest.front() != ' ')
        return Syntax("expected space after address");
      return std::make_pair(arg.substr(0, i + 1), rest);
    }
  }
  return Syntax("unterminated address: missing '>'");
}

// Calls fn(keyword, value, has_value) for each "KEY[=VALUE]" parameter.
template <typename Fn>
Status ForEachParam(std::string_view params, Fn fn) {
  size_t i = 0;
  while (i < params.size()) {
    if (params[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = params.find(' ', i);
    if (end == params.npos) end = params.size();
    std::string_view p = params.substr(i, end - i);
    size_t eq = p.find('=');
    std::string_view key = p.substr(0, eq);
    if (key.empty()) return Syntax("empty parameter keyword");
    for (char c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return Syntax("bad parameter keyword");
      }
    }
    Status s = fn(key, eq == p.npos ? std::string_view() : p.substr(eq + 1),
                  eq != p.npos);
    if (!s.ok()) return s;
    i = end;
  }
  return Ok{};
}

}  // namespace

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(s[i])) !=
        std::toupper(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

Command ParseCommand(std::string_view line) {
  Command cmd;
  size_t sp = line.find(' ');
  cmd.verb_text = line.substr(0, sp);
  cmd.arg = sp == line.npos ? std::string_view() : line.substr(sp + 1);
  for (const auto& e : kVerbs) {
    if (EqualsNoCase(cmd.verb_text, e.name)) {
      cmd.verb = e.verb;
      break;
    }
  }
  return cmd;
}

Result<MailCommand> ParseMail(std::string_view arg) {
  if (!StartsWithNoCase(arg, "FROM:"))
    return Syntax("syntax: MAIL FROM:<address>");
  auto split = SplitPath(arg.substr(5));
  if (!split.ok()) return split.error();
  MailCommand mail;
  auto path =
      ParsePath(split->first, /*allow_null=*/true, /*allow_postmaster=*/false);
  if (!path.ok())
    return Error::Permanent("553 5.1.7",
                            "bad sender address: " + path.error().message());
  mail.path = std::move(*path);
  bool seen_size = false, seen_body = false;
  Status s = ForEachParam(
      split->second,
      [&](std::string_view key, std::string_view value,
          bool has_value) -> Status {
        if (EqualsNoCase(key, "SIZE")) {
          uint64_t n = 0;
          auto [ptr, ec] =
              std::from_chars(value.data(), value.data() + value.size(), n);
          if (seen_size || !has_value || ec != std::errc() ||
              ptr != value.data() + value.size() || value.size() > 20) {
            return Syntax("bad SIZE parameter");
          }
          seen_size = true;
          mail.size = n;
        } else if (EqualsNoCase(key, "BODY")) {
          if (seen_body || !has_value) return Syntax("bad BODY parameter");
          seen_body = true;
          if (EqualsNoCase(value, "7BIT")) {
            mail.body = BodyType::k7Bit;
          } else if (EqualsNoCase(value, "8BITMIME")) {
            mail.body = BodyType::k8BitMime;
          } else {
            return Error::Permanent(
                "555 5.5.4", "unsupported BODY type (7BIT and 8BITMIME are)");
          }
        } else if (EqualsNoCase(key, "SMTPUTF8")) {
          if (has_value) return Syntax("SMTPUTF8 takes no value");
          mail.smtputf8 = true;
        } else if (EqualsNoCase(key, "AUTH")) {
          // RFC 4954 5: accepted and not propagated; we are the submission
          // server.
        } else {
          return Error::Permanent(
              "555 5.5.4", "unsupported MAIL parameter " + std::string(key));
        }
        return Ok{};
      });
  if (!s.ok()) return s.error();
  return mail;
}

Result<RcptCommand> ParseRcpt(std::string_view arg) {
  if (!StartsWithNoCase(arg, "TO:")) return Syntax("syntax: RCPT TO:<address>");
  auto split = SplitPath(arg.substr(3));
  if (!split.ok()) return split.error();
  RcptCommand rcpt;
  auto path =
      ParsePath(split->first, /*allow_null=*/false, /*allow_postmaster=*/true);
  if (!path.ok())
    return Error::Permanent("553 5.1.3",
                            "bad recipient address: " + path.error().message());
  rcpt.path = std::move(*path);
  Status s = ForEachParam(
      split->second,
      [&](std::string_view key, std::string_view, bool) -> Status {
        return Error::Permanent(
            "555 5.5.4", "unsupported RCPT parameter " + std::string(key));
      });
  if (!s.ok()) return s.error();
  return rcpt;
}

Result<BdatCommand> ParseBdat(std::string_view arg) {
  BdatCommand b;
  size_t sp = arg.find(' ');
  std::string_view num = arg.substr(0, sp);
  auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), b.size);
  if (num.empty() || num.size() > 20 || ec != std::errc() ||
      ptr != num.data() + num.size()) {
    return Syntax("syntax: BDAT <size> [LAST]");
  }
  if (sp != arg.npos) {
    if (!EqualsNoCase(arg.substr(sp + 1), "LAST"))
      return Syntax("syntax: BDAT <size> [LAST]");
    b.last = true;
  }
  return b;
}

}  // namespace sesame::smtp
