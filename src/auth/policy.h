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
// condition operators: StringEquals, StringNotEquals, StringLike,
// StringNotLike (and their IgnoreCase forms), with ForAllValues: and
// ForAnyValue: qualifiers, plus DateLessThan/DateGreaterThan on
// aws:CurrentTime. Pure; thread-compatible.

// Checks a policy for an identity: size, JSON shape, Effect, Principal,
// Action (ses:Send* family), Resource (must be `identity_arn`), operators.
Status ValidatePolicy(const std::string& policy,
                      const std::string& identity_arn);

enum class Decision { kNotApplicable, kAllow, kDeny };

// Evaluates one or more policies; kAllow only when no statement denies and at
// least one allows.
Decision Evaluate(const std::vector<std::string>& policies,
                  const AuthzRequest& request);

// IAM wildcard match: '*' any run, '?' one character.
bool WildcardMatch(std::string_view pattern, std::string_view text,
                   bool ignore_case = false);

}  // namespace sesame::auth
