#include "ses/dkim_keys.h"

#include <boost/json.hpp>

#include "auth/keys.h"
#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/strings.h"
#include "mime/mime.h"
#include "ses/identities.h"

namespace sesame::ses {
namespace json = boost::json;

namespace {
std::string SelectorFor(const std::string& dns_value) {
  // Derived from the key, so a new key gets a new selector (rotation with
  // overlap).
  std::string h;
  uint32_t x = 2166136261u;
  for (unsigned char c : dns_value) x = (x ^ c) * 16777619u;
  char buf[16];
  std::snprintf(buf, sizeof buf, "s%08x", x);
  return buf;
}
}  // namespace

std::string VerificationToken(const std::string& domain) {
  return Base64Encode(
             auth::HmacSha256("sesame-verification", AsciiLowerCopy(domain)))
      .substr(0, 44);
}

DkimKeys::LoadedPtr DkimKeys::LoadLocked(const std::string& domain) {
  // Another node changed documents (a key made, rotated or disabled there):
  // what was parsed here may be stale.
  if (uint64_t g = store_->Generation(); g != cache_generation_) {
    cache_.clear();
    cache_generation_ = g;
  }
  auto it = cache_.find(domain);
  if (it != cache_.end()) return it->second;
  std::optional<Loaded> loaded;
  auto doc = store_->Get("dkim", domain);
  if (doc.ok() && doc->has_value()) {
    json::object o = DocumentObject(**doc);
    auto master = auth::LoadMasterKeys(master_key_path_, false);
    if (master.ok()) {
      auto pem =
          auth::OpenWithAny(*master, std::string(o["SealedKey"].as_string()));
      if (pem.ok()) {
        auto key = dkim::PrivateKey::FromPem(*pem);
        if (key.ok()) {
          Info info;
          info.domain = domain;
          info.selector = std::string(o["Selector"].as_string());
          info.dns_name = info.selector + "._domainkey." + domain;
          info.dns_value = key->DnsRecord();
          info.signing_enabled = o["SigningEnabled"].as_bool();
          if (auto* ns = o.if_contains("NextSealedKey");
              ns && ns->is_string()) {
            auto next_pem =
                auth::OpenWithAny(*master, std::string(ns->as_string()));
            auto next = next_pem.ok()
                            ? dkim::PrivateKey::FromPem(*next_pem)
                            : Result<dkim::PrivateKey>(next_pem.error());
            if (next.ok()) {
              info.next_selector = std::string(o["NextSelector"].as_string());
              info.next_dns_name = info.next_selector + "._domainkey." + domain;
              info.next_dns_value = next->DnsRecord();
            }
          }
          if (auto* og = o.if_contains("Origin"); og && og->is_string())
            info.origin = std::string(og->as_string());
          loaded = Loaded{info, *key, std::nullopt};
          if (auto* es = o.if_contains("Ed25519SealedKey");
              es && es->is_string()) {
            auto ed_pem =
                auth::OpenWithAny(*master, std::string(es->as_string()));
            auto ed = ed_pem.ok() ? dkim::PrivateKey::FromPem(*ed_pem)
                                  : Result<dkim::PrivateKey>(ed_pem.error());
            if (ed.ok()) {
              loaded->info.ed_selector =
                  std::string(o["Ed25519Selector"].as_string());
              loaded->info.ed_dns_name =
                  loaded->info.ed_selector + "._domainkey." + domain;
              loaded->info.ed_dns_value = ed->DnsRecord();
              loaded->ed_key = *ed;
            }
          }
        }
      }
    }
  }
  LoadedPtr shared =
      loaded ? std::make_shared<const Loaded>(std::move(*loaded)) : nullptr;
  cache_[domain] = shared;
  return shared;
}

Result<DkimKeys::Info> DkimKeys::Ensure(const std::string& raw_domain) {
  std::string domain = AsciiLowerCopy(raw_domain);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto l = LoadLocked(domain); l && (!with_ed25519_ || l->ed_key))
    return l->info;
  json::object o;
  if (auto existing = store_->Get("dkim", domain);
      existing.ok() && existing->has_value()) {
    o = DocumentObject(**existing);  // keep the RSA key; add what is missing
  }
  auto master = auth::LoadMasterKey(master_key_path_, true);
  if (!master.ok()) return master.error();
  if (with_ed25519_ && !o.contains("Ed25519SealedKey")) {
    auto ed = dkim::PrivateKey::Generate(dkim::Algorithm::kEd25519Sha256, 0);
    if (!ed.ok()) return ed.error();
    auto sealed_ed = auth::Seal(*master, ed->ToPem());
    if (!sealed_ed.ok()) return sealed_ed.error();
    o["Ed25519Selector"] = "e" + SelectorFor(ed->DnsRecord()).substr(1);
    o["Ed25519SealedKey"] = *sealed_ed;
  }
  if (o.contains("SealedKey")) {
    Status s = store_->Put("dkim", domain, json::serialize(o), false);
    if (!s.ok()) return s.error();
    cache_.erase(domain);
    if (auto l = LoadLocked(domain)) return l->info;
    return Error::Permanent(
        "dkim", "stored key for " + domain + " does not load (master key?)");
  }
  auto key = dkim::PrivateKey::Generate(dkim::Algorithm::kRsaSha256, 2048);
  if (!key.ok()) return key.error();
  auto sealed = auth::Seal(*master, key->ToPem());
  if (!sealed.ok()) return sealed.error();
  o["Selector"] = SelectorFor(key->DnsRecord());
  o["SealedKey"] = *sealed;
  o["SigningEnabled"] = true;
  o["CreatedTimestamp"] = NowMillis() / 1000;
  Status s = store_->Put("dkim", domain, json::serialize(o), false);
  if (!s.ok()) return s.error();
  cache_.erase(domain);
  auto l = LoadLocked(domain);
  if (!l)
    return Error::Permanent(
        "dkim", "stored key for " + domain + " does not load (master key?)");
  return l->info;
}

