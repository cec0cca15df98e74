#pragma once

#include <cstdint>
#include <string>

namespace sesame {

// Returns a new message id in the SES format (spec/ses.md 1.4):
// "01" + 14 hex digits of the millisecond epoch, "-", a random UUIDv4,
// "-000000". Thread-safe (uses a thread-local generator).
std::string NewMessageId(int64_t epoch_millis);
// True when `id` has exactly that shape.
bool IsMessageId(const std::string& id);
// Milliseconds since the Unix epoch, from the system clock.
int64_t NowMillis();
// RFC 5322 date-time, e.g. "Sun, 29 Nov 2026 05:12:27 +0000".
std::string Rfc5322Date(int64_t epoch_millis);

}  // namespace sesame
