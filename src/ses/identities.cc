#include "ses/identities.h"

#include <boost/json.hpp>

#include "auth/policy.h"
#include "auth/sigv4.h"
#include "base/ids.h"
#include "base/strings.h"
#include "ses/names.h"
#include "smtp/address.h"

namespace sesame::ses {
namespace json = boost::json;
namespace {

constexpr char kKind[] = "identity";

Identity FromDocument(const std::string& name, const std::string& body) {
  json::object d = DocumentObject(body);
  Identity id;
  id.name = name;
  id.type = JsonString(d, "IdentityType");
  id.verification_status = JsonString(d, "VerificationStatus");
  id.dkim_status = JsonString(d, "DkimStatus");
  auto seconds = [&](const char* key) -> int64_t {
    auto* v = d.if_contains(key);
    return v && v->is_int64() ? v->as_int64() : 0;
  };
  id.last_checked = seconds("LastCheckedTimestamp");
  id.last_success = seconds("LastSuccessTimestamp");
  id.mail_from_domain = JsonString(d, "MailFromDomain");
  if (auto s = JsonString(d, "MailFromDomainStatus"); !s.empty())
    id.mail_from_status = s;
  if (auto b = JsonString(d, "BehaviorOnMxFailure"); !b.empty())
    id.behavior_on_mx_failure = b;
  if (auto* p = d.if_contains("Policies"); p && p->is_object()) {
    for (const auto& [k, v] : p->as_object())
      if (v.is_string())
        id.policies[std::string(k)] = std::string(v.as_string());
  }
  id.configuration_set = JsonString(d, "ConfigurationSetName");
  return id;
}

}  // namespace

Result<json::object> LoadIdentityDocument(store::Store* store,
                                          const std::string& identity) {
  auto doc = store->Get("identity", AsciiLowerCopy(identity));
  if (!doc.ok()) return doc.error();
  if (!doc->has_value())
    return Error::Permanent("not_found",
                            "Identity <" + identity + "> does not exist.");
  boost::system::error_code ec;
  json::value v = json::parse(**doc, ec);
  if (ec || !v.is_object())
    return Error::Permanent(
        "corrupt", "identity " + identity + " has a malformed document");
  return std::move(v.as_object());
}

Status Identities::Add(const std::string& identity) {
  if (Status v = CheckIdentityName(identity); !v.ok()) return v;
  json::object o;
  o["IdentityType"] =
      identity.find('@') == std::string::npos ? "DOMAIN" : "EMAIL_ADDRESS";
  o["VerificationStatus"] = auto_verify_ ? "SUCCESS" : "PENDING";
  o["CreatedTimestamp"] = NowMillis() / 1000;
  auto existing = store_->Get("identity", AsciiLowerCopy(identity));
  if (existing.ok() && existing->has_value()) return Ok{};
  bool address = identity.find('@') != std::string::npos;
  std::string token;
  if (address && !auto_verify_) {
    // Verified by following a link sent to the address.
    token = auth::Hex(auth::HmacSha256(
        std::to_string(NowMillis()) + NewMessageId(NowMillis()), identity));
    o["EmailVerificationToken"] = token;
  }
  Status s = store_->Put("identity", AsciiLowerCopy(identity),
                         json::serialize(o), false);
  if (s.ok() && !token.empty() && on_email_identity_)
    on_email_identity_(identity, token);
  return s;
}

Result<std::string> Identities::BeginCustomVerification(
    const std::string& address, const std::string& template_name) {
  if (address.find('@') == std::string::npos)
    return Invalid("Invalid email address <" + address + ">.");
  if (Status v = CheckIdentityName(address); !v.ok()) return v.error();
  const std::string key = AsciiLowerCopy(address);
  auto d = store_->Get("identity", key);
  if (!d.ok()) return d.error();
  json::object o;
  if (d->has_value()) {
    o = DocumentObject(**d);
  } else {
    o["IdentityType"] = "EMAIL_ADDRESS";
    o["VerificationStatus"] = auto_verify_ ? "SUCCESS" : "PENDING";
    o["CreatedTimestamp"] = NowMillis() / 1000;
  }
  std::string token = auth::Hex(auth::HmacSha256(
      std::to_string(NowMillis()) + NewMessageId(NowMillis()), address));
  o["EmailVerificationToken"] = token;
  o["CustomVerificationTemplate"] = template_name;
  Status s = store_->Put("identity", key, json::serialize(o), false);
  if (!s.ok()) return s.error();
  return token;
}

std::string Identities::CustomVerificationTemplate(const std::string& address) {
  auto d = store_->Get("identity", AsciiLowerCopy(address));
  if (!d.ok() || !d->has_value()) return "";
  return JsonString(DocumentObject(**d), "CustomVerificationTemplate");
}

bool Identities::ConfirmEmail(const std::string& identity,
                              const std::string& token) {
  auto d = store_->Get("identity", AsciiLowerCopy(identity));
  if (!d.ok() || !d->has_value() || token.empty()) return false;
  json::object o = DocumentObject(**d);
  auto* t = o.if_contains("EmailVerificationToken");
  if (!t || !t->is_string() ||
      !auth::SafeEquals(std::string(t->as_string()), token))
    return false;
  o["VerificationStatus"] = "SUCCESS";
  o["LastSuccessTimestamp"] = NowMillis() / 1000;
  o.erase("EmailVerificationToken");
  return store_
      ->Put("identity", AsciiLowerCopy(identity), json::serialize(o), false)
      .ok();
}

std::vector<std::string> Identities::Names() {
  return DocumentNames(store_, kKind);
}

Status Identities::Delete(const std::string& identity) {
  // SES: deleting an identity that does not exist succeeds.
  auto gone = store_->Delete(kKind, AsciiLowerCopy(identity));
  if (!gone.ok()) return gone.error();
  return Ok{};
}

std::string Identities::VerificationStatus(const std::string& identity) {
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return "";
  auto* st = doc->if_contains("VerificationStatus");
  if (auto_verify_) return "SUCCESS";
  return st && st->is_string() ? std::string(st->as_string()) : "PENDING";
}

bool Identities::Exists(const std::string& identity) {
  auto d = store_->Get("identity", AsciiLowerCopy(identity));
  return d.ok() && d->has_value();
}

Status Identities::SetMailFrom(const std::string& identity,
                               const std::string& domain,
                               const std::string& behavior_in) {
  std::string key = AsciiLowerCopy(identity);
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return doc.error();
  json::object& d = *doc;
  std::string mf = AsciiLowerCopy(domain);
  std::string behavior =
      behavior_in.empty() ? "USE_DEFAULT_VALUE" : behavior_in;
  if (behavior != "USE_DEFAULT_VALUE" && behavior != "REJECT_MESSAGE")
    return Error::Permanent(
        "invalid",
        "BehaviorOnMxFailure must be USE_DEFAULT_VALUE or REJECT_MESSAGE");
  std::string base = key.substr(key.find('@') + 1);
  // It becomes the domain of every return path: a valid domain, nothing else.
  if (!mf.empty() && !smtp::IsValidDomain(mf))
    return Error::Permanent("invalid", "MailFromDomain " + Quoted(domain) +
                                           " is not a valid domain name");
  if (!mf.empty() && (mf.size() <= base.size() + 1 ||
                      mf.compare(mf.size() - base.size() - 1, std::string::npos,
                                 "." + base) != 0))
    return Error::Permanent("invalid",
                            "MailFromDomain must be a subdomain of " + base);
  if (mf.empty()) {
    d.erase("MailFromDomain");
    d.erase("MailFromDomainStatus");
  } else {
    d["MailFromDomain"] = mf;
    d["MailFromDomainStatus"] = "PENDING";
  }
  d["BehaviorOnMxFailure"] = behavior;
  return store_->Put("identity", key, json::serialize(d), false);
}

std::string Identities::IdentityFor(const std::string& address) {
  std::string a = AsciiLowerCopy(address);
  if (Exists(a)) return a;
  size_t at = a.rfind('@');
  for (std::string d = at == std::string::npos ? a : a.substr(at + 1);
       d.find('.') != std::string::npos; d = d.substr(d.find('.') + 1)) {
    if (Exists(d)) return d;
  }
  return "";
}

Status Identities::PutPolicy(const std::string& identity,
                             const std::string& name, const std::string& policy,
                             PolicyWrite mode) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
                             "xyz0123456789_-") != std::string::npos)
    return Error::Permanent(
        "invalid_policy",
        "Policy names are 1 to 64 characters of A-Z, a-z, 0-9, _ and -.");
  std::string key = AsciiLowerCopy(identity);
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return doc.error();
  Status valid = auth::ValidatePolicy(policy, Arn(key));
  if (!valid.ok()) return valid;
  json::object& d = *doc;
  json::object policies;
  if (auto* p = d.if_contains("Policies"); p && p->is_object())
    policies = p->as_object();
  bool exists = policies.contains(name);
  if (mode == PolicyWrite::kCreate && exists)
    return Error::Permanent("exists", "Policy " + name + " already exists.");
  if (!exists && policies.size() >= 20)
    return Error::Permanent("limit", "An identity has at most 20 policies.");
  policies[name] = policy;
  d["Policies"] = std::move(policies);
  return store_->Put("identity", key, json::serialize(d), false);
}

