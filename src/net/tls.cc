#include "net/tls.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace sesame::net {
namespace {

struct Deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};

Error Fail(const std::string& what) {
  return Error::Permanent("tls",
                          "cannot create self-signed certificate: " + what);
}

bool AddExt(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Deleter> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

}  // namespace

Status EnsureSelfSignedCertificate(const std::string& cert_path,
                                   const std::string& key_path,
                                   const std::string& hostname) {
  namespace fs = std::filesystem;
  if (fs::exists(cert_path) && fs::exists(key_path)) return Ok{};
  std::error_code ec;
  fs::create_directories(fs::path(cert_path).parent_path(), ec);
  fs::create_directories(fs::path(key_path).parent_path(), ec);

  std::unique_ptr<EVP_PKEY, Deleter> key(EVP_EC_gen("P-256"));
  if (!key) return Fail("key generation failed");
  std::unique_ptr<X509, Deleter> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   static_cast<long>(::time(nullptr)));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(
      name, "O", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>("Sesame (self-signed)"), -1, -1,
      0);
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_ASC,
      reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (!AddExt(cert.get(), NID_subject_alt_name,
              "DNS:" + hostname + ",DNS:localhost,IP:127.0.0.1,IP:::1") ||
      !AddExt(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExt(cert.get(), NID_ext_key_usage, "serverAuth")) {
    return Fail("extensions");
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    return Fail("signing failed");

  mode_t old = ::umask(077);
  FILE* kf = std::fopen(key_path.c_str(), "w");
  ::umask(old);
  if (!kf) return Fail("cannot write " + key_path);
  bool ok = PEM_write_PrivateKey(kf, key.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr) == 1;
  ok &= std::fclose(kf) == 0;
  FILE* cf = std::fopen(cert_path.c_str(), "w");
  if (!cf) return Fail("cannot write " + cert_path);
  ok &= PEM_write_X509(cf, cert.get()) == 1;
  ok &= std::fclose(cf) == 0;
  if (!ok) return Fail("write failed");
  return Ok{};
}

}  // namespace sesame::net
