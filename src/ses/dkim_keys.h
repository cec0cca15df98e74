#pragma once

#include <boost/json/fwd.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "dkim/dkim.h"
#include "store/store.h"

namespace sesame::ses {

// Easy DKIM: one RSA-2048 key per domain identity, kept in the state store
// with the private key sealed under the master key; messages are signed
// once, before they are committed to the spool, with the key of the most
// specific domain of their From address that has one.
//
// Owned by the app (the CLI makes its own). Thread-safe: parsed keys are
// cached behind a mutex.
class DkimKeys {
 public:
  // with_ed25519: also keep an Ed25519 key and add a second signature (RFC
  // 8463).
  DkimKeys(store::Store* store, std::string master_key_path,
           bool with_ed25519 = false)
      : store_(store),
        master_key_path_(std::move(master_key_path)),
        with_ed25519_(with_ed25519) {}

  struct Info {
    std::string domain;
    std::string selector;
    std::string dns_name;   // <selector>._domainkey.<domain>
    std::string dns_value;  // v=DKIM1; k=rsa; p=...
    bool signing_enabled = true;
    std::string origin = "AWS_SES";  // or EXTERNAL (BYODKIM)
    // A pending rotation: published and checked before it signs anything.
    std::string next_selector, next_dns_name, next_dns_value;
    // The optional Ed25519 key (second signature); empty selector if none.
    std::string ed_selector, ed_dns_name, ed_dns_value;
  };
  // The domain's key, generated and stored on first use.
  Result<Info> Ensure(const std::string& domain);
  std::optional<Info> Find(const std::string& domain);
  Status SetSigning(const std::string& domain, bool enabled);
  // BYODKIM: sign with the operator's key under the operator's selector.
  Result<Info> SetExternal(const std::string& domain,
                           const std::string& selector,
                           const dkim::PrivateKey& key);
  // Easy DKIM again (a new key and selector) at once, e.g. after BYODKIM.
  Result<Info> Regenerate(const std::string& domain, int bits);
  // Rotation with overlap: the next key is stored beside the current one and
  // only used once Promote() is called — by the verifier, after the next
  // selector's record resolves to it.
  Result<Info> Rotate(const std::string& domain, int bits);
  Status Promote(const std::string& domain);
  // Seals every stored private key again under the master key file's
  // current key (`sesame keys rotate-master`); the number of domains.
  Result<int> Reseal();

  // Prepends a DKIM-Signature when the From domain (or a parent) has an
  // enabled key; returns the message unchanged otherwise.
  std::string SignIfPossible(const std::string& message, int64_t now_seconds);
  // True when SignIfPossible would sign mail from `address` (cached: cheap
  // enough for every send, so unsigned mail skips the signing pool).
  bool SignsFor(const std::string& address);

 private:
  struct Loaded {
    Info info;
    dkim::PrivateKey key;
    std::optional<dkim::PrivateKey> ed_key;
  };
  // Shared, immutable once cached: a signing thread keeps its key while a
  // rotation replaces the cache entry, and nothing is copied per message.
  using LoadedPtr = std::shared_ptr<const Loaded>;
  LoadedPtr LoadLocked(const std::string& domain);
  // The enabled key of the address's most specific domain that has one.
  LoadedPtr KeyForAddress(const std::string& address);
  Result<boost::json::object> GetLocked(const std::string& domain);
  Result<Info> PutLocked(const std::string& domain,
                         const boost::json::object& o);

  store::Store* store_;
  std::string master_key_path_;
  bool with_ed25519_;
  std::mutex mu_;
  std::map<std::string, LoadedPtr> cache_;  // domain -> key (null: none)
  uint64_t cache_generation_ = 0;  // store_->Generation() cache_ follows
};

// The `_amazonses.<domain>` TXT verification token for a domain (stable).
std::string VerificationToken(const std::string& domain);

}  // namespace sesame::ses
