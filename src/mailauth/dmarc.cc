#include "mailauth/dmarc.h"

#include <map>
#include <optional>

#include "base/strings.h"
#include "dkim/verify.h"
#include "mailauth/public_suffix.h"

namespace sesame::mailauth {
namespace {

std::map<std::string, std::string> Tags(const std::string& record) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : dkim::ParseTags(record))  // the same tag-list syntax
    out[AsciiLowerCopy(k)] = AsciiLowerCopy(v);
  return out;
}

// The DMARC record at `domain`, "" when none; nullopt on a DNS failure.
std::optional<std::string> RecordAt(const std::string& domain, const Dns& dns) {
  auto txt = dns.txt("_dmarc." + domain);
  if (!txt.ok()) return std::nullopt;
  for (const auto& t : *txt) {
    std::string low = AsciiLowerCopy(TrimCopy(t));
    if (low.rfind("v=dmarc1", 0) == 0) return t;
  }
  return std::string();
}

bool Aligned(const std::string& a, const std::string& b, bool strict) {
  std::string x = AsciiLowerCopy(a), y = AsciiLowerCopy(b);
  if (strict) return x == y;
  return OrganizationalDomain(x) == OrganizationalDomain(y);
}

}  // namespace

std::string OrganizationalDomain(const std::string& domain) {
  return PublicSuffixList::System().OrganizationalDomain(domain);
}

DmarcResult EvaluateDmarc(const std::string& from_domain, SpfResult spf,
                          const std::string& mail_from_domain,
                          const std::vector<std::string>& dkim_pass_domains,
                          const Dns& dns) {
  if (from_domain.empty() || !dns.txt) return {"GRAY", ""};
  std::string domain = AsciiLowerCopy(from_domain);
  auto record = RecordAt(domain, dns);
  bool subdomain = false;
  if (record && record->empty() && OrganizationalDomain(domain) != domain) {
    record = RecordAt(OrganizationalDomain(domain), dns);
    subdomain = true;
  }
  if (!record) return {"PROCESSING_FAILED", ""};
  if (record->empty()) return {"GRAY", ""};
  auto tags = Tags(*record);
  std::string policy = tags["p"];
  if (subdomain && !tags["sp"].empty()) policy = tags["sp"];
  if (policy != "none" && policy != "quarantine" && policy != "reject")
    policy = "none";
  bool spf_ok = spf == SpfResult::kPass &&
                Aligned(mail_from_domain, domain, tags["aspf"] == "s");
  bool dkim_ok = false;
  for (const auto& d : dkim_pass_domains)
    dkim_ok |= Aligned(d, domain, tags["adkim"] == "s");
  return {spf_ok || dkim_ok ? "PASS" : "FAIL", policy};
}

}  // namespace sesame::mailauth
