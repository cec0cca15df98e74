#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sesame::crc32c {

// CRC-32C (Castagnoli), as used by iSCSI, ext4 and leveldb. Pure function.
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) {
  return Extend(0, s.data(), s.size());
}

}  // namespace sesame::crc32c
