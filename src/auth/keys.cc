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

Result<std::string> LoadMasterKey(const std::string& path, bool create) {
  std::ifstream f(path, std::ios::binary);
  if (f) {
    std::string text((std::istreambuf_iterator<char>(f)), {});
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.pop_back();
    auto key = Base64Decode(text);
    if (!key || key->size() != 32)
      return Fail("master key file " + path + " is malformed");
    return *key;
  }
  if (!create) return Fail("no master key at " + path);
  std::string key = RandomBytes(32);
  Status s = FileBlob(path)->Write(Base64Encode(key) + "\n");
  if (!s.ok()) return s.error();
  return key;
}

Result<std::string> KeyStore::MasterKeyLocked(bool create) {
  if (!master_.empty()) return master_;
  auto key = LoadMasterKey(master_path_, create);
  if (!key.ok()) return key.error();
  master_ = *key;
  return master_;
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
  auto master = MasterKeyLocked(true);
  if (!master.ok()) return master.error();
  AccessKey k;
  k.id = "AKIA" + RandomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32, 16);
  k.secret = RandomFrom(
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 64,
      40);
  k.created = NowMillis() / 1000;
  auto sealed = Seal(*master, k.secret);
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
    auto master = MasterKeyLocked(false);
    if (!master.ok()) return std::nullopt;
    auto secret = Open(*master, e.sealed);
    if (!secret.ok()) return std::nullopt;
    return *secret;
  }
  return std::nullopt;
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
