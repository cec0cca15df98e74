#include "stats/report.h"

#include <cstdio>

#include "base/json.h"

namespace sesame::stats {

namespace {

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

std::vector<SendDataPoint> SendDataPoints(Stats& stats, int64_t now_ms) {
  constexpr int64_t kBucket = 15 * 60 * 1000;
  int64_t from = (now_ms - 14LL * 24 * 3600 * 1000) / kBucket * kBucket;
  std::vector<SendDataPoint> out;
  for (const auto& b : stats.Series("", from, now_ms + kBucket, kBucket))
    out.push_back({b.start_ms, b.c.sends, b.c.bounces + b.c.soft_bounces,
                   b.c.complaints, b.c.rejects});
  return out;
}

std::string StatisticsJson(Stats& stats, const std::string& resolution,
                           const std::string& scope, int64_t now_ms) {
  bool hourly = resolution == "hour";
  int64_t step = hourly ? 3600 * 1000 : 60 * 1000;
  int64_t span = hourly ? 14LL * 24 * 3600 * 1000 : 24LL * 3600 * 1000;
  std::string out = "{\"resolution\":\"" +
                    std::string(hourly ? "hour" : "minute") +
                    "\",\"scope\":\"" + JsonEscape(scope) + "\",\"points\":[";
  bool first = true;
  for (const auto& b : stats.Series(scope, (now_ms - span) / step * step,
                                    now_ms + step, step)) {
    out += std::string(first ? "" : ",") + "{\"timestamp\":\"" +
           IsoTime(b.start_ms) + "\",\"sends\":" + std::to_string(b.c.sends) +
           ",\"deliveries\":" + std::to_string(b.c.deliveries) +
           ",\"bounces\":" + std::to_string(b.c.bounces) +
           ",\"softBounces\":" + std::to_string(b.c.soft_bounces) +
           ",\"complaints\":" + std::to_string(b.c.complaints) +
           ",\"deferrals\":" + std::to_string(b.c.deferrals) +
           ",\"rejects\":" + std::to_string(b.c.rejects) + "}";
    first = false;
  }
  std::string scopes = "[";
  for (const auto& s : stats.Scopes())
    scopes += (scopes.size() > 1 ? ",\"" : "\"") + JsonEscape(s) + "\"";
  return out + "],\"scopes\":" + scopes + "]}";
}

std::string ReputationJson(Stats& stats, Alarms* alarms,
                           const config::ReputationConfig& c, int64_t now_ms) {
  std::string out =
      "{\"windowHours\":" + std::to_string(c.window_hours) +
      ",\"minSends\":" + std::to_string(c.min_sends) +
      ",\"thresholds\":{\"probationBounce\":" + Num(c.probation_bounce_rate) +
      ",\"shutdownBounce\":" + Num(c.shutdown_bounce_rate) +
      ",\"probationComplaint\":" + Num(c.probation_complaint_rate) +
      ",\"shutdownComplaint\":" + Num(c.shutdown_complaint_rate) +
      "},\"scopes\":[";
  std::vector<std::string> scopes = {""};
  for (const auto& s : stats.Scopes())
    if (!s.empty()) scopes.push_back(s);
  for (size_t i = 0; i < scopes.size(); ++i) {
    auto rep = stats.ReputationOf(scopes[i], now_ms);
    std::string status =
        alarms ? alarms->ReputationStatus(scopes[i]) : rep.status;
    out += std::string(i ? "," : "") + "{\"scope\":\"" + JsonEscape(scopes[i]) +
           "\",\"sends\":" + std::to_string(rep.sends) +
           ",\"bounces\":" + std::to_string(rep.bounces) +
           ",\"complaints\":" + std::to_string(rep.complaints) +
           ",\"bounceRate\":" + Num(rep.bounce_rate) +
           ",\"complaintRate\":" + Num(rep.complaint_rate) + ",\"status\":\"" +
           status + "\"}";
  }
  return out + "]}";
}

}  // namespace sesame::stats
