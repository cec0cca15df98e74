#include "cluster/quota.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "base/ids.h"

namespace sesame::cluster {
namespace {

// Both scripts start here. KEYS[1] the rate's arrival time (GCRA), KEYS[2]
// the day's hash: a field per minute, plus "total" and "minute" (the last
// minute rolled to). ARGV[1] the emission interval (µs, 0 = no rate),
// ARGV[2] the burst. Rolls the 24-hour window forward to now.
constexpr const char* kRoll = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local minute = math.floor(now / 60000000)
local interval = tonumber(ARGV[1])
local total = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')
local last = tonumber(redis.call('HGET', KEYS[2], 'minute') or minute)
if minute - last >= 1440 then
  redis.call('DEL', KEYS[2])
  total = 0
else
  for m = last + 1, minute do
    local f = tostring(m - 1440)
    local old = tonumber(redis.call('HGET', KEYS[2], f) or '0')
    if old ~= 0 then
      total = total - old
      redis.call('HDEL', KEYS[2], f)
    end
  end
end
if minute < last then minute = last end
redis.call('HSET', KEYS[2], 'total', total, 'minute', minute)
redis.call('PEXPIRE', KEYS[2], 90000000)
)lua";

// The exact take: ARGV[3] recipients, ARGV[4] max per 24 h (-1 = none).
// Returns {verdict, total}: 0 taken, 1 rate, 2 day.
const Redis::Script kTake(std::string(kRoll) + R"lua(
local n = tonumber(ARGV[3])
local max24 = tonumber(ARGV[4])
if max24 >= 0 and total + n > max24 then return {2, total} end
if interval > 0 and n > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval * n
  if new_tat - interval * tonumber(ARGV[2]) > now then return {1, total} end
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
             math.ceil((new_tat - now) / 1000) + 1000)
end
if n > 0 then
  redis.call('HINCRBY', KEYS[2], tostring(minute), n)
  total = total + n
  redis.call('HSET', KEYS[2], 'total', total)
end
return {0, total}
)lua");

// A grant for the node's allowance: up to ARGV[3] tokens of what the bucket
// holds now, and the node's locally admitted counts (pairs of minute and
// recipients from ARGV[4] on) added to the day. Returns {granted, total}.
const Redis::Script kGrant(std::string(kRoll) + R"lua(
for i = 4, #ARGV, 2 do
  local m = tonumber(ARGV[i])
  if m > minute - 1440 then
    redis.call('HINCRBY', KEYS[2], tostring(m), tonumber(ARGV[i + 1]))
    total = total + tonumber(ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[2], 'total', total)
local granted = 0
local want = tonumber(ARGV[3])
if interval > 0 and want > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  local avail = math.floor((now + interval * tonumber(ARGV[2]) - tat) / interval)
  if avail > want then avail = want end
  if avail > 0 then
    granted = avail
    local new_tat = tat + interval * granted
    redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
               math.ceil((new_tat - now) / 1000) + 1000)
  end
end
return {granted, total}
)lua");

// KEYS as above; ARGV the minute taken in, recipients, interval (µs).
const Redis::Script kGiveBack(R"lua(
local f = ARGV[1]
local had = tonumber(redis.call('HGET', KEYS[2], f) or '0')
local back = math.min(had, tonumber(ARGV[2]))
if back > 0 then
  redis.call('HINCRBY', KEYS[2], f, -back)
  redis.call('HINCRBY', KEYS[2], 'total', -back)
end
local interval = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if interval > 0 and tat > 0 then
  redis.call('SET', KEYS[1], string.format('%.0f', tat - interval * tonumber(ARGV[2])), 'KEEPTTL')
end
return back
)lua");

std::string Num(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.6f", x);
  return buf;
}

double IntervalUs(double rate) { return rate > 0 ? 1e6 / rate : 0; }

}  // namespace

ClusterQuota::ClusterQuota(RedisLimits* limits, std::string account_id,
                           double max_send_rate, double max_24_hour_send)
    : limits_(limits),
      rate_key_("sesame:quota:" + account_id + ":rate"),
      day_key_("sesame:quota:" + account_id + ":day"),
      rate_(max_send_rate),
      max24_(max_24_hour_send),
      batch_(std::max(1.0, std::floor(max_send_rate / 20))),
      local_(max_send_rate, max_24_hour_send) {
  // Once a second: this node's counts to Redis, the cluster's total back
  // (GetSendQuota sees the other nodes' sends too).
  limits_->EverySecond([this] {
    if (max24_ >= 0 || rate_ > 0) Refill(NowMillis(), true);
  });
}

