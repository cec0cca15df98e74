#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace sesame {

// Traffic limits that every node of a cluster shares: connection slots held
// as expiring leases, and GCRA rates. cluster::RedisLimits implements them on
// Redis; without Redis the delivery engine keeps its in-process shaping and
// never asks. Callbacks run once, on an implementation thread (or inline):
// callers post them back to their own thread.
//
// Implementations are thread-safe.
class SharedLimits {
 public:
  virtual ~SharedLimits() = default;

  // One of `limit` slots of `key`, held until ReleaseLease or until the
  // holder stops renewing it (a dead node): done(lease id) or done(nullopt)
  // when every slot is taken.
  using LeaseDone = std::function<void(std::optional<uint64_t> lease)>;
  virtual void AcquireLease(const std::string& key, int limit,
                            LeaseDone done) = 0;
  virtual void ReleaseLease(const std::string& key, uint64_t lease) = 0;

  // One event against `rate` per `period_seconds` on `key` (a burst of
  // max(1, rate) events): done(0) when taken, else done(milliseconds until
  // one would be).
  using RateDone = std::function<void(int64_t wait_ms)>;
  virtual void TakeRate(const std::string& key, double rate,
                        double period_seconds, RateDone done) = 0;
};

}  // namespace sesame