Status Identities::DeletePolicy(const std::string& identity,
                                const std::string& name) {
  std::string key = AsciiLowerCopy(identity);
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return doc.error();
  json::object& d = *doc;
  auto* p = d.if_contains("Policies");
  if (!p || !p->is_object() || !p->as_object().contains(name))
    return Ok{};  // SES: deleting an absent policy succeeds
  p->as_object().erase(name);
  return store_->Put("identity", key, json::serialize(d), false);
}

Result<std::map<std::string, std::string>> Identities::Policies(
    const std::string& identity) {
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return doc.error();
  std::map<std::string, std::string> out;
  if (auto* p = doc->if_contains("Policies"); p && p->is_object()) {
    for (const auto& [k, val] : p->as_object()) {
      if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
    }
  }
  return out;
}

bool Identities::Verified(const std::string& address) {
  auto ok = [&](const std::string& identity) {
    auto d = store_->Get("identity", AsciiLowerCopy(identity));
    if (!d.ok() || !d->has_value()) return false;
    json::value v = json::value(DocumentObject(**d));
    auto* st = v.as_object().if_contains("VerificationStatus");
    return st && st->is_string() && st->as_string() == "SUCCESS";
  };
  if (ok(address)) return true;
  size_t at = address.rfind('@');
  // A subdomain inherits a verified parent (never a bare TLD).
  for (std::string d = at == std::string::npos ? address
                                               : address.substr(at + 1);
       d.find('.') != std::string::npos; d = d.substr(d.find('.') + 1)) {
    if (ok(d)) return true;
  }
  return false;
}

