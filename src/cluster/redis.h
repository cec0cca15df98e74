#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct redisContext;

namespace sesame::cluster {

// One Redis reply, copied out of hiredis's. `error` is set for an error
// reply and for a command that never got an answer (no connection).
struct Reply {
  enum class Type { kNil, kInteger, kString, kArray, kError };
  Type type = Type::kNil;
  long long integer = 0;
  std::string str;
  std::vector<Reply> elements;
  bool ok() const { return type != Type::kError; }
};

// A Redis connection owned by one thread, which pipelines every command
// queued since its last round trip (one write, then the replies in order).
// When the server is unreachable, queued commands fail at once with an
// error reply and the thread reconnects every half second, so callers fall
// back instead of waiting. Each reply waits at most one second.
//
// Owned by cluster::RedisLimits. Call() is thread-safe; callbacks run on the
// Redis thread, in command order, and must not block.
class Redis {
 public:
  Redis(std::string host, uint16_t port);
  ~Redis();  // Stop()

  // `tick` runs on the Redis thread about every `tick_ms`, connected or not
  // (heartbeats and lease renewals queue their commands from it).
  void Start(std::function<void()> tick, int tick_ms);
  void Stop();

  using Done = std::function<void(Reply)>;
  void Call(std::vector<std::string> argv, Done done);

  // A Lua script and its SHA-1, computed once (make them static).
  struct Script {
    explicit Script(std::string text);
    std::string text, sha;
  };
  // The script with keys and args (EVALSHA, EVAL when Redis lacks it).
  void Eval(const Script& script, std::vector<std::string> keys,
            std::vector<std::string> args, Done done);

  bool Connected() const { return connected_.load(std::memory_order_relaxed); }
  uint64_t RoundTrips() const {
    return round_trips_.load(std::memory_order_relaxed);
  }

 private:
  struct Command {
    std::vector<std::string> argv;
    Done done;
  };
  void Run(std::function<void()> tick, int tick_ms);
  bool Connect();
  void Disconnect();
  void Execute(std::deque<Command>& batch);

  const std::string host_;
  const uint16_t port_;
  std::mutex mu_;  // guards queue_ and stop_: held only to move a batch
  std::condition_variable wake_;
  std::deque<Command> queue_;
  bool stop_ = false;
  std::thread thread_;
  redisContext* ctx_ = nullptr;  // the Redis thread's
  int64_t next_connect_ms_ = 0;
  bool logged_down_ = false;
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> round_trips_{0};
};

}  // namespace sesame::cluster
