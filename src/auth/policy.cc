#include "auth/policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <ctime>

namespace sesame::auth {
namespace json = boost::json;

namespace {

constexpr size_t kMaxPolicyBytes = 4096;

Error Invalid(const std::string& why) {
  return Error::Permanent("invalid_policy", why);
}

char Lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// A JSON string or array of strings as a list; false when it is neither.
bool Strings(const json::value& v, std::vector<std::string>* out) {
  if (v.is_string()) {
    out->emplace_back(v.as_string());
    return true;
  }
  if (!v.is_array()) return false;
  for (const auto& e : v.as_array()) {
    if (!e.is_string()) return false;
    out->emplace_back(e.as_string());
  }
  return true;
}

// Statement's list under `key`, or under "Not"+key (negated). Returns false
// when neither is present or the value is malformed.
bool ListField(const json::object& st, const char* key,
               std::vector<std::string>* out, bool* negated) {
  std::string not_key = std::string("Not") + key;
  if (auto* v = st.if_contains(key)) {
    *negated = false;
    return Strings(*v, out);
  }
  if (auto* v = st.if_contains(not_key)) {
    *negated = true;
    return Strings(*v, out);
  }
  return false;
}

const char* const kSendActions[] = {
    "ses:SendEmail", "ses:SendRawEmail", "ses:SendTemplatedEmail",
    "ses:SendBulkTemplatedEmail", "ses:SendBulkEmail"};

struct Operator {
  std::string base;  // StringEquals, StringLike, DateLessThan, ...
  bool if_exists = false;
  enum { kSingle, kForAll, kForAny } set = kSingle;
};

bool ParseOperator(std::string name, Operator* op) {
  if (name.rfind("ForAllValues:", 0) == 0) {
    op->set = Operator::kForAll;
    name = name.substr(13);
  } else if (name.rfind("ForAnyValue:", 0) == 0) {
    op->set = Operator::kForAny;
    name = name.substr(12);
  }
  if (name.size() > 8 && name.ends_with("IfExists")) {
    op->if_exists = true;
    name.resize(name.size() - 8);
  }
  static const char* const kKnown[] = {"StringEquals",
                                       "StringNotEquals",
                                       "StringEqualsIgnoreCase",
                                       "StringNotEqualsIgnoreCase",
                                       "StringLike",
                                       "StringNotLike",
                                       "DateEquals",
                                       "DateNotEquals",
                                       "DateLessThan",
                                       "DateLessThanEquals",
                                       "DateGreaterThan",
                                       "DateGreaterThanEquals",
                                       "NumericEquals",
                                       "NumericNotEquals",
                                       "NumericLessThan",
                                       "NumericLessThanEquals",
                                       "NumericGreaterThan",
                                       "NumericGreaterThanEquals",
                                       "Bool",
                                       "BinaryEquals",
                                       "IpAddress",
                                       "NotIpAddress",
                                       "ArnEquals",
                                       "ArnNotEquals",
                                       "ArnLike",
                                       "ArnNotLike",
                                       "Null"};
  for (const char* k : kKnown) {
    if (name == k) {
      op->base = name;
      return true;
    }
  }
  return false;
}

// Seconds since the epoch of an ISO 8601 UTC time ("2026-01-02T03:04:05Z",
// fraction ignored), or of a decimal epoch; -1 when malformed.
int64_t ParseTime(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos)
    return std::atoll(s.c_str());
  std::tm tm{};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

// Does `ip` (v4 or v6 text) lie in `cidr` ("192.0.2.0/24", "2001:db8::/32",
// or one address)?
bool InCidr(const std::string& cidr, const std::string& ip) {
  std::string net = cidr;
  int bits = -1;
  if (size_t slash = cidr.find('/'); slash != std::string::npos) {
    net = cidr.substr(0, slash);
    bits = std::atoi(cidr.c_str() + slash + 1);
  }
  unsigned char a[16], b[16];
  int len = 0;
  if (inet_pton(AF_INET, net.c_str(), a) == 1 &&
      inet_pton(AF_INET, ip.c_str(), b) == 1) {
    len = 4;
  } else if (inet_pton(AF_INET6, net.c_str(), a) == 1 &&
             inet_pton(AF_INET6, ip.c_str(), b) == 1) {
    len = 16;
  } else {
    return false;
  }
  if (bits < 0 || bits > len * 8) bits = len * 8;
  for (int i = 0; i < bits; ++i) {
    int mask = 0x80 >> (i % 8);
    if ((a[i / 8] & mask) != (b[i / 8] & mask)) return false;
  }
  return true;
}

bool ParseNumber(const std::string& s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && end && *end == '\0';
}

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return Lower(x) == Lower(y); });
}