std::optional<DkimKeys::Info> DkimKeys::Find(const std::string& domain) {
  std::lock_guard<std::mutex> lock(mu_);
  auto l = LoadLocked(AsciiLowerCopy(domain));
  if (!l) return std::nullopt;
  return l->info;
}

Result<DkimKeys::Info> DkimKeys::SetExternal(const std::string& raw_domain,
                                             const std::string& selector,
                                             const dkim::PrivateKey& key) {
  std::string domain = AsciiLowerCopy(raw_domain);
  auto master = auth::LoadMasterKey(master_key_path_, true);
  if (!master.ok()) return master.error();
  auto sealed = auth::Seal(*master, key.ToPem());
  if (!sealed.ok()) return sealed.error();
  json::object o;
  o["Selector"] = selector;
  o["SealedKey"] = *sealed;
  o["SigningEnabled"] = true;
  o["Origin"] = "EXTERNAL";
  o["CreatedTimestamp"] = NowMillis() / 1000;
  std::lock_guard<std::mutex> lock(mu_);
  return PutLocked(domain, o);
}

// Every stored private key (current, next, Ed25519) opened with the master
// key file's keys and sealed again under its current one. All documents are
// prepared before the first is written, so a secret that opens with no key
// changes nothing; each write is one document, so a crash midway leaves
// every key sealed under a key of the file.
Result<int> DkimKeys::Reseal() {
  std::lock_guard lock(mu_);
  auto ring = auth::LoadMasterKeys(master_key_path_, false);
  if (!ring.ok()) return ring.error();
  std::vector<std::pair<std::string, json::object>> docs;
  std::string after;
  while (true) {
    auto page = store_->List("dkim", after, 500);
    if (!page.ok()) return page.error();
    for (const auto& [domain, text] : *page) {
      json::object o = DocumentObject(text);
      for (const char* field :
           {"SealedKey", "NextSealedKey", "Ed25519SealedKey"}) {
        auto* v = o.if_contains(field);
        if (!v || !v->is_string()) continue;
        auto pem = auth::OpenWithAny(*ring, std::string(v->as_string()));
        if (!pem.ok())
          return Error::Permanent("dkim", "the DKIM key of " + domain + " (" +
                                              field +
                                              "): " + pem.error().message());
        auto sealed = auth::Seal(ring->front(), *pem);
        if (!sealed.ok()) return sealed.error();
        o[field] = *sealed;
      }
      docs.emplace_back(domain, std::move(o));
    }
    if (page->size() < 500) break;
    after = page->back().first;
  }
  for (const auto& [domain, o] : docs) {
    Status s = store_->Put("dkim", domain, json::serialize(o), false);
    if (!s.ok()) return s.error();
    cache_.erase(domain);
  }
  return static_cast<int>(docs.size());
}

// The stored key document of `domain`. Caller holds mu_.
Result<json::object> DkimKeys::GetLocked(const std::string& domain) {
  auto doc = store_->Get("dkim", domain);
  if (!doc.ok() || !doc->has_value())
    return Error::Permanent("not_found", "no DKIM key for " + domain);
  return DocumentObject(**doc);
}

// Stores a key document and reloads it, so what is returned is exactly what
// signing will use. Caller holds mu_.
Result<DkimKeys::Info> DkimKeys::PutLocked(const std::string& domain,
                                           const json::object& o) {
  Status s = store_->Put("dkim", domain, json::serialize(o), false);
  if (!s.ok()) return s.error();
  cache_.erase(domain);
  auto l = LoadLocked(domain);
  if (!l)
    return Error::Permanent("dkim",
                            "stored key for " + domain + " does not load");
  return l->info;
}

