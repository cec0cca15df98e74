#include "stats/alarms.h"

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>

#include "base/json.h"
#include "base/log.h"

namespace sesame::stats {

namespace {

constexpr int64_t kMinute = 60 * 1000;

std::string Q(std::string_view s) { return "\"" + JsonEscape(s) + "\""; }

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

bool Compare(const std::string& op, double v, double threshold) {
  if (op == "GreaterThanThreshold") return v > threshold;
  if (op == "GreaterThanOrEqualToThreshold") return v >= threshold;
  if (op == "LessThanThreshold") return v < threshold;
  return v <= threshold;  // LessThanOrEqualToThreshold
}

}  // namespace

Alarms::Alarms(std::vector<config::Alarm> alarms, bool enforce_reputation,
               Stats* stats, AlarmActions actions, std::string history_path,
               std::string region, std::string account)
    : alarms_(std::move(alarms)),
      enforce_(enforce_reputation),
      stats_(stats),
      actions_(std::move(actions)),
      history_path_(std::move(history_path)),
      region_(std::move(region)),
      account_(std::move(account)) {
  for (const auto& a : alarms_) states_[a.name];
}

void Alarms::Transition(const std::string& name, const std::string& kind,
                        const std::string& from, const std::string& to,
                        const std::string& reason, int64_t now_ms) {
  std::string line = "{\"timestamp\":" + Q(IsoTime(now_ms)) +
                     ",\"kind\":" + Q(kind) + ",\"name\":" + Q(name) +
                     ",\"oldState\":" + Q(from) + ",\"newState\":" + Q(to) +
                     ",\"reason\":" + Q(reason) + "}";
  history_.push_back(line);
  if (history_.size() > 10000) history_.erase(history_.begin());
  std::ofstream(history_path_, std::ios::app) << line << "\n";
  SESAME_LOG(kWarn, "alarms") << kind << " " << name << ": " << from << " -> "
                              << to << " (" << reason << ")";
}

void Alarms::Evaluate(int64_t now_ms) {
  std::vector<std::function<void()>> run;  // actions, outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& a : alarms_) {
      std::string scope =
          a.configuration_set.empty() ? "" : "cs:" + a.configuration_set;
      int64_t period = int64_t(a.period_seconds) * 1000 *
                       std::max<uint32_t>(1, a.evaluation_periods);
      // Whole minutes (the statistics are per minute): the trailing period,
      // widened to the start of the minute it begins in, up to the end of
      // the current minute — a minute boundary does not empty the window.
      int64_t to = now_ms / kMinute * kMinute + kMinute;
      int64_t from = (now_ms - period) / kMinute * kMinute;
      Counters c = stats_->Total(scope, from, to);
      bool data = true;
      double value = 0;
      if (a.metric == "bounce_rate" || a.metric == "complaint_rate") {
        data = c.sends > 0;
        if (data)
          value = double(a.metric == "bounce_rate" ? c.bounces : c.complaints) /
                  double(c.sends);
      } else {
        uint64_t Counters::*field = Stats::Field(a.metric);
        uint64_t sum = field ? c.*field : 0;
        if (a.statistic == "Maximum") {
          value = double(stats_->MaxPerMinute(scope, a.metric, from, to));
        } else if (a.statistic == "Average") {
          value =
              double(sum) / double(std::max<int64_t>(1, (to - from) / kMinute));
        } else {
          value = double(sum);
        }
      }
      std::string next = !data ? "INSUFFICIENT_DATA"
                         : Compare(a.comparison, value, a.threshold) ? "ALARM"
                                                                     : "OK";
      State& st = states_[a.name];
      st.last_value = value;
      if (next == st.value) continue;
      std::string reason =
          !data ? "No recipients were sent in the period"
                : "Threshold Crossed: the " + a.metric + " over the last " +
                      std::to_string(period / 1000) + " seconds was " +
                      Num(value) + " (" + a.comparison + " " +
                      Num(a.threshold) + ")";
      std::string old = st.value;
      Transition(a.name, "alarm", old, next, reason, now_ms);
      st.value = next;
      st.reason = reason;
      st.updated_ms = now_ms;
      if (next != "ALARM") continue;
      // CloudWatch's SNS message for an alarm.
      std::string message =
          "{\"AlarmName\":" + Q(a.name) + ",\"AlarmDescription\":null," +
          "\"AWSAccountId\":" + Q(account_) + ",\"NewStateValue\":\"ALARM\"," +
          "\"NewStateReason\":" + Q(reason) +
          ",\"StateChangeTime\":" + Q(IsoTime(now_ms)) +
          ",\"Region\":" + Q(region_) + ",\"OldStateValue\":" + Q(old) +
          ",\"Trigger\":{\"MetricName\":" + Q(a.metric) +
          ",\"Namespace\":\"Sesame\",\"Statistic\":" + Q(a.statistic) +
          ",\"Dimensions\":" +
          (a.configuration_set.empty()
               ? std::string("[]")
               : "[{\"name\":\"ses:configuration-set\",\"value\":" +
                     Q(a.configuration_set) + "}]") +
          ",\"Period\":" + std::to_string(a.period_seconds) +
          ",\"EvaluationPeriods\":" +
          std::to_string(std::max<uint32_t>(1, a.evaluation_periods)) +
          ",\"ComparisonOperator\":" + Q(a.comparison) +
          ",\"Threshold\":" + Num(a.threshold) + "}}";
      std::string subject = "ALARM: \"" + a.name + "\" in " + region_;
      for (const auto& act : a.actions) {
        if (!act.topic.empty() && actions_.publish)
          run.push_back([this, t = act.topic, subject, message] {
            actions_.publish(t, subject, message);
          });
        if (!act.pause_configuration_set.empty() && actions_.pause_config_set)
          run.push_back([this, cs = act.pause_configuration_set] {
            actions_.pause_config_set(cs);
          });
        if (act.pause_account && actions_.pause_account)
          run.push_back([this] { actions_.pause_account(); });
      }
    }
    // Reputation: HEALTHY / PROBATION / SHUTDOWN per account and set.
    for (const auto& scope : stats_->Scopes()) {
      if (!scope.empty() && scope.rfind("cs:", 0) != 0) continue;
      Reputation r = stats_->ReputationOf(scope, now_ms);
      std::string& cur = reputation_[scope];
      if (cur.empty()) cur = "HEALTHY";
      if (r.status == cur) continue;
      std::string name = scope.empty() ? "account" : scope.substr(3);
      char reason[160];
      std::snprintf(reason, sizeof reason,
                    "bounce rate %.2f%%, complaint rate %.3f%% over %llu sends",
                    r.bounce_rate * 100, r.complaint_rate * 100,
                    static_cast<unsigned long long>(r.sends));
      Transition(name, "reputation", cur, r.status, reason, now_ms);
      cur = r.status;
      if (r.status != "SHUTDOWN" || !enforce_) continue;
      if (scope.empty() && actions_.pause_account)
        run.push_back([this] { actions_.pause_account(); });
      if (!scope.empty() && actions_.pause_config_set)
        run.push_back(
            [this, cs = scope.substr(3)] { actions_.pause_config_set(cs); });
    }
  }
  for (auto& f : run) f();
}