bool MatchOne(const std::string& op, const std::string& pattern,
              const std::string& value) {
  if (op == "StringEquals" || op == "StringNotEquals" || op == "BinaryEquals" ||
      op == "ArnEquals" || op == "ArnNotEquals")
    return op.starts_with("Arn") ? WildcardMatch(pattern, value)
                                 : pattern == value;
  if (op == "StringEqualsIgnoreCase" || op == "StringNotEqualsIgnoreCase" ||
      op == "Bool")
    return EqualsIgnoreCase(pattern, value);
  if (op == "StringLike" || op == "StringNotLike" || op == "ArnLike" ||
      op == "ArnNotLike")
    return WildcardMatch(pattern, value);
  if (op == "IpAddress" || op == "NotIpAddress") return InCidr(pattern, value);
  if (op.starts_with("Numeric")) {
    double p, v;
    if (!ParseNumber(pattern, &p) || !ParseNumber(value, &v)) return false;
    if (op == "NumericEquals" || op == "NumericNotEquals") return v == p;
    if (op == "NumericLessThan") return v < p;
    if (op == "NumericLessThanEquals") return v <= p;
    if (op == "NumericGreaterThan") return v > p;
    return v >= p;  // NumericGreaterThanEquals
  }
  int64_t p = ParseTime(pattern), v = ParseTime(value);
  if (p < 0 || v < 0) return false;
  if (op == "DateEquals" || op == "DateNotEquals") return v == p;
  if (op == "DateLessThan") return v < p;
  if (op == "DateLessThanEquals") return v <= p;
  if (op == "DateGreaterThan") return v > p;
  if (op == "DateGreaterThanEquals") return v >= p;
  return false;
}

bool Negated(const std::string& op) {
  return op.find("Not") != std::string::npos;
}

// Does one condition key hold for the request?
bool ConditionHolds(const Operator& op,
                    const std::vector<std::string>& patterns,
                    const std::vector<std::string>* values) {
  bool negated = Negated(op.base);
  auto matches_any_pattern = [&](const std::string& v) {
    for (const auto& p : patterns) {
      if (MatchOne(op.base, p, v)) return true;
    }
    return false;
  };
  if (op.base == "Null") {
    // {"Null": {"key": "true"}}: holds when the key is absent.
    bool absent = !values || values->empty();
    for (const auto& p : patterns) {
      if (EqualsIgnoreCase(p, "true") == absent) return true;
    }
    return false;
  }
  if (!values || values->empty()) {
    // IAM: a missing key fails positive operators, satisfies negated ones,
    // ...IfExists and ForAllValues.
    return op.if_exists || op.set == Operator::kForAll || negated;
  }
  if (op.set == Operator::kForAll) {
    for (const auto& v : *values) {
      if (matches_any_pattern(v) == negated) return false;
    }
    return true;
  }
  // Single-valued and ForAnyValue: some value satisfies.
  for (const auto& v : *values) {
    if (matches_any_pattern(v) != negated) return true;
  }
  return false;
}

bool PrincipalMatches(const json::value& p, const Principal& who) {
  if (p.is_string()) return p.as_string() == "*";
  if (!p.is_object()) return false;
  auto* aws = p.as_object().if_contains("AWS");
  if (!aws) return false;
  std::vector<std::string> list;
  if (!Strings(*aws, &list)) return false;
  for (const auto& e : list) {
    if (e == "*" || e == who.account || e == who.Arn() ||
        e == "arn:aws:iam::" + who.account + ":root")
      return true;
  }
  return false;
}

