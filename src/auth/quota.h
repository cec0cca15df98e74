#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace sesame::auth {

// The account's sending quota as admission and GetSendQuota see it: this
// node's (Quota) or the cluster's (cluster::ClusterQuota, on Redis).
// Implementations are thread-safe.
class SendQuota {
 public:
  virtual ~SendQuota() = default;
  // Takes `recipients` from both limits, or nothing, and calls done(nullopt)
  // or done(the SES message: "Maximum sending rate exceeded." / "Daily
  // message quota exceeded."), once, inline or on another thread.
  using Verdict = std::function<void(std::optional<std::string> over)>;
  virtual void TakeAsync(int recipients, int64_t now_ms, Verdict done) = 0;
  // Returns what a take at taken_ms took, when the send it paid for was not
  // committed after all.
  virtual void GiveBack(int recipients, int64_t taken_ms) = 0;
  virtual double max_send_rate() const = 0;
  virtual double max_24_hour_send() const = 0;
  virtual double SentLast24Hours(int64_t now_ms) = 0;
};

// Account sending quotas, counted in recipients as SES does: MaxSendRate as a
// token bucket (burst of one second's worth), Max24HourSend over a rolling
// 24 hours in one-minute buckets. Shared by SMTP and both APIs.
//
// Owned by the app. Thread-safe (one short mutex per send).
class Quota : public SendQuota {
 public:
  // rate <= 0 or max24 < 0: unlimited.
  Quota(double max_send_rate, double max_24_hour_send)
      : rate_(max_send_rate), max24_(max_24_hour_send) {}

  // Takes `recipients` from both limits, or nothing and returns the SES
  // message: "Maximum sending rate exceeded." / "Daily message quota exceeded."
  std::optional<std::string> Take(int recipients, int64_t now_ms);
  void TakeAsync(int recipients, int64_t now_ms, Verdict done) override {
    done(Take(recipients, now_ms));
  }

  // Returns what Take(recipients, taken_ms) took, when the send it paid for
  // was not committed after all: the 24-hour count of the minute it was
  // taken in (if still in the window) and the rate bucket (up to its burst).
  void GiveBack(int recipients, int64_t taken_ms) override;

  // Changes both limits (a cluster node's local share while Redis is
  // away). The accessors below then race with it: a Quota whose limits
  // change is read only through Take.
  void SetLimits(double max_send_rate, double max_24_hour_send);

  double max_send_rate() const override { return rate_; }
  double max_24_hour_send() const override { return max24_; }
  double SentLast24Hours(int64_t now_ms) override;

 private:
  void Roll(int64_t minute);
  double rate_, max24_;
  std::mutex mu_;
  double tokens_ = -1;  // initialised on first use
  int64_t last_ms_ = 0;
  std::array<int64_t, 1440> minutes_{};
  int64_t current_minute_ = 0;
  int64_t total_ = 0;
};

}  // namespace sesame::auth
