#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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
};

// Access keys on disk. Secrets are sealed with AES-256-GCM under a master
// key kept in a separate file (created 0600 when absent), so a copy of the
// data directory alone does not reveal them. The keys file is rewritten
// atomically (temp file, fsync, rename); readers reload it when it changes,
// so `sesame keys create` works while a server runs.
//
// Owned by the app or the CLI. Thread-safe (one mutex; keys change rarely).
class KeyStore {
 public:
  KeyStore(std::string keys_path, std::string master_key_path)
      : keys_path_(std::move(keys_path)),
        master_path_(std::move(master_key_path)) {}

  Result<AccessKey> Create(const std::string& account = "",
                           const std::string& user = "");
  Result<std::vector<AccessKey>> List();
  // Returns false when the key did not exist.
  Result<bool> Delete(const std::string& id);
  // The secret for an access key id, or nullopt when unknown.
  std::optional<std::string> Lookup(const std::string& id);
  // The key's account and user (both empty for owner keys and unknown ids).
  std::pair<std::string, std::string> AccountOf(const std::string& id);

 private:
  struct Entry {
    std::string id;
    int64_t created;
    std::string sealed;  // base64(nonce | ciphertext | tag)
    std::string account, user;
  };
  Status LoadLocked();
  Status SaveLocked();
  Result<std::string> MasterKeyLocked(bool create);

  std::string keys_path_;
  std::string master_path_;
  std::mutex mu_;
  std::vector<Entry> entries_;
  int64_t loaded_mtime_ns_ = -1;
  std::string master_;
};

// Reads the 32-byte master key (base64 in the file), creating the file
// (mode 0600) when `create` and it is absent.
Result<std::string> LoadMasterKey(const std::string& path, bool create);

// Seals and opens with AES-256-GCM; exposed for tests.
Result<std::string> Seal(const std::string& key, const std::string& plaintext);
Result<std::string> Open(const std::string& key, const std::string& sealed);

// The local admin token kept in `path` (created, 64 hex digits, mode 0600,
// when missing). Thread-compatible; called once at start-up.
Result<std::string> LoadOrCreateToken(const std::string& path);
// The token in `path`, for clients (the CLI); an error when unreadable.
Result<std::string> ReadToken(const std::string& path);

}  // namespace sesame::auth
