#include "feedback/classifier.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace sesame::feedback {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lower-case with every run of white space as one space, so that folded
// diagnostics match single-line patterns.
std::string Flatten(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// "X.1.1" matches "5.1.1" and "4.1.1"; "5.7" matches every 5.7.*.
bool StatusMatches(std::string_view pattern, std::string_view status) {
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    if (i >= status.size()) return false;
    if (pattern[i] == 'X' || pattern[i] == 'x') {
      if (!std::isdigit(static_cast<unsigned char>(status[i]))) return false;
      continue;
    }
    if (pattern[i] != status[i]) return false;
  }
  // Whole components only: "5.1.1" must not match "5.1.10".
  return i == status.size() || status[i] == '.';
}

const std::set<std::string, std::less<>> kReasons = {
    "user_unknown",     "mailbox_full",
    "domain_not_found", "moved",
    "not_accepting",    "mailbox_disabled",
    "policy_block",     "content_rejected",
    "auth_failure",     "message_too_large",
    "rate_limited",     "expired",
    "network_error",    "system_error",
    "syntax_error",     "undetermined",
    "delivered",        "on_suppression_list",
    "filtered"};

}  // namespace

Classification ForReason(std::string reason, bool permanent) {
  Classification c;
  c.reason = std::move(reason);
  const std::string& r = c.reason;
  if (r == "on_suppression_list") {
    c.bounce_type = "Permanent";
    c.bounce_subtype = "OnAccountSuppressionList";
  } else if (r == "undetermined") {
    c.bounce_type = "Undetermined";
    c.bounce_subtype = "Undetermined";
  } else if (permanent && (r == "user_unknown" || r == "domain_not_found" ||
                           r == "moved" || r == "not_accepting")) {
    // Only a failure that says the address itself is bad is permanent: the
    // recipient goes on the suppression list. A 5xx for policy, content or
    // a full mailbox may clear, as SES treats them.
    c.bounce_type = "Permanent";
    c.bounce_subtype = r == "user_unknown" ? "NoEmail" : "General";
  } else {
    c.bounce_type = "Transient";
    c.bounce_subtype = r == "mailbox_full"        ? "MailboxFull"
                       : r == "message_too_large" ? "MessageTooLarge"
                       : r == "content_rejected" || r == "filtered"
                           ? "ContentRejected"
                           : "General";
  }
  return c;
}

Result<Classifier> Classifier::Parse(std::string_view text,
                                     std::string_view origin) {
  Classifier out;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? "" : text.substr(nl + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto where = std::string(origin) + ":" + std::to_string(line_no) + ": ";
    size_t t1 = line.find('\t');
    size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos)
      return Error::Permanent("rules", where +
                                           "expected reason<TAB>field<TAB>"
                                           "pattern");
    Rule r;
    r.reason = std::string(line.substr(0, t1));
    std::string_view field = line.substr(t1 + 1, t2 - t1 - 1);
    std::string_view pattern = line.substr(t2 + 1);
    if (!kReasons.count(r.reason))
      return Error::Permanent("rules", where + "unknown reason " + r.reason);
    if (pattern.empty())
      return Error::Permanent("rules", where + "empty pattern");
    if (field == "text" || field == "text-late") {
      r.field = field == "text" ? Field::kText : Field::kTextLate;
      if (pattern[0] == '~') {
        r.is_regex = true;
        r.pattern = std::string(pattern.substr(1));
        try {
          r.re =
              std::regex(r.pattern, std::regex::icase | std::regex::ECMAScript |
                                        std::regex::optimize);
        } catch (const std::regex_error& e) {
          return Error::Permanent(
              "rules", where + "bad regular expression: " + e.what());
        }
      } else {
        r.pattern = Flatten(pattern);
      }
    } else if (field == "status") {
      r.field = Field::kStatus;
      r.pattern = std::string(pattern);
    } else if (field == "reply") {
      r.field = Field::kReply;
      r.pattern = std::string(pattern);
    } else {
      return Error::Permanent("rules", where +
                                           "field must be text, status, "
                                           "text-late or reply, not " +
                                           std::string(field));
    }
    out.rules_.push_back(std::move(r));
  }
  return out;
}

const Classifier& Classifier::Default() {
  static const Classifier* c = [] {
    auto parsed = Parse(EmbeddedRules(), "rules.tsv");
    // The embedded file is tested; an error here is a build defect.
    return new Classifier(parsed.ok() ? std::move(*parsed) : Classifier());
  }();
  return *c;
}

Status Classifier::Prepend(const Classifier& other) {
  rules_.insert(rules_.begin(), other.rules_.begin(), other.rules_.end());
  return Ok{};
}

Classification Classifier::Classify(std::string_view diagnostic,
                                    std::string_view status,
                                    std::string_view reply,
                                    std::string_view action) const {
  bool permanent;
  if (!status.empty() && (status[0] == '4' || status[0] == '5')) {
    permanent = status[0] == '5';
  } else if (!reply.empty() && (reply[0] == '4' || reply[0] == '5')) {
    permanent = reply[0] == '5';
  } else {
    permanent = Lower(action) == "failed";
  }
  if (Lower(action) == "delivered" || Lower(action) == "relayed" ||
      Lower(action) == "expanded" || (!status.empty() && status[0] == '2'))
    return ForReason("delivered", false);
  std::string text = Flatten(diagnostic);
  for (Field f :
       {Field::kText, Field::kStatus, Field::kTextLate, Field::kReply}) {
    for (const Rule& r : rules_) {
      if (r.field != f) continue;
      bool hit = false;
      switch (f) {
        case Field::kText:
        case Field::kTextLate:
          if (text.empty()) break;
          hit = r.is_regex ? std::regex_search(text, r.re)
                           : text.find(r.pattern) != std::string::npos;
          break;
        case Field::kStatus:
          hit = !status.empty() && StatusMatches(r.pattern, status);
          break;
        case Field::kReply:
          hit =
              !reply.empty() && reply.substr(0, r.pattern.size()) == r.pattern;
          break;
      }
      if (hit) return ForReason(r.reason, permanent);
    }
  }
  return ForReason("undetermined", permanent);
}

}  // namespace sesame::feedback
