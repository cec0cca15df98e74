#include "api/resources.h"

#include <boost/json.hpp>
#include <map>

#include "api/common.h"
#include "api/names.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/strings.h"
#include "smtp/address.h"

namespace sesame::api {
namespace json = boost::json;

namespace {

ApiError NotFound(const std::string& m) {
  return {404, "NotFoundException", "NotFound", m};
}
ApiError Exists(const std::string& m) {
  return {400, "AlreadyExistsException", "AlreadyExists", m};
}

// An identity's store document; "not_found" when there is none.
Result<json::object> LoadIdentity(store::Store* store,
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

std::optional<json::object> ParseObject(const std::string& body,
                                        ApiError* err) {
  boost::system::error_code ec;
  json::value v = json::parse(body.empty() ? std::string("{}") : body, ec);
  if (ec || !v.is_object()) {
    *err = BadRequest("Request body is not a valid JSON object");
    return std::nullopt;
  }
  return v.as_object();
}

std::string Str(const json::object& o, const char* k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

// Query parameter (first value), percent-decoded.
std::string QueryParam(const std::string& query, const std::string& key) {
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    std::string pair = query.substr(
        start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = pair.find('=');
    if (auth::PercentDecode(pair.substr(0, eq)) == key) {
      return eq == std::string::npos ? ""
                                     : auth::PercentDecode(pair.substr(eq + 1));
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return "";
}

// One page of a kind, honouring PageSize and NextToken (the last name seen,
// base64-encoded so clients treat it as opaque).
std::variant<
    std::pair<std::vector<std::pair<std::string, std::string>>, std::string>,
    ApiError>
Page(store::Store* store, const std::string& kind, const HttpRequest& req) {
  std::string size_s = QueryParam(req.query, "PageSize");
  size_t size =
      size_s.empty() ? 100 : std::strtoul(size_s.c_str(), nullptr, 10);
  if (size == 0 || size > 1000)
    return BadRequest("PageSize must be between 1 and 1000");
  std::string token = QueryParam(req.query, "NextToken"), after;
  if (!token.empty()) {
    auto d = Base64Decode(token);
    if (!d)
      return ApiError{400, "InvalidNextTokenException", "InvalidNextToken",
                      "The NextToken is invalid"};
    after = *d;
  }
  auto rows = store->List(kind, after, size + 1);
  if (!rows.ok())
    return ApiError{500, "InternalServiceErrorException", "InternalFailure",
                    rows.error().message()};
  std::string next;
  if (rows->size() > size) {
    rows->resize(size);
    next = Base64Encode(rows->back().first);
  }
  return std::make_pair(std::move(*rows), next);
}

json::object DkimAttributes(DkimKeys* dkim, const std::string& identity,
                            bool auto_verify) {
  json::object d;
  std::optional<DkimKeys::Info> info;
  if (dkim && identity.find('@') == std::string::npos)
    info = dkim->Find(identity);
  d["SigningAttributesOrigin"] = info ? info->origin : "AWS_SES";
  d["SigningEnabled"] = info && info->signing_enabled;
  d["Status"] = info ? (auto_verify ? "SUCCESS" : "PENDING") : "NOT_STARTED";
  json::array tokens;
  if (info) tokens.push_back(json::string(info->selector));
  if (info && !info->next_selector.empty())
    tokens.push_back(json::string(info->next_selector));
  d["Tokens"] = tokens;
  if (info) {
    d["NextSigningKeyLength"] = "RSA_2048_BIT";
    d["CurrentSigningKeyLength"] = "RSA_2048_BIT";
  }
  return d;
}

}  // namespace

std::vector<std::string> PathSegments(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string seg = path.substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!seg.empty()) out.push_back(auth::PercentDecode(seg));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::optional<Resources::TemplateContent> Resources::GetTemplate(
    const std::string& name) {
  auto doc = store_->Get("template", name);
  if (!doc.ok() || !doc->has_value()) return std::nullopt;
  json::value v = json::parse(**doc);
  const auto& o = v.as_object();
  return TemplateContent{Str(o, "Subject"), Str(o, "Text"), Str(o, "Html")};
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
  json::object o = json::parse(**d).as_object();
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
  auto doc = LoadIdentity(store_, identity);
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
  auto doc = LoadIdentity(store_, identity);
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
  auto doc = LoadIdentity(store_, identity);
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
  auto doc = LoadIdentity(store_, identity);
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
  auto doc = LoadIdentity(store_, identity);
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
    json::value v = json::parse(**d);
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
    json::object o = json::parse(**doc).as_object();
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
    json::value v = json::parse(**doc);
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
  json::value v = json::parse(**d);
  return !v.is_object() || !v.as_object().contains("SendingEnabled") ||
         v.as_object()["SendingEnabled"].as_bool();
}

std::string Resources::AccountSuppressedReasonsJson() {
  // SES turns both reasons on for every account created since 2019.
  auto d = store_->Get("account", "suppression");
  if (!d.ok() || !d->has_value()) return "[\"BOUNCE\",\"COMPLAINT\"]";
  json::value v = json::parse(**d);
  if (!v.is_object() || !v.as_object().contains("SuppressedReasons"))
    return "[\"BOUNCE\",\"COMPLAINT\"]";
  return json::serialize(v.as_object()["SuppressedReasons"]);
}

Resources::NotificationSettings Resources::Notifications(
    const std::string& identity) {
  NotificationSettings out;
  auto doc = LoadIdentity(store_, identity);
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
  auto doc = LoadIdentity(store_, identity);
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
      json::value v = json::parse(**d);
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
  json::value v = json::parse(**d);
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
  json::object cs = json::parse(**d).as_object();
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
  json::value v = json::parse(**d);
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

std::optional<HttpResponse> Resources::HandleV2(const HttpRequest& req) {
  auto seg =
      PathSegments(req.path);  // v2 email <collection> [name] [sub] [subname]
  if (seg.size() < 3) return std::nullopt;
  const std::string& coll = seg[2];
  const std::string& m = req.method;
  ApiError err{400, "", "", ""};
  auto fail = [](const ApiError& e) {
    return std::optional<HttpResponse>(V2Error(e));
  };
  auto store_fail = [&](const Error& e) {
    if (e.code() == "exists") return fail(Exists(e.message()));
    if (e.code() == "invalid") return fail(BadRequest(e.message()));
    return fail(
        {500, "InternalServiceErrorException", "InternalFailure", e.message()});
  };

  // --- account -------------------------------------------------------------
  if (coll == "account" && seg.size() == 4 && m == "PUT" &&
      (seg[3] == "sending" || seg[3] == "suppression")) {
    auto o = ParseObject(req.body, &err);
    if (!o) return fail(err);
    if (seg[3] == "sending") {
      auto* en = o->if_contains("SendingEnabled");
      if (en && !en->is_bool())
        return fail(BadRequest("SendingEnabled must be a boolean"));
    } else {
      auto* r = o->if_contains("SuppressedReasons");
      if (!r || !r->is_array())
        return fail(BadRequest("SuppressedReasons must be a list"));
      for (const auto& x : r->as_array()) {
        if (!x.is_string() ||
            (x.as_string() != "BOUNCE" && x.as_string() != "COMPLAINT")) {
          return fail(
              BadRequest("SuppressedReasons may hold BOUNCE and COMPLAINT"));
        }
      }
    }
    Status s = store_->Put("account", seg[3], json::serialize(*o), false);
    if (!s.ok()) return store_fail(s.error());
    return JsonOk("{}");
  }

  // --- tags ----------------------------------------------------------------
  if (coll == "tags" && seg.size() == 3) {
    std::string arn = QueryParam(req.query, "ResourceArn");
    json::object tags;
    auto load = [&](const std::string& a) {
      auto d = store_->Get("tags", a);
      if (d.ok() && d->has_value()) tags = json::parse(**d).as_object();
    };
    if (m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      arn = Str(*o, "ResourceArn");
      auto* t = o->if_contains("Tags");
      if (arn.empty() || !t || !t->is_array())
        return fail(BadRequest("ResourceArn and Tags are required"));
      load(arn);
      for (const auto& x : t->as_array()) {
        if (!x.is_object() || Str(x.as_object(), "Key").empty())
          return fail(BadRequest("Each tag needs a Key"));
        tags[Str(x.as_object(), "Key")] = Str(x.as_object(), "Value");
      }
      Status s = store_->Put("tags", arn, json::serialize(tags), false);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (arn.empty()) return fail(BadRequest("ResourceArn is required"));
    load(arn);
    if (m == "GET") {
      json::array list;
      for (auto& [k, v] : tags) {
        json::object t;
        t["Key"] = k;
        t["Value"] = v;
        list.push_back(t);
      }
      json::object out;
      out["Tags"] = list;
      return JsonOk(json::serialize(out));
    }
    if (m == "DELETE") {
      // TagKeys repeats: ?ResourceArn=..&TagKeys=a&TagKeys=b
      size_t start = 0;
      while (start <= req.query.size()) {
        size_t amp = req.query.find('&', start);
        std::string pair = req.query.substr(
            start, amp == std::string::npos ? std::string::npos : amp - start);
        size_t eq = pair.find('=');
        if (eq != std::string::npos &&
            auth::PercentDecode(pair.substr(0, eq)) == "TagKeys") {
          tags.erase(auth::PercentDecode(pair.substr(eq + 1)));
        }
        if (amp == std::string::npos) break;
        start = amp + 1;
      }
      Status s = store_->Put("tags", arn, json::serialize(tags), false);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    return std::nullopt;
  }

  // --- templates
  // ---------------------------------------------------------------
  if (coll == "templates") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string name = Str(*o, "TemplateName");
      auto* c = o->if_contains("TemplateContent");
      if (name.empty() || !c || !c->is_object())
        return fail(
            BadRequest("TemplateName and TemplateContent are required"));
      Status s = PutTemplate(
          name,
          {Str(c->as_object(), "Subject"), Str(c->as_object(), "Text"),
           Str(c->as_object(), "Html")},
          true);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "template", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array meta;
      for (auto& [name, body] : std::get<0>(page).first) {
        json::object e;
        e["TemplateName"] = name;
        e["CreatedTimestamp"] =
            json::parse(body).as_object()["CreatedTimestamp"];
        meta.push_back(e);
      }
      json::object out;
      out["TemplatesMetadata"] = meta;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() >= 4) {
      const std::string& name = seg[3];
      if (seg.size() == 5 && seg[4] == "render" && m == "POST")
        return std::nullopt;  // rendering lives in Api
      if (seg.size() != 4) return std::nullopt;
      if (m == "GET") {
        auto t = GetTemplate(name);
        if (!t) return fail(NotFound("Template " + name + " does not exist."));
        json::object c, out;
        c["Subject"] = t->subject;
        c["Text"] = t->text;
        c["Html"] = t->html;
        out["TemplateName"] = name;
        out["TemplateContent"] = c;
        return JsonOk(json::serialize(out));
      }
      if (m == "PUT") {
        auto o = ParseObject(req.body, &err);
        if (!o) return fail(err);
        if (!GetTemplate(name))
          return fail(NotFound("Template " + name + " does not exist."));
        auto* c = o->if_contains("TemplateContent");
        if (!c || !c->is_object())
          return fail(BadRequest("TemplateContent is required"));
        Status s = PutTemplate(
            name,
            {Str(c->as_object(), "Subject"), Str(c->as_object(), "Text"),
             Str(c->as_object(), "Html")},
            false);
        if (!s.ok()) return store_fail(s.error());
        return JsonOk("{}");
      }
      if (m == "DELETE") {
        auto d = DeleteTemplate(name);
        if (!d.ok()) return store_fail(d.error());
        if (!*d) return fail(NotFound("Template " + name + " does not exist."));
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }

  // --- identities
  // ----------------------------------------------------------------
  if (coll == "identities") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string id = Str(*o, "EmailIdentity");
      if (id.empty() || id.find_first_of("\r\n ") != std::string::npos) {
        return fail(BadRequest("EmailIdentity is required"));
      }
      if (IdentityExists(id))
        return fail(Exists("Email identity " + id + " already exists."));
      Status s = AddIdentity(id);
      if (!s.ok()) return store_fail(s.error());
      if (id.find('@') == std::string::npos && dkim_) {
        auto k = dkim_->Ensure(id);  // Easy DKIM: a key per domain identity
        if (!k.ok()) return store_fail(k.error());
      }
      json::object out;
      out["IdentityType"] =
          id.find('@') == std::string::npos ? "DOMAIN" : "EMAIL_ADDRESS";
      out["VerifiedForSendingStatus"] = auto_verify_;
      out["DkimAttributes"] = DkimAttributes(dkim_, id, auto_verify_);
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "identity", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array list;
      for (auto& [name, body] : std::get<0>(page).first) {
        json::object doc = json::parse(body).as_object(), e;
        e["IdentityType"] = doc["IdentityType"];
        e["IdentityName"] = name;
        e["SendingEnabled"] = true;
        e["VerificationStatus"] = doc["VerificationStatus"];
        list.push_back(e);
      }
      json::object out;
      out["EmailIdentities"] = list;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 6 && seg[4] == "dkim" && seg[5] == "signing" &&
        m == "PUT" && dkim_) {
      // PutEmailIdentityDkimSigningAttributes: BYODKIM (EXTERNAL) or back to
      // Easy DKIM.
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string origin = Str(*o, "SigningAttributesOrigin");
      const std::string& id = seg[3];
      if (!IdentityExists(id) || id.find('@') != std::string::npos) {
        return fail(NotFound("Domain identity " + id + " does not exist."));
      }
      Result<DkimKeys::Info> info = Error::Permanent("", "");
      if (origin == "EXTERNAL") {
        auto* sa = o->if_contains("SigningAttributes");
        std::string selector =
            sa && sa->is_object()
                ? Str(sa->as_object(), "DomainSigningSelector")
                : "";
        std::string key64 =
            sa && sa->is_object()
                ? Str(sa->as_object(), "DomainSigningPrivateKey")
                : "";
        auto der = Base64Decode(key64);
        if (selector.empty() ||
            selector.find_first_of("./ ") != std::string::npos || !der) {
          return fail(
              BadRequest("EXTERNAL needs DomainSigningSelector and a base64 "
                         "DomainSigningPrivateKey"));
        }
        auto key = dkim::PrivateKey::FromDer(*der);
        if (!key.ok())
          return fail(
              BadRequest("DomainSigningPrivateKey: " + key.error().message()));
        info = dkim_->SetExternal(id, selector, *key);
      } else if (origin == "AWS_SES") {
        auto* sa = o->if_contains("SigningAttributes");
        std::string len = sa && sa->is_object()
                              ? Str(sa->as_object(), "NextSigningKeyLength")
                              : "";
        int bits = len == "RSA_1024_BIT" ? 1024 : 2048;
        auto current = dkim_->Find(id);
        if (current && current->origin == "AWS_SES") {
          // Rotation with overlap: publish the next selector first; it signs
          // once the verifier sees it resolve (at once when auto-verifying).
          info = dkim_->Rotate(id, bits);
          if (info.ok() && auto_verify_) {
            (void)dkim_->Promote(id);
            info = dkim_->Ensure(id);
          }
        } else {
          info = dkim_->Regenerate(id, bits);
        }
      } else {
        return fail(
            BadRequest("SigningAttributesOrigin must be AWS_SES or EXTERNAL"));
      }
      if (!info.ok()) return store_fail(info.error());
      json::object out;
      out["DkimStatus"] = auto_verify_ ? "SUCCESS" : "PENDING";
      json::array tokens;
      tokens.push_back(json::string(info->selector));
      if (!info->next_selector.empty())
        tokens.push_back(json::string(info->next_selector));
      out["DkimTokens"] = tokens;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() >= 5 && seg[4] == "policies") {
      // Sending authorization (Create/Update/Delete/GetEmailIdentityPolicies).
      auto policy_fail = [&](const Error& e) {
        if (e.code() == "not_found") return fail(NotFound(e.message()));
        if (e.code() == "invalid_policy") return fail(BadRequest(e.message()));
        if (e.code() == "limit")
          return fail(
              {400, "LimitExceededException", "LimitExceeded", e.message()});
        return store_fail(e);
      };
      if (seg.size() == 5 && m == "GET") {
        auto p = Policies(seg[3]);
        if (!p.ok()) return policy_fail(p.error());
        json::object list;
        for (const auto& [k, v] : *p) list[k] = v;
        json::object out;
        out["Policies"] = std::move(list);
        return JsonOk(json::serialize(out));
      }
      if (seg.size() == 6 && m == "DELETE") {
        Status s = DeletePolicy(seg[3], seg[5]);
        if (!s.ok()) return policy_fail(s.error());
        return JsonOk("{}");
      }
      if (seg.size() == 6 && (m == "POST" || m == "PUT")) {
        auto o = ParseObject(req.body, &err);
        if (!o) return fail(err);
        auto* policy = o->if_contains("Policy");
        if (!policy || !policy->is_string())
          return fail(
              BadRequest("Policy (a JSON document as a string) is "
                         "required"));
        Status s = PutPolicy(
            seg[3], seg[5], std::string(policy->as_string()),
            m == "POST" ? PolicyWrite::kCreate : PolicyWrite::kUpdate);
        if (!s.ok()) return policy_fail(s.error());
        return JsonOk("{}");
      }
    }
    if (seg.size() == 5 && seg[4] == "mail-from" && m == "PUT") {
      // PutEmailIdentityMailFromAttributes; the verifier checks its MX and SPF.
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      Status s = SetMailFrom(seg[3], Str(*o, "MailFromDomain"),
                             Str(*o, "BehaviorOnMxFailure"));
      if (!s.ok() && s.error().code() == "not_found")
        return fail(NotFound(s.error().message()));
      if (!s.ok() && s.error().code() == "invalid")
        return fail(BadRequest(s.error().message()));
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 5 && seg[4] == "dkim" && m == "PUT" && dkim_) {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      auto* en = o->if_contains("SigningEnabled");
      if (!en || !en->is_bool())
        return fail(BadRequest("SigningEnabled must be a boolean"));
      Status s = dkim_->SetSigning(seg[3], en->as_bool());
      if (!s.ok()) return fail(NotFound(s.error().message()));
      return JsonOk("{}");
    }
    if (seg.size() == 4) {
      const std::string& id = seg[3];
      auto doc = store_->Get("identity", AsciiLowerCopy(id));
      if (!doc.ok() || !doc->has_value())
        return fail(NotFound("Email identity " + id + " does not exist."));
      if (m == "GET") {
        json::object d = json::parse(**doc).as_object(), out, mail_from,
                     policies, tags;
        out["IdentityType"] = d["IdentityType"];
        out["FeedbackForwardingStatus"] = true;
        out["VerifiedForSendingStatus"] = d["VerificationStatus"] == "SUCCESS";
        out["DkimAttributes"] =
            DkimAttributes(dkim_, AsciiLowerCopy(id), auto_verify_);
        auto field = [&](const char* k, const char* def) {
          auto* v = d.if_contains(k);
          return v && v->is_string() ? json::value(v->as_string())
                                     : json::value(def);
        };
        mail_from["MailFromDomain"] = field("MailFromDomain", "");
        mail_from["MailFromDomainStatus"] =
            field("MailFromDomainStatus", "PENDING");
        mail_from["BehaviorOnMxFailure"] =
            field("BehaviorOnMxFailure", "USE_DEFAULT_VALUE");
        out["MailFromAttributes"] = mail_from;
        if (auto* p = d.if_contains("Policies"); p && p->is_object())
          policies = p->as_object();
        out["Policies"] = policies;
        out["Tags"] = json::array();
        out["VerificationStatus"] = d["VerificationStatus"];
        json::object vi;
        if (d.contains("LastCheckedTimestamp"))
          vi["LastCheckedTimestamp"] = d["LastCheckedTimestamp"];
        if (d.contains("LastSuccessTimestamp"))
          vi["LastSuccessTimestamp"] = d["LastSuccessTimestamp"];
        out["VerificationInfo"] = vi;
        if (out["DkimAttributes"].as_object()["Status"] != "NOT_STARTED") {
          out["DkimAttributes"].as_object()["Status"] = d["VerificationStatus"];
        }
        return JsonOk(json::serialize(out));
      }
      if (m == "DELETE") {
        auto r = DeleteIdentity(id);
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }

  // --- configuration sets
  // ----------------------------------------------------------
  if (coll == "configuration-sets") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string name = Str(*o, "ConfigurationSetName");
      if (name.empty())
        return fail(BadRequest("ConfigurationSetName is required"));
      if (Status v = CheckResourceName("configuration set", name); !v.ok())
        return store_fail(v.error());
      if (auto* d = o->if_contains("DeliveryOptions"); d && d->is_object()) {
        if (auto* mds = d->as_object().if_contains("MaxDeliverySeconds");
            mds && mds->is_number()) {
          double v = mds->to_number<double>();
          if (v < 300 || v > 50400)
            return fail(
                BadRequest("MaxDeliverySeconds must be between 300 and 50400"));
        }
      }
      (*o)["EventDestinations"] = json::object();
      Status s =
          store_->Put("configuration-set", name, json::serialize(*o), true);
      if (!s.ok()) {
        if (s.error().code() == "exists")
          return fail(Exists("Configuration set " + name + " already exists."));
        return store_fail(s.error());
      }
      return JsonOk("{}");
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "configuration-set", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array names;
      for (auto& [name, body] : std::get<0>(page).first)
        names.push_back(json::string(name));
      json::object out;
      out["ConfigurationSets"] = names;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 5 && seg[4] == "sending" && m == "PUT") {
      // PutConfigurationSetSendingOptions: also for the config file's sets,
      // and it lifts a pause by an alarm or reputation enforcement.
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      auto* en = o->if_contains("SendingEnabled");
      if (en && !en->is_bool())
        return fail(BadRequest("SendingEnabled must be a boolean"));
      const std::string& name = seg[3];
      auto doc = store_->Get("configuration-set", name);
      if ((!doc.ok() || !doc->has_value()) && !config_file_sets_.count(name))
        return fail(NotFound("Configuration set " + name + " does not exist."));
      SetConfigurationSetSendingEnabled(name, !en || en->as_bool());
      return JsonOk("{}");
    }
    if (seg.size() >= 4) {
      const std::string& name = seg[3];
      auto doc = store_->Get("configuration-set", name);
      if (!doc.ok() || !doc->has_value())
        return fail(NotFound("Configuration set " + name + " does not exist."));
      json::object cs = json::parse(**doc).as_object();
      auto save = [&]() -> std::optional<HttpResponse> {
        Status s =
            store_->Put("configuration-set", name, json::serialize(cs), false);
        if (!s.ok()) return store_fail(s.error());
        return JsonOk("{}");
      };
      if (seg.size() == 4 && m == "GET") {
        cs.erase("EventDestinations");
        return JsonOk(json::serialize(cs));
      }
      if (seg.size() == 4 && m == "DELETE") {
        auto r = store_->Delete("configuration-set", name);
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
      if (seg.size() == 5 && m == "PUT" && seg[4] != "event-destinations") {
        // PutConfigurationSet{Sending,SuppressionOptions,TrackingOptions,DeliveryOptions,ReputationOptions}
        static const std::map<std::string, std::string> kFields = {
            {"sending", "SendingOptions"},
            {"suppression-options", "SuppressionOptions"},
            {"tracking-options", "TrackingOptions"},
            {"delivery-options", "DeliveryOptions"},
            {"reputation-options", "ReputationOptions"}};
        auto f = kFields.find(seg[4]);
        if (f == kFields.end()) return std::nullopt;
        auto o = ParseObject(req.body, &err);
        if (!o) return fail(err);
        cs[f->second] = *o;
        return save();
      }
      if (seg.size() >= 5 && seg[4] == "event-destinations") {
        json::object& dests =
            cs["EventDestinations"].is_object()
                ? cs["EventDestinations"].as_object()
                : (cs["EventDestinations"] = json::object()).as_object();
        if (seg.size() == 5 && m == "POST") {
          auto o = ParseObject(req.body, &err);
          if (!o) return fail(err);
          std::string dn = Str(*o, "EventDestinationName");
          auto* ed = o->if_contains("EventDestination");
          if (dn.empty() || !ed || !ed->is_object()) {
            return fail(BadRequest(
                "EventDestinationName and EventDestination are required"));
          }
          if (dests.contains(dn))
            return fail(Exists("Event destination " + dn + " already exists."));
          dests[dn] = *ed;
          return save();
        }
        if (seg.size() == 5 && m == "GET") {
          json::array list;
          for (auto& [dn, ed] : dests) {
            json::object e = ed.as_object();
            e["Name"] = dn;
            if (!e.contains("Enabled")) e["Enabled"] = false;
            list.push_back(e);
          }
          json::object out;
          out["EventDestinations"] = list;
          return JsonOk(json::serialize(out));
        }
        if (seg.size() == 6) {
          const std::string& dn = seg[5];
          if (!dests.contains(dn))
            return fail(
                NotFound("Event destination " + dn + " does not exist."));
          if (m == "DELETE") {
            dests.erase(dn);
            return save();
          }
          if (m == "PUT") {
            auto o = ParseObject(req.body, &err);
            if (!o) return fail(err);
            auto* ed = o->if_contains("EventDestination");
            if (!ed || !ed->is_object())
              return fail(BadRequest("EventDestination is required"));
            dests[dn] = *ed;
            return save();
          }
        }
      }
    }
    return std::nullopt;
  }

  // --- suppression list
  // --------------------------------------------------------------
  if (coll == "suppression" && seg.size() >= 4 && seg[3] == "addresses") {
    if (seg.size() == 4 && m == "PUT") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string addr = Str(*o, "EmailAddress"), reason = Str(*o, "Reason");
      if (addr.empty() || (reason != "BOUNCE" && reason != "COMPLAINT")) {
        return fail(BadRequest(
            "EmailAddress and Reason (BOUNCE or COMPLAINT) are required"));
      }
      json::object d;
      d["EmailAddress"] = addr;
      d["Reason"] = reason;
      d["LastUpdateTime"] = NowMillis() / 1000;
      Status s = store_->Put("suppressed", AsciiLowerCopy(addr),
                             json::serialize(d), false);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 4 && m == "GET") {
      auto page = Page(store_, "suppressed", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array list;
      for (auto& [name, body] : std::get<0>(page).first)
        list.push_back(json::parse(body));
      json::object out;
      out["SuppressedDestinationSummaries"] = list;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 5) {
      auto doc = store_->Get("suppressed", AsciiLowerCopy(seg[4]));
      if (!doc.ok() || !doc->has_value()) {
        return fail(NotFound("Email address " + seg[4] +
                             " does not exist on your suppression list."));
      }
      if (m == "GET") {
        json::object out;
        out["SuppressedDestination"] = json::parse(**doc);
        return JsonOk(json::serialize(out));
      }
      if (m == "DELETE") {
        auto r = store_->Delete("suppressed", AsciiLowerCopy(seg[4]));
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }

  // --- dedicated IP pools
  // ------------------------------------------------------------
  if (coll == "dedicated-ip-pools") {
    if (seg.size() == 3 && m == "POST") {
      auto o = ParseObject(req.body, &err);
      if (!o) return fail(err);
      std::string name = Str(*o, "PoolName");
      if (name.empty()) return fail(BadRequest("PoolName is required"));
      if (Status v = CheckResourceName("dedicated IP pool", name); !v.ok())
        return store_fail(v.error());
      json::object d;
      d["PoolName"] = name;
      d["ScalingMode"] =
          Str(*o, "ScalingMode").empty() ? "STANDARD" : Str(*o, "ScalingMode");
      Status s = store_->Put("ip-pool", name, json::serialize(d), true);
      if (!s.ok()) return store_fail(s.error());
      return JsonOk("{}");
    }
    if (seg.size() == 3 && m == "GET") {
      auto page = Page(store_, "ip-pool", req);
      if (page.index() == 1) return fail(std::get<1>(page));
      json::array names;
      for (auto& [name, body] : std::get<0>(page).first)
        names.push_back(json::string(name));
      json::object out;
      out["DedicatedIpPools"] = names;
      if (!std::get<0>(page).second.empty())
        out["NextToken"] = std::get<0>(page).second;
      return JsonOk(json::serialize(out));
    }
    if (seg.size() == 4) {
      auto doc = store_->Get("ip-pool", seg[3]);
      if (!doc.ok() || !doc->has_value())
        return fail(NotFound("Pool " + seg[3] + " does not exist."));
      if (m == "GET") {
        json::object out;
        out["DedicatedIpPool"] = json::parse(**doc);
        return JsonOk(json::serialize(out));
      }
      if (m == "DELETE") {
        auto r = store_->Delete("ip-pool", seg[3]);
        if (!r.ok()) return store_fail(r.error());
        return JsonOk("{}");
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace sesame::api
