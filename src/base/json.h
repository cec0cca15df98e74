#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sesame {

// Escapes a string for inclusion between JSON double quotes. Pure. The
// result is always valid UTF-8: ill-formed bytes (stray continuation bytes,
// overlongs, encoded surrogates, truncated sequences) become U+FFFD.
std::string JsonEscape(std::string_view s);
// The same, appended to `out` (runs of plain characters copied at once).
void AppendJsonEscaped(std::string& out, std::string_view s);
// True when `s` is well-formed UTF-8 (RFC 3629).
bool IsValidUtf8(std::string_view s);
size_t Utf8SequenceLength(std::string_view s, size_t i);
// "2026-11-29T05:12:27.123Z"
std::string IsoTime(int64_t epoch_millis);

}  // namespace sesame
