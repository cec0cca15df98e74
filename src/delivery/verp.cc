#include "delivery/verp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>

namespace sesame::delivery {
namespace {

constexpr char kAlphabet[] =
    "abcdefghijklmnopqrstuvwxyz234567";  // RFC 4648 base32, lower case
constexpr size_t kMacBytes = 6;

std::string Base32(const std::string& bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::string> Unbase32(std::string_view s) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char ch : s) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    int v = c >= 'a' && c <= 'z'   ? c - 'a'
            : c >= '2' && c <= '7' ? c - '2' + 26
                                   : -1;
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>((buffer >> (bits - 8)) & 0xFF);
      bits -= 8;
    }
  }
  return out;
}

std::string Mac(const std::string& key, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md,
       &len);
  return std::string(reinterpret_cast<char*>(md), kMacBytes);
}

int Hex(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                : -1;
}

}  // namespace

std::string VerpAddress(const VerpTarget& t, const std::string& domain,
                        const std::string& key) {
  // The id's 48 hex digits (prefix+time, UUID) as 24 bytes, then the index.
  std::string packed;
  std::string hex;
  for (char c : t.message_id.substr(0, t.message_id.size() - 7)) {
    if (c != '-') hex += c;
  }
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    packed += static_cast<char>(Hex(hex[i]) * 16 + Hex(hex[i + 1]));
  packed += static_cast<char>(t.recipient);
  return "b+" + Base32(packed + Mac(key, packed)) + "@" + domain;
}

std::optional<VerpTarget> ParseVerp(std::string_view local,
                                    const std::string& key) {
  if (local.size() < 3 || (local[0] != 'b' && local[0] != 'B') ||
      local[1] != '+')
    return std::nullopt;
  auto raw = Unbase32(local.substr(2));
  if (!raw || raw->size() != 25 + kMacBytes) return std::nullopt;
  std::string packed = raw->substr(0, 25), mac = raw->substr(25);
  std::string want = Mac(key, packed);
  if (CRYPTO_memcmp(mac.data(), want.data(), kMacBytes) != 0)
    return std::nullopt;
  static const char* kDigits = "0123456789abcdef";
  std::string hex;
  for (int i = 0; i < 24; ++i) {
    unsigned char b = packed[i];
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  VerpTarget t;
  t.message_id = hex.substr(0, 16) + "-" + hex.substr(16, 8) + "-" +
                 hex.substr(24, 4) + "-" + hex.substr(28, 4) + "-" +
                 hex.substr(32, 4) + "-" + hex.substr(36, 12) + "-000000";
  t.recipient = static_cast<unsigned char>(packed[24]);
  return t;
}

}  // namespace sesame::delivery