bool ListMatches(const std::vector<std::string>& patterns,
                 const std::string& value, bool ignore_case) {
  for (const auto& p : patterns) {
    if (WildcardMatch(p, value, ignore_case)) return true;
  }
  return false;
}

// Condition values: strings, or JSON booleans and numbers as IAM reads them.
bool ConditionValues(const json::value& v, std::vector<std::string>* out) {
  auto one = [out](const json::value& e) {
    if (e.is_string()) {
      out->emplace_back(e.as_string());
    } else if (e.is_bool()) {
      out->emplace_back(e.as_bool() ? "true" : "false");
    } else if (e.is_int64() || e.is_uint64() || e.is_double()) {
      out->emplace_back(json::serialize(e));
    } else {
      return false;
    }
    return true;
  };
  if (!v.is_array()) return one(v);
  for (const auto& e : v.as_array()) {
    if (!one(e)) return false;
  }
  return true;
}

// Policy variables: "${aws:username}" and any other single-valued context
// key; an unknown variable leaves the text unmatched (as IAM does).
std::string Substitute(const std::string& text, const AuthzRequest& r) {
  if (text.find("${") == std::string::npos) return text;
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t open = text.find("${", i), close;
    if (open == std::string::npos ||
        (close = text.find('}', open)) == std::string::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    std::string key = text.substr(open + 2, close - open - 2);
    std::string value = "\x01unresolved";
    if (key == "*" || key == "?" || key == "$") value = key;
    for (const auto& [k, v] : r.context) {
      if (v.size() == 1 && EqualsIgnoreCase(k, key)) value = v[0];
    }
    out += value;
    i = close + 1;
  }
  return out;
}

// kAllow/kDeny when the statement applies to the request, else kNotApplicable.
// `identity`: a policy attached to the caller (no Principal element), else a
// resource policy that must name the caller.
Decision EvaluateStatement(const json::object& st, const AuthzRequest& r,
                           bool identity) {
  auto* effect = st.if_contains("Effect");
  if (!effect || !effect->is_string()) return Decision::kNotApplicable;
  if (identity) {
    if (st.contains("Principal") || st.contains("NotPrincipal"))
      return Decision::kNotApplicable;
  } else if (auto* p = st.if_contains("Principal")) {
    if (!PrincipalMatches(*p, r.principal)) return Decision::kNotApplicable;
  } else if (auto* np = st.if_contains("NotPrincipal")) {
    if (PrincipalMatches(*np, r.principal)) return Decision::kNotApplicable;
  } else {
    return Decision::kNotApplicable;
  }
  std::vector<std::string> actions, resources;
  bool not_action = false, not_resource = false;
  if (!ListField(st, "Action", &actions, &not_action) ||
      ListMatches(actions, r.action, true) == not_action)
    return Decision::kNotApplicable;
  if (!ListField(st, "Resource", &resources, &not_resource))
    return Decision::kNotApplicable;
  for (auto& res : resources) res = Substitute(res, r);
  if (ListMatches(resources, r.resource, false) == not_resource)
    return Decision::kNotApplicable;
  if (auto* cond = st.if_contains("Condition"); cond && cond->is_object()) {
    for (const auto& [op_name, keys] : cond->as_object()) {
      Operator op;
      if (!ParseOperator(std::string(op_name), &op) || !keys.is_object())
        return Decision::kNotApplicable;
      for (const auto& [key, want] : keys.as_object()) {
        std::vector<std::string> patterns;
        if (!ConditionValues(want, &patterns)) return Decision::kNotApplicable;
        for (auto& pat : patterns) pat = Substitute(pat, r);
        // Condition keys are case-insensitive.
        const std::vector<std::string>* values = nullptr;
        for (const auto& [k, v] : r.context) {
          if (k.size() == key.size() && WildcardMatch(k, key, true))
            values = &v;
        }
        if (!ConditionHolds(op, patterns, values))
          return Decision::kNotApplicable;
      }
    }
  }
  return effect->as_string() == "Deny" ? Decision::kDeny : Decision::kAllow;
}

}  // namespace

