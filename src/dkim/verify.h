#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sesame::dkim {

// RFC 6376 verification of the DKIM-Signature fields of a message (received
// mail: SES receiving's dkimVerdict and DMARC's DKIM half).
enum class Outcome { kPass, kFail, kTempError, kPermError };

struct Verification {
  std::string domain;    // d=
  std::string selector;  // s=
  Outcome outcome = Outcome::kPermError;
  std::string why;  // for logs: what failed
};

// TXT records of a name ("<selector>._domainkey.<domain>"); a transient
// error is a temperror.
using KeyLookup =
    std::function<Result<std::vector<std::string>>(const std::string& name)>;

// One result per DKIM-Signature field (at most 8 are checked), in order.
// Supports rsa-sha256 and ed25519-sha256, simple and relaxed
// canonicalization, l=, x=. Pure except for `lookup`.
std::vector<Verification> Verify(std::string_view message,
                                 const KeyLookup& lookup, int64_t now_epoch);

// The tag=value list of a DKIM-Signature or key record, whitespace removed
// from values. Pure.
std::vector<std::pair<std::string, std::string>> ParseTags(
    std::string_view list);

}  // namespace sesame::dkim
