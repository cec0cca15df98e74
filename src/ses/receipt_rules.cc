#include "ses/receipt_rules.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "base/ids.h"
#include "base/strings.h"
#include "config/config.h"
#include "smtp/address.h"

namespace sesame::ses {
namespace json = boost::json;
namespace {

constexpr char kSetKind[] = "receipt-rule-set";
constexpr char kFilterKind[] = "receipt-filter";
constexpr char kSettingsKind[] = "receipt";
constexpr char kActiveKey[] = "active";
// SES's quotas for email receiving.
constexpr size_t kMaxRuleSets = 40;
constexpr size_t kMaxRules = 200;
constexpr size_t kMaxRecipients = 100;
constexpr size_t kMaxFilters = 100;

Error RuleSetMissing(const std::string& name) {
  return Error::Permanent("rule_set_not_found",
                          "Rule set does not exist: " + name);
}
Error RuleMissing(const std::string& name) {
  return Error::Permanent("rule_not_found", "Rule does not exist: " + name);
}
Error Limit(std::string message) {
  return Error::Permanent("limit", std::move(message));
}

// Rule, rule set and filter names: SES's rule for receipt names.
Status CheckReceiptName(const char* kind, const std::string& name) {
  auto alnum = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c));
  };
  bool ok = !name.empty() && name.size() <= 64 && alnum(name.front()) &&
            alnum(name.back()) &&
            std::all_of(name.begin(), name.end(), [&](char c) {
              return alnum(c) || c == '_' || c == '-' || c == '.';
            });
  if (ok) return Ok{};
  return Invalid(std::string(kind) +
                 " name must contain only ASCII letters, digits, periods "
                 "(.), underscores (_) and dashes (-), start and end with a "
                 "letter or digit, and be at most 64 characters: " +
                 name);
}

// A Query request's values are strings; a JSON one's may be typed.
std::optional<bool> BoolOf(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_bool()) return v->as_bool();
  if (v->is_string()) {
    if (v->as_string() == "true") return true;
    if (v->as_string() == "false") return false;
  }
  return std::nullopt;
}

std::string Str(const json::object& o, const char* key) {
  return JsonString(o, key);
}

Status CheckArn(const json::object& a, const char* key, const char* service,
                bool required) {
  std::string arn = Str(a, key);
  if (arn.empty())
    return required ? Invalid(std::string(key) + " is required") : Status(Ok{});
  if (arn.rfind(std::string("arn:aws:") + service + ":", 0) != 0)
    return Invalid("Invalid " + std::string(key) + ": " + arn);
  return Ok{};
}

