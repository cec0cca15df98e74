// libFuzzer target for mime::Parse (API Raw messages, inbound mail) and the
// helpers that read what it returns: bodies, address lists, encoded words,
// and the submission rules (CheckMessage) the same bytes must pass.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mime/mime.h"
#include "smtp/message_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto part = sesame::mime::Parse(in);
  if (part.ok()) {
    std::string text, html;
    sesame::mime::FindBodies(*part, &text, &html);
    (void)sesame::mime::AddressList(part->Header("To"));
    (void)sesame::mime::DecodeWords(part->Header("Subject"));
    (void)sesame::mime::AddrSpec(part->Header("From"));
  }
  std::string canonical = sesame::smtp::CanonicalLineEndings(std::string(in));
  (void)sesame::smtp::CheckMessage(canonical);
  return 0;
}
