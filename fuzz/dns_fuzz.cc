// libFuzzer target for dns::ParseMessage: answers come from the network
// (compression pointers, truncated records, loops).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dns/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)sesame::dns::ParseMessage(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
