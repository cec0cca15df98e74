#include "auth/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "base/base64.h"
#include "base/strings.h"

namespace sesame::auth {
namespace {

// Trims and collapses runs of spaces (SigV4 canonical header values).
std::string CanonicalValue(std::string_view v) {
  std::string t = TrimCopy(v), out;
  bool space = false;
  for (char c : t) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos
                                         ? std::string_view::npos
                                         : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

// "20150830T123600Z" -> epoch seconds, or -1.
int64_t ParseAmzDate(const std::string& d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return -1;
  for (int i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14}) {
    if (!std::isdigit(static_cast<unsigned char>(d[i]))) return -1;
  }
  std::tm tm{};
  tm.tm_year = std::stoi(d.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(d.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(d.substr(6, 2));
  tm.tm_hour = std::stoi(d.substr(9, 2));
  tm.tm_min = std::stoi(d.substr(11, 2));
  tm.tm_sec = std::stoi(d.substr(13, 2));
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return Hex(std::string_view(reinterpret_cast<char*>(md), sizeof md));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
       &len);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() &&
        std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(
          std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string CanonicalUri(std::string_view raw_path) {
  // Remove empty and dot segments, keep a trailing slash, then encode the
  // path as received once more (so "%40" is signed as "%2540").
  std::vector<std::string> out;
  for (const auto& seg : Split(raw_path, '/')) {
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(seg);
  }
  std::string path = "/";
  for (size_t i = 0; i < out.size(); ++i) path += (i ? "/" : "") + out[i];
  if (!out.empty() && raw_path.size() > 1 && raw_path.back() == '/')
    path += "/";
  return UriEncode(path, true);
}

std::string CanonicalQuery(std::string_view raw_query) {
  if (raw_query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& pair : Split(raw_query, '&')) {
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string k = PercentDecode(pair.substr(0, eq));
    std::string v =
        eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1));
    params.emplace_back(UriEncode(k, false), UriEncode(v, false));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (size_t i = 0; i < params.size(); ++i)
    out += (i ? "&" : "") + params[i].first + "=" + params[i].second;
  return out;
}

Result<std::string> CanonicalRequest(
    const SignedRequest& r, const std::vector<std::string>& signed_headers,
    const std::string& payload_hash) {
  std::map<std::string, std::string> values;
  for (const auto& [name, value] : r.headers) {
    std::string n = AsciiLowerCopy(name);
    auto it = values.find(n);
    std::string v = CanonicalValue(value);
    if (it == values.end()) {
      values[n] = v;
    } else {
      it->second += "," + v;
    }
  }
  std::string headers;
  for (const auto& h : signed_headers) {
    auto it = values.find(h);
    if (it == values.end())
      return Error::Permanent("malformed",
                              "signed header '" + h + "' is missing");
    headers += h + ":" + it->second + "\n";
  }
  std::string joined;
  for (size_t i = 0; i < signed_headers.size(); ++i)
    joined += (i ? ";" : "") + signed_headers[i];
  return r.method + "\n" + CanonicalUri(r.raw_path) + "\n" +
         CanonicalQuery(r.raw_query) + "\n" + headers + "\n" + joined + "\n" +
         payload_hash;
}

std::string AuthorizationFor(const SignedRequest& r,
                             const std::string& payload_hash,
                             const std::string& access_key_id,
                             const std::string& secret,
                             const std::string& region,
                             const std::string& service) {
  std::vector<std::string> names;
  std::string amz_date;
  for (const auto& [k, v] : r.headers) {
    names.push_back(AsciiLowerCopy(k));
    if (names.back() == "x-amz-date") amz_date = v;
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  auto creq = CanonicalRequest(r, names, payload_hash);
  std::string sts = StringToSign(amz_date, scope, creq.ok() ? *creq : "");
  std::string sig =
      Hex(HmacSha256(SigningKey(secret, date, region, service), sts));
  std::string joined;
  for (size_t i = 0; i < names.size(); ++i) joined += (i ? ";" : "") + names[i];
  return "AWS4-HMAC-SHA256 Credential=" + access_key_id + "/" + scope +
         ", SignedHeaders=" + joined + ", Signature=" + sig;
}

std::string StringToSign(const std::string& amz_date, const std::string& scope,
                         const std::string& canonical_request) {
  return "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" +
         Sha256Hex(canonical_request);
}

std::string SigningKey(const std::string& secret, const std::string& date,
                       const std::string& region, const std::string& service) {
  std::string k = HmacSha256("AWS4" + secret, date);
  k = HmacSha256(k, region);
  k = HmacSha256(k, service);
  return HmacSha256(k, "aws4_request");
}

bool ParseAuthorization(std::string_view header, Authorization* out,
                        std::string* why) {
  std::string h = TrimCopy(header);
  const std::string alg = "AWS4-HMAC-SHA256 ";
  if (h.compare(0, alg.size(), alg) != 0) {
    *why = "Authorization header must use AWS4-HMAC-SHA256";
    return false;
  }
  std::map<std::string, std::string> parts;
  for (const auto& p : Split(std::string_view(h).substr(alg.size()), ',')) {
    std::string t = TrimCopy(p);
    size_t eq = t.find('=');
    if (eq == std::string::npos) {
      *why = "Authorization header component without '=': " + t;
      return false;
    }
    parts[t.substr(0, eq)] = t.substr(eq + 1);
  }
  for (const char* k : {"Credential", "SignedHeaders", "Signature"}) {
    if (!parts.count(k)) {
      *why = std::string("Authorization header requires '") + k + "' parameter";
      return false;
    }
  }
  auto scope = Split(parts["Credential"], '/');
  if (scope.size() != 5 || scope[4] != "aws4_request" || scope[1].size() != 8) {
    *why =
        "Credential should be scoped to a valid region and service: "
        "<key>/<yyyymmdd>/<region>/ses/aws4_request";
    return false;
  }
  // SES, SNS for the topics API and IAM (same endpoint, same keys).
  if (scope[3] != "ses" && scope[3] != "email" && scope[3] != "sns" &&
      scope[3] != "iam") {
    *why = "Credential should be scoped to correct service: 'ses'";
    return false;
  }
  out->access_key_id = scope[0];
  out->date = scope[1];
  out->region = scope[2];
  out->service = scope[3];
  out->signed_headers = Split(parts["SignedHeaders"], ';');
  out->signature = parts["Signature"];
  if (out->signature.size() != 64) {
    *why = "Signature must be 64 hexadecimal characters";
    return false;
  }
  return true;
}

bool SafeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::variant<std::string, AuthError> Verify(const SignedRequest& r,
                                            const SecretLookup& secret_for,
                                            int64_t now_epoch,
                                            int64_t max_skew_seconds,
                                            const std::string& region) {
  auto header = [&](std::string_view name) -> std::optional<std::string> {
    for (const auto& [n, v] : r.headers) {
      if (AsciiLowerCopy(n) == name) return v;
    }
    return std::nullopt;
  };
  auto auth_header = header("authorization");
  if (!auth_header)
    return AuthError{AuthFailure::kMissing,
                     "Request is missing Authentication Token"};
  Authorization a;
  std::string why;
  if (!ParseAuthorization(*auth_header, &a, &why))
    return AuthError{AuthFailure::kMalformed, why};
  if (!region.empty() && a.region != region) {
    return AuthError{AuthFailure::kWrongRegion,
                     "Credential should be scoped to a valid region, not '" +
                         a.region.substr(0, 64) + "'. This endpoint serves '" +
                         region + "'."};
  }
  if (header("x-amz-security-token")) {
    return AuthError{AuthFailure::kSessionToken,
                     "The security token included in the request is invalid: "
                     "this endpoint issues no temporary credentials."};
  }
  bool has_host = std::find(a.signed_headers.begin(), a.signed_headers.end(),
                            "host") != a.signed_headers.end();
  bool has_date = std::find(a.signed_headers.begin(), a.signed_headers.end(),
                            "x-amz-date") != a.signed_headers.end() ||
                  std::find(a.signed_headers.begin(), a.signed_headers.end(),
                            "date") != a.signed_headers.end();
  if (!has_host || !has_date) {
    return AuthError{AuthFailure::kMalformed,
                     "SignedHeaders must include host and x-amz-date"};
  }
  auto amz_date = header("x-amz-date");
  if (!amz_date)
    return AuthError{AuthFailure::kMalformed, "Request must carry X-Amz-Date"};
  int64_t t = ParseAmzDate(TrimCopy(*amz_date));
  if (t < 0)
    return AuthError{AuthFailure::kMalformed,
                     "X-Amz-Date is not in the form YYYYMMDDTHHMMSSZ"};
  if (TrimCopy(*amz_date).substr(0, 8) != a.date) {
    return AuthError{AuthFailure::kMalformed,
                     "Credential date does not match X-Amz-Date"};
  }
  if (t < now_epoch - max_skew_seconds || t > now_epoch + max_skew_seconds) {
    return AuthError{AuthFailure::kExpired,
                     "Signature expired: " + TrimCopy(*amz_date) +
                         " is now earlier or later than "
                         "the allowed skew of " +
                         std::to_string(max_skew_seconds / 60) + " minutes"};
  }
  std::optional<std::string> secret = secret_for(a.access_key_id);
  if (!secret) {
    return AuthError{AuthFailure::kUnknownKey,
                     "The security token included in the request is invalid."};
  }
  std::string body_hash = Sha256Hex(r.body);
  std::string payload_hash = body_hash;
  if (auto declared = header("x-amz-content-sha256")) {
    std::string d = TrimCopy(*declared);
    if (d != "UNSIGNED-PAYLOAD" && d != body_hash) {
      return AuthError{
          AuthFailure::kBadPayloadHash,
          "The provided 'x-amz-content-sha256' header does not match what "
          "was computed."};
    }
    payload_hash = d;
  }
  auto creq = CanonicalRequest(r, a.signed_headers, payload_hash);
  if (!creq.ok())
    return AuthError{AuthFailure::kMalformed, creq.error().message()};
  std::string scope =
      a.date + "/" + a.region + "/" + a.service + "/aws4_request";
  std::string sts = StringToSign(TrimCopy(*amz_date), scope, *creq);
  std::string sig =
      Hex(HmacSha256(SigningKey(*secret, a.date, a.region, a.service), sts));
  if (!SafeEquals(sig, a.signature)) {
    return AuthError{AuthFailure::kBadSignature,
                     "The request signature we calculated does not match the "
                     "signature you provided. Check your AWS "
                     "Secret Access Key and signing method. Consult the "
                     "service documentation for details."};
  }
  return a.access_key_id;
}

std::string SmtpPassword(const std::string& secret, const std::string& region) {
  std::string k = HmacSha256("AWS4" + secret, "11111111");
  k = HmacSha256(k, region);
  k = HmacSha256(k, "ses");
  k = HmacSha256(k, "aws4_request");
  k = HmacSha256(k, "SendRawEmail");
  return Base64Encode(std::string(1, '\x04') + k);
}

}  // namespace sesame::auth
