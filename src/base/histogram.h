#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace sesame {

// A latency histogram with fixed exponential buckets (25 us to ~105 s, x2).
// Observe() is a few relaxed atomic increments, so any thread may record on
// a hot path without a lock. Owned by whoever exposes it; thread-safe.
class Histogram {
 public:
  static constexpr int kBuckets = 23;
  static constexpr double kFirstBound = 25e-6;

  void Observe(double seconds) {
    int i = 0;
    double bound = kFirstBound;
    while (i < kBuckets && seconds > bound) {
      bound *= 2;
      ++i;
    }
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6),
                          std::memory_order_relaxed);
  }

  static double UpperBound(int i) {
    double b = kFirstBound;
    for (int k = 0; k < i; ++k) b *= 2;
    return b;
  }

  // Prometheus text exposition of this histogram under `name` with `labels`
  // (e.g. `listener="smtp"`, may be empty).
  std::string Prometheus(const std::string& name,
                         const std::string& labels) const;

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBuckets + 1> counts_{};  // last: +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace sesame
