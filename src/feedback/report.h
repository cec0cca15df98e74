#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "feedback/classifier.h"

namespace sesame::feedback {

// One recipient a report is about.
struct ReportRecipient {
  std::string address;     // Final-Recipient (or what the text names)
  std::string original;    // Original-Recipient, when given
  std::string action;      // failed, delayed, delivered, relayed, expanded
  std::string status;      // enhanced status code, "" when none is known
  std::string reply_code;  // "550", "" when none is known
  std::string diagnostic;  // Diagnostic-Code or the text about it
  std::string remote_mta;
  Classification classification;
};

enum class ReportKind { kNone, kBounce, kComplaint, kAutoReply };
const char* KindName(ReportKind k);  // "none", "bounce", ...

// What an inbound message says about mail Sesame sent: a bounce (an RFC 3464
// DSN or one of the non-standard formats real MTAs write), a complaint (an
// RFC 5965 ARF report), an RFC 3834 auto-reply, or none of these.
struct Report {
  ReportKind kind = ReportKind::kNone;
  std::vector<ReportRecipient> recipients;
  std::string reporting_mta;
  // Complaints (ARF).
  std::string feedback_type;  // abuse, fraud, virus, opt-out, not-spam, ...
  std::string user_agent;
  std::string arrival_date;
  std::string source_ip;
  // The message the report is about, when it is quoted (message/rfc822,
  // text/rfc822-headers or an inline copy): its headers, unfolded.
  std::vector<std::pair<std::string, std::string>> original_headers;
  std::string OriginalHeader(std::string_view name) const;
};

// Analyzes a message (any line endings). Never fails: malformed MIME is read
// as far as it goes, and a message that says nothing recognizable is kNone.
// Pure; thread-safe.
Report Analyze(std::string_view message,
               const Classifier& classifier = Classifier::Default());

// A report's recipient with the address of the original send it stands for.
struct SentRecipient {
  std::string address;  // as the message was sent to it
  const ReportRecipient* report;
};

// Maps a bounce's recipients onto the addresses a message was sent to
// (`sent`; empty when the message is unknown), so that an event names the
// address that was sent to, never another: Original-Recipient before
// Final-Recipient (a forwarding or alias target); an X.400 recipient by the
// RFC 822 address inside. A report whose one failed recipient matches none
// of a one-recipient send stands for that recipient (a forward that names
// only its target). Recipients delivered, relayed or expanded are left out.
// With `sent` unknown each recipient stands for its original address if it
// has one, else its final one. Pure.
std::vector<SentRecipient> MapToSent(const Report& report,
                                     const std::vector<std::string>& sent);

// Addresses in free text ("x@y.z", "<x@y.z>", "rfc822;x@y.z"), in order,
// without duplicates (case-insensitive); exposed for tests.
std::vector<std::string> FindAddresses(std::string_view text);

}  // namespace sesame::feedback
