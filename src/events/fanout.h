#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "delivery/engine.h"
#include "events/publisher.h"
#include "metrics/registry.h"
#include "ses/resources.h"
#include "stats/stats.h"

namespace sesame::events {

// Everything that follows from one delivery event, in one place: the
// feedback counters (bounces by type, complaints), the sending statistics
// (reputation, alarms, GetSendStatistics), the suppression list (hard
// bounces and complaints, when the reason is in effect for the
// configuration set) and publishing to SNS-style subscribers.
//
// Owned by the app; the engine calls OnEvent() on its thread. Counters and
// statistics are updated there (atomics, one short mutex); suppression
// writes, which wait on the store's fsync, go to the fan-out's own thread,
// so the engine never waits on disk. Stop() finishes queued writes.
class FanOut {
 public:
  FanOut(ses::Resources* resources, stats::Stats* stats, Publisher* publisher);
  ~FanOut();

  void Start();
  void Stop();

  void OnEvent(delivery::MessageEvent e);

  // sesame_bounces_total, sesame_complaints_total,
  // sesame_suppressions_added_total.
  void RegisterMetrics(metrics::Registry* registry) const;

 private:
  struct Suppression {
    std::string address, reason, config_set, message_id, feedback_id;
  };
  void Count(const delivery::MessageEvent& e);
  void Record(const delivery::MessageEvent& e);
  void Suppress(const delivery::MessageEvent& e);
  void WriteSuppressions();

  ses::Resources* resources_;
  stats::Stats* stats_;
  Publisher* publisher_;
  std::atomic<uint64_t> permanent_{0}, transient_{0}, undetermined_{0},
      complaints_{0}, suppressions_{0};
  std::mutex mu_;  // guards queue_ and stopping_; held to push or pop
  std::condition_variable cv_;
  std::deque<Suppression> queue_;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace sesame::events
