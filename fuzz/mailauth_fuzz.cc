// libFuzzer target for received mail's authentication: dkim::Verify (the
// DKIM-Signature tags, canonicalization, the key record) and SPF / DMARC
// evaluation (records with macros, CIDRs, includes and redirects), all of
// which read text a sender controls. Input: "<SPF record>\n<DMARC
// record>\n<DKIM key record>\n<message>"; every DNS answer comes from it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dkim/verify.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"

namespace {

std::string_view NextLine(std::string_view* in) {
  size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sesame::Result;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string spf(NextLine(&in)), dmarc(NextLine(&in)), key(NextLine(&in));
  std::string message(in);
  sesame::mailauth::Dns dns;
  dns.txt = [&](const std::string& name) -> Result<std::vector<std::string>> {
    if (name.rfind("_dmarc.", 0) == 0) return std::vector<std::string>{dmarc};
    if (name.find("._domainkey.") != std::string::npos)
      return std::vector<std::string>{key};
    return std::vector<std::string>{spf};
  };
  dns.addresses = [](const std::string&) -> Result<std::vector<std::string>> {
    return std::vector<std::string>{"192.0.2.1", "2001:db8::1"};
  };
  dns.mx_addresses = dns.addresses;
  auto r = sesame::mailauth::CheckHost("192.0.2.1", "example.com",
                                       "a@example.com", "helo.example", dns);
  (void)sesame::mailauth::EvaluateDmarc("news.example.com", r, "example.com",
                                        {"example.com"}, dns);
  (void)sesame::dkim::Verify(message, dns.txt, 1700000000);
  return 0;
}
