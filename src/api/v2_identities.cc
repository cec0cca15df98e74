// SES v2 email identities: creation and verification status, DKIM (Easy
// DKIM, BYODKIM, rotation), custom MAIL FROM and sending-authorization
// policies.

#include "api/v2_resource_routes.h"
#include "base/base64.h"
#include "base/strings.h"

namespace sesame::api {
namespace json = boost::json;
using ses::DkimKeys;
using ses::Identities;
using ses::JsonString;

namespace {

bool IsDomain(const std::string& identity) {
  return identity.find('@') == std::string::npos;
}

json::array Tokens(const DkimKeys::Info& info) {
  json::array tokens{json::string(info.selector)};
  if (!info.next_selector.empty())
    tokens.push_back(json::string(info.next_selector));
  return tokens;
}

// DkimAttributes of GetEmailIdentity and CreateEmailIdentity.
json::object DkimAttributes(ses::Resources& r, const ses::Identity* id,
                            const std::string& name) {
  std::optional<DkimKeys::Info> info;
  if (r.dkim() && IsDomain(name)) info = r.dkim()->Find(name);
  json::object d;
  d["SigningAttributesOrigin"] = info ? info->origin : "AWS_SES";
  d["SigningEnabled"] = info && info->signing_enabled;
  // DKIM's status is its record's, not the identity's: a domain verified by
  // its _amazonses token alone has published no DKIM record.
  if (!info)
    d["Status"] = "NOT_STARTED";
  else if (r.auto_verify())
    d["Status"] = "SUCCESS";
  else if (id && !id->dkim_status.empty())
    d["Status"] = id->dkim_status;
  else
    d["Status"] = "PENDING";
  d["Tokens"] = info ? Tokens(*info) : json::array();
  if (info) {
    d["NextSigningKeyLength"] = "RSA_2048_BIT";
    d["CurrentSigningKeyLength"] = "RSA_2048_BIT";
  }
  return d;
}

HttpResponse NoDkim() {
  return Fail(ApiError{404, "NotFoundException", "InvalidAction",
                       "DKIM signing is not configured on this server"});
}

// CreateEmailIdentity (a domain gets its Easy DKIM key).
HttpResponse CreateIdentity(ResourceCall& c, json::object& o) {
  std::string id = JsonString(o, "EmailIdentity");
  if (id.empty() || id.find_first_of("\r\n ") != std::string::npos)
    return Fail(BadRequest("EmailIdentity is required"));
  TagList tags;
  if (auto* t = o.if_contains("Tags")) {
    auto parsed = ParseTags(*t);
    if (auto* e = std::get_if<HttpResponse>(&parsed)) return std::move(*e);
    tags = std::get<TagList>(std::move(parsed));
  }
  std::string set = JsonString(o, "ConfigurationSetName");
  if (!set.empty() && !c.resources.configuration_sets().Exists(set))
    return Fail(
        ses::NotFound("Configuration set <" + set + "> does not exist."));
  if (Status s = c.resources.identities().Create(id); !s.ok())
    return Fail(s.error());
  if (!set.empty())
    if (Status s = c.resources.identities().SetConfigurationSet(id, set);
        !s.ok())
      return Fail(s.error());
  if (!tags.empty())
    if (Status s =
            c.resources.tags().Tag(c.resources.identities().Arn(id), tags);
        !s.ok())
      return Fail(s.error());
  return Reply({{"IdentityType", IsDomain(id) ? "DOMAIN" : "EMAIL_ADDRESS"},
                {"VerifiedForSendingStatus", c.resources.auto_verify()},
                {"DkimAttributes", DkimAttributes(c.resources, nullptr, id)}});
}

// ListEmailIdentities.
HttpResponse ListIdentities(ResourceCall& c, const PageRequest& p) {
  return ListReply(c.resources.identities().List(p.after, p.size),
                   "EmailIdentities", [](const ses::Identity& id) {
                     return json::object{
                         {"IdentityType", id.type},
                         {"IdentityName", id.name},
                         {"SendingEnabled", true},
                         {"VerificationStatus", id.verification_status}};
                   });
}

// GetEmailIdentity.
HttpResponse GetIdentity(ResourceCall& c) {
  auto id = c.resources.identities().Get(c.params[0]);
  if (!id.ok()) return Fail(id.error());
  json::object policies, verification;
  for (const auto& [k, v] : id->policies) policies[k] = v;
  if (id->last_checked) verification["LastCheckedTimestamp"] = id->last_checked;
  if (id->last_success) verification["LastSuccessTimestamp"] = id->last_success;
  json::array tags;
  if (auto t = c.resources.tags().Get(c.resources.identities().Arn(id->name));
      t.ok())
    for (const auto& [k, v] : *t) tags.push_back({{"Key", k}, {"Value", v}});
  json::object out(
      {{"IdentityType", id->type},
       {"FeedbackForwardingStatus",
        c.resources.identities().Notifications(id->name).forwarding},
       {"VerifiedForSendingStatus", id->verification_status == "SUCCESS"},
       {"DkimAttributes", DkimAttributes(c.resources, &*id, id->name)},
       {"MailFromAttributes",
        {{"MailFromDomain", id->mail_from_domain},
         {"MailFromDomainStatus", id->mail_from_status},
         {"BehaviorOnMxFailure", id->behavior_on_mx_failure}}},
       {"Policies", std::move(policies)},
       {"Tags", std::move(tags)},
       {"VerificationStatus", id->verification_status},
       {"VerificationInfo", std::move(verification)}});
  if (!id->configuration_set.empty())
    out["ConfigurationSetName"] = id->configuration_set;
  return Reply(out);
}

// PutEmailIdentityConfigurationSetAttributes: the identity's default set
// (no ConfigurationSetName: none).
HttpResponse PutIdentityConfigurationSet(ResourceCall& c, json::object& o) {
  std::string set = JsonString(o, "ConfigurationSetName");
  if (!set.empty() && !c.resources.configuration_sets().Exists(set))
    return Fail(
        ses::NotFound("Configuration set <" + set + "> does not exist."));
  return Done(c.resources.identities().SetConfigurationSet(c.params[0], set));
}

// DeleteEmailIdentity.
HttpResponse DeleteIdentity(ResourceCall& c) {
  return Done(c.resources.identities().Delete(c.params[0]));
}

// BYODKIM: the caller's selector and private key (base64 DER).
Result<DkimKeys::Info> ExternalKey(DkimKeys* dkim, const std::string& domain,
                                   const json::object& o) {
  auto* sa = o.if_contains("SigningAttributes");
  json::object attrs = sa && sa->is_object() ? sa->as_object() : json::object();
  std::string selector = JsonString(attrs, "DomainSigningSelector");
  auto der = Base64Decode(JsonString(attrs, "DomainSigningPrivateKey"));
  if (selector.empty() || selector.find_first_of("./ ") != std::string::npos ||
      !der)
    return ses::Invalid(
        "EXTERNAL needs DomainSigningSelector and a base64 "
        "DomainSigningPrivateKey");
  auto key = dkim::PrivateKey::FromDer(*der);
  if (!key.ok())
    return ses::Invalid("DomainSigningPrivateKey: " + key.error().message());
  return dkim->SetExternal(domain, selector, *key);
}

// Easy DKIM: a rotation with overlap when Easy DKIM already signs (the next
// selector is published first and signs once the verifier sees it resolve,
// at once when auto-verifying), else a fresh key.
Result<DkimKeys::Info> EasyKey(DkimKeys* dkim, bool auto_verify,
                               const std::string& domain,
                               const json::object& o) {
  auto* sa = o.if_contains("SigningAttributes");
  std::string len = sa && sa->is_object()
                        ? JsonString(sa->as_object(), "NextSigningKeyLength")
                        : "";
  int bits = len == "RSA_1024_BIT" ? 1024 : 2048;
  auto current = dkim->Find(domain);
  if (!current || current->origin != "AWS_SES")
    return dkim->Regenerate(domain, bits);
  auto info = dkim->Rotate(domain, bits);
  if (!info.ok() || !auto_verify) return info;
  (void)dkim->Promote(domain);
  return dkim->Ensure(domain);
}

// PutEmailIdentityDkimSigningAttributes.
HttpResponse PutDkimSigning(ResourceCall& c, json::object& o) {
  DkimKeys* dkim = c.resources.dkim();
  if (!dkim) return NoDkim();
  const std::string& id = c.params[0];
  std::string origin = JsonString(o, "SigningAttributesOrigin");
  if (origin != "EXTERNAL" && origin != "AWS_SES")
    return Fail(
        BadRequest("SigningAttributesOrigin must be AWS_SES or EXTERNAL"));
  if (!IsDomain(id) || !c.resources.identities().Exists(id))
    return Fail(ses::NotFound("Domain identity <" + id + "> does not exist."));
  auto info = origin == "EXTERNAL"
                  ? ExternalKey(dkim, id, o)
                  : EasyKey(dkim, c.resources.auto_verify(), id, o);
  if (!info.ok()) return Fail(info.error());
  return Reply(
      {{"DkimStatus", c.resources.auto_verify() ? "SUCCESS" : "PENDING"},
       {"DkimTokens", Tokens(*info)}});
}

// PutEmailIdentityDkimAttributes: signing on or off.
HttpResponse PutDkim(ResourceCall& c, json::object& o) {
  if (!c.resources.dkim()) return NoDkim();
  auto* en = o.if_contains("SigningEnabled");
  if (!en || !en->is_bool())
    return Fail(BadRequest("SigningEnabled must be a boolean"));
  Status s = c.resources.dkim()->SetSigning(c.params[0], en->as_bool());
  if (!s.ok()) return Fail(ses::NotFound(s.error().message()));
  return JsonOk("{}");
}

// PutEmailIdentityMailFromAttributes; the verifier checks its MX and SPF.
HttpResponse PutMailFrom(ResourceCall& c, json::object& o) {
  return Done(c.resources.identities().SetMailFrom(
      c.params[0], JsonString(o, "MailFromDomain"),
      JsonString(o, "BehaviorOnMxFailure")));
}

// PutEmailIdentityFeedbackAttributes: the switch v1's
// SetIdentityFeedbackForwardingEnabled sets.
HttpResponse PutFeedback(ResourceCall& c, json::object& o) {
  auto* en = o.if_contains("EmailForwardingEnabled");
  if (en && !en->is_bool())
    return Fail(BadRequest("EmailForwardingEnabled must be true or false"));
  if (!c.resources.identities().Exists(c.params[0]))
    return Fail(
        ses::NotFound("Identity <" + c.params[0] + "> does not exist."));
  return Done(c.resources.identities().SetNotification(
      c.params[0], "forwarding", en && en->as_bool() ? "true" : "false"));
}

// GetEmailIdentityPolicies.
HttpResponse GetPolicies(ResourceCall& c) {
  auto p = c.resources.identities().Policies(c.params[0]);
  if (!p.ok()) return Fail(p.error());
  json::object list;
  for (const auto& [k, v] : *p) list[k] = v;
  return Reply({{"Policies", std::move(list)}});
}

// Create/UpdateEmailIdentityPolicy.
template <Identities::PolicyWrite kMode>
HttpResponse PutPolicy(ResourceCall& c, json::object& o) {
  auto* policy = o.if_contains("Policy");
  if (!policy || !policy->is_string())
    return Fail(BadRequest("Policy (a JSON document as a string) is required"));
  return Done(c.resources.identities().PutPolicy(
      c.params[0], c.params[1], std::string(policy->as_string()), kMode));
}

// DeleteEmailIdentityPolicy.
HttpResponse DeletePolicy(ResourceCall& c) {
  return Done(c.resources.identities().DeletePolicy(c.params[0], c.params[1]));
}

}  // namespace

void AddIdentityRoutes(ResourceRouter& r) {
  const std::string id = "/v2/email/identities/{identity}";
  r.Rest("POST", "/v2/email/identities", true, WithBody<CreateIdentity>);
  r.Rest("GET", "/v2/email/identities", true, WithPage<ListIdentities>);
  r.Rest("GET", id, true, GetIdentity);
  r.Rest("DELETE", id, true, DeleteIdentity);
  // SES v2 serves this one operation under /v1/email.
  r.Rest("PUT", "/v1/email/identities/{identity}/dkim/signing", true,
         WithBody<PutDkimSigning>);
  r.Rest("PUT", id + "/dkim", true, WithBody<PutDkim>);
  r.Rest("PUT", id + "/mail-from", true, WithBody<PutMailFrom>);
  r.Rest("PUT", id + "/feedback", true, WithBody<PutFeedback>);
  r.Rest("PUT", id + "/configuration-set", true,
         WithBody<PutIdentityConfigurationSet>);
  r.Rest("GET", id + "/policies", true, GetPolicies);
  r.Rest("POST", id + "/policies/{policy}", true,
         WithBody<PutPolicy<Identities::PolicyWrite::kCreate>>);
  r.Rest("PUT", id + "/policies/{policy}", true,
         WithBody<PutPolicy<Identities::PolicyWrite::kUpsert>>);
  r.Rest("DELETE", id + "/policies/{policy}", true, DeletePolicy);
}

}  // namespace sesame::api
