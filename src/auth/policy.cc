#include "auth/policy.h"

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
                                       "DateLessThan",
                                       "DateLessThanEquals",
                                       "DateGreaterThan",
                                       "DateGreaterThanEquals"};
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

bool MatchOne(const std::string& op, const std::string& pattern,
              const std::string& value) {
  if (op == "StringEquals" || op == "StringNotEquals") return pattern == value;
  if (op == "StringEqualsIgnoreCase" || op == "StringNotEqualsIgnoreCase")
    return pattern.size() == value.size() &&
           std::equal(pattern.begin(), pattern.end(), value.begin(),
                      [](char a, char b) { return Lower(a) == Lower(b); });
  if (op == "StringLike" || op == "StringNotLike")
    return WildcardMatch(pattern, value);
  int64_t p = ParseTime(pattern), v = ParseTime(value);
  if (p < 0 || v < 0) return false;
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

// kAllow/kDeny when the statement applies to the request, else kNotApplicable.
Decision EvaluateStatement(const json::object& st, const AuthzRequest& r) {
  auto* effect = st.if_contains("Effect");
  if (!effect || !effect->is_string()) return Decision::kNotApplicable;
  if (auto* p = st.if_contains("Principal")) {
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
  if (!ListField(st, "Resource", &resources, &not_resource) ||
      ListMatches(resources, r.resource, false) == not_resource)
    return Decision::kNotApplicable;
  if (auto* cond = st.if_contains("Condition"); cond && cond->is_object()) {
    for (const auto& [op_name, keys] : cond->as_object()) {
      Operator op;
      if (!ParseOperator(std::string(op_name), &op) || !keys.is_object())
        return Decision::kNotApplicable;
      for (const auto& [key, want] : keys.as_object()) {
        std::vector<std::string> patterns;
        if (!Strings(want, &patterns)) return Decision::kNotApplicable;
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

Decision Evaluate(const std::vector<std::string>& policies,
                  const AuthzRequest& request) {
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
      Decision d = EvaluateStatement(*st, request);
      if (d == Decision::kDeny) return Decision::kDeny;
      if (d == Decision::kAllow) result = Decision::kAllow;
    }
  }
  return result;
}

}  // namespace sesame::auth
