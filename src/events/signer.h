#pragma once

#include <string>

#include "base/result.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace sesame::events {

// The key that signs SNS notifications (SignatureVersion 2) and its
// self-signed certificate, served at SigningCertURL. Created on first start
// in the events directory (key mode 0600): RSA-2048, or P-256 with
// `ecdsa` (a tenth of the signing cost; Node's sns-validator and PHP's
// validator accept it, .NET's does not).
//
// Owned by the publisher; Sign() is const and thread-safe once loaded.
class Signer {
 public:
  Signer() = default;
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  Status Load(const std::string& dir, const std::string& hostname, bool ecdsa);
  // SHA-256 with the key (PKCS#1 v1.5 for RSA), base64.
  std::string Sign(const std::string& data) const;
  const std::string& cert_pem() const { return cert_pem_; }

 private:
  static Status Create(const std::string& key_path,
                       const std::string& cert_path,
                       const std::string& hostname, bool ecdsa);

  EVP_PKEY* key_ = nullptr;
  std::string cert_pem_;
};

}  // namespace sesame::events
