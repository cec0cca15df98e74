#include "net/certificates.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>

namespace sesame::net {

struct Certificates::Pair {
  X509* leaf = nullptr;
  STACK_OF(X509) * chain = nullptr;  // the intermediates
  EVP_PKEY* key = nullptr;
  ~Pair() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

namespace {

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

Certificates::Certificates() = default;
Certificates::~Certificates() = default;

Status Certificates::Load(const std::string& cert_file,
                          const std::string& key_file) {
  auto fail = [&](const std::string& why) {
    return Error::Permanent("tls", "cannot load TLS certificate/key (" +
                                       cert_file + ", " + key_file +
                                       "): " + why);
  };
  auto pair = std::make_shared<Pair>();
  FILE* f = std::fopen(cert_file.c_str(), "r");
  if (!f) return fail("cannot open " + cert_file);
  pair->leaf = PEM_read_X509(f, nullptr, nullptr, nullptr);
  pair->chain = sk_X509_new_null();
  while (X509* extra = PEM_read_X509(f, nullptr, nullptr, nullptr))
    sk_X509_push(pair->chain, extra);
  ERR_clear_error();  // the read past the last certificate
  std::fclose(f);
  if (!pair->leaf) return fail("no certificate in " + cert_file);
  f = std::fopen(key_file.c_str(), "r");
  if (!f) return fail("cannot open " + key_file);
  pair->key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (!pair->key) return fail(OpenSslError());
  if (X509_check_private_key(pair->leaf, pair->key) != 1)
    return fail("the key does not match the certificate");
  std::lock_guard lock(mu_);
  current_ = std::move(pair);
  return Ok{};
}

void Certificates::Install(SSL_CTX* ctx) {
  SSL_CTX_set_cert_cb(ctx, &Certificates::OnHandshake, this);
}

int Certificates::OnHandshake(SSL* ssl, void* self) {
  auto* c = static_cast<Certificates*>(self);
  std::shared_ptr<const Pair> p;
  {
    std::lock_guard lock(c->mu_);
    p = c->current_;
  }
  if (!p) return 1;  // the context's own pair
  // SSL_use_* take references of their own: `p` may go after this.
  return SSL_use_certificate(ssl, p->leaf) == 1 &&
                 SSL_use_PrivateKey(ssl, p->key) == 1 &&
                 SSL_set1_chain(ssl, p->chain) == 1
             ? 1
             : 0;
}

std::string Certificates::Fingerprint() {
  std::shared_ptr<const Pair> p;
  {
    std::lock_guard lock(mu_);
    p = current_;
  }
  if (!p) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(p->leaf, EVP_sha256(), md, &n);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace sesame::net