// One action, checked; the object keeps only SES's members of that type.
Result<json::object> NormalizeAction(const json::object& action) {
  if (action.size() != 1)
    return Invalid("Each receipt rule action must have exactly one type");
  const auto& [type, body] = *action.begin();
  if (!body.is_object()) return Invalid("Invalid action " + std::string(type));
  const json::object& a = body.as_object();
  json::object out;
  auto keep = [&](const char* key) {
    if (std::string v = Str(a, key); !v.empty()) out[key] = v;
  };
  if (type == "S3Action") {
    if (Str(a, "BucketName").empty()) return Invalid("BucketName is required");
    if (Status s = CheckArn(a, "TopicArn", "sns", false); !s.ok())
      return s.error();
    for (auto k : {"BucketName", "ObjectKeyPrefix", "KmsKeyArn", "TopicArn",
                   "IamRoleArn"})
      keep(k);
  } else if (type == "SNSAction") {
    if (Status s = CheckArn(a, "TopicArn", "sns", true); !s.ok())
      return s.error();
    std::string enc = Str(a, "Encoding").empty() ? "UTF-8" : Str(a, "Encoding");
    if (enc != "UTF-8" && enc != "Base64")
      return Invalid("Encoding must be UTF-8 or Base64: " + enc);
    keep("TopicArn");
    out["Encoding"] = enc;
  } else if (type == "LambdaAction") {
    if (Status s = CheckArn(a, "FunctionArn", "lambda", true); !s.ok())
      return s.error();
    if (Status s = CheckArn(a, "TopicArn", "sns", false); !s.ok())
      return s.error();
    std::string inv =
        Str(a, "InvocationType").empty() ? "Event" : Str(a, "InvocationType");
    if (inv != "Event" && inv != "RequestResponse")
      return Invalid("InvocationType must be Event or RequestResponse: " + inv);
    keep("FunctionArn");
    keep("TopicArn");
    out["InvocationType"] = inv;
  } else if (type == "BounceAction") {
    for (auto k : {"SmtpReplyCode", "Message", "Sender"})
      if (Str(a, k).empty()) return Invalid(std::string(k) + " is required");
    std::string code = Str(a, "SmtpReplyCode");
    if (code.size() != 3 || (code[0] != '4' && code[0] != '5') ||
        code.find_first_not_of("0123456789") != std::string::npos)
      return Invalid("SmtpReplyCode must be a 4xx or 5xx reply code: " + code);
    std::string status = Str(a, "StatusCode");
    if (!status.empty() &&
        (status.size() < 5 || status[0] != code[0] ||
         status.find_first_not_of("0123456789.") != std::string::npos))
      return Invalid(
          "StatusCode must be an enhanced status code of the "
          "reply's class: " +
          status);
    std::string message = Str(a, "Message");
    if (message.find_first_of("\r\n") != std::string::npos)
      return Invalid("Message must be one line");
    if (!smtp::ParseMailbox(Str(a, "Sender")).ok())
      return Invalid("Invalid Sender: " + Str(a, "Sender"));
    if (Status s = CheckArn(a, "TopicArn", "sns", false); !s.ok())
      return s.error();
    for (auto k :
         {"SmtpReplyCode", "StatusCode", "Message", "Sender", "TopicArn"})
      keep(k);
  } else if (type == "AddHeaderAction") {
    std::string name = Str(a, "HeaderName"), value = Str(a, "HeaderValue");
    bool name_ok =
        !name.empty() && name.size() <= 50 &&
        std::all_of(name.begin(), name.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        });
    if (!name_ok)
      return Invalid(
          "HeaderName must be at most 50 ASCII letters, digits "
          "and dashes: " +
          name);
    if (value.size() > 2048 || value.find_first_of("\r\n") != std::string::npos)
      return Invalid("HeaderValue must be one line of at most 2048 characters");
    out["HeaderName"] = name;
    out["HeaderValue"] = value;
  } else if (type == "StopAction") {
    if (Str(a, "Scope") != "RuleSet") return Invalid("Scope must be RuleSet");
    if (Status s = CheckArn(a, "TopicArn", "sns", false); !s.ok())
      return s.error();
    keep("Scope");
    keep("TopicArn");
  } else if (type == "WorkmailAction") {
    return Invalid("WorkmailAction is not available: Sesame has no WorkMail");
  } else {
    return Invalid("Unknown receipt rule action: " + std::string(type));
  }
  return json::object{{type, std::move(out)}};
}

int64_t IntOf(const json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->as_int64() : 0;
}

ReceiptRules::RuleSet SetOf(const std::string& name, const std::string& text) {
  json::object o = DocumentObject(text);
  ReceiptRules::RuleSet set;
  set.name = name;
  set.created_ms = IntOf(o, "CreatedTimestamp");
  if (auto* r = o.if_contains("Rules"); r && r->is_array())
    for (auto& x : r->as_array())
      if (x.is_object()) set.rules.push_back(x.as_object());
  return set;
}

auto FindRule(ReceiptRules::RuleSet& set, const std::string& name) {
  return std::find_if(
      set.rules.begin(), set.rules.end(),
      [&](const json::object& r) { return JsonString(r, "Name") == name; });
}

}  // namespace

// --- the rules, checked -----------------------------------------------------

