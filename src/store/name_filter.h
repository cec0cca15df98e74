#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace sesame::store {

// A Bloom filter of document names: "certainly absent" or "maybe present".
// SnapshotStore keeps one per kind too large to hold (the suppression
// list), so the send path asks the backend only about names that may be
// there. About 16 bits per planned name (false positives ~0.05% while no
// more than planned are inserted); names are never removed (a deleted name
// stays a false positive until the next rebuild).
//
// Thread-safe: Insert and MayContain on any threads at once (relaxed
// atomic words: an insert reaches other cores long before the backend
// write that follows it returns).
class NameFilter {
 public:
  explicit NameFilter(size_t planned);
  void Insert(std::string_view name);
  bool MayContain(std::string_view name) const;
  size_t planned() const { return planned_; }
  size_t inserted() const { return inserted_.load(std::memory_order_relaxed); }

 private:
  static constexpr int kHashes = 8;
  const size_t planned_;
  uint64_t mask_;  // bits - 1 (a power of two)
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
  std::atomic<size_t> inserted_{0};
};

}  // namespace sesame::store
