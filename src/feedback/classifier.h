#pragma once

#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sesame::feedback {

// Why a recipient bounced, in Sesame's words (docs/feedback.md maps Sisimai's
// reasons onto these and these onto SES bounce types).
struct Classification {
  std::string reason;          // user_unknown, mailbox_full, ... (rules file)
  std::string bounce_type;     // Permanent, Transient, Undetermined
  std::string bounce_subtype;  // General, NoEmail, MailboxFull, ...
};

// The bounce classifier: ordered rules from a data file (the embedded default
// rules.tsv, then an operator's own file, whose rules come first). Each rule
// names a reason and a condition on the diagnostic text (case-insensitive
// substring, or a regular expression with a leading '~'), the enhanced status
// code (a prefix such as "5.1.1" or "X.2.2") or the reply code. Text rules are
// tried before status rules, status rules before reply-code rules, because
// the text is the most specific evidence and 5.0.0 the least; `text-late`
// rules (generic wording) come after the status rules.
//
// Built once and then read-only: thread-safe for concurrent Classify calls.
class Classifier {
 public:
  // The embedded rules only.
  static const Classifier& Default();
  // Parses rules text ("reason<TAB>text|status|reply<TAB>pattern" lines,
  // '#' comments); errors name the line.
  static Result<Classifier> Parse(std::string_view rules_text,
                                  std::string_view origin);
  // The operator's rules first, then the defaults.
  Status Prepend(const Classifier& other);

  // `status` is an enhanced code ("5.1.1") or "", `reply` a reply code
  // ("550") or "", `action` the DSN action ("failed", "delayed", ...).
  Classification Classify(std::string_view diagnostic, std::string_view status,
                          std::string_view reply,
                          std::string_view action = "") const;

  size_t size() const { return rules_.size(); }

 private:
  enum class Field { kText, kStatus, kTextLate, kReply };
  struct Rule {
    std::string reason;
    Field field;
    std::string pattern;  // lower-case for text
    bool is_regex = false;
    std::regex re;
  };
  std::vector<Rule> rules_;
};

// SES bounce type and subtype of a reason, for a permanent (5xx) or
// temporary (4xx) failure.
Classification ForReason(std::string reason, bool permanent);

// The built-in rules file (rules.tsv, embedded at build time).
std::string_view EmbeddedRules();

}  // namespace sesame::feedback