Result<json::object> ReceiptRules::NormalizeRule(const json::object& rule) {
  std::string name = Str(rule, "Name");
  if (Status s = CheckReceiptName("Rule", name); !s.ok()) return s.error();
  json::object out;
  out["Name"] = name;
  auto flag = [&](const char* key, bool dflt) -> Status {
    auto* v = rule.if_contains(key);
    auto b = BoolOf(v);
    if (v && !b) return Invalid(std::string(key) + " must be true or false");
    out[key] = b.value_or(dflt);
    return Ok{};
  };
  if (Status s = flag("Enabled", false); !s.ok()) return s.error();
  if (Status s = flag("ScanEnabled", false); !s.ok()) return s.error();
  std::string tls =
      Str(rule, "TlsPolicy").empty() ? "Optional" : Str(rule, "TlsPolicy");
  if (tls != "Optional" && tls != "Require")
    return Invalid("TlsPolicy must be Optional or Require: " + tls);
  out["TlsPolicy"] = tls;
  json::array recipients;
  if (auto* r = rule.if_contains("Recipients"); r && r->is_array()) {
    if (r->as_array().size() > kMaxRecipients)
      return Limit("A receipt rule may have at most 100 recipients");
    for (auto& x : r->as_array()) {
      std::string v = x.is_string() ? std::string(x.as_string()) : "";
      // An address, a domain or ".domain": nothing that is not an address's
      // character set reaches the comparisons (or a log line).
      std::string probe = v.find('@') == std::string::npos
                              ? "x@" + (v.rfind('.', 0) == 0 ? v.substr(1) : v)
                              : v;
      if (v.empty() || !smtp::ParseMailbox(probe).ok())
        return Invalid("Invalid recipient: " + v);
      recipients.push_back(json::value(AsciiLowerCopy(v)));
    }
  }
  out["Recipients"] = std::move(recipients);
  json::array actions;
  if (auto* a = rule.if_contains("Actions"); a && a->is_array()) {
    for (auto& x : a->as_array()) {
      if (!x.is_object()) return Invalid("Invalid receipt rule action");
      auto n = NormalizeAction(x.as_object());
      if (!n.ok()) return n.error();
      actions.push_back(std::move(*n));
    }
  }
  out["Actions"] = std::move(actions);
  return out;
}

Result<json::object> ReceiptRules::NormalizeFilter(const json::object& filter) {
  std::string name = Str(filter, "Name");
  if (Status s = CheckReceiptName("Filter", name); !s.ok()) return s.error();
  auto* ip = filter.if_contains("IpFilter");
  if (!ip || !ip->is_object()) return Invalid("IpFilter is required");
  std::string policy = Str(ip->as_object(), "Policy");
  std::string cidr = Str(ip->as_object(), "Cidr");
  if (policy != "Block" && policy != "Allow")
    return Invalid("Policy must be Block or Allow: " + policy);
  if (!config::ParseNetwork(cidr).ok()) return Invalid("Invalid Cidr: " + cidr);
  return json::object{
      {"Name", name},
      {"IpFilter", json::object{{"Policy", policy}, {"Cidr", cidr}}}};
}

bool ReceiptRules::RecipientMatches(const json::object& rule,
                                    const std::string& address) {
  auto* r = rule.if_contains("Recipients");
  if (!r || !r->is_array() || r->as_array().empty()) return true;
  std::string addr = AsciiLowerCopy(address);
  std::string domain = addr.substr(addr.rfind('@') + 1);
  for (auto& x : r->as_array()) {
    if (!x.is_string()) continue;
    std::string v(x.as_string());
    if (v == addr || v == domain) return true;
    if (v.size() > 1 && v[0] == '.' && domain.size() > v.size() &&
        domain.compare(domain.size() - v.size(), v.size(), v) == 0)
      return true;
  }
  return false;
}

// --- the MX -----------------------------------------------------------------

std::vector<const json::object*> ReceiptRules::MatchingRules(
    const RuleSet& set, const std::string& address) {
  std::vector<const json::object*> out;
  for (const auto& r : set.rules) {
    auto* en = r.if_contains("Enabled");
    if (en && en->is_bool() && en->as_bool() && RecipientMatches(r, address))
      out.push_back(&r);
  }
  return out;
}

std::optional<std::string> ReceiptRules::RecipientReply(
    const std::string& address, bool tls,
    const std::function<bool(const std::string&)>& verified) {
  auto active = Active();
  if (!active.ok() || !*active || !verified(address)) return std::nullopt;
  auto rules = MatchingRules(**active, address);
  if (rules.empty()) return "550 5.1.1 Mailbox does not exist";
  const json::object& first = *rules.front();
  if (JsonString(first, "TlsPolicy") == "Require" && !tls)
    return "530 5.7.0 Must issue a STARTTLS command first";
  if (auto* actions = first.if_contains("Actions");
      actions && actions->is_array())
    for (const auto& a : actions->as_array()) {
      if (!a.is_object() || a.as_object().empty()) continue;
      const auto& [type, body] = *a.as_object().begin();
      if (type == "AddHeaderAction") continue;
      if (type != "BounceAction" || !body.is_object()) break;
      const json::object& b = body.as_object();
      std::string code = JsonString(b, "SmtpReplyCode");
      std::string status = JsonString(b, "StatusCode");
      if (status.empty()) status = code[0] == '4' ? "4.0.0" : "5.0.0";
      return code + " " + status + " " + JsonString(b, "Message");
    }
  return "";
}

