#include "cluster/limits.h"

#include <algorithm>
#include <cmath>

#include "base/ids.h"
#include "base/log.h"

namespace sesame::cluster {
namespace {

constexpr const char* kLog = "cluster";
constexpr const char* kNodesKey = "sesame:nodes";
constexpr int kHeartbeatMs = 1000;
constexpr int kNodeExpiryMs = 10000;

// KEYS[1] the slot set; ARGV limit, member, lease ms. 1 = granted.
const Redis::Script kAcquire(R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
return 1
)lua");

// KEYS the slot sets; ARGV[1] lease ms, ARGV[i+1] the member in KEYS[i].
const Redis::Script kRenew(R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[i + 1])
  redis.call('PEXPIRE', key, 2 * ttl)
end
return #KEYS
)lua");

// GCRA. KEYS[1] the arrival-time key; ARGV emission interval (µs), burst.
// 0 = taken, else milliseconds until one would be.
const Redis::Script kRate(R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * tonumber(ARGV[2])
if allow_at > now then return math.ceil((allow_at - now) / 1000) end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           math.ceil((new_tat - now) / 1000) + 1000)
return 0
)lua");

// KEYS[1] the node set; ARGV node id, expiry ms. The live nodes.
const Redis::Script kHeartbeat(R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
)lua");

}  // namespace

RedisLimits::RedisLimits(const std::string& host, uint16_t port,
                         std::string node_id, int lease_seconds)
    : node_id_(std::move(node_id)),
      lease_ms_(lease_seconds * 1000),
      redis_(host, port) {}

RedisLimits::~RedisLimits() { Stop(); }

void RedisLimits::Start() {
  redis_.Start([this] { Tick(); }, 250);
}

void RedisLimits::Stop() { redis_.Stop(); }

std::string RedisLimits::Member(uint64_t lease) const {
  return node_id_ + "/" + std::to_string(lease);
}

// On the Redis thread: the heartbeat (which also counts the live nodes) and,
// every third of the lease time, one renewal of every lease held.
void RedisLimits::Tick() {
  bool up = redis_.Connected();
  if (up != was_up_) {
    if (!up)
      SESAME_LOG(kWarn, kLog)
          << "cluster limits fall back to this node's share (1/" << LiveNodes()
          << " of each limit) until redis returns";
    was_up_ = up;
  }
  int64_t now = NowMillis();
  if (now >= next_beat_ms_) {
    next_beat_ms_ = now + kHeartbeatMs;
    redis_.Eval(kHeartbeat, {kNodesKey},
                {node_id_, std::to_string(kNodeExpiryMs)}, [this](Reply r) {
                  if (r.type == Reply::Type::kInteger && r.integer > 0)
                    live_nodes_.store(static_cast<int>(r.integer),
                                      std::memory_order_relaxed);
                });
    for (auto& fn : every_second_) fn();
  }
  if (now < next_renew_ms_) return;
  next_renew_ms_ = now + lease_ms_ / 3;
  std::vector<std::string> keys, args{std::to_string(lease_ms_)};
  // Queued under the lock, as ReleaseLease's ZREM is: a lease released
  // meanwhile is either renewed and then removed, or neither.
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, key] : held_) {
    keys.push_back("sesame:conn:" + key);
    args.push_back(Member(id));
  }
  if (!keys.empty())
    redis_.Eval(kRenew, std::move(keys), std::move(args), [](Reply) {});
}

void RedisLimits::AcquireLease(const std::string& key, int limit,
                               LeaseDone done) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
  }
  redis_.Eval(kAcquire, {"sesame:conn:" + key},
              {std::to_string(limit), Member(id), std::to_string(lease_ms_)},
              [this, key, limit, id, done = std::move(done)](Reply r) {
                if (!r.ok()) return done(LocalLease(key, limit));
                if (r.integer != 1) {
                  refused_.fetch_add(1, std::memory_order_relaxed);
                  return done(std::nullopt);
                }
                {
                  std::lock_guard<std::mutex> lock(mu_);
                  held_[id] = key;
                }
                granted_.fetch_add(1, std::memory_order_relaxed);
                done(id);
              });
}

// Redis is away: grant while this node holds fewer than its share.
std::optional<uint64_t> RedisLimits::LocalLease(const std::string& key,
                                                int limit) {
  CountFallback();
  int share = std::max(1, limit / std::max(1, LiveNodes()));
  std::lock_guard<std::mutex> lock(mu_);
  int mine = 0;
  for (const auto& [id, k] : held_) mine += k == key;
  if (mine >= share) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  uint64_t id = next_id_++;
  held_[id] = key;
  granted_.fetch_add(1, std::memory_order_relaxed);
  return id;
}

void RedisLimits::ReleaseLease(const std::string& key, uint64_t lease) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_.erase(lease)) return;
  redis_.Call({"ZREM", "sesame:conn:" + key, Member(lease)}, [](Reply) {});
}

void RedisLimits::TakeRate(const std::string& key, double rate,
                           double period_seconds, RateDone done) {
  double interval_us = period_seconds * 1e6 / rate;
  char interval[32];
  std::snprintf(interval, sizeof interval, "%.0f", std::max(1.0, interval_us));
  char burst[32];
  std::snprintf(burst, sizeof burst, "%.6f", std::max(1.0, rate));
  redis_.Eval(
      kRate,
      {"sesame:rate:" + key + ":" +
       std::to_string(static_cast<int64_t>(period_seconds))},
      {interval, burst},
      [this, key, rate, period_seconds, done = std::move(done)](Reply r) {
        if (!r.ok() || r.type != Reply::Type::kInteger)
          return done(LocalRate(key, rate, period_seconds));
        done(r.integer);
      });
}

// Redis is away: the same GCRA on this node, at 1/N of the rate.
int64_t RedisLimits::LocalRate(const std::string& key, double rate,
                               double period_seconds) {
  CountFallback();
  double share = rate / std::max(1, LiveNodes());
  double interval = period_seconds * 1000 / share;
  double burst = std::max(1.0, share);
  double now = static_cast<double>(NowMillis());
  std::lock_guard<std::mutex> lock(mu_);
  double& tat = local_tat_[key + ":" + std::to_string(period_seconds)];
  tat = std::max(tat, now);
  double allow_at = tat + interval - interval * burst;
  if (allow_at > now) return static_cast<int64_t>(std::ceil(allow_at - now));
  tat += interval;
  return 0;
}

void RedisLimits::RegisterMetrics(metrics::Registry* registry) const {
  registry->Add([this](metrics::Writer& w) {
    w.Gauge("sesame_cluster_redis_up",
            "1 while Redis answers; 0: each node keeps its local share.",
            Up() ? 1 : 0);
    w.Gauge("sesame_cluster_live_nodes",
            "Nodes with a heartbeat in Redis in the last 10 s, as last seen.",
            LiveNodes());
    w.Counter("sesame_cluster_fallback_decisions_total",
              "Lease and rate decisions made from the local share because "
              "Redis was unreachable.",
              fallback_.load(std::memory_order_relaxed));
    w.Counter("sesame_cluster_leases_granted_total",
              "Connection slots granted (cluster-wide limits).",
              granted_.load(std::memory_order_relaxed));
    w.Counter("sesame_cluster_leases_refused_total",
              "Connection slots refused because the site's limit was held.",
              refused_.load(std::memory_order_relaxed));
    w.Counter("sesame_cluster_redis_round_trips_total",
              "Pipelined round trips to Redis.", redis_.RoundTrips());
  });
}

}  // namespace sesame::cluster
