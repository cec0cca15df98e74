#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "stats/stats.h"

namespace sesame::stats {

// What alarms and reputation enforcement do to the rest of Sesame.
struct AlarmActions {
  // Publishes `message` (JSON) with `subject` to an events topic.
  std::function<void(const std::string& topic, const std::string& subject,
                     const std::string& message)>
      publish;
  std::function<void(const std::string& config_set)> pause_config_set;
  std::function<void()> pause_account;
};

// CloudWatch-style alarms on the sending statistics (config `alarms`), and
// the reputation monitor (config `reputation`): Evaluate() computes each
// alarm's metric over its trailing period, moves it between OK, ALARM and
// INSUFFICIENT_DATA, records every transition (memory and a JSON-lines
// file) and runs the alarm's actions when it enters ALARM; and it pauses an
// account or configuration set whose reputation falls to SHUTDOWN (once, on
// the transition: an operator who re-enables sending is not overruled).
//
// Owned by the app; Evaluate() runs on one timer thread; the JSON getters
// are thread-safe.
class Alarms {
 public:
  Alarms(std::vector<config::Alarm> alarms, bool enforce_reputation,
         Stats* stats, AlarmActions actions, std::string history_path,
         std::string region, std::string account);

  void Evaluate(int64_t now_ms);

  // [{"AlarmName","StateValue","StateReason","StateUpdatedTimestamp",...}]
  std::string StatesJson();
  // Transitions, oldest first (alarms and reputation).
  std::string HistoryJson();
  // Reputation status per scope ("" = account): HEALTHY, PROBATION, SHUTDOWN.
  std::string ReputationStatus(const std::string& scope);

  // On a cluster only the leader evaluates; the others show its view. The
  // leader's states, reputation statuses and recent history as one JSON
  // document, and a follower taking them over (no actions run, nothing is
  // appended to its history file). A node that becomes leader goes on from
  // the states it adopted, so an alarm already in ALARM does not fire again.
  std::string Snapshot();
  void Adopt(const std::string& snapshot);

 private:
  struct State {
    std::string value = "INSUFFICIENT_DATA";
    std::string reason = "Unchecked: initial alarm creation";
    int64_t updated_ms = 0;
    double last_value = 0;
  };
  void Transition(const std::string& name, const std::string& kind,
                  const std::string& from, const std::string& to,
                  const std::string& reason, int64_t now_ms);

  std::vector<config::Alarm> alarms_;
  bool enforce_;
  Stats* stats_;
  AlarmActions actions_;
  std::string history_path_, region_, account_;
  std::mutex mu_;
  std::map<std::string, State> states_;
  std::map<std::string, std::string> reputation_;  // scope -> status
  std::vector<std::string> history_;               // JSON objects
};

}  // namespace sesame::stats
