#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sesame {

// RFC 4648 base64 with padding. Pure functions.
std::string Base64Encode(std::string_view in);
// Returns nullopt on any character outside the alphabet or bad padding.
// Whitespace is not skipped: SMTP AUTH responses carry none.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace sesame
