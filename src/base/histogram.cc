#include "base/histogram.h"

#include <cstdio>

namespace sesame {

std::string Histogram::Prometheus(const std::string& name,
                                  const std::string& labels) const {
  std::string out;
  std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  char buf[64];
  for (int i = 0; i <= kBuckets; ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    std::string le = "+Inf";
    if (i < kBuckets) {
      std::snprintf(buf, sizeof buf, "%g", UpperBound(i));
      le = buf;
    }
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  std::snprintf(
      buf, sizeof buf, "%.6f",
      static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + buf + "\n";
  out += name + "_count" + braces + " " + std::to_string(count()) + "\n";
  return out;
}

}  // namespace sesame
