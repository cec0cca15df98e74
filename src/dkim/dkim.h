#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace sesame::dkim {

enum class Algorithm { kRsaSha256, kEd25519Sha256 };

// A private key for signing (RSA or Ed25519), from PEM.
class PrivateKey {
 public:
  static Result<PrivateKey> FromPem(std::string_view pem);
  // DER, PKCS#1 or PKCS#8 (what SES's DomainSigningPrivateKey carries,
  // base64-decoded).
  static Result<PrivateKey> FromDer(std::string_view der);
  // Generates RSA (bits 1024 or 2048) or Ed25519 (bits ignored).
  static Result<PrivateKey> Generate(Algorithm alg, int bits);
  std::string ToPem() const;
  // The DNS TXT value: "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>"
  // (Ed25519: raw 32 bytes).
  std::string DnsRecord() const;
  Algorithm algorithm() const { return alg_; }
  EVP_PKEY* get() const { return key_.get(); }

 private:
  struct Deleter {
    void operator()(EVP_PKEY* p) const;
  };
  std::shared_ptr<EVP_PKEY> key_;
  Algorithm alg_ = Algorithm::kRsaSha256;
};

// RFC 6376 relaxed canonicalization (c=relaxed/relaxed). Pure.
std::string RelaxedBody(std::string_view body);
std::string RelaxedHeader(std::string_view name, std::string_view value);

// Header fields of a message, in order, as (name, raw value after the colon
// including folding). The body follows the first empty line; it is a view
// into the parsed text, which must outlive it.
struct ParsedMessage {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};
Result<ParsedMessage> SplitMessage(std::string_view message);

// The canonicalized header block that a signature over `names` (the h=
// list, in order) covers: for each name, the next instance from the bottom;
// a name with no instance left contributes nothing (oversigning).
std::string SignedHeaderBlock(const ParsedMessage& m,
                              const std::vector<std::string>& names);

// Signs: `dkim_header_without_b` is the full DKIM-Signature field
// ("DKIM-Signature: v=1; ...; b=") whose b= value is empty. Returns base64.
Result<std::string> ComputeSignature(const ParsedMessage& m,
                                     const std::vector<std::string>& names,
                                     std::string_view dkim_header_without_b,
                                     const PrivateKey& key);

struct SignOptions {
  std::string domain;     // d=
  std::string selector;   // s=
  int64_t timestamp = 0;  // t=
  // h=; default: the recommended list with From oversigned.
  std::vector<std::string> headers;
};

// The default signed headers (issue 5): present ones are signed, From is
// signed one extra time so a second From cannot be added.
std::vector<std::string> DefaultHeaders();

// Returns a complete "DKIM-Signature: ...\r\n" field to prepend.
Result<std::string> Sign(std::string_view message, const SignOptions& options,
                         const PrivateKey& key);

}  // namespace sesame::dkim