bool WildcardMatch(std::string_view pattern, std::string_view text,
                   bool ignore_case) {
  // Iterative glob with single back-tracking point: linear in practice.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  auto eq = [&](char a, char b) {
    return ignore_case ? Lower(a) == Lower(b) : a == b;
  };
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' || (pattern[p] != '*' && eq(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Status ValidatePolicy(const std::string& policy,
                      const std::string& identity_arn) {
  if (policy.size() > kMaxPolicyBytes)
    return Invalid("Policy is larger than 4 KB.");
  boost::system::error_code ec;
  json::value v = json::parse(policy, ec);
  if (ec || !v.is_object())
    return Invalid("Policy is not a valid JSON object.");
  auto* stmts = v.as_object().if_contains("Statement");
  if (!stmts) return Invalid("Policy has no Statement.");
  json::array list;
  if (stmts->is_object()) {
    list.push_back(*stmts);
  } else if (stmts->is_array() && !stmts->as_array().empty()) {
    list = stmts->as_array();
  } else {
    return Invalid("Statement must be an object or a non-empty array.");
  }
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = "Statement " + std::to_string(i + 1) + ": ";
    if (!list[i].is_object()) return Invalid(where + "must be an object.");
    const json::object& st = list[i].as_object();
    auto* effect = st.if_contains("Effect");
    if (!effect || !effect->is_string() ||
        (effect->as_string() != "Allow" && effect->as_string() != "Deny"))
      return Invalid(where + "Effect must be Allow or Deny.");
    const json::value* principal = st.if_contains("Principal");
    if (!principal) principal = st.if_contains("NotPrincipal");
    if (!principal) return Invalid(where + "Principal is required.");
    bool principal_ok = principal->is_string() && principal->as_string() == "*";
    if (principal->is_object()) {
      principal_ok = !principal->as_object().empty();
      for (const auto& [k, val] : principal->as_object()) {
        std::vector<std::string> ids;
        if ((k != "AWS" && k != "Service") || !Strings(val, &ids) ||
            ids.empty())
          principal_ok = false;
      }
    }
    if (!principal_ok)
      return Invalid(where +
                     "Principal must be \"*\" or {\"AWS\": [account or ARN]}.");
    std::vector<std::string> actions, resources;
    bool negated = false;
    if (!ListField(st, "Action", &actions, &negated) || actions.empty())
      return Invalid(where + "Action is required.");
    for (const auto& a : actions) {
      bool known = false;
      for (const char* s : kSendActions) known |= WildcardMatch(a, s, true);
      if (!known)
        return Invalid(where + "Action " + a +
                       " is not a sending action (ses:SendEmail, "
                       "ses:SendRawEmail, ses:SendTemplatedEmail, "
                       "ses:SendBulkTemplatedEmail).");
    }
    if (!ListField(st, "Resource", &resources, &negated) || resources.empty())
      return Invalid(where + "Resource is required.");
    for (const auto& r : resources) {
      if (!WildcardMatch(r, identity_arn))
        return Invalid(where + "Resource " + r + " is not this identity (" +
                       identity_arn + ").");
    }
    if (auto* cond = st.if_contains("Condition")) {
      if (!cond->is_object())
        return Invalid(where + "Condition must be an object.");
      for (const auto& [op_name, keys] : cond->as_object()) {
        Operator op;
        if (!ParseOperator(std::string(op_name), &op))
          return Invalid(where + "unsupported condition operator " +
                         std::string(op_name) + ".");
        if (!keys.is_object())
          return Invalid(where + "condition " + std::string(op_name) +
                         " must map keys to values.");
        for (const auto& [key, want] : keys.as_object()) {
          std::vector<std::string> vals;
          if (!Strings(want, &vals))
            return Invalid(where + "condition key " + std::string(key) +
                           " must have string values.");
        }
      }
    }
  }
  return Ok{};
}

namespace {
Decision EvaluateAll(const std::vector<std::string>& policies,
                     const AuthzRequest& request, bool identity) {
  Decision result = Decision::kNotApplicable;
  for (const auto& text : policies) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) continue;
    auto* stmts = v.as_object().if_contains("Statement");
    if (!stmts) continue;
    std::vector<const json::object*> list;
    if (stmts->is_object()) list.push_back(&stmts->as_object());
    if (stmts->is_array()) {
      for (const auto& s : stmts->as_array()) {
        if (s.is_object()) list.push_back(&s.as_object());
      }
    }
    for (const json::object* st : list) {
      Decision d = EvaluateStatement(*st, request, identity);
      if (d == Decision::kDeny) return Decision::kDeny;
      if (d == Decision::kAllow) result = Decision::kAllow;
    }
  }
  return result;
}

}  // namespace

