#include "ses/dns_records.h"

#include <algorithm>

#include "base/json.h"

namespace sesame::ses {

std::vector<DnsRecord> RecordsFor(const std::string& domain,
                                  const DkimKeys::Info& key,
                                  const std::string& mx_host) {
  std::vector<DnsRecord> records = {
      {"verification", "_amazonses." + domain, "TXT",
       VerificationToken(domain)},
      {"dkim", key.dns_name, "TXT", key.dns_value},
      {"dkim-ed25519", key.ed_dns_name, "TXT", key.ed_dns_value},
      {"dkim-next", key.next_dns_name, "TXT", key.next_dns_value},
      {"spf", domain, "TXT", "v=spf1 a:" + mx_host + " ~all"},
      {"dmarc", "_dmarc." + domain, "TXT",
       "v=DMARC1; p=none; rua=mailto:dmarc-reports@" + domain},
  };
  // No Ed25519 key, no rotation pending: those records do not exist.
  std::erase_if(records, [](const DnsRecord& r) { return r.name.empty(); });
  return records;
}

std::string RecordStatus(const DnsRecord& r,
                         const Result<std::vector<std::string>>& txt) {
  if (!txt.ok()) return "unknown (" + txt.error().message() + ")";
  bool exact = false, same_kind = false;
  std::string kind = r.purpose == "spf"            ? "v=spf1"
                     : r.purpose == "dmarc"        ? "v=DMARC1"
                     : r.purpose == "verification" ? ""
                                                   : "v=DKIM1";
  for (const auto& t : *txt) {
    exact |= t == r.value;
    same_kind |= !kind.empty() && t.rfind(kind, 0) == 0;
  }
  bool suggestion = r.purpose == "spf" || r.purpose == "dmarc";
  return exact || (suggestion && same_kind) ? "ok"
         : same_kind || !txt->empty()       ? "mismatch"
                                            : "missing";
}

std::string RecordsJson(const std::vector<DnsRecord>& records) {
  std::string out = "[";
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    out += (i ? ", " : "") + std::string("{\"Purpose\": \"") + r.purpose +
           "\", \"Name\": \"" + JsonEscape(r.name) + "\", \"Type\": \"" +
           r.type + "\", \"Value\": \"" + JsonEscape(r.value) +
           "\", \"Status\": \"" + JsonEscape(r.status) + "\"}";
  }
  return out + "]";
}

}  // namespace sesame::ses
