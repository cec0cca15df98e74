#include "events/signer.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/ids.h"
#include "events/files.h"

namespace sesame::events {

Signer::~Signer() {
  if (key_) EVP_PKEY_free(key_);
}

Status Signer::Load(const std::string& dir, const std::string& hostname,
                    bool ecdsa) {
  std::string suffix = ecdsa ? "-ec" : "";
  std::string key_path = dir + "/signing-key" + suffix + ".pem",
              cert_path = dir + "/signing-cert" + suffix + ".pem";
  if (::access(key_path.c_str(), R_OK) != 0 ||
      ::access(cert_path.c_str(), R_OK) != 0) {
    Status s = Create(key_path, cert_path, hostname, ecdsa);
    if (!s.ok()) return s;
  }
  cert_pem_ = ReadFile(cert_path);
  std::string key_pem = ReadFile(key_path);
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  key_ = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key_ || cert_pem_.empty())
    return Error::Permanent("events", "cannot read the signing key in " + dir);
  return Ok{};
}
std::string Signer::Sign(const std::string& data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
      EVP_DigestSignUpdate(ctx, data.data(), data.size()) == 1 &&
      EVP_DigestSignFinal(ctx, nullptr, &len) == 1) {
    sig.resize(len);
    if (EVP_DigestSignFinal(ctx, reinterpret_cast<unsigned char*>(sig.data()),
                            &len) == 1)
      sig.resize(len);
    else
      sig.clear();
  }
  EVP_MD_CTX_free(ctx);
  return Base64Encode(sig);
}
Status Signer::Create(const std::string& key_path, const std::string& cert_path,
                      const std::string& hostname, bool ecdsa) {
  EVP_PKEY* pkey = ecdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
  X509* x = X509_new();
  bool ok = pkey && x;
  if (ok) {
    ASN1_INTEGER_set(X509_get_serialNumber(x),
                     static_cast<long>(NowMillis() / 1000));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* name = X509_get_subject_name(x);
    std::string cn = "sns." + hostname;
    X509_NAME_add_entry_by_txt(
        name, "CN", MBSTRING_ASC,
        reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    ok = X509_sign(x, pkey, EVP_sha256()) > 0;
  }
  std::string key_pem, cert_pem;
  if (ok) {
    BIO* kb = BIO_new(BIO_s_mem());
    BIO* cb = BIO_new(BIO_s_mem());
    ok = PEM_write_bio_PrivateKey(kb, pkey, nullptr, nullptr, 0, nullptr,
                                  nullptr) == 1 &&
         PEM_write_bio_X509(cb, x) == 1;
    char* p = nullptr;
    long n = BIO_get_mem_data(kb, &p);
    key_pem.assign(p, static_cast<size_t>(n));
    n = BIO_get_mem_data(cb, &p);
    cert_pem.assign(p, static_cast<size_t>(n));
    BIO_free(kb);
    BIO_free(cb);
  }
  if (pkey) EVP_PKEY_free(pkey);
  if (x) X509_free(x);
  if (!ok) return Error::Permanent("events", "cannot create a signing key");
  Status s = WriteFileAtomic(key_path, key_pem, 0600);
  if (!s.ok()) return s;
  return WriteFileAtomic(cert_path, cert_pem, 0644);
}

}  // namespace sesame::events
