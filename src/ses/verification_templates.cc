#include "ses/verification_templates.h"

#include <boost/json.hpp>

#include "base/ids.h"
#include "ses/names.h"

namespace sesame::ses {
namespace json = boost::json;
namespace {

constexpr char kKind[] = "verification-template";

VerificationTemplate FromDocument(const std::string& name,
                                  const std::string& body) {
  json::object o = DocumentObject(body);
  VerificationTemplate t{name,
                         JsonString(o, "FromEmailAddress"),
                         JsonString(o, "TemplateSubject"),
                         JsonString(o, "TemplateContent"),
                         JsonString(o, "SuccessRedirectionURL"),
                         JsonString(o, "FailureRedirectionURL")};
  if (auto* c = o.if_contains("CreatedTimestamp"); c && c->is_int64())
    t.created = c->as_int64();
  return t;
}

Error Missing(const std::string& name) {
  return NotFound("Custom verification email template <" + name +
                  "> does not exist.");
}

// The redirection URLs reach a Location header: http(s) only, no spaces or
// control characters.
bool ValidUrl(const std::string& url) {
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return false;
  for (unsigned char c : url)
    if (c <= 0x20 || c == 0x7f) return false;
  return url.size() <= 2048;
}

Status Check(const VerificationTemplate& t) {
  if (Status v =
          CheckResourceName("custom verification email template", t.name);
      !v.ok())
    return v;
  if (!t.from.empty()) {
    if (t.from.find('@') == std::string::npos ||
        !CheckIdentityName(t.from).ok())
      return Invalid("FromEmailAddress <" + t.from +
                     "> is not a valid email address.");
  }
  for (const auto* url : {&t.success_url, &t.failure_url})
    if (!url->empty() && !ValidUrl(*url))
      return Invalid("Invalid redirection URL <" + *url +
                     ">: it must be an http or https URL.");
  if (t.content.size() > VerificationTemplates::kMaxContentBytes)
    return Invalid("TemplateContent is larger than 10 MB.");
  for (unsigned char c : t.subject)
    if (c == '\r' || c == '\n')
      return Invalid("TemplateSubject has a line break.");
  return Ok{};
}

}  // namespace

Status VerificationTemplates::Create(const VerificationTemplate& t) {
  if (Status v = Check(t); !v.ok()) return v;
  if (t.from.empty() || t.subject.empty() || t.content.empty() ||
      t.success_url.empty() || t.failure_url.empty())
    return Invalid(
        "FromEmailAddress, TemplateSubject, TemplateContent, "
        "SuccessRedirectionURL and FailureRedirectionURL are required.");
  if (DocumentNames(store_, kKind).size() >= kMaxTemplates)
    return Error::Permanent("limit",
                            "You have reached the limit of 50 custom "
                            "verification email templates.");
  Status s = Write(t, true);
  if (!s.ok() && s.error().code() == "exists")
    return Exists("Custom verification email template <" + t.name +
                  "> already exists.");
  return s;
}

Status VerificationTemplates::Update(const VerificationTemplate& t) {
  if (Status v = Check(t); !v.ok()) return v;
  auto old = Get(t.name);
  if (!old.ok()) return old.error();
  VerificationTemplate u = *old;
  if (!t.from.empty()) u.from = t.from;
  if (!t.subject.empty()) u.subject = t.subject;
  if (!t.content.empty()) u.content = t.content;
  if (!t.success_url.empty()) u.success_url = t.success_url;
  if (!t.failure_url.empty()) u.failure_url = t.failure_url;
  return Write(u, false);
}

Result<VerificationTemplate> VerificationTemplates::Get(
    const std::string& name) {
  auto doc = store_->Get(kKind, name);
  if (!doc.ok()) return doc.error();
  if (!doc->has_value()) return Missing(name);
  return FromDocument(name, **doc);
}

Status VerificationTemplates::Delete(const std::string& name) {
  auto gone = store_->Delete(kKind, name);
  if (!gone.ok()) return gone.error();
  if (!*gone) return Missing(name);
  return Ok{};
}

Result<Page<VerificationTemplate>> VerificationTemplates::List(
    const std::string& after, size_t limit) {
  return ListPage<VerificationTemplate>(store_, kKind, after, limit,
                                        FromDocument);
}

Status VerificationTemplates::Write(const VerificationTemplate& t,
                                    bool create_only) {
  json::object o;
  o["FromEmailAddress"] = t.from;
  o["TemplateSubject"] = t.subject;
  o["TemplateContent"] = t.content;
  o["SuccessRedirectionURL"] = t.success_url;
  o["FailureRedirectionURL"] = t.failure_url;
  o["CreatedTimestamp"] = t.created ? t.created : NowMillis() / 1000;
  return store_->Put(kKind, t.name, json::serialize(o), create_only);
}

}  // namespace sesame::ses
