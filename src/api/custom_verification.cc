// Custom verification email templates (SES v1 and v2): Create, Update, Get,
// Delete, List, and SendCustomVerificationEmail, which sends the template's
// message with the verification link to an address identity; following the
// link verifies it and redirects to the template's success (or failure) URL
// (/verify-email, api.cc).
#include <boost/json.hpp>

#include "api/impl.h"
#include "api/v2_resource_routes.h"
#include "base/base64.h"

namespace sesame::api {
namespace json = boost::json;
namespace {

constexpr size_t kMaxPage = 50;  // MaxResults / PageSize: 1-50

// A ses:: error of these operations, in both APIs' terms (v1 answers 400
// where v2 answers 404).
ApiError TemplateError(const Error& e) {
  const std::string& code = e.code();
  if (code == "not_found")
    return {404, "NotFoundException",
            "CustomVerificationEmailTemplateDoesNotExist", e.message()};
  if (code == "exists")
    return {400, "AlreadyExistsException",
            "CustomVerificationEmailTemplateAlreadyExists", e.message()};
  if (code == "limit")
    return {400, "LimitExceededException", "LimitExceeded", e.message()};
  if (code == "invalid") return BadRequest(e.message());
  return InternalError(e);
}

HttpResponse V1TemplateError(const Error& e) {
  ApiError a = TemplateError(e);
  if (a.status == 404) a.status = 400;
  return V1Error(a);
}

ApiError FromNotVerified(const std::string& from) {
  return {400, "BadRequestException", "FromEmailAddressNotVerified",
          "From email address <" + from + "> is not verified."};
}

// The listing's fields (the content is Get's only).
json::object Summary(const ses::VerificationTemplate& t) {
  return {{"TemplateName", t.name},
          {"FromEmailAddress", t.from},
          {"TemplateSubject", t.subject},
          {"SuccessRedirectionURL", t.success_url},
          {"FailureRedirectionURL", t.failure_url}};
}

std::string Xml(const json::object& o) {
  std::string out;
  for (const auto& [k, v] : o)
    out += "<" + std::string(k) + ">" + XmlEscape(std::string(v.as_string())) +
           "</" + std::string(k) + ">";
  return out;
}

ses::VerificationTemplate FromJson(const std::string& name,
                                   const json::object& o) {
  return {name,
          JsonString(o, "FromEmailAddress"),
          JsonString(o, "TemplateSubject"),
          JsonString(o, "TemplateContent"),
          JsonString(o, "SuccessRedirectionURL"),
          JsonString(o, "FailureRedirectionURL")};
}

// Create and Update share their checks: the sender must be verified.
Status PutTemplate(ses::Resources& r, const ses::VerificationTemplate& t,
                   bool create, ApiError* refused) {
  if (!t.from.empty() && !r.identities().Verified(t.from)) {
    *refused = FromNotVerified(t.from);
    return Error::Permanent("refused", refused->message);
  }
  Status s = create ? r.verification_templates().Create(t)
                    : r.verification_templates().Update(t);
  if (!s.ok()) *refused = TemplateError(s.error());
  return s;
}

// --- v2 resource routes ------------------------------------------------------
HttpResponse CreateTemplate(ResourceCall& c, json::object& o) {
  ApiError refused;
  Status s = PutTemplate(
      c.resources, FromJson(JsonString(o, "TemplateName"), o), true, &refused);
  return s.ok() ? Reply({}) : V2Error(refused);
}

HttpResponse UpdateTemplate(ResourceCall& c, json::object& o) {
  ApiError refused;
  Status s =
      PutTemplate(c.resources, FromJson(c.params[0], o), false, &refused);
  return s.ok() ? Reply({}) : V2Error(refused);
}

HttpResponse GetTemplate(ResourceCall& c) {
  auto t = c.resources.verification_templates().Get(c.params[0]);
  if (!t.ok()) return V2Error(TemplateError(t.error()));
  json::object out = Summary(*t);
  out["TemplateContent"] = t->content;
  return Reply(out);
}

HttpResponse DeleteTemplate(ResourceCall& c) {
  Status s = c.resources.verification_templates().Delete(c.params[0]);
  return s.ok() ? Reply({}) : V2Error(TemplateError(s.error()));
}

HttpResponse ListTemplates(ResourceCall& c, const PageRequest& page) {
  return ListReply(
      c.resources.verification_templates().List(page.after, page.size),
      "CustomVerificationEmailTemplates", Summary);
}

}  // namespace

void AddVerificationTemplateRoutes(ResourceRouter& r) {
  const std::string base = "/v2/email/custom-verification-email-templates";
  r.Rest("POST", base, true, WithBody<CreateTemplate>);
  r.Rest("GET", base, true, WithPage<ListTemplates, kMaxPage, kMaxPage>);
  r.Rest("GET", base + "/{name}", true, GetTemplate);
  r.Rest("PUT", base + "/{name}", true, WithBody<UpdateTemplate>);
  r.Rest("DELETE", base + "/{name}", true, DeleteTemplate);
}

// --- v1 ----------------------------------------------------------------------
void Api::Impl::V1VerificationTemplates(V1Call& c) {
  const std::string& a = c.action;
  std::map<std::string, std::string>& f = c.form;
  auto& store = resources.verification_templates();
  if (a == "GetCustomVerificationEmailTemplate") {
    auto t = store.Get(f["TemplateName"]);
    if (!t.ok()) return c.done(V1TemplateError(t.error()));
    json::object o = Summary(*t);
    o["TemplateContent"] = t->content;
    return c.done(V1Ok(a, "\n    " + Xml(o) + "\n  "));
  }
  if (a == "DeleteCustomVerificationEmailTemplate") {
    Status s = store.Delete(f["TemplateName"]);
    // SES's Delete names no error: a template that is not there is gone.
    if (!s.ok() && s.error().code() != "not_found")
      return c.done(V1TemplateError(s.error()));
    return c.done(V1Ok(a, ""));
  }
  if (a == "ListCustomVerificationEmailTemplates") {
    size_t size = kMaxPage;
    if (f.count("MaxResults")) {
      size = std::strtoul(f["MaxResults"].c_str(), nullptr, 10);
      if (size < 1 || size > kMaxPage)
        return c.done(
            V1Error(BadRequest("MaxResults must be between 1 and 50")));
    }
    std::string after;
    if (!f["NextToken"].empty()) {
      auto d = Base64Decode(f["NextToken"]);
      if (!d)
        return c.done(
            V1Error({400, "", "InvalidNextToken", "The NextToken is invalid"}));
      after = *d;
    }
    auto page = store.List(after, size);
    if (!page.ok()) return c.done(V1TemplateError(page.error()));
    std::string body = "\n    <CustomVerificationEmailTemplates>";
    for (const auto& t : page->items)
      body += "\n      <member>" + Xml(Summary(t)) + "</member>";
    body += "\n    </CustomVerificationEmailTemplates>";
    if (!page->next.empty()) body += V1NextToken(page->next);
    return c.done(V1Ok(a, body + "\n  "));
  }
  json::object o;
  for (const char* k :
       {"FromEmailAddress", "TemplateSubject", "TemplateContent",
        "SuccessRedirectionURL", "FailureRedirectionURL"})
    if (f.count(k)) o[k] = f[k];
  ApiError refused;
  bool create = a == "CreateCustomVerificationEmailTemplate";
  Status s =
      PutTemplate(resources, FromJson(f["TemplateName"], o), create, &refused);
  if (!s.ok()) {
    if (refused.status == 404) refused.status = 400;
    return c.done(V1Error(refused));
  }
  c.done(V1Ok(a, ""));
}

std::variant<std::string, ApiError> Api::Impl::StartCustomVerification(
    const std::string& address, const std::string& template_name,
    const std::string& config_set) {
  auto t = resources.verification_templates().Get(template_name);
  if (!t.ok()) return TemplateError(t.error());
  if (!resources.identities().Verified(t->from))
    return FromNotVerified(t->from);
  if (!config_set.empty() && !resources.configuration_sets().Exists(config_set))
    return MissingConfigurationSet(config_set);
  auto token =
      resources.identities().BeginCustomVerification(address, template_name);
  if (!token.ok()) return BadRequest(token.error().message());
  std::string id = SendVerification(address, *token, &*t);
  if (id.empty())
    return Rejected("The custom verification email could not be built.");
  return id;
}

void Api::Impl::V1SendCustomVerificationEmail(V1Call& c) {
  auto r =
      StartCustomVerification(c.form["EmailAddress"], c.form["TemplateName"],
                              c.form["ConfigurationSetName"]);
  if (auto* e = std::get_if<ApiError>(&r)) {
    if (e->status == 404) e->status = 400;
    return c.done(V1Error(*e));
  }
  c.done(V1Ok(c.action, "\n    <MessageId>" + std::get<std::string>(r) +
                            "</MessageId>\n  "));
}

void Api::Impl::V2OpSendCustomVerificationEmail(V2Call& c) {
  auto body = BodyObject(c.req);
  if (auto* e = std::get_if<HttpResponse>(&body)) return c.done(std::move(*e));
  json::object o = std::get<json::object>(body);
  std::string address = JsonString(o, "EmailAddress");
  std::string name = JsonString(o, "TemplateName");
  if (address.empty() || name.empty())
    return c.done(
        V2Error(BadRequest("EmailAddress and TemplateName are required")));
  // It writes the identity: on the store thread, as every write.
  store_thread.Post([this, address, name,
                     set = JsonString(o, "ConfigurationSetName"),
                     done = std::move(c.done)]() mutable {
    auto r = StartCustomVerification(address, name, set);
    if (auto* e = std::get_if<ApiError>(&r)) return done(V2Error(*e));
    done(JsonOk(json::serialize(
        json::object{{"MessageId", std::get<std::string>(r)}})));
  });
}

}  // namespace sesame::api
