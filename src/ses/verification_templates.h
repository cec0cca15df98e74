#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ses/documents.h"

namespace sesame::ses {

// A custom verification email template (SES
// CustomVerificationEmailTemplate): the message an address identity gets
// instead of Sesame's own, and where its link sends the reader after.
struct VerificationTemplate {
  std::string name;
  std::string from;     // FromEmailAddress: must be a verified identity
  std::string subject;  // TemplateSubject
  std::string content;  // TemplateContent: HTML, up to 10 MB
  std::string success_url, failure_url;  // *RedirectionURL: http or https
  int64_t created = 0;                   // seconds since the epoch
};

// The account's custom verification email templates, kept in the state
// store (kind "verification-template"). Owned by Resources; thread-safe
// (the store is).
class VerificationTemplates {
 public:
  // SES's quotas: 50 templates per account, 10 MB of content each.
  static constexpr size_t kMaxTemplates = 50;
  static constexpr size_t kMaxContentBytes = 10u << 20;

  explicit VerificationTemplates(store::Store* store) : store_(store) {}

  // "invalid" (name, URLs, content size), "exists", "limit".
  Status Create(const VerificationTemplate& t);
  // `t`'s empty fields keep their stored values; "not_found", "invalid".
  Status Update(const VerificationTemplate& t);
  // "not_found" when there is none.
  Result<VerificationTemplate> Get(const std::string& name);
  Status Delete(const std::string& name);
  Result<Page<VerificationTemplate>> List(const std::string& after,
                                          size_t limit);

 private:
  Status Write(const VerificationTemplate& t, bool create_only);

  store::Store* store_;
};

}  // namespace sesame::ses
