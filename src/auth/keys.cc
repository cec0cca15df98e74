#include "auth/keys.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/base64.h"
#include "base/ids.h"

namespace sesame::auth {
namespace {

Error Fail(const std::string& msg) { return Error::Permanent("keys", msg); }

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

std::string RandomFrom(const char* alphabet, size_t alen, size_t n) {
  std::string bytes = RandomBytes(n), out;
  for (unsigned char b : bytes) out += alphabet[b % alen];
  return out;
}

}  // namespace

Result<std::string> Seal(const std::string& key, const std::string& plaintext) {
  if (key.size() != 32) return Fail("master key must be 32 bytes");
  std::string nonce = RandomBytes(12);
  std::string out(plaintext.size(), '\0');
  unsigned char tag[16];
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  bool ok = EVP_EncryptInit_ex(
                ctx, EVP_aes_256_gcm(), nullptr,
                reinterpret_cast<const unsigned char*>(key.data()),
                reinterpret_cast<const unsigned char*>(nonce.data())) == 1 &&
            EVP_EncryptUpdate(
                ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                reinterpret_cast<const unsigned char*>(plaintext.data()),
                static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx, nullptr, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return Fail("encryption failed");
  return Base64Encode(nonce + out +
                      std::string(reinterpret_cast<char*>(tag), 16));
}

Result<std::string> Open(const std::string& key, const std::string& sealed) {
  auto raw = Base64Decode(sealed);
  if (!raw || raw->size() < 28 || key.size() != 32)
    return Fail("sealed secret is malformed");
  std::string nonce = raw->substr(0, 12), tag = raw->substr(raw->size() - 16);
  std::string ct = raw->substr(12, raw->size() - 28);
  std::string out(ct.size(), '\0');
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  bool ok =
      EVP_DecryptInit_ex(
          ctx, EVP_aes_256_gcm(), nullptr,
          reinterpret_cast<const unsigned char*>(key.data()),
          reinterpret_cast<const unsigned char*>(nonce.data())) == 1 &&
      EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                        reinterpret_cast<const unsigned char*>(ct.data()),
                        static_cast<int>(ct.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, nullptr, &len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return Fail("secret does not decrypt with this master key");
  return out;
}

// The file: one base64 key per line; the first plain line is the current
// key, later plain lines are earlier keys, and a line "next KEY" is a key
// prepared for a cluster's rotation (opened with, never sealed with yet).
Result<MasterKeyFile> ReadMasterKeyFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Fail("no master key at " + path);
  MasterKeyFile out;
  std::vector<std::string> plain;
  std::string line;
  while (std::getline(f, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.pop_back();
    if (line.empty()) continue;
    bool is_next = line.rfind("next ", 0) == 0;
    auto key = Base64Decode(is_next ? line.substr(5) : line);
    if (!key || key->size() != 32)
      return Fail("master key file " + path + " is malformed");
    (is_next ? out.next : plain).push_back(*key);
  }
  if (plain.empty()) return Fail("master key file " + path + " is malformed");
  out.current = plain.front();
  out.earlier.assign(plain.begin() + 1, plain.end());
  return out;
}

std::string NewMasterKey() { return RandomBytes(32); }

Status WriteMasterKeyFile(const std::string& path, const MasterKeyFile& f) {
  std::string text = Base64Encode(f.current) + "\n";
  for (const auto& k : f.next) text += "next " + Base64Encode(k) + "\n";
  for (const auto& k : f.earlier) text += Base64Encode(k) + "\n";
  return FileBlob(path)->Write(text);
}

MasterRing MasterKeyFile::Ring() const {
  MasterRing ring{current};
  ring.insert(ring.end(), next.begin(), next.end());
  ring.insert(ring.end(), earlier.begin(), earlier.end());
  return ring;
}

Result<MasterRing> LoadMasterKeys(const std::string& path, bool create) {
  if (::access(path.c_str(), F_OK) != 0 && create) {
    MasterKeyFile f{RandomBytes(32), {}, {}};
    Status s = WriteMasterKeyFile(path, f);
    if (!s.ok()) return s.error();
    return f.Ring();
  }
  auto f = ReadMasterKeyFile(path);
  if (!f.ok()) return f.error();
  return f->Ring();
}

Result<std::string> LoadMasterKey(const std::string& path, bool create) {
  auto ring = LoadMasterKeys(path, create);
  if (!ring.ok()) return ring.error();
  return ring->front();
}

Result<std::string> OpenWithAny(const MasterRing& ring,
                                const std::string& sealed) {
  for (const auto& key : ring) {
    auto plain = Open(key, sealed);
    if (plain.ok()) return plain;
  }
  return Fail("secret does not decrypt with any key of the master key file");
}

// Sealing reads the file afresh (creations are rare), so a rotation's new
// key is used at once; opening uses the ring as last read, reading it again
// when nothing in it opens a secret. That costs one small read, only for a
// known key id whose secret was re-sealed since (unknown ids never get
// here), so no client can make it frequent.
Result<MasterRing> KeyStore::RingLocked(bool fresh, bool create) {
  if (!ring_.empty() && !fresh) return ring_;
  auto ring = LoadMasterKeys(master_path_, create);
  if (!ring.ok()) return ring.error();
  ring_ = *ring;
  return ring_;
}

Status KeyStore::LoadLocked() {
  auto text = blob_->ReadIfChanged();
  if (!text.ok()) return text.error();
  if (!*text) return Ok{};
  std::istringstream f(**text);
  std::vector<Entry> entries;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Entry e;
    std::string created;
    if (!std::getline(fields, e.id, '\t') ||
        !std::getline(fields, created, '\t') ||
        !std::getline(fields, e.sealed, '\t')) {
      return Fail(blob_->Name() + ":" + std::to_string(n) +
                  ": malformed key line");
    }
    e.created = std::atoll(created.c_str());
    // Optional fields added later: account, user, status, last use.
    std::getline(fields, e.account, '\t');
    std::getline(fields, e.user, '\t');
    std::string status, at;
    LastUse use;
    std::getline(fields, status, '\t');
    e.active = status != "Inactive";
    if (std::getline(fields, at, '\t') &&
        std::getline(fields, use.service, '\t') &&
        std::getline(fields, use.region, '\t')) {
      use.at = std::atoll(at.c_str());
      // A use this process saw later than the file's wins.
      if (use.at > last_used_[e.id].at) last_used_[e.id] = use;
    }
    entries.push_back(std::move(e));
  }
  entries_ = std::move(entries);
  return Ok{};
}

Status KeyStore::SaveLocked() {
  std::string text =
      "# Sesame access keys: id, created (epoch s), secret sealed with "
      "AES-256-GCM, account and user (empty: the owner), status, last use "
      "(epoch s, service, region)\n";
  for (const auto& e : entries_) {
    text += e.id + "\t" + std::to_string(e.created) + "\t" + e.sealed + "\t" +
            e.account + "\t" + e.user + "\t" +
            (e.active ? "Active" : "Inactive");
    if (auto it = last_used_.find(e.id); it != last_used_.end())
      text += "\t" + std::to_string(it->second.at) + "\t" + it->second.service +
              "\t" + it->second.region;
    text += "\n";
  }
  last_used_dirty_ = false;
  return blob_->Write(text);
}

Result<AccessKey> KeyStore::Create(const std::string& account,
                                   const std::string& user) {
  if (!account.empty() &&
      (account.size() != 12 ||
       account.find_first_not_of("0123456789") != std::string::npos))
    return Fail("an account is 12 digits");
  if (!user.empty() &&
      (user.size() > 64 ||
       user.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
                              "ghijklmnopqrstuvwxyz0123456789+="
                              ",.@_-") != std::string::npos))
    return Fail("a user name is 1 to 64 of [A-Za-z0-9+=,.@_-]");
  std::lock_guard<std::mutex> lock(mu_);
  Status s = LoadLocked();
  if (!s.ok()) return s.error();
  auto ring = RingLocked(true, true);
  if (!ring.ok()) return ring.error();
  AccessKey k;
  k.id = "AKIA" + RandomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32, 16);
  k.secret = RandomFrom(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 64,
      40);
  k.created = NowMillis() / 1000;
  auto sealed = Seal(ring->front(), k.secret);
  if (!sealed.ok()) return sealed.error();
  k.account = account;
  k.user = user;
  entries_.push_back({k.id, k.created, *sealed, account, user, true});
  s = SaveLocked();
  if (!s.ok()) return s.error();
  return k;
}

