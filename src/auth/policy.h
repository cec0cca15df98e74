#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace sesame::auth {

// Who is calling: the account an access key belongs to and, for an IAM-style
// user key, its user name.
struct Principal {
  std::string account;  // 12 digits
  std::string user;     // empty: the account root
  std::string Arn() const {
    return "arn:aws:iam::" + account + ":" +
           (user.empty() ? "root" : "user/" + user);
  }
};

// One authorization question: may `principal` perform `action` (for example
// "ses:SendRawEmail") on `resource` (an identity ARN), given the condition
// context (ses:FromAddress, ses:Recipients, ...; multi-valued keys hold
// several values)?
struct AuthzRequest {
  Principal principal;
  std::string action;
  std::string resource;
  std::map<std::string, std::vector<std::string>> context;
};

// SES sending-authorization policies (spec section 6): JSON documents with
// Allow/Deny statements on Principal, Action, Resource and Condition.
// Validation rejects what SES rejects (with the reason); evaluation follows
// IAM: an explicit Deny wins, otherwise some Allow must match. Supported
// condition operators: IAM's String*, Numeric*, Date*, Bool, BinaryEquals,
// IpAddress/NotIpAddress, Arn* and Null, with ...IfExists and the
// ForAllValues:/ForAnyValue: qualifiers. Pure; thread-compatible.

// Checks a policy for an identity: size, JSON shape, Effect, Principal,
// Action (ses:Send* family), Resource (must be `identity_arn`), operators.
Status ValidatePolicy(const std::string& policy,
                      const std::string& identity_arn);

enum class Decision { kNotApplicable, kAllow, kDeny };

// Evaluates one or more policies; kAllow only when no statement denies and at
// least one allows.
Decision Evaluate(const std::vector<std::string>& policies,
                  const AuthzRequest& request);

// Evaluates identity policies (attached to the caller; their statements name
// no Principal). Policy variables such as ${aws:username} resolve from the
// request's context.
Decision EvaluateIdentityPolicies(const std::vector<std::string>& policies,
                                  const AuthzRequest& request);

// IAM's policy evaluation logic within one account: an explicit Deny in
// either wins, else an Allow in either allows.
Decision Combine(Decision identity, Decision resource);

// Checks an IAM identity policy (managed or inline) as IAM does, with IAM's
// MalformedPolicyDocument reasons: JSON shape, Version, Effect, Action or
// NotAction with a service prefix, Resource or NotResource as ARNs, no
// Principal, known condition operators, at most `max_bytes`.
Status ValidateIdentityPolicy(const std::string& policy, size_t max_bytes);

// IAM wildcard match: '*' any run, '?' one character.
bool WildcardMatch(std::string_view pattern, std::string_view text,
                   bool ignore_case = false);

}  // namespace sesame::auth