// --- rule sets
// ----------------------------------------------------------------

Result<ReceiptRules::RuleSet> ReceiptRules::Load(const std::string& name) {
  auto doc = store_->Get(kSetKind, name);
  if (!doc.ok()) return doc.error();
  if (!doc->has_value()) return RuleSetMissing(name);
  return SetOf(name, **doc);
}

Status ReceiptRules::Save(const RuleSet& set, bool create) {
  json::array rules;
  for (const auto& r : set.rules) rules.push_back(r);
  json::object d{{"Name", set.name},
                 {"CreatedTimestamp", set.created_ms},
                 {"Rules", std::move(rules)}};
  if (create && DocumentNames(store_, kSetKind).size() >= kMaxRuleSets)
    return Limit("You can have at most 40 receipt rule sets");
  Status s = store_->Put(kSetKind, set.name, json::serialize(d), create);
  if (!s.ok() && s.error().code() == "exists")
    return Exists("Rule set already exists: " + set.name);
  return s;
}

Status ReceiptRules::CreateRuleSet(const std::string& name) {
  if (Status s = CheckReceiptName("Rule set", name); !s.ok()) return s;
  return Save({name, NowMillis(), {}}, true);
}

Status ReceiptRules::CloneRuleSet(const std::string& name,
                                  const std::string& original) {
  if (Status s = CheckReceiptName("Rule set", name); !s.ok()) return s;
  auto from = Load(original);
  if (!from.ok()) return from.error();
  from->name = name;
  from->created_ms = NowMillis();
  return Save(*from, true);
}

Status ReceiptRules::DeleteRuleSet(const std::string& name) {
  auto active = Active();
  if (!active.ok()) return active.error();
  if (*active && (*active)->name == name)
    return Error::Permanent("cannot_delete",
                            "Cannot delete active rule set: " + name);
  auto gone = store_->Delete(kSetKind, name);
  if (!gone.ok()) return gone.error();
  return Ok{};
}

Result<ReceiptRules::RuleSet> ReceiptRules::GetRuleSet(
    const std::string& name) {
  return Load(name);
}

Result<std::vector<ReceiptRules::RuleSet>> ReceiptRules::ListRuleSets() {
  auto docs = ListDocuments(store_, kSetKind, "", kMaxRuleSets * 2);
  if (!docs.ok()) return docs.error();
  std::vector<RuleSet> out;
  for (auto& [name, body] : docs->items) out.push_back(SetOf(name, body));
  return out;
}

Status ReceiptRules::SetActive(const std::string& name) {
  if (!name.empty()) {
    auto set = Load(name);
    if (!set.ok()) return set.error();
  }
  json::object d{{"RuleSet", name}};
  return store_->Put(kSettingsKind, kActiveKey, json::serialize(d), false);
}

Result<std::optional<ReceiptRules::RuleSet>> ReceiptRules::Active() {
  auto doc = store_->Get(kSettingsKind, kActiveKey);
  if (!doc.ok()) return doc.error();
  if (!doc->has_value()) return std::optional<RuleSet>();
  std::string name = JsonString(DocumentObject(**doc), "RuleSet");
  if (name.empty()) return std::optional<RuleSet>();
  auto set = Load(name);
  if (!set.ok()) {
    if (set.error().code() == "rule_set_not_found")
      return std::optional<RuleSet>();
    return set.error();
  }
  return std::optional<RuleSet>(std::move(*set));
}

Status ReceiptRules::Reorder(const std::string& set_name,
                             const std::vector<std::string>& names) {
  auto set = Load(set_name);
  if (!set.ok()) return set.error();
  std::vector<json::object> ordered;
  for (const auto& n : names) {
    auto it = FindRule(*set, n);
    if (it == set->rules.end()) return RuleMissing(n);
    ordered.push_back(*it);
  }
  if (ordered.size() != set->rules.size() ||
      std::set<std::string>(names.begin(), names.end()).size() != names.size())
    return Invalid("RuleNames must name every rule of the rule set once");
  set->rules = std::move(ordered);
  return Save(*set, false);
}