MailFrom Identities::MailFromFor(const std::string& address) {
  MailFrom out;
  size_t at = address.rfind('@');
  std::vector<std::string> candidates = {AsciiLowerCopy(address)};
  for (std::string d = at == std::string::npos
                           ? ""
                           : AsciiLowerCopy(address.substr(at + 1));
       d.find('.') != std::string::npos; d = d.substr(d.find('.') + 1)) {
    candidates.push_back(d);
  }
  for (const auto& c : candidates) {
    auto doc = store_->Get("identity", c);
    if (!doc.ok() || !doc->has_value()) continue;
    json::object o = DocumentObject(**doc);
    auto* mf = o.if_contains("MailFromDomain");
    if (!mf || !mf->is_string()) continue;
    out.domain = std::string(mf->as_string());
    out.verified = o.contains("MailFromDomainStatus") &&
                   o["MailFromDomainStatus"] == "SUCCESS";
    if (auto* st = o.if_contains("MailFromDomainStatus"); st && st->is_string())
      out.status = std::string(st->as_string());
    out.reject_on_failure = o.contains("BehaviorOnMxFailure") &&
                            o["BehaviorOnMxFailure"] == "REJECT_MESSAGE";
    return out;
  }
  return out;
}

bool Identities::IsMailFromDomain(const std::string& domain) {
  // The MAIL FROM domain is a subdomain of its identity: look up the parents.
  for (std::string d = domain; d.find('.') != std::string::npos;) {
    d = d.substr(d.find('.') + 1);
    auto doc = store_->Get("identity", d);
    if (!doc.ok() || !doc->has_value()) continue;
    json::value v = json::value(DocumentObject(**doc));
    auto* mf = v.as_object().if_contains("MailFromDomain");
    if (mf && mf->is_string() && mf->as_string() == domain) return true;
  }
  return false;
}