std::string Alarms::StatesJson() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "[";
  for (const auto& a : alarms_) {
    const State& st = states_[a.name];
    out +=
        std::string(out.size() > 1 ? "," : "") + "{\"AlarmName\":" + Q(a.name) +
        ",\"MetricName\":" + Q(a.metric) + ",\"Statistic\":" + Q(a.statistic) +
        ",\"Period\":" + std::to_string(a.period_seconds) +
        ",\"Threshold\":" + Num(a.threshold) +
        ",\"ComparisonOperator\":" + Q(a.comparison) +
        ",\"StateValue\":" + Q(st.value) + ",\"StateReason\":" + Q(st.reason) +
        ",\"LastValue\":" + Num(st.last_value) + ",\"StateUpdatedTimestamp\":" +
        (st.updated_ms ? Q(IsoTime(st.updated_ms)) : std::string("null")) + "}";
  }
  return out + "]";
}

std::string Alarms::HistoryJson() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = "[";
  for (size_t i = 0; i < history_.size(); ++i)
    out += (i ? "," : "") + history_[i];
  return out + "]";
}

std::string Alarms::ReputationStatus(const std::string& scope) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = reputation_.find(scope);
  return it == reputation_.end() ? "HEALTHY" : it->second;
}

namespace json = boost::json;

std::string Alarms::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  json::object states, reputation;
  for (const auto& [name, st] : states_)
    states[name] = {{"value", st.value},
                    {"reason", st.reason},
                    {"updatedMs", st.updated_ms},
                    {"lastValue", st.last_value}};
  for (const auto& [scope, status] : reputation_) reputation[scope] = status;
  constexpr size_t kHistory = 200;  // what the dashboard pages through
  json::array history;
  size_t from = history_.size() > kHistory ? history_.size() - kHistory : 0;
  for (size_t i = from; i < history_.size(); ++i) {
    boost::system::error_code ec;
    json::value v = json::parse(history_[i], ec);
    if (!ec) history.push_back(std::move(v));
  }
  return json::serialize(json::object{{"states", std::move(states)},
                                      {"reputation", std::move(reputation)},
                                      {"history", std::move(history)}});
}

void Alarms::Adopt(const std::string& snapshot) {
  boost::system::error_code ec;
  json::value v = json::parse(snapshot, ec);
  if (ec || !v.is_object()) return;
  const json::object& o = v.as_object();
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* st = o.if_contains("states"); st && st->is_object()) {
    for (const auto& [name, e] : st->as_object()) {
      auto it = states_.find(name);
      if (it == states_.end() || !e.is_object()) continue;  // not ours
      const json::object& s = e.as_object();
      State& mine = it->second;
      if (auto* x = s.if_contains("value"); x && x->is_string())
        mine.value = std::string(x->as_string());
      if (auto* x = s.if_contains("reason"); x && x->is_string())
        mine.reason = std::string(x->as_string());
      if (auto* x = s.if_contains("updatedMs"); x && x->is_int64())
        mine.updated_ms = x->as_int64();
      if (auto* x = s.if_contains("lastValue"); x && x->is_number())
        mine.last_value = x->to_number<double>();
    }
  }
  if (auto* rep = o.if_contains("reputation"); rep && rep->is_object()) {
    reputation_.clear();
    for (const auto& [scope, status] : rep->as_object())
      if (status.is_string())
        reputation_[scope] = std::string(status.as_string());
  }
  if (auto* h = o.if_contains("history"); h && h->is_array()) {
    history_.clear();
    for (const auto& line : h->as_array())
      history_.push_back(json::serialize(line));
  }
}

}  // namespace sesame::stats
