#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sesame::delivery {

struct FailedRecipient {
  std::string address;
  std::string status;      // enhanced code, e.g. "5.1.1"
  std::string diagnostic;  // "smtp; 550 5.1.1 no such user"
  std::string remote_mta;  // "dns; mx.example.com" or empty
  int64_t last_attempt_ms = 0;
};

// Optional text of a DSN: who it is from (default MAILER-DAEMON@<reporting
// MTA>) and an explanation for the human-readable part.
struct DsnText {
  std::string from;
  std::string explanation;
};

// Builds an RFC 3464 delivery status notification (multipart/report) for
// the envelope sender, with the original headers attached. Pure.
std::string BuildDsn(const std::string& reporting_mta,
                     const std::string& original_sender,
                     const std::string& original_id, int64_t arrival_ms,
                     const std::vector<FailedRecipient>& failed,
                     const std::string& original_message, int64_t now_ms,
                     const std::string& boundary_seed,
                     const DsnText& text = {});

// "5.1.1" from "550 5.1.1 ...", or a class default (5.0.0 / 4.0.0).
std::string EnhancedStatus(const std::string& reply, bool permanent);

}  // namespace sesame::delivery
