#pragma once

#include <string>
#include <vector>

#include "mailauth/spf.h"

namespace sesame::mailauth {

// A DMARC evaluation (RFC 7489) of a received message.
struct DmarcResult {
  // SES's verdict: PASS, FAIL, GRAY (no policy published) or
  // PROCESSING_FAILED (DNS failed).
  std::string verdict;
  // The policy that applies (p=, or sp= for a subdomain): none, quarantine
  // or reject; "" without a record.
  std::string policy;
};

// `from_domain`: the RFC 5322 From address's domain. SPF counts when it
// passed for `mail_from_domain`; DKIM when a signature of one of
// `dkim_pass_domains` verified. Alignment is relaxed or strict per the
// record's aspf=/adkim=; organizational domains come from the public
// suffix list (OrganizationalDomain). Pure except for `dns`.
DmarcResult EvaluateDmarc(const std::string& from_domain, SpfResult spf,
                          const std::string& mail_from_domain,
                          const std::vector<std::string>& dkim_pass_domains,
                          const Dns& dns);

// The organizational domain (RFC 7489 section 3.2) by the system's public
// suffix list: "mail.example.co.uk" -> "example.co.uk"; the last two labels
// when the list is not installed.
std::string OrganizationalDomain(const std::string& domain);

}  // namespace sesame::mailauth
