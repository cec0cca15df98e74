#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sesame {

// Escapes a string for inclusion between JSON double quotes. Pure.
std::string JsonEscape(std::string_view s);
// The same, appended to `out` (runs of plain characters copied at once).
void AppendJsonEscaped(std::string& out, std::string_view s);
// "2026-11-29T05:12:27.123Z"
std::string IsoTime(int64_t epoch_millis);

}  // namespace sesame