// --- rules
// --------------------------------------------------------------------

Status ReceiptRules::CreateRule(const std::string& set_name,
                                const json::object& rule,
                                const std::string& after) {
  auto set = Load(set_name);
  if (!set.ok()) return set.error();
  auto r = NormalizeRule(rule);
  if (!r.ok()) return r.error();
  std::string name = JsonString(*r, "Name");
  if (FindRule(*set, name) != set->rules.end())
    return Exists("Rule already exists: " + name);
  if (set->rules.size() >= kMaxRules)
    return Limit("A receipt rule set may have at most 200 rules");
  auto at = set->rules.begin();
  if (!after.empty()) {
    at = FindRule(*set, after);
    if (at == set->rules.end()) return RuleMissing(after);
    ++at;
  }
  set->rules.insert(at, std::move(*r));
  return Save(*set, false);
}

Status ReceiptRules::UpdateRule(const std::string& set_name,
                                const json::object& rule) {
  auto set = Load(set_name);
  if (!set.ok()) return set.error();
  auto r = NormalizeRule(rule);
  if (!r.ok()) return r.error();
  auto it = FindRule(*set, JsonString(*r, "Name"));
  if (it == set->rules.end()) return RuleMissing(JsonString(*r, "Name"));
  *it = std::move(*r);
  return Save(*set, false);
}

Status ReceiptRules::DeleteRule(const std::string& set_name,
                                const std::string& name) {
  auto set = Load(set_name);
  if (!set.ok()) return set.error();
  auto it = FindRule(*set, name);
  if (it == set->rules.end()) return Ok{};  // as SES: nothing to delete
  set->rules.erase(it);
  return Save(*set, false);
}

Result<json::object> ReceiptRules::GetRule(const std::string& set_name,
                                           const std::string& name) {
  auto set = Load(set_name);
  if (!set.ok()) return set.error();
  auto it = FindRule(*set, name);
  if (it == set->rules.end()) return RuleMissing(name);
  return *it;
}

Status ReceiptRules::SetRulePosition(const std::string& set_name,
                                     const std::string& name,
                                     const std::string& after) {
  auto set = Load(set_name);
  if (!set.ok()) return set.error();
  auto it = FindRule(*set, name);
  if (it == set->rules.end()) return RuleMissing(name);
  json::object rule = std::move(*it);
  set->rules.erase(it);
  auto at = set->rules.begin();
  if (!after.empty()) {
    at = FindRule(*set, after);
    if (at == set->rules.end()) return RuleMissing(after);
    ++at;
  }
  set->rules.insert(at, std::move(rule));
  return Save(*set, false);
}

// --- filters
// ------------------------------------------------------------------

Status ReceiptRules::CreateFilter(const json::object& filter) {
  auto f = NormalizeFilter(filter);
  if (!f.ok()) return f.error();
  if (DocumentNames(store_, kFilterKind).size() >= kMaxFilters)
    return Limit("You can have at most 100 receipt filters");
  std::string name = JsonString(*f, "Name");
  Status s = store_->Put(kFilterKind, name, json::serialize(*f), true);
  if (!s.ok() && s.error().code() == "exists")
    return Exists("Filter already exists: " + name);
  return s;
}

Status ReceiptRules::DeleteFilter(const std::string& name) {
  auto gone = store_->Delete(kFilterKind, name);
  if (!gone.ok()) return gone.error();
  return Ok{};
}

Result<std::vector<json::object>> ReceiptRules::ListFilters() {
  auto docs = ListDocuments(store_, kFilterKind, "", kMaxFilters * 2);
  if (!docs.ok()) return docs.error();
  std::vector<json::object> out;
  for (auto& [name, body] : docs->items) out.push_back(DocumentObject(body));
  return out;
}

bool ReceiptRules::Blocked(const std::string& ip) {
  auto filters = ListFilters();
  if (!filters.ok()) return false;
  bool blocked = false;
  for (const auto& f : *filters) {
    auto* p = f.if_contains("IpFilter");
    if (!p || !p->is_object()) continue;
    auto net = config::ParseNetwork(JsonString(p->as_object(), "Cidr"));
    if (!net.ok() || !net->Contains(ip)) continue;
    if (JsonString(p->as_object(), "Policy") == "Allow") return false;
    blocked = true;
  }
  return blocked;
}

}  // namespace sesame::ses
