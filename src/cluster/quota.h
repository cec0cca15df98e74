#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "auth/quota.h"
#include "cluster/limits.h"

namespace sesame::cluster {

// The account's sending quota shared by every node, as SES's is: one GCRA
// rate (MaxSendRate, a burst of one second's worth) and one rolling 24-hour
// count in per-minute buckets, on Redis, so two nodes pushed as hard as
// they can together admit MaxSendRate, not twice it.
//
// A send does not wait for Redis: each node holds an allowance, tokens
// Redis granted it in batches of MaxSendRate/20 (valid for a second), and
// spends it locally; the counts it admitted go back with the next request
// (at least twice a second). The cluster never exceeds the bucket, since
// every token spent was granted; at most a batch per node goes unused. When
// the allowance is spent, or the day is within a few batches of its limit,
// the send takes the exact path: one script deciding it on Redis.
//
// While Redis is unreachable each node admits from a local Quota at 1/N of
// the rate and of what the day had left when Redis was last seen.
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
  bool TakeLocal(int recipients, int64_t now_ms);
  void Refill(int64_t now_ms, bool force);

  RedisLimits* const limits_;
  const std::string rate_key_, day_key_;
  const double rate_, max24_;
  const double batch_;                    // tokens asked per grant
  std::atomic<int64_t> cluster_sent_{0};  // as Redis last reported
  auth::Quota local_;                     // the share, while Redis is away

  std::mutex mu_;                   // guards the allowance and the counts below
  double allowance_ = 0;            // tokens granted, not yet spent
  int64_t allowance_until_ms_ = 0;  // then the rest lapses
  std::map<int64_t, int64_t> unflushed_;  // minute -> admitted, not sent
  int64_t unflushed_total_ = 0;
  int64_t flushed_ms_ = 0;
  bool refilling_ = false;  // a grant request is in flight
};

}  // namespace sesame::cluster
