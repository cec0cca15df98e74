#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

namespace sesame::mailauth {

// The Public Suffix List (publicsuffix.org; Debian's `publicsuffix`
// package): which domains are registries ("com", "co.uk", "*.ck" but not
// "www.ck"), so DMARC can find a domain's organizational domain (RFC 7489
// section 3.2). Rules, wildcards and exceptions follow the list's own
// algorithm; with no rule matching, the default rule "*" applies, so an
// empty list gives the last two labels.
//
// Immutable once built: thread-safe for lookups.
class PublicSuffixList {
 public:
  // The list's text format: one rule per line, "//" comments.
  static PublicSuffixList Parse(std::string_view text);
  // The system's list (/usr/share/publicsuffix/public_suffix_list.dat),
  // read once; empty when the file is missing.
  static const PublicSuffixList& System();

  // The registrable domain: the public suffix and one label more; the
  // domain itself when it is a public suffix or has one label. `domain` is
  // lower case, without a trailing dot.
  std::string OrganizationalDomain(const std::string& domain) const;
  size_t size() const { return rules_.size() + wildcards_.size(); }

 private:
  std::unordered_set<std::string> rules_;       // "co.uk"
  std::unordered_set<std::string> wildcards_;   // "*.ck" stored as "ck"
  std::unordered_set<std::string> exceptions_;  // "!www.ck" as "www.ck"
};

}  // namespace sesame::mailauth
