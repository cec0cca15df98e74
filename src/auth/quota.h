#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace sesame::auth {

// Account sending quotas, counted in recipients as SES does: MaxSendRate as a
// token bucket (burst of one second's worth), Max24HourSend over a rolling
// 24 hours in one-minute buckets. Shared by SMTP and both APIs.
//
// Owned by the app. Thread-safe (one short mutex per send).
class Quota {
 public:
  // rate <= 0 or max24 < 0: unlimited.
  Quota(double max_send_rate, double max_24_hour_send)
      : rate_(max_send_rate), max24_(max_24_hour_send) {}

  // Takes `recipients` from both limits, or nothing and returns the SES
  // message: "Maximum sending rate exceeded." / "Daily message quota exceeded."
  std::optional<std::string> Take(int recipients, int64_t now_ms);

  // Returns what Take(recipients, taken_ms) took, when the send it paid for
  // was not committed after all: the 24-hour count of the minute it was
  // taken in (if still in the window) and the rate bucket (up to its burst).
  void GiveBack(int recipients, int64_t taken_ms);

  double max_send_rate() const { return rate_; }
  double max_24_hour_send() const { return max24_; }
  double SentLast24Hours(int64_t now_ms);

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
