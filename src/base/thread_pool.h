#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sesame {

// A few threads that run work off the event loops, in FIFO order on any
// pool thread; each item posts its result onward itself. Used for DKIM
// signing of admitted mail (admission's signing pool: RSA-2048 costs ~1 ms,
// which would stall every connection of a network thread) and, with one
// thread, for the API's store writes (they wait on SQLite's fsync).
//
// Owned by whoever posts to it. Post() is thread-safe; Stop() (or the
// destructor) finishes queued work, then joins.
class ThreadPool {
 public:
  // threads <= 0: one per core.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Post(std::function<void()> work);
  // Finishes queued work and joins the threads (idempotent): before what
  // the work uses (admission, the spool) goes away.
  void Stop();
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Run();

  std::mutex mu_;  // guards queue_ and stopping_; held only to push or pop
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sesame
