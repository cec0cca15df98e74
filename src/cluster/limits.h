#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/shared_limits.h"
#include "cluster/redis.h"
#include "metrics/registry.h"

namespace sesame::cluster {

// SharedLimits on Redis, as KumoMTA shares its throttles: connection slots
// are members of a sorted set scored by expiry (acquired only while fewer
// than the limit are unexpired, renewed every third of the lease time while
// held, so a node that dies frees its slots within one lease time), and
// rates are GCRA (one key holding the theoretical arrival time, computed
// on Redis's clock). Every node also writes a heartbeat, so each knows how
// many are live.
//
// When Redis is unreachable a node never goes unlimited: it keeps its local
// share, limit ÷ the live nodes it last saw (at least one slot, at least
// 1/N of the rate), logs the change once, and /metrics shows it
// (sesame_cluster_redis_up 0, sesame_cluster_fallback_decisions_total).
//
// Owned by the app. Thread-safe: local state behind one short mutex;
// callbacks run on the Redis thread, or inline when falling back.
class RedisLimits : public SharedLimits {
 public:
  RedisLimits(const std::string& host, uint16_t port, std::string node_id,
              int lease_seconds);
  ~RedisLimits() override;

  // `fn` runs on the Redis thread about once a second (queue commands from
  // it); add before Start().
  void EverySecond(std::function<void()> fn) { every_second_.push_back(fn); }
  void Start();
  void Stop();

  void AcquireLease(const std::string& key, int limit, LeaseDone done) override;
  void ReleaseLease(const std::string& key, uint64_t lease) override;
  void TakeRate(const std::string& key, double rate, double period_seconds,
                RateDone done) override;

  // The connection, for ClusterQuota's scripts.
  Redis& redis() { return redis_; }
  bool Up() const { return redis_.Connected(); }
  // Nodes with a heartbeat in the last 10 s, as last seen (1 until then).
  int LiveNodes() const { return live_nodes_.load(std::memory_order_relaxed); }
  // Counts a decision made from the local share.
  void CountFallback() { fallback_.fetch_add(1, std::memory_order_relaxed); }
  const std::string& node_id() const { return node_id_; }

  // sesame_cluster_* families (atomics, any thread).
  void RegisterMetrics(metrics::Registry* registry) const;

 private:
  void Tick();
  std::string Member(uint64_t lease) const;
  std::optional<uint64_t> LocalLease(const std::string& key, int limit);
  int64_t LocalRate(const std::string& key, double rate, double period_seconds);

  const std::string node_id_;
  const int lease_ms_;
  Redis redis_;
  std::atomic<int> live_nodes_{1};
  std::atomic<uint64_t> fallback_{0};
  std::atomic<uint64_t> granted_{0}, refused_{0};
  std::vector<std::function<void()>> every_second_;
  int64_t next_beat_ms_ = 0;   // the Redis thread's
  int64_t next_renew_ms_ = 0;  // the Redis thread's
  bool was_up_ = true;         // the Redis thread's

  std::mutex mu_;  // guards held_, next_id_, local_tat_
  // Leases held, by id: their sites' keys. One granted from the local share
  // while Redis was away joins Redis's set at the next renewal.
  std::map<uint64_t, std::string> held_;
  uint64_t next_id_ = 1;
  std::map<std::string, double> local_tat_;  // key → ms
};

}  // namespace sesame::cluster
