#include "store/name_filter.h"

#include <algorithm>

namespace sesame::store {
namespace {

// Two independent 64-bit hashes (FNV-1a and a multiplicative mix of it,
// seeded differently); position i is h1 + i * h2 (Kirsch and Mitzenmacher).
std::pair<uint64_t, uint64_t> Hashes(std::string_view s) {
  uint64_t a = 1469598103934665603ull, b = 0x9e3779b97f4a7c15ull;
  for (unsigned char c : s) {
    a = (a ^ c) * 1099511628211ull;
    b = (b ^ c) * 0xff51afd7ed558ccdull;
    b ^= b >> 29;
  }
  return {a, b | 1};
}

}  // namespace

NameFilter::NameFilter(size_t planned)
    : planned_(std::max<size_t>(planned, 1)) {
  uint64_t bits = 1 << 16;
  while (bits < planned_ * 16) bits <<= 1;
  mask_ = bits - 1;
  size_t words = bits / 64;
  words_ = std::make_unique<std::atomic<uint64_t>[]>(words);
  for (size_t i = 0; i < words; ++i)
    words_[i].store(0, std::memory_order_relaxed);
}

void NameFilter::Insert(std::string_view name) {
  auto [h1, h2] = Hashes(name);
  for (int i = 0; i < kHashes; ++i) {
    uint64_t bit = (h1 + i * h2) & mask_;
    words_[bit / 64].fetch_or(uint64_t(1) << (bit % 64),
                              std::memory_order_relaxed);
  }
  inserted_.fetch_add(1, std::memory_order_relaxed);
}

bool NameFilter::MayContain(std::string_view name) const {
  auto [h1, h2] = Hashes(name);
  for (int i = 0; i < kHashes; ++i) {
    uint64_t bit = (h1 + i * h2) & mask_;
    if (!(words_[bit / 64].load(std::memory_order_relaxed) &
          (uint64_t(1) << (bit % 64))))
      return false;
  }
  return true;
}

}  // namespace sesame::store
