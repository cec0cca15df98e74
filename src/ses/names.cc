#include "ses/names.h"

#include <string>

#include "base/strings.h"
#include "mime/mime.h"
#include "smtp/address.h"

namespace sesame::ses {
namespace {

Error Invalid(std::string message) {
  return Error::Permanent("invalid", std::move(message));
}

bool NameChars(std::string_view s) {
  for (unsigned char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status CheckResourceName(std::string_view kind, std::string_view name) {
  if (name.empty() || name.size() > 64 || !NameChars(name))
    return Invalid("Invalid " + std::string(kind) + " name " + Quoted(name) +
                   ": it must be 1 to 64 characters, only ASCII letters, "
                   "digits, underscores (_) and dashes (-).");
  return Ok{};
}

Status CheckIdentityName(std::string_view identity) {
  if (identity.find('@') != std::string_view::npos) {
    auto p = smtp::ParseMailbox(identity);
    if (!p.ok())
      return Invalid("Invalid email address " + Quoted(identity) + ": " +
                     p.error().message() + ".");
    if (p->domain_literal || p->domain.find('.') == std::string::npos)
      return Invalid("Invalid email address " + Quoted(identity) +
                     ": the domain must be a domain name.");
    return Ok{};
  }
  std::string_view d = identity;
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.size() > 253 || !smtp::IsValidDomain(d) ||
      d.find('.') == std::string_view::npos)
    return Invalid("Invalid domain name " + Quoted(identity) +
                   ": it must be a domain such as example.com (letters, "
                   "digits and hyphens in dot-separated labels).");
  return Ok{};
}

// The mailbox of an address field as SES takes it, "local@domain" or
// "Display Name <local@domain>", checked as an RFC 5321 path: it reaches
// MAIL FROM or RCPT TO, so nothing in it may change an SMTP command. No
// control characters anywhere (CR, LF, NUL), one <...> at the end at most.
Result<std::string> FieldMailbox(std::string_view field) {
  for (unsigned char c : field) {
    if (c < 0x20 || c == 0x7f)
      return Error::Permanent("address", "control character in address");
  }
  std::string spec = mime::AddrSpec(field);
  size_t lt = field.find('<'), gt = field.find('>');
  if (lt != std::string_view::npos || gt != std::string_view::npos) {
    std::string_view t = field.substr(0, field.find_last_not_of(" \t") + 1);
    if (lt == std::string_view::npos || gt != t.size() - 1 ||
        field.find('<', lt + 1) != std::string_view::npos)
      return Error::Permanent("address", "misplaced '<' or '>'");
  }
  auto p = smtp::ParseMailbox(spec);
  if (!p.ok()) return p.error();
  return spec;
}

}  // namespace sesame::ses