Decision Evaluate(const std::vector<std::string>& policies,
                  const AuthzRequest& request) {
  return EvaluateAll(policies, request, false);
}

Decision EvaluateIdentityPolicies(const std::vector<std::string>& policies,
                                  const AuthzRequest& request) {
  return EvaluateAll(policies, request, true);
}

Decision Combine(Decision identity, Decision resource) {
  if (identity == Decision::kDeny || resource == Decision::kDeny)
    return Decision::kDeny;
  if (identity == Decision::kAllow || resource == Decision::kAllow)
    return Decision::kAllow;
  return Decision::kNotApplicable;
}

Status ValidateIdentityPolicy(const std::string& policy, size_t max_bytes) {
  if (policy.size() > max_bytes)
    return Invalid("Cannot exceed quota for PolicySize: " +
                   std::to_string(max_bytes));
  boost::system::error_code ec;
  json::value v = json::parse(policy, ec);
  if (ec || !v.is_object()) return Invalid("Syntax errors in policy.");
  const json::object& doc = v.as_object();
  for (const auto& [k, val] : doc) {
    if (k != "Version" && k != "Id" && k != "Statement")
      return Invalid("Syntax errors in policy.");
  }
  if (auto* ver = doc.if_contains("Version");
      ver && (!ver->is_string() || (ver->as_string() != "2012-10-17" &&
                                    ver->as_string() != "2008-10-17")))
    return Invalid("The policy failed legacy parsing");
  auto* stmts = doc.if_contains("Statement");
  if (!stmts) return Invalid("Syntax errors in policy.");
  json::array list;
  if (stmts->is_object()) {
    list.push_back(*stmts);
  } else if (stmts->is_array()) {
    list = stmts->as_array();
  } else {
    return Invalid("Syntax errors in policy.");
  }
  for (const auto& item : list) {
    if (!item.is_object()) return Invalid("Syntax errors in policy.");
    const json::object& st = item.as_object();
    if (st.contains("Principal") || st.contains("NotPrincipal"))
      return Invalid("Policy document should not specify a principal.");
    auto* effect = st.if_contains("Effect");
    if (!effect || !effect->is_string() ||
        (effect->as_string() != "Allow" && effect->as_string() != "Deny"))
      return Invalid("Syntax errors in policy.");
    std::vector<std::string> actions, resources;
    bool negated = false;
    if (st.contains("Action") && st.contains("NotAction"))
      return Invalid("Syntax errors in policy.");
    if (!ListField(st, "Action", &actions, &negated))
      return Invalid("Policy statement must contain actions.");
    for (const auto& a : actions) {
      if (a != "*" && a.find(':') == std::string::npos)
        return Invalid(
            "Actions/Conditions must be prefaced by a vendor, "
            "e.g., iam, sdb, ec2, etc.");
    }
    if (!ListField(st, "Resource", &resources, &negated))
      return Invalid("Policy statement must contain resources.");
    for (const auto& r : resources) {
      if (r != "*" && r.rfind("arn:", 0) != 0)
        return Invalid("Resource " + r + " must be in ARN format or \"*\".");
    }
    if (auto* cond = st.if_contains("Condition")) {
      if (!cond->is_object()) return Invalid("Syntax errors in policy.");
      for (const auto& [op_name, keys] : cond->as_object()) {
        Operator op;
        if (!ParseOperator(std::string(op_name), &op))
          return Invalid("Unsupported condition operator " +
                         std::string(op_name) + ".");
        std::vector<std::string> vals;
        if (!keys.is_object()) return Invalid("Syntax errors in policy.");
        for (const auto& [key, want] : keys.as_object()) {
          if (!ConditionValues(want, &vals))
            return Invalid("Syntax errors in policy.");
        }
      }
    }
  }
  return Ok{};
}

}  // namespace sesame::auth
