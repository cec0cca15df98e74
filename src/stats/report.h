#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "stats/alarms.h"
#include "stats/stats.h"

namespace sesame::stats {

// Answers built from the statistics, for the SES APIs and /admin/*. Pure
// over a Stats (which is thread-safe); `now_ms` is passed in.

// GetSendStatistics: two weeks in 15-minute points, oldest first.
struct SendDataPoint {
  int64_t timestamp_ms;
  uint64_t attempts, bounces, complaints, rejects;
};
std::vector<SendDataPoint> SendDataPoints(Stats& stats, int64_t now_ms);

// /admin/stats: per minute (24 h) or per hour (14 days) for one scope, and
// the scopes that have data.
std::string StatisticsJson(Stats& stats, const std::string& resolution,
                           const std::string& scope, int64_t now_ms);

// /admin/reputation: the window, the thresholds, and per scope its rates
// and the status enforced (from `alarms` when given).
std::string ReputationJson(Stats& stats, Alarms* alarms,
                           const config::ReputationConfig& c, int64_t now_ms);

}  // namespace sesame::stats
