#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sesame::admission {

// A few threads that run CPU-bound work off the event loops: DKIM signing of
// admitted mail (RSA-2048 costs ~1 ms, which would stall every connection of
// a network thread). Work items run in FIFO order on any pool thread; each
// posts its result onward itself (to the spool, then the caller's loop).
//
// Owned by the app, shared by every front end through admission::Admission.
// Post() is thread-safe; Stop() (or the destructor) finishes queued work,
// then joins.
class SigningPool {
 public:
  // threads <= 0: one per core.
  explicit SigningPool(int threads);
  ~SigningPool();
  SigningPool(const SigningPool&) = delete;
  SigningPool& operator=(const SigningPool&) = delete;

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

}  // namespace sesame::admission
