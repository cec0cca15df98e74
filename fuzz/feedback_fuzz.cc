// libFuzzer target for feedback::Analyze: it reads attacker-controlled mail
// arriving at the MX (DSNs, ARF, auto-replies, anything at all).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "feedback/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  sesame::feedback::Report r = sesame::feedback::Analyze(in);
  (void)r.OriginalHeader("Message-ID");
  (void)sesame::feedback::FindAddresses(in);
  return 0;
}
