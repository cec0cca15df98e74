#include "ses/resources.h"

#include <boost/json.hpp>
#include <map>

#include "auth/policy.h"
#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/strings.h"
#include "ses/names.h"
#include "smtp/address.h"

namespace sesame::ses {
namespace json = boost::json;

std::string JsonString(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

// An identity's store document; "not_found" when there is none.
json::object DocumentObject(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

Result<json::object> LoadIdentityDocument(store::Store* store,
                                          const std::string& identity) {
  auto doc = store->Get("identity", AsciiLowerCopy(identity));
  if (!doc.ok()) return doc.error();
  if (!doc->has_value())
    return Error::Permanent("not_found",
                            "Identity " + identity + " does not exist.");
  boost::system::error_code ec;
  json::value v = json::parse(**doc, ec);
  if (ec || !v.is_object())
    return Error::Permanent(
        "corrupt", "identity " + identity + " has a malformed document");
  return std::move(v.as_object());
}

std::optional<Resources::TemplateContent> Resources::GetTemplate(
    const std::string& name) {
  auto doc = store_->Get("template", name);
  if (!doc.ok() || !doc->has_value()) return std::nullopt;
  json::value v = json::value(DocumentObject(**doc));
  const auto& o = v.as_object();
  return TemplateContent{JsonString(o, "Subject"), JsonString(o, "Text"),
                         JsonString(o, "Html")};
}

Status Resources::PutTemplate(const std::string& name, const TemplateContent& c,
                              bool create_only) {
  if (create_only) {
    if (Status v = CheckResourceName("template", name); !v.ok()) return v;
  }
  json::object o;
  o["Subject"] = c.subject;
  o["Text"] = c.text;
  o["Html"] = c.html;
  o["CreatedTimestamp"] = NowMillis() / 1000;
  return store_->Put("template", name, json::serialize(o), create_only);
}

Result<bool> Resources::DeleteTemplate(const std::string& name) {
  return store_->Delete("template", name);
}

std::vector<std::string> Resources::ListTemplates() {
  std::vector<std::string> out;
  auto rows = store_->List("template", "", 10000);
  if (rows.ok()) {
    for (auto& r : *rows) out.push_back(r.first);
  }
  return out;
}

Status Resources::AddIdentity(const std::string& identity) {
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

bool Resources::ConfirmEmail(const std::string& identity,
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

std::vector<std::string> Resources::ListIdentities() {
  std::vector<std::string> out;
  auto rows = store_->List("identity", "", 10000);
  if (rows.ok()) {
    for (auto& r : *rows) out.push_back(r.first);
  }
  return out;
}

Result<bool> Resources::DeleteIdentity(const std::string& identity) {
  return store_->Delete("identity", AsciiLowerCopy(identity));
}

std::string Resources::VerificationStatus(const std::string& identity) {
  auto doc = LoadIdentityDocument(store_, identity);
  if (!doc.ok()) return "";
  auto* st = doc->if_contains("VerificationStatus");
  if (auto_verify_) return "SUCCESS";
  return st && st->is_string() ? std::string(st->as_string()) : "PENDING";
}

bool Resources::IdentityExists(const std::string& identity) {
  auto d = store_->Get("identity", AsciiLowerCopy(identity));
  return d.ok() && d->has_value();
}

Status Resources::SetMailFrom(const std::string& identity,
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

std::string Resources::IdentityFor(const std::string& address) {
  std::string a = AsciiLowerCopy(address);
  if (IdentityExists(a)) return a;
  size_t at = a.rfind('@');
  for (std::string d = at == std::string::npos ? a : a.substr(at + 1);
       d.find('.') != std::string::npos; d = d.substr(d.find('.') + 1)) {
    if (IdentityExists(d)) return d;
  }
  return "";
}

Status Resources::PutPolicy(const std::string& identity,
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
  Status valid = auth::ValidatePolicy(policy, IdentityArn(key));
  if (!valid.ok()) return valid;
  json::object& d = *doc;
  json::object policies;
  if (auto* p = d.if_contains("Policies"); p && p->is_object())
    policies = p->as_object();
  bool exists = policies.contains(name);
  if (mode == PolicyWrite::kCreate && exists)
    return Error::Permanent("exists", "Policy " + name + " already exists.");
  if (mode == PolicyWrite::kUpdate && !exists)
    return Error::Permanent("not_found", "Policy " + name + " does not exist.");
  if (!exists && policies.size() >= 20)
    return Error::Permanent("limit", "An identity has at most 20 policies.");
  policies[name] = policy;
  d["Policies"] = std::move(policies);
  return store_->Put("identity", key, json::serialize(d), false);
}

Status Resources::DeletePolicy(const std::string& identity,
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

Result<std::map<std::string, std::string>> Resources::Policies(
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

bool Resources::Verified(const std::string& address) {
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

Resources::MailFrom Resources::MailFromFor(const std::string& address) {
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

bool Resources::IsMailFromDomain(const std::string& domain) {
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

bool Resources::ConfigurationSetExists(const std::string& name) {
  auto d = store_->Get("configuration-set", name);
  return d.ok() && d->has_value();
}

Status Resources::CreateConfigurationSet(const std::string& name) {
  if (Status v = CheckResourceName("configuration set", name); !v.ok())
    return v;
  json::object o;
  o["ConfigurationSetName"] = name;
  o["EventDestinations"] = json::object();
  return store_->Put("configuration-set", name, json::serialize(o), true);
}

Result<bool> Resources::DeleteConfigurationSet(const std::string& name) {
  return store_->Delete("configuration-set", name);
}

std::vector<std::string> Resources::ListConfigurationSets() {
  std::vector<std::string> out;
  auto rows = store_->List("configuration-set", "", 10000);
  if (rows.ok()) {
    for (auto& r : *rows) out.push_back(r.first);
  }
  return out;
}

bool Resources::AccountSendingEnabled() {
  auto d = store_->Get("account", "sending");
  if (!d.ok() || !d->has_value()) return true;
  json::value v = json::value(DocumentObject(**d));
  return !v.is_object() || !v.as_object().contains("SendingEnabled") ||
         v.as_object()["SendingEnabled"].as_bool();
}

std::string Resources::AccountSuppressedReasonsJson() {
  // SES turns both reasons on for every account created since 2019.
  auto d = store_->Get("account", "suppression");
  if (!d.ok() || !d->has_value()) return "[\"BOUNCE\",\"COMPLAINT\"]";
  json::value v = json::value(DocumentObject(**d));
  if (!v.is_object() || !v.as_object().contains("SuppressedReasons"))
    return "[\"BOUNCE\",\"COMPLAINT\"]";
  return json::serialize(v.as_object()["SuppressedReasons"]);
}

Resources::NotificationSettings Resources::Notifications(
    const std::string& identity) {
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

Status Resources::SetNotification(const std::string& identity,
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

std::vector<std::pair<std::string, std::vector<std::string>>>
Resources::SnsEventDestinations(const std::string& config_set) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  if (config_set.empty()) return out;
  auto d = store_->Get("configuration-set", config_set);
  if (!d.ok() || !d->has_value()) return out;
  boost::system::error_code ec;
  json::value v = json::parse(**d, ec);
  if (ec || !v.is_object()) return out;
  auto* dests = v.as_object().if_contains("EventDestinations");
  if (!dests || !dests->is_object()) return out;
  for (const auto& [name, ed] : dests->as_object()) {
    if (!ed.is_object()) continue;
    const json::object& o = ed.as_object();
    auto* enabled = o.if_contains("Enabled");
    if (enabled && enabled->is_bool() && !enabled->as_bool()) continue;
    auto* sns = o.if_contains("SnsDestination");
    if (!sns || !sns->is_object()) continue;
    auto* arn = sns->as_object().if_contains("TopicArn");
    if (!arn || !arn->is_string()) continue;
    std::vector<std::string> types;
    if (auto* t = o.if_contains("MatchingEventTypes"); t && t->is_array()) {
      for (const auto& x : t->as_array())
        if (x.is_string()) types.emplace_back(x.as_string());
    }
    out.emplace_back(std::string(arn->as_string()), std::move(types));
  }
  return out;
}

std::set<std::string> Resources::SuppressedReasonsFor(
    const std::string& config_set) {
  std::string reasons = AccountSuppressedReasonsJson();
  if (!config_set.empty()) {
    // A configuration set's SuppressionOptions override the account's.
    auto d = store_->Get("configuration-set", config_set);
    if (d.ok() && d->has_value()) {
      json::value v = json::value(DocumentObject(**d));
      auto* so = v.as_object().if_contains("SuppressionOptions");
      if (so && so->is_object() &&
          so->as_object().contains("SuppressedReasons"))
        reasons = json::serialize(so->as_object().at("SuppressedReasons"));
    }
  }
  std::set<std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(reasons, ec);
  if (!ec && v.is_array()) {
    for (const auto& r : v.as_array()) {
      if (r.is_string()) out.insert(std::string(r.as_string()));
    }
  }
  return out;
}

bool Resources::SuppressedFor(const std::string& address,
                              const std::string& config_set) {
  auto d = store_->Get("suppressed", AsciiLowerCopy(address));
  if (!d.ok() || !d->has_value()) return false;
  json::value v = json::value(DocumentObject(**d));
  auto* reason = v.as_object().if_contains("Reason");
  return reason && reason->is_string() &&
         SuppressedReasonsFor(config_set)
                 .count(std::string(reason->as_string())) > 0;
}

Result<bool> Resources::AddSuppression(const std::string& address,
                                       const std::string& reason,
                                       const std::string& config_set,
                                       const std::string& message_id,
                                       const std::string& feedback_id) {
  if (!SuppressedReasonsFor(config_set).count(reason)) return false;
  auto existing = store_->Get("suppressed", AsciiLowerCopy(address));
  bool fresh = existing.ok() && !existing->has_value();
  json::object d;
  d["EmailAddress"] = address;
  d["Reason"] = reason;
  d["LastUpdateTime"] = NowMillis() / 1000;
  json::object attributes;
  if (!message_id.empty()) attributes["MessageId"] = message_id;
  if (!feedback_id.empty()) attributes["FeedbackId"] = feedback_id;
  d["Attributes"] = std::move(attributes);
  Status s = store_->Put("suppressed", AsciiLowerCopy(address),
                         json::serialize(d), false);
  if (!s.ok()) return s.error();
  return fresh;
}

void Resources::SetAccountSendingEnabled(bool enabled) {
  (void)store_->Put(
      "account", "sending",
      enabled ? "{\"SendingEnabled\":true}" : "{\"SendingEnabled\":false}",
      false);
}

void Resources::SetConfigurationSetSendingEnabled(const std::string& name,
                                                  bool enabled) {
  if (enabled) {
    (void)store_->Delete("paused", name);
  } else {
    (void)store_->Put("paused", name, "{}", false);
  }
  auto d = store_->Get("configuration-set", name);
  if (!d.ok() || !d->has_value()) return;
  json::object cs = DocumentObject(**d);
  json::object so;
  so["SendingEnabled"] = enabled;
  cs["SendingOptions"] = std::move(so);
  (void)store_->Put("configuration-set", name, json::serialize(cs), false);
}

bool Resources::ConfigurationSetSendingEnabled(const std::string& name) {
  auto paused = store_->Get("paused", name);
  if (paused.ok() && paused->has_value()) return false;
  auto d = store_->Get("configuration-set", name);
  if (!d.ok() || !d->has_value()) return true;
  json::value v = json::value(DocumentObject(**d));
  auto* so = v.as_object().if_contains("SendingOptions");
  if (!so || !so->is_object()) return true;
  auto* en = so->as_object().if_contains("SendingEnabled");
  return !en || !en->is_bool() || en->as_bool();
}

bool Resources::Suppressed(const std::string& address) {
  auto d = store_->Get("suppressed", AsciiLowerCopy(address));
  return d.ok() && d->has_value();
}

Result<std::pair<std::vector<std::string>, std::string>>
Resources::SearchSuppressed(const std::string& query, const std::string& after,
                            size_t limit) {
  std::string needle = AsciiLowerCopy(query);
  std::vector<std::string> found;
  std::string cursor = after;
  // Scan in chunks so a large list is never held at once; stop at `limit`
  // matches and hand back where the next page starts.
  while (found.size() < limit) {
    auto rows = store_->List("suppressed", cursor, 1000);
    if (!rows.ok()) return rows.error();
    for (auto& [name, body] : *rows) {
      cursor = name;
      if (name.find(needle) == std::string::npos) continue;
      found.push_back(std::move(body));
      if (found.size() == limit) break;
    }
    if (rows->size() < 1000 && found.size() < limit) {
      cursor.clear();  // the end of the list
      break;
    }
  }
  return std::make_pair(std::move(found), cursor);
}

}  // namespace sesame::ses
