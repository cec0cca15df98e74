#include "auth/quota.h"

#include <algorithm>

namespace sesame::auth {

void Quota::Roll(int64_t minute) {
  if (current_minute_ == 0) current_minute_ = minute;
  if (minute - current_minute_ >= 1440) {
    minutes_.fill(0);
    total_ = 0;
  } else {
    for (int64_t m = current_minute_ + 1; m <= minute; ++m) {
      total_ -= minutes_[m % 1440];
      minutes_[m % 1440] = 0;
    }
  }
  current_minute_ = std::max(current_minute_, minute);
}

std::optional<std::string> Quota::Take(int recipients, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Roll(now_ms / 60000);
  if (max24_ >= 0 && total_ + recipients > max24_)
    return "Daily message quota exceeded.";
  if (rate_ > 0) {
    double burst = std::max(1.0, rate_);
    if (tokens_ < 0) tokens_ = burst;
    tokens_ = std::min(burst, tokens_ + (now_ms - last_ms_) / 1000.0 * rate_);
    last_ms_ = now_ms;
    if (tokens_ < recipients) return "Maximum sending rate exceeded.";
    tokens_ -= recipients;
  }
  minutes_[current_minute_ % 1440] += recipients;
  total_ += recipients;
  return std::nullopt;
}

void Quota::GiveBack(int recipients, int64_t taken_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t minute = taken_ms / 60000;
  if (minute > current_minute_ - 1440 && minute <= current_minute_) {
    int64_t back = std::min<int64_t>(recipients, minutes_[minute % 1440]);
    minutes_[minute % 1440] -= back;
    total_ -= back;
  }
  if (rate_ > 0 && tokens_ >= 0)
    tokens_ = std::min(std::max(1.0, rate_), tokens_ + recipients);
}

void Quota::SetLimits(double max_send_rate, double max_24_hour_send) {
  std::lock_guard<std::mutex> lock(mu_);
  rate_ = max_send_rate;
  max24_ = max_24_hour_send;
  if (tokens_ > std::max(1.0, rate_)) tokens_ = std::max(1.0, rate_);
}

double Quota::SentLast24Hours(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  Roll(now_ms / 60000);
  return static_cast<double>(total_);
}

}  // namespace sesame::auth
