#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "ses/dkim_keys.h"

namespace sesame::ses {

// One DNS record a domain identity should publish, and whether it does.
struct DnsRecord {
  std::string purpose;  // verification, dkim, dkim-ed25519, dkim-next, spf,
                        // dmarc
  std::string name, type, value;
  std::string status = "unchecked";  // ok, mismatch, missing, unknown (...)
};

// Every record `domain` needs (verification token, its DKIM keys, suggested
// SPF and DMARC); `mx_host` is the name SPF should allow.
std::vector<DnsRecord> RecordsFor(const std::string& domain,
                                  const DkimKeys::Info& key,
                                  const std::string& mx_host);

// The status of `record` given the TXT strings its name resolves to (or the
// lookup's error). SPF and DMARC are suggestions: any record of the kind
// counts as published.
std::string RecordStatus(const DnsRecord& record,
                         const Result<std::vector<std::string>>& txt);

// [{"Purpose","Name","Type","Value","Status"}, ...]
std::string RecordsJson(const std::vector<DnsRecord>& records);

}  // namespace sesame::ses
