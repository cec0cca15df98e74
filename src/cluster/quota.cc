#include "cluster/quota.h"

#include <algorithm>
#include <cstdio>

namespace sesame::cluster {
namespace {

// KEYS[1] the rate's arrival time, KEYS[2] the day's hash (a field per
// minute, plus "total" and "minute", the last minute rolled to). ARGV
// emission interval (µs, 0 = no rate), burst, recipients, max per 24 h
// (-1 = none). Returns {verdict, total}: 0 taken, 1 rate, 2 day.
constexpr const char* kTake = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local minute = math.floor(now / 60000000)
local n = tonumber(ARGV[3])
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
local max24 = tonumber(ARGV[4])
if max24 >= 0 and total + n > max24 then return {2, total} end
local interval = tonumber(ARGV[1])
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval * n
  if new_tat - interval * tonumber(ARGV[2]) > now then return {1, total} end
  redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
             math.ceil((new_tat - now) / 1000) + 1000)
end
redis.call('HINCRBY', KEYS[2], tostring(minute), n)
total = total + n
redis.call('HSET', KEYS[2], 'total', total)
return {0, total}
)lua";

// KEYS as kTake; ARGV the minute taken in, recipients, interval (µs).
constexpr const char* kGiveBack = R"lua(
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
)lua";

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
      local_(max_send_rate, max_24_hour_send) {
  // Another node's sends count too: refresh the day's total (a take of
  // nothing, which also rolls the window) for GetSendQuota.
  limits_->EverySecond([this] {
    if (max24_ < 0 && rate_ <= 0) return;
    limits_->redis().Eval(
        kTake, {rate_key_, day_key_}, {"0", "1", "0", "-1"}, [this](Reply r) {
          if (r.type == Reply::Type::kArray && r.elements.size() == 2)
            cluster_sent_.store(r.elements[1].integer);
        });
  });
}

void ClusterQuota::TakeAsync(int recipients, int64_t now_ms, Verdict done) {
  if (rate_ <= 0 && max24_ < 0) return done(std::nullopt);
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
  if (!limits_->Up()) return local_.GiveBack(recipients, taken_ms);
  limits_->redis().Eval(kGiveBack, {rate_key_, day_key_},
                        {std::to_string(taken_ms / 60000),
                         std::to_string(recipients), Num(IntervalUs(rate_))},
                        [](Reply) {});
}

double ClusterQuota::SentLast24Hours(int64_t now_ms) {
  return static_cast<double>(cluster_sent_.load(std::memory_order_relaxed)) +
         (limits_->Up() ? 0 : local_.SentLast24Hours(now_ms));
}

}  // namespace sesame::cluster