NotificationSettings Identities::Notifications(const std::string& identity) {
  NotificationSettings out;
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return out;
  if (auto* n = doc->if_contains("NotificationTopics"); n && n->is_object()) {
    for (const auto& [k, v] : n->as_object()) {
      if (v.is_string())
        out.topics[std::string(k)] = std::string(v.as_string());
    }
  }
  if (auto* h = doc->if_contains("HeadersInNotifications");
      h && h->is_array()) {
    for (const auto& v : h->as_array()) {
      if (v.is_string()) out.with_headers.insert(std::string(v.as_string()));
    }
  }
  if (auto* f = doc->if_contains("FeedbackForwardingEnabled");
      f && f->is_bool())
    out.forwarding = f->as_bool();
  return out;
}

Status Identities::SetNotification(const std::string& identity,
                                   const std::string& field,
                                   const std::string& value) {
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return doc.error();
  json::object& d = *doc;
  std::string type = field.substr(field.find(':') + 1);
  if (field.rfind("topic:", 0) == 0 || field.rfind("headers:", 0) == 0) {
    if (type != "Bounce" && type != "Complaint" && type != "Delivery")
      return Error::Permanent("invalid",
                              "NotificationType must be Bounce, Complaint or "
                              "Delivery");
  }
  if (field.rfind("topic:", 0) == 0) {
    if (!value.empty() && value.rfind("arn:aws:sns:", 0) != 0)
      return Error::Permanent("invalid", "SnsTopic must be an SNS topic ARN");
    json::object topics;
    if (auto* n = d.if_contains("NotificationTopics"); n && n->is_object())
      topics = n->as_object();
    if (value.empty())
      topics.erase(type);
    else
      topics[type] = value;
    d["NotificationTopics"] = std::move(topics);
  } else if (field.rfind("headers:", 0) == 0) {
    std::set<std::string> types = Notifications(identity).with_headers;
    if (value == "true")
      types.insert(type);
    else
      types.erase(type);
    json::array list;
    for (const auto& t : types) list.push_back(json::string(t));
    d["HeadersInNotifications"] = std::move(list);
  } else if (field == "forwarding") {
    d["FeedbackForwardingEnabled"] = value == "true";
  } else {
    return Error::Permanent("invalid", "unknown notification setting");
  }
  return store_->Put("identity", AsciiLowerCopy(identity), json::serialize(d),
                     false);
}

Status Identities::Create(const std::string& identity) {
  if (Exists(identity))
    return ses::Exists("Email identity <" + identity + "> already exists.");
  if (Status s = Add(identity); !s.ok()) return s;
  if (identity.find('@') != std::string::npos || !dkim_) return Ok{};
  auto key = dkim_->Ensure(identity);  // Easy DKIM: a key per domain identity
  if (!key.ok()) return key.error();
  return Ok{};
}

Status Identities::SetConfigurationSet(const std::string& identity,
                                       const std::string& name) {
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok())
    return NotFound("Email identity <" + identity + "> does not exist.");
  if (name.empty()) {
    doc->erase("ConfigurationSetName");
  } else {
    (*doc)["ConfigurationSetName"] = name;
  }
  return store_->Put(kKind, AsciiLowerCopy(identity), json::serialize(*doc),
                     false);
}

std::string Identities::DefaultConfigurationSetFor(const std::string& address) {
  size_t at = address.rfind('@');
  for (const std::string& id :
       {address, at == std::string::npos ? "" : address.substr(at + 1)}) {
    if (id.empty()) continue;
    auto doc = store_->Get(kKind, AsciiLowerCopy(id));
    if (!doc.ok() || !doc->has_value()) continue;
    std::string set = JsonString(DocumentObject(**doc), "ConfigurationSetName");
    if (!set.empty()) return set;
  }
  return "";
}

Result<Identity> Identities::Get(const std::string& identity) {
  auto doc = store_->Get(kKind, AsciiLowerCopy(identity));
  if (!doc.ok()) return doc.error();
  if (!doc->has_value())
    return NotFound("Email identity <" + identity + "> does not exist.");
  return FromDocument(AsciiLowerCopy(identity), **doc);
}

Result<Page<Identity>> Identities::List(const std::string& after,
                                        size_t limit) {
  return ListPage<Identity>(store_, kKind, after, limit, FromDocument);
}

}  // namespace sesame::ses
