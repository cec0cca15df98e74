#include "cluster/redis.h"

#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include <chrono>

#include "base/ids.h"
#include "base/log.h"

namespace sesame::cluster {
namespace {

constexpr const char* kLog = "cluster";

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      for (size_t i = 0; i < r->elements; ++i)
        out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      break;
  }
  return out;
}

Reply Failed(const std::string& why) {
  Reply r;
  r.type = Reply::Type::kError;
  r.str = why;
  return r;
}

}  // namespace

Redis::Redis(std::string host, uint16_t port)
    : host_(std::move(host)), port_(port) {}

Redis::~Redis() { Stop(); }

void Redis::Start(std::function<void()> tick, int tick_ms) {
  thread_ = std::thread(
      [this, tick = std::move(tick), tick_ms] { Run(tick, tick_ms); });
}

void Redis::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  Disconnect();
}

void Redis::Call(std::vector<std::string> argv, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stop_) {
      queue_.push_back({std::move(argv), std::move(done)});
      if (queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  done(Failed("stopping"));
}

// EVALSHA by the script's SHA-1, so each call sends 40 bytes rather than
// the script and Redis need not hash it; a server that does not know it
// yet (first use, a restart, SCRIPT FLUSH) answers NOSCRIPT, and the call
// is made again as EVAL, which also loads it.
Redis::Script::Script(std::string t) : text(std::move(t)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
       digest);
  static const char* kHex = "0123456789abcdef";
  for (unsigned char b : digest) {
    sha += kHex[b >> 4];
    sha += kHex[b & 15];
  }
}

void Redis::Eval(const Script& script, std::vector<std::string> keys,
                 std::vector<std::string> args, Done done) {
  std::vector<std::string> argv{"EVALSHA", script.sha,
                                std::to_string(keys.size())};
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  Call(argv, [this, &script, argv, done = std::move(done)](Reply r) mutable {
    if (r.type != Reply::Type::kError || r.str.rfind("NOSCRIPT", 0) != 0)
      return done(std::move(r));
    argv[0] = "EVAL";
    argv[1] = script.text;
    Call(std::move(argv), std::move(done));
  });
}

// The Redis thread: wait for commands (or the next tick), take all of them,
// one round trip.
void Redis::Run(std::function<void()> tick, int tick_ms) {
  int64_t next_tick = 0;
  while (true) {
    std::deque<Command> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(tick_ms),
                     [this] { return stop_ || !queue_.empty(); });
      if (stop_) break;
      batch.swap(queue_);
    }
    if (NowMillis() >= next_tick) {
      next_tick = NowMillis() + tick_ms;
      if (!ctx_) Connect();
      tick();  // queues its commands for the next round trip
    }
    if (!batch.empty()) Execute(batch);
  }
  std::deque<Command> rest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rest.swap(queue_);
  }
  for (auto& c : rest) c.done(Failed("stopping"));
}

bool Redis::Connect() {
  int64_t now = NowMillis();
  if (now < next_connect_ms_) return false;
  next_connect_ms_ = now + 500;
  timeval tv{0, 300000};
  redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, tv);
  if (!c || c->err) {
    if (!logged_down_) {
      SESAME_LOG(kWarn, kLog)
          << "redis " << host_ << ":" << port_ << " unreachable ("
          << (c ? c->errstr : "out of memory")
          << "); each node keeps its local share of the cluster's limits";
      logged_down_ = true;
    }
    if (c) redisFree(c);
    return false;
  }
  timeval reply_tv{1, 0};
  redisSetTimeout(c, reply_tv);
  ctx_ = c;
  connected_.store(true, std::memory_order_relaxed);
  SESAME_LOG(kInfo, kLog) << "redis " << host_ << ":" << port_
                          << " connected; cluster-wide limits in force";
  logged_down_ = false;
  return true;
}

void Redis::Disconnect() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
  connected_.store(false, std::memory_order_relaxed);
}

void Redis::Execute(std::deque<Command>& batch) {
  if (!ctx_ && !Connect()) {
    for (auto& c : batch) c.done(Failed("redis unreachable"));
    return;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& c : batch) {
    argv.clear();
    lens.clear();
    for (const auto& a : c.argv) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(),
                           lens.data());
  }
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  size_t i = 0;
  for (; i < batch.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || !raw) break;
    auto* r = static_cast<redisReply*>(raw);
    Reply reply = Convert(r);
    freeReplyObject(r);
    batch[i].done(std::move(reply));
  }
  if (i < batch.size()) {
    SESAME_LOG(kWarn, kLog)
        << "redis " << host_ << ":" << port_ << " lost: " << ctx_->errstr;
    Disconnect();
    for (; i < batch.size(); ++i)
      batch[i].done(Failed("redis connection lost"));
  }
}

}  // namespace sesame::cluster
