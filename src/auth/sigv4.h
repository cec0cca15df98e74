#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"

namespace sesame::auth {

// What SigV4 verification needs from an HTTP request, as received.
struct SignedRequest {
  std::string method;
  std::string raw_path;   // before percent-decoding
  std::string raw_query;  // after '?', before decoding; "" if none
  std::vector<std::pair<std::string, std::string>>
      headers;  // as received (any case)
  std::string_view body;
};

// The parsed Authorization header.
struct Authorization {
  std::string access_key_id;
  std::string date;  // yyyymmdd from the scope
  std::string region;
  std::string service;  // "ses" (or "email")
  std::vector<std::string> signed_headers;
  std::string signature;  // 64 lower-case hex
};

// Why verification failed; maps to each API's own error names.
enum class AuthFailure {
  kMissing,         // no Authorization header
  kMalformed,       // IncompleteSignature
  kUnknownKey,      // InvalidClientTokenId / UnrecognizedClientException
  kExpired,         // RequestExpired (clock skew)
  kBadSignature,    // SignatureDoesNotMatch / InvalidSignatureException
  kBadPayloadHash,  // x-amz-content-sha256 does not match the body
  kWrongRegion,     // scoped to a region this server does not serve
  kSessionToken,    // X-Amz-Security-Token: no temporary credentials here
};

struct AuthError {
  AuthFailure failure;
  std::string message;
};

// Pure pieces of AWS Signature Version 4 (spec/ses.md section 3).
std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
std::string Hex(std::string_view bytes);
std::string UriEncode(std::string_view s, bool keep_slash);
std::string PercentDecode(std::string_view s);
std::string CanonicalUri(std::string_view raw_path);
std::string CanonicalQuery(std::string_view raw_query);
// Returns the canonical request, or an error when a signed header is absent.
Result<std::string> CanonicalRequest(
    const SignedRequest& r, const std::vector<std::string>& signed_headers,
    const std::string& payload_hash);
std::string StringToSign(const std::string& amz_date, const std::string& scope,
                         const std::string& canonical_request);
std::string SigningKey(const std::string& secret, const std::string& date,
                       const std::string& region, const std::string& service);

// Signs an outgoing request (Sesame as an AWS client: S3 writes). `r`'s
// headers must include host and x-amz-date ("YYYYMMDDTHHMMSSZ"); all of them
// are signed. Returns the Authorization header's value. Pure.
std::string AuthorizationFor(const SignedRequest& r,
                             const std::string& payload_hash,
                             const std::string& access_key_id,
                             const std::string& secret,
                             const std::string& region,
                             const std::string& service);

// Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
bool ParseAuthorization(std::string_view header, Authorization* out,
                        std::string* why);

// Verifies `r`. `secret_for` returns the secret for an access key id, or
// false when the key is unknown. `now_epoch` and `max_skew_seconds` bound
// the X-Amz-Date. `region`, when not empty, is the one region the server
// serves: a credential scoped to another is refused, as AWS does. A request
// carrying X-Amz-Security-Token is refused: Sesame issues no temporary
// credentials, and an unsigned token must not be silently ignored.
// On success returns the access key id.
using SecretLookup =
    std::function<std::optional<std::string>(const std::string& access_key_id)>;
std::variant<std::string, AuthError> Verify(const SignedRequest& r,
                                            const SecretLookup& secret_for,
                                            int64_t now_epoch,
                                            int64_t max_skew_seconds,
                                            const std::string& region = "");

// The SES SMTP password for a secret in a region (spec section 4).
std::string SmtpPassword(const std::string& secret, const std::string& region);

// Constant-time comparison.
bool SafeEquals(std::string_view a, std::string_view b);

}  // namespace sesame::auth
