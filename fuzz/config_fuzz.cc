// libFuzzer target for the YAML configuration: the Walker must answer every
// document with a Config or a precise error, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  (void)sesame::config::ParseConfig(yaml, "fuzz.yaml");
  return 0;
}