Result<std::vector<AccessKey>> KeyStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = LoadLocked();
  if (!s.ok()) return s.error();
  std::vector<AccessKey> out;
  for (const auto& e : entries_) {
    AccessKey k{e.id, "", e.created, e.account, e.user, e.active, 0, "", ""};
    if (auto it = last_used_.find(e.id); it != last_used_.end()) {
      k.last_used = it->second.at;
      k.last_service = it->second.service;
      k.last_region = it->second.region;
    }
    out.push_back(std::move(k));
  }
  return out;
}

Result<bool> KeyStore::Delete(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = LoadLocked();
  if (!s.ok()) return s.error();
  size_t before = entries_.size();
  std::erase_if(entries_, [&](const Entry& e) { return e.id == id; });
  if (entries_.size() == before) return false;
  s = SaveLocked();
  if (!s.ok()) return s.error();
  return true;
}

Result<bool> KeyStore::SetActive(const std::string& id, bool active) {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = LoadLocked();
  if (!s.ok()) return s.error();
  for (auto& e : entries_) {
    if (e.id != id) continue;
    e.active = active;
    s = SaveLocked();
    if (!s.ok()) return s.error();
    return true;
  }
  return false;
}

void KeyStore::Touch(const std::string& id, const std::string& service,
                     const std::string& region) {
  std::lock_guard<std::mutex> lock(mu_);
  last_used_[id] = {NowMillis() / 1000, service, region};
  last_used_dirty_ = true;
}