Result<DkimKeys::Info> DkimKeys::Regenerate(const std::string& raw_domain,
                                            int bits) {
  std::string domain = AsciiLowerCopy(raw_domain);
  {
    std::lock_guard<std::mutex> lock(mu_);
    (void)store_->Delete("dkim", domain);
    cache_.erase(domain);
  }
  auto key = dkim::PrivateKey::Generate(dkim::Algorithm::kRsaSha256, bits);
  if (!key.ok()) return key.error();
  auto info = SetExternal(domain, SelectorFor(key->DnsRecord()), *key);
  if (!info.ok()) return info;
  // Mark it ours again.
  std::lock_guard<std::mutex> lock(mu_);
  auto doc = store_->Get("dkim", domain);
  json::object o = DocumentObject(**doc);
  o["Origin"] = "AWS_SES";
  (void)store_->Put("dkim", domain, json::serialize(o), false);
  cache_.erase(domain);
  auto l = LoadLocked(domain);
  return l->info;
}

Result<DkimKeys::Info> DkimKeys::Rotate(const std::string& raw_domain,
                                        int bits) {
  std::string domain = AsciiLowerCopy(raw_domain);
  auto key = dkim::PrivateKey::Generate(dkim::Algorithm::kRsaSha256, bits);
  if (!key.ok()) return key.error();
  auto master = auth::LoadMasterKey(master_key_path_, true);
  if (!master.ok()) return master.error();
  auto sealed = auth::Seal(*master, key->ToPem());
  if (!sealed.ok()) return sealed.error();
  std::lock_guard<std::mutex> lock(mu_);
  auto doc = GetLocked(domain);
  if (!doc.ok()) return doc.error();
  json::object& o = *doc;
  o["NextSelector"] = SelectorFor(key->DnsRecord());
  o["NextSealedKey"] = *sealed;
  return PutLocked(domain, o);
}

Status DkimKeys::Promote(const std::string& raw_domain) {
  std::string domain = AsciiLowerCopy(raw_domain);
  std::lock_guard<std::mutex> lock(mu_);
  auto doc = GetLocked(domain);
  if (!doc.ok()) return doc.error();
  json::object& o = *doc;
  if (!o.contains("NextSealedKey")) return Ok{};
  o["Selector"] = o["NextSelector"];
  o["SealedKey"] = o["NextSealedKey"];
  o["Origin"] = "AWS_SES";
  o.erase("NextSelector");
  o.erase("NextSealedKey");
  auto stored = PutLocked(domain, o);
  if (!stored.ok()) return stored.error();
  return Ok{};
}

Status DkimKeys::SetSigning(const std::string& raw_domain, bool enabled) {
  std::string domain = AsciiLowerCopy(raw_domain);
  std::lock_guard<std::mutex> lock(mu_);
  auto doc = GetLocked(domain);
  if (!doc.ok()) return doc.error();
  json::object& o = *doc;
  o["SigningEnabled"] = enabled;
  auto stored = PutLocked(domain, o);
  if (!stored.ok()) return stored.error();
  return Ok{};
}

DkimKeys::LoadedPtr DkimKeys::KeyForAddress(const std::string& address) {
  size_t at = address.rfind('@');
  if (at == std::string::npos) return nullptr;
  std::string domain = AsciiLowerCopy(address.substr(at + 1));
  std::lock_guard<std::mutex> lock(mu_);
  // The most specific domain with a key: a.b.example.com, b.example.com,
  // example.com.
  for (std::string d = domain; !d.empty();) {
    if (auto l = LoadLocked(d)) {
      if (!l->info.signing_enabled) return nullptr;
      return l;
    }
    size_t dot = d.find('.');
    if (dot == std::string::npos) break;
    d = d.substr(dot + 1);
    if (d.find('.') == std::string::npos) break;  // never a bare TLD
  }
  return nullptr;
}

bool DkimKeys::SignsFor(const std::string& address) {
  return KeyForAddress(address) != nullptr;
}

std::string DkimKeys::SignIfPossible(const std::string& message,
                                     int64_t now_seconds) {
  auto parsed = dkim::SplitMessage(message);
  if (!parsed.ok()) return message;
  std::string from;
  for (const auto& [name, value] : parsed->headers) {
    if (AsciiLowerCopy(TrimCopy(name)) == "from") {
      from = mime::AddrSpec(value);
      break;
    }
  }
  LoadedPtr key = KeyForAddress(from);
  if (!key) return message;
  dkim::SignOptions o{key->info.domain, key->info.selector, now_seconds, {}};
  auto field = dkim::Sign(message, o, key->key);
  if (!field.ok()) return message;
  std::string ed_field;
  if (key->ed_key) {
    dkim::SignOptions eo{
        key->info.domain, key->info.ed_selector, now_seconds, {}};
    auto f = dkim::Sign(message, eo, *key->ed_key);
    if (f.ok()) ed_field = *f;
  }
  return ed_field + *field + message;
}

}  // namespace sesame::ses
