#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ses/documents.h"

namespace sesame::ses {

// An email template (SES v1 Template, v2 EmailTemplateContent).
struct Template {
  std::string name;
  std::string subject, text, html;
  int64_t created = 0;  // seconds since the epoch
};

// The account's email templates, kept in the state store (kind "template").
// Owned by Resources; thread-safe (the store is).
class Templates {
 public:
  explicit Templates(store::Store* store) : store_(store) {}

  // "not_found" when there is none.
  Result<Template> Get(const std::string& name);
  // "invalid" name, "exists".
  Status Create(const Template& t);
  // "not_found" when there is none.
  Status Update(const Template& t);
  // "not_found" when there is none.
  Status Delete(const std::string& name);
  Result<Page<Template>> List(const std::string& after, size_t limit);
  // Every name, for the v1 listings (SES caps an account at 10,000).
  std::vector<std::string> Names();

 private:
  Status Write(const Template& t, bool create_only);

  store::Store* store_;
};

}  // namespace sesame::ses