Status KeyStore::FlushLastUsed() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!last_used_dirty_) return Ok{};
  Status s = LoadLocked();
  if (!s.ok()) return s;
  return SaveLocked();
}

std::optional<AccessKey> KeyStore::Get(const std::string& id) {
  auto all = List();
  if (!all.ok()) return std::nullopt;
  for (auto& k : *all) {
    if (k.id == id) return k;
  }
  return std::nullopt;
}

std::pair<std::string, std::string> KeyStore::AccountOf(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!LoadLocked().ok()) return {};
  for (const auto& e : entries_) {
    if (e.id == id) return {e.account, e.user};
  }
  return {};
}

std::optional<std::string> KeyStore::Lookup(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!LoadLocked().ok()) return std::nullopt;
  auto known = [&] {
    for (const auto& e : entries_)
      if (e.id == id) return true;
    return false;
  };
  // A key created a moment ago by another process (sesame keys create
  // against a shared store) may not have reached a cache in front yet:
  // read past it, at most ten times a second, so unknown ids sprayed at
  // the API cost no more than that.
  if (!known()) {
    int64_t now = NowMillis();
    if (now - read_through_ms_ >= 100) {
      read_through_ms_ = now;
      blob_->ReadThrough();
      if (!LoadLocked().ok()) return std::nullopt;
    }
  }
  for (const auto& e : entries_) {
    if (e.id != id || !e.active) continue;
    auto ring = RingLocked(false, false);
    if (!ring.ok()) return std::nullopt;
    auto secret = OpenWithAny(*ring, e.sealed);
    if (!secret.ok()) {
      // Re-sealed under a key added since the ring was read?
      ring = RingLocked(true, false);
      if (!ring.ok()) return std::nullopt;
      secret = OpenWithAny(*ring, e.sealed);
    }
    if (!secret.ok()) return std::nullopt;
    return *secret;
  }
  return std::nullopt;
}

Result<int> KeyStore::Reseal() {
  std::lock_guard<std::mutex> lock(mu_);
  Status s = LoadLocked();
  if (!s.ok()) return s.error();
  auto ring = LoadMasterKeys(master_path_, false);
  if (!ring.ok()) return ring.error();
  std::vector<Entry> resealed = entries_;
  for (auto& e : resealed) {
    auto secret = OpenWithAny(*ring, e.sealed);
    if (!secret.ok())
      return Fail("access key " + e.id + ": " + secret.error().message());
    auto sealed = Seal(ring->front(), *secret);
    if (!sealed.ok()) return sealed.error();
    e.sealed = *sealed;
  }
  entries_ = std::move(resealed);
  s = SaveLocked();
  if (!s.ok()) return s.error();
  ring_ = *ring;
  return static_cast<int>(entries_.size());
}

Result<std::string> ReadToken(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error::Transient(
        "token", "cannot read " + path + ": " + std::strerror(errno));
  char buf[128];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  std::string t(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  if (t.size() != 64 || t.find_first_not_of("0123456789abcdef") != t.npos)
    return Error::Permanent("token", path + " does not hold a token");
  return t;
}

Result<std::string> LoadOrCreateToken(const std::string& path) {
  if (auto t = ReadToken(path); t.ok()) return t;
  std::string raw(32, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string t;
  for (unsigned char c : raw) {
    t += kHex[c >> 4];
    t += kHex[c & 15];
  }
  if (Status s = FileBlob(path)->Write(t + "\n"); !s.ok()) return s.error();
  return t;
}

}  // namespace sesame::auth
