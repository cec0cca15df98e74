#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "smtp/address.h"

namespace sesame::smtp {

enum class Verb {
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kHelp,
  kVrfy,
  kExpn,
  kStartTls,
  kAuth,
  kUnknown
};

// One command line, split into verb and argument (text after the first
// space). Views into the caller's line.
struct Command {
  Verb verb = Verb::kUnknown;
  std::string_view verb_text;
  std::string_view arg;
};

// Splits a command line (CRLF already removed). Never fails: unknown verbs
// map to Verb::kUnknown so the session can count them as errors.
Command ParseCommand(std::string_view line);

enum class BodyType { k7Bit, k8BitMime };

struct MailCommand {
  Path path;
  std::optional<uint64_t> size;
  BodyType body = BodyType::k7Bit;
  bool smtputf8 = false;
};

struct RcptCommand {
  Path path;
};

struct BdatCommand {
  uint64_t size = 0;
  bool last = false;
};

// Errors from these parsers carry the SMTP reply prefix in Error::code(),
// e.g. "501 5.5.4", and a message for the reply text.
Result<MailCommand> ParseMail(std::string_view arg);
Result<RcptCommand> ParseRcpt(std::string_view arg);
Result<BdatCommand> ParseBdat(std::string_view arg);

// Case-insensitive ASCII prefix test.
bool StartsWithNoCase(std::string_view s, std::string_view prefix);

}  // namespace sesame::smtp
