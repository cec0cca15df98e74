#pragma once

#include <string>

namespace sesame::inbound {

// The content scanners of ScanEnabled receipt rules, spoken to directly:
// SpamAssassin's spamd (SPAMC/1.5 CHECK) and ClamAV's clamd (zINSTREAM).
// `where` is "host:port" or a Unix socket path. Each returns SES's verdict
// status: PASS, FAIL, or PROCESSING_FAILED when the scanner cannot be
// reached or answers something else; GRAY when `where` is empty (no
// scanner configured). Blocking, bounded by `timeout_ms`; thread-safe.
std::string SpamVerdict(const std::string& where, const std::string& message,
                        int timeout_ms);
std::string VirusVerdict(const std::string& where, const std::string& message,
                         int timeout_ms);

}  // namespace sesame::inbound
