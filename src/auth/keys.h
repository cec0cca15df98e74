#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/blob.h"
#include "base/result.h"

namespace sesame::auth {

struct AccessKey {
  std::string id;
  std::string secret;  // only filled by Create() and Lookup()
  int64_t created = 0;
  // Empty: the owner account (every operation). Otherwise another account
  // (and optionally a user in it) that may only send, as far as the
  // identities' sending-authorization policies allow.
  std::string account;
  std::string user;
  bool active = true;  // IAM's Active/Inactive: an inactive key fails at once
  // Last authenticated use (IAM's GetAccessKeyLastUsed); 0 when never.
  int64_t last_used = 0;
  std::string last_service, last_region;
};

// Access keys, in a Blob: a file in the data directory on one node, the
// shared store's row on a cluster (so a key revoked on one node is refused
// by all). Secrets are sealed with AES-256-GCM under a master key kept in a
// separate file (created 0600 when absent; every node of a cluster has the
// same), so a copy of the data directory or the database alone does not
// reveal them. The blob is replaced whole; readers reload it when it
// changes, so `sesame keys create` works while a server runs.
//
// Owned by the app or the CLI. Thread-safe (one mutex; keys change rarely).
class KeyStore {
 public:
  KeyStore(std::string keys_path, std::string master_key_path)
      : KeyStore(FileBlob(std::move(keys_path)), std::move(master_key_path)) {}
  KeyStore(std::unique_ptr<Blob> keys, std::string master_key_path)
      : blob_(std::move(keys)), master_path_(std::move(master_key_path)) {}

  // `account` empty: this account's root, or with `user` one of its IAM
  // users (governed by the user's policies). Another account's key (and
  // optionally a user in it) may only send, under sending authorization.
  Result<AccessKey> Create(const std::string& account = "",
                           const std::string& user = "");
  // Active or Inactive; false when the key does not exist.
  Result<bool> SetActive(const std::string& id, bool active);
  // Records an authenticated use, in memory; written with the next change
  // or FlushLastUsed() (never on the request path).
  void Touch(const std::string& id, const std::string& service,
             const std::string& region);
  Status FlushLastUsed();
  // The key with its status and last use (no secret), or nullopt.
  std::optional<AccessKey> Get(const std::string& id);
  Result<std::vector<AccessKey>> List();
  // Returns false when the key did not exist.
  Result<bool> Delete(const std::string& id);
  // The secret for an active access key id, or nullopt when unknown or
  // inactive.
  std::optional<std::string> Lookup(const std::string& id);
  // The key's account and user (both empty for owner keys and unknown ids).
  std::pair<std::string, std::string> AccountOf(const std::string& id);
  // Seals every secret again under the master key file's current key
  // (`sesame keys rotate-master`); the number of keys. Refuses, changing
  // nothing, when a secret opens with no key of the file.
  Result<int> Reseal();

 private:
  struct Entry {
    std::string id;
    int64_t created;
    std::string sealed;  // base64(nonce | ciphertext | tag)
    std::string account, user;
    bool active = true;
  };
  struct LastUse {
    int64_t at = 0;
    std::string service, region;
  };
  Status LoadLocked();
  Status SaveLocked();
  // The master keys; `fresh`: read the file again (`create`: making it
  // when absent).
  Result<std::vector<std::string>> RingLocked(bool fresh, bool create);

  std::unique_ptr<Blob> blob_;
  std::string master_path_;
  std::mutex mu_;
  int64_t read_through_ms_ =
      0;  // the last ReadThrough (Lookup of an unknown id)
  std::vector<Entry> entries_;
  std::map<std::string, LastUse> last_used_;  // by id, merged on every save
  bool last_used_dirty_ = false;
  std::vector<std::string> ring_;  // the master keys, current first
};

// The master keys: 32 bytes each, the current one (which seals) first,
// then keys prepared for a rotation, then earlier keys (which still open
// what is not re-sealed yet). The file holds one base64 key per line
// ("next KEY" for a prepared one).
using MasterRing = std::vector<std::string>;
struct MasterKeyFile {
  std::string current;
  std::vector<std::string> next;     // prepared (`rotate-master --prepare`)
  std::vector<std::string> earlier;  // until `rotate-master --retire-previous`
  MasterRing Ring() const;
};
Result<MasterKeyFile> ReadMasterKeyFile(const std::string& path);
// 32 random bytes for a new master key.
std::string NewMasterKey();
// Replaces the file atomically (mode 0600).
Status WriteMasterKeyFile(const std::string& path, const MasterKeyFile& f);
// The file's ring, creating the file (one new key) when `create` and it is
// absent.
Result<MasterRing> LoadMasterKeys(const std::string& path, bool create);
// The current key of the file.
Result<std::string> LoadMasterKey(const std::string& path, bool create);

// Seals and opens with AES-256-GCM; exposed for tests.
Result<std::string> Seal(const std::string& key, const std::string& plaintext);
Result<std::string> Open(const std::string& key, const std::string& sealed);
// Opens with whichever key of the ring sealed it (GCM's tag tells).
Result<std::string> OpenWithAny(const MasterRing& ring,
                                const std::string& sealed);

// The local admin token kept in `path` (created, 64 hex digits, mode 0600,
// when missing). Thread-compatible; called once at start-up.
Result<std::string> LoadOrCreateToken(const std::string& path);
// The token in `path`, for clients (the CLI); an error when unreadable.
Result<std::string> ReadToken(const std::string& path);

}  // namespace sesame::auth
