#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sesame::dns {

// One resource record of interest from a DNS answer.
struct Record {
  uint16_t type = 0;  // 1 A, 28 AAAA, 15 MX, 5 CNAME
  uint32_t ttl = 0;
  std::string name;         // owner, lower-case, no trailing dot
  uint16_t preference = 0;  // MX
  std::string target;   // MX exchange or CNAME target ("" = root, i.e. null MX)
  std::string address;  // A/AAAA in text form
  std::string text;     // TXT: the character-strings concatenated
};

struct Message {
  uint16_t rcode = 0;
  std::vector<Record> answers;
  std::vector<Record> additional;
};

// Parses a DNS response (RFC 1035 4.1) including name compression. Pure;
// rejects truncated or looping messages with a permanent error.
Result<Message> ParseMessage(std::string_view wire);

}  // namespace sesame::dns
