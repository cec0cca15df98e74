#pragma once

#include <atomic>
#include <string>

#include "auth/quota.h"
#include "cluster/limits.h"

namespace sesame::cluster {

// The account's sending quota shared by every node, as SES's is: one GCRA
// rate (MaxSendRate, a burst of one second's worth) and one rolling 24-hour
// count in per-minute buckets, both in one Redis script per send, so two
// nodes pushed as hard as they can together admit MaxSendRate, not twice
// it. While Redis is unreachable each node admits from a local Quota at
// 1/N of the rate and of what the day had left when Redis was last seen.
//
// Owned by the app. Thread-safe; verdicts arrive on the Redis thread (or
// inline when falling back).
class ClusterQuota : public auth::SendQuota {
 public:
  ClusterQuota(RedisLimits* limits, std::string account_id,
               double max_send_rate, double max_24_hour_send);

  void TakeAsync(int recipients, int64_t now_ms, Verdict done) override;
  void GiveBack(int recipients, int64_t taken_ms) override;
  double max_send_rate() const override { return rate_; }
  double max_24_hour_send() const override { return max24_; }
  // The cluster's count as the last Redis answer had it, plus what this
  // node took from its local share since.
  double SentLast24Hours(int64_t now_ms) override;

 private:
  void Fallback(int recipients, int64_t now_ms, const Verdict& done);

  RedisLimits* const limits_;
  const std::string rate_key_, day_key_;
  const double rate_, max24_;
  std::atomic<int64_t> cluster_sent_{0};  // as Redis last reported
  auth::Quota local_;                     // the share, while Redis is away
};

}  // namespace sesame::cluster