void ClusterQuota::TakeAsync(int recipients, int64_t now_ms, Verdict done) {
  if (rate_ <= 0 && max24_ < 0) return done(std::nullopt);
  bool local = TakeLocal(recipients, now_ms);
  Refill(now_ms, false);
  if (local) return done(std::nullopt);
  // No allowance left (or near the day's limit): the exact take.
  limits_->redis().Eval(
      kTake, {rate_key_, day_key_},
      {Num(IntervalUs(rate_)), Num(std::max(1.0, rate_)),
       std::to_string(recipients), Num(max24_ < 0 ? -1 : max24_)},
      [this, recipients, now_ms, done = std::move(done)](Reply r) {
        if (r.type != Reply::Type::kArray || r.elements.size() != 2)
          return Fallback(recipients, now_ms, done);
        cluster_sent_.store(r.elements[1].integer, std::memory_order_relaxed);
        switch (r.elements[0].integer) {
          case 0:
            return done(std::nullopt);
          case 1:
            return done("Maximum sending rate exceeded.");
          default:
            return done("Daily message quota exceeded.");
        }
      });
}

// From the allowance Redis granted, with no round trip; not within a few
// grants of the day's limit, where only the exact take decides.
bool ClusterQuota::TakeLocal(int n, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (rate_ > 0 && (now_ms >= allowance_until_ms_ || allowance_ < n))
    return false;
  if (max24_ >= 0) {
    double headroom = 2 * batch_ * std::max(1, limits_->LiveNodes());
    if (double(cluster_sent_.load() + unflushed_total_ + n) > max24_ - headroom)
      return false;
  }
  if (rate_ > 0) allowance_ -= n;
  unflushed_[now_ms / 60000] += n;
  unflushed_total_ += n;
  return true;
}

// Asks Redis for another batch when the allowance runs low, and sends the
// counts admitted locally (at least twice a second while there are some,
// and every second when `force`d); one request in flight at a time.
void ClusterQuota::Refill(int64_t now_ms, bool force) {
  std::vector<std::string> args{Num(IntervalUs(rate_)),
                                Num(std::max(1.0, rate_)), "0"};
  std::map<int64_t, int64_t> flushing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (refilling_) return;
    bool low =
        rate_ > 0 && (allowance_ < batch_ / 2 || now_ms >= allowance_until_ms_);
    bool flush = unflushed_total_ > 0 && now_ms - flushed_ms_ >= 500;
    if (!low && !flush && !force) return;
    refilling_ = true;
    if (low) args[2] = std::to_string(static_cast<int64_t>(batch_));
    for (const auto& [minute, count] : unflushed_) {
      args.push_back(std::to_string(minute));
      args.push_back(std::to_string(count));
    }
    flushing.swap(unflushed_);
    unflushed_total_ = 0;
    flushed_ms_ = now_ms;
  }
  limits_->redis().Eval(
      kGrant, {rate_key_, day_key_}, std::move(args),
      [this, flushing = std::move(flushing)](Reply r) {
        std::lock_guard<std::mutex> lock(mu_);
        refilling_ = false;
        if (r.type != Reply::Type::kArray || r.elements.size() != 2) {
          for (const auto& [minute, count] : flushing) {
            unflushed_[minute] += count;  // again with the next request
            unflushed_total_ += count;
          }
          return;
        }
        int64_t now = NowMillis();
        if (int64_t granted = r.elements[0].integer; granted > 0) {
          if (now >= allowance_until_ms_) allowance_ = 0;
          allowance_ += static_cast<double>(granted);
          allowance_until_ms_ = now + 1000;
        }
        cluster_sent_.store(r.elements[1].integer, std::memory_order_relaxed);
      });
}

// Redis is away: this node's share of the rate, and of what the day had
// left when Redis last answered.
void ClusterQuota::Fallback(int recipients, int64_t now_ms,
                            const Verdict& done) {
  limits_->CountFallback();
  int n = std::max(1, limits_->LiveNodes());
  double left =
      std::max<double>(0, max24_ - static_cast<double>(cluster_sent_.load()));
  local_.SetLimits(rate_ > 0 ? rate_ / n : 0, max24_ < 0 ? -1 : left / n);
  done(local_.Take(recipients, now_ms));
}

void ClusterQuota::GiveBack(int recipients, int64_t taken_ms) {
  {
    // Taken from the allowance and not yet sent to Redis: back locally.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = unflushed_.find(taken_ms / 60000);
    if (it != unflushed_.end() && it->second >= recipients) {
      it->second -= recipients;
      unflushed_total_ -= recipients;
      if (rate_ > 0) allowance_ += recipients;
      return;
    }
  }
  if (!limits_->Up()) return local_.GiveBack(recipients, taken_ms);
  limits_->redis().Eval(kGiveBack, {rate_key_, day_key_},
                        {std::to_string(taken_ms / 60000),
                         std::to_string(recipients), Num(IntervalUs(rate_))},
                        [](Reply) {});
}

double ClusterQuota::SentLast24Hours(int64_t now_ms) {
  int64_t unflushed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    unflushed = unflushed_total_;
  }
  return static_cast<double>(cluster_sent_.load(std::memory_order_relaxed) +
                             unflushed) +
         (limits_->Up() ? 0 : local_.SentLast24Hours(now_ms));
}

}  // namespace sesame::cluster
