#include "dkim/verify.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <map>
#include <memory>

#include "base/base64.h"
#include "base/strings.h"
#include "dkim/dkim.h"

namespace sesame::dkim {
namespace {

constexpr size_t kMaxSignatures = 8;

std::string Sha256(std::string_view data) {
  unsigned char md[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string SimpleBody(std::string_view body) {
  std::string b(body);
  while (b.size() >= 2 && b.compare(b.size() - 2, 2, "\r\n") == 0)
    b.resize(b.size() - 2);
  return b + "\r\n";
}

std::string WithoutWsp(std::string_view v) {
  std::string out;
  for (char c : v)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
  return out;
}

// The signature field's value with the b= tag's value emptied (RFC 6376
// 3.7), keeping everything else byte for byte.
std::string WithoutB(const std::string& value) {
  std::string out;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t semi = value.find(';', pos);
    std::string part = value.substr(
        pos, semi == std::string::npos ? std::string::npos : semi - pos);
    size_t eq = part.find('=');
    if (eq != std::string::npos &&
        TrimCopy(part.substr(0, eq), " \t\r\n") == "b")
      part = part.substr(0, eq + 1);
    out += part;
    if (semi == std::string::npos) break;
    out += ';';
    pos = semi + 1;
  }
  return out;
}

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;

Key PublicKey(const std::string& der, bool ed25519) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  if (ed25519)
    return Key(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, der.size()));
  if (EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())))
    return Key(k);
  p = reinterpret_cast<const unsigned char*>(der.data());
  return Key(
      d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
}

bool VerifySignature(EVP_PKEY* key, bool ed25519, const std::string& data,
                     const std::string& sig) {
  std::string input = ed25519 ? Sha256(data) : data;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, ed25519 ? nullptr : EVP_sha256(),
                           nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()),
                       sig.size(),
                       reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

Verification VerifyOne(const ParsedMessage& m, size_t index,
                       const KeyLookup& lookup, int64_t now) {
  Verification v;
  auto fail = [&](Outcome o, std::string why) {
    v.outcome = o;
    v.why = std::move(why);
    return v;
  };
  const auto& [field_name, field_value] = m.headers[index];
  std::map<std::string, std::string> t;
  for (auto& [k, val] : ParseTags(field_value)) t.emplace(k, val);
  v.domain = AsciiLowerCopy(t["d"]);
  v.selector = t["s"];
  if (t["v"] != "1" || v.domain.empty() || v.selector.empty() ||
      t["b"].empty() || t["bh"].empty() || t["h"].empty())
    return fail(Outcome::kPermError, "missing or bad required tags");
  bool ed25519 = t["a"] == "ed25519-sha256";
  if (!ed25519 && t["a"] != "rsa-sha256")
    return fail(Outcome::kPermError, "unsupported algorithm " + t["a"]);
  if (!t["x"].empty() && std::atoll(t["x"].c_str()) < now)
    return fail(Outcome::kFail, "signature expired");
  std::string c = t["c"].empty() ? "simple/simple" : t["c"];
  size_t slash = c.find('/');
  std::string hc = c.substr(0, slash);
  std::string bc = slash == std::string::npos ? "simple" : c.substr(slash + 1);
  if ((hc != "simple" && hc != "relaxed") ||
      (bc != "simple" && bc != "relaxed"))
    return fail(Outcome::kPermError, "unknown canonicalization " + c);
  // The body hash.
  std::string body = bc == "relaxed" ? RelaxedBody(m.body) : SimpleBody(m.body);
  if (!t["l"].empty()) {
    size_t l = std::strtoull(t["l"].c_str(), nullptr, 10);
    if (l > body.size()) return fail(Outcome::kFail, "l= exceeds the body");
    body.resize(l);
  }
  auto bh = Base64Decode(t["bh"]);
  if (!bh || *bh != Sha256(body)) return fail(Outcome::kFail, "body hash");
  // The header hash: the h= fields from the bottom, then this field.
  std::vector<std::string> names;
  std::string h = t["h"];
  for (size_t p = 0; p <= h.size();) {
    size_t colon = h.find(':', p);
    names.push_back(AsciiLowerCopy(h.substr(p, colon - p)));
    if (colon == std::string::npos) break;
    p = colon + 1;
  }
  bool from_signed = false;
  for (const auto& n : names) from_signed |= n == "from";
  if (!from_signed) return fail(Outcome::kPermError, "From is not signed");
  std::string data;
  std::map<std::string, int> used;
  for (const auto& n : names) {
    int skip = used[n]++;
    for (auto it = m.headers.rbegin(); it != m.headers.rend(); ++it) {
      if (AsciiLowerCopy(TrimCopy(it->first)) != n || skip-- > 0) continue;
      data += hc == "relaxed" ? RelaxedHeader(it->first, it->second)
                              : it->first + ":" + it->second + "\r\n";
      break;
    }
  }
  std::string self_value = WithoutB(field_value);
  std::string self = hc == "relaxed" ? RelaxedHeader(field_name, self_value)
                                     : field_name + ":" + self_value + "\r\n";
  data += self.substr(0, self.size() - 2);
  // The key.
  auto txt = lookup(v.selector + "._domainkey." + v.domain);
  if (!txt.ok())
    return fail(
        txt.error().transient() ? Outcome::kTempError : Outcome::kPermError,
        "key lookup: " + txt.error().message());
  if (txt->empty()) return fail(Outcome::kPermError, "no key record");
  std::map<std::string, std::string> k;
  for (auto& [kk, kv] : ParseTags((*txt)[0])) k.emplace(kk, kv);
  std::string kt = k.count("k") ? k["k"] : "rsa";
  if ((kt == "ed25519") != ed25519)
    return fail(Outcome::kPermError, "key type does not match a=");
  auto der = Base64Decode(k["p"]);
  if (!der || der->empty()) return fail(Outcome::kPermError, "key revoked");
  Key key = PublicKey(*der, ed25519);
  if (!key) return fail(Outcome::kPermError, "unreadable key");
  auto sig = Base64Decode(t["b"]);
  if (!sig || !VerifySignature(key.get(), ed25519, data, *sig))
    return fail(Outcome::kFail, "signature does not verify");
  v.outcome = Outcome::kPass;
  return v;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseTags(
    std::string_view list) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t semi = list.find(';', pos);
    std::string_view part =
        list.substr(pos, semi == std::string_view::npos ? std::string_view::npos
                                                        : semi - pos);
    size_t eq = part.find('=');
    if (eq != std::string_view::npos)
      out.emplace_back(WithoutWsp(part.substr(0, eq)),
                       WithoutWsp(part.substr(eq + 1)));
    if (semi == std::string_view::npos) break;
    pos = semi + 1;
  }
  return out;
}

std::vector<Verification> Verify(std::string_view message,
                                 const KeyLookup& lookup, int64_t now_epoch) {
  std::vector<Verification> out;
  auto m = SplitMessage(message);
  if (!m.ok()) return out;
  for (size_t i = 0; i < m->headers.size() && out.size() < kMaxSignatures; ++i)
    if (AsciiLowerCopy(TrimCopy(m->headers[i].first)) == "dkim-signature")
      out.push_back(VerifyOne(*m, i, lookup, now_epoch));
  return out;
}

}  // namespace sesame::dkim
