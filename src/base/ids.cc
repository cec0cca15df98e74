#include "base/ids.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace sesame {

std::string NewMessageId(int64_t epoch_millis) {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (uint64_t(std::random_device{}()) << 32)};
  uint64_t a = rng(), b = rng();
  // UUID version 4, variant 10xx.
  a = (a & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;
  b = (b & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;
  char buf[64];
  std::snprintf(
      buf, sizeof buf, "01%014llx-%08llx-%04llx-%04llx-%04llx-%012llx-000000",
      static_cast<unsigned long long>(epoch_millis) & 0xFFFFFFFFFFFFFFull,
      static_cast<unsigned long long>(a >> 32),
      static_cast<unsigned long long>((a >> 16) & 0xFFFF),
      static_cast<unsigned long long>(a & 0xFFFF),
      static_cast<unsigned long long>(b >> 48),
      static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFull));
  return buf;
}

bool IsMessageId(const std::string& id) {
  // 16 hex - 8 - 4 - 4 - 4 - 12 - 000000
  static const int kGroups[] = {16, 8, 4, 4, 4, 12, 6};
  size_t pos = 0;
  for (int g = 0; g < 7; ++g) {
    if (g > 0) {
      if (pos >= id.size() || id[pos] != '-') return false;
      ++pos;
    }
    for (int i = 0; i < kGroups[g]; ++i, ++pos) {
      if (pos >= id.size()) return false;
      char c = id[pos];
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
  }
  return pos == id.size() && id.compare(id.size() - 6, 6, "000000") == 0;
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Rfc5322Date(int64_t epoch_millis) {
  std::time_t secs = epoch_millis / 1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

}  // namespace sesame
