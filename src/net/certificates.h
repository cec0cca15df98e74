#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "base/result.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace sesame::net {

// The listeners' certificate chain and private key, replaceable while the
// server runs (SIGHUP after certbot renews them): every new TLS handshake
// takes the pair current at its start, through OpenSSL's certificate
// callback; established sessions keep theirs.
//
// Owned by the server's Impl; Load() from any thread (the signal thread),
// the callback on the event loops. Thread-safe: one mutex around a
// shared_ptr swap (a handshake holds the lock for a pointer copy).
class Certificates {
 public:
  Certificates();
  ~Certificates();
  // Reads the PEM chain (leaf first) and key; on any error, including a key
  // that does not match the certificate, the current pair stays.
  Status Load(const std::string& cert_file, const std::string& key_file);
  // Makes `ctx`'s handshakes use the current pair. `this` must outlive ctx.
  void Install(SSL_CTX* ctx);
  // The current leaf certificate's SHA-256 fingerprint (hex), for logs.
  std::string Fingerprint();

 private:
  struct Pair;
  static int OnHandshake(SSL* ssl, void* self);
  std::mutex mu_;
  std::shared_ptr<const Pair> current_;
};

}  // namespace sesame::net
