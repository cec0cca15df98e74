#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace sesame::stats {

// What one minute holds for one scope.
struct Counters {
  uint64_t sends = 0;       // recipients handed to delivery (SES "Send")
  uint64_t deliveries = 0;  // recipients delivered
  uint64_t bounces = 0;     // hard bounces (Permanent, not suppression)
  uint64_t soft_bounces = 0;
  uint64_t complaints = 0;
  uint64_t deferrals = 0;
  uint64_t rejects = 0;  // suppressed at send, rendering failures
  void Add(const Counters& o);
};

enum class Kind {
  kSend,
  kDelivery,
  kBounce,
  kSoftBounce,
  kComplaint,
  kDeferral,
  kReject
};

// Reputation of a scope over a window of recent sends.
struct Reputation {
  uint64_t sends = 0, bounces = 0, complaints = 0;
  double bounce_rate = 0, complaint_rate = 0;
  std::string status = "HEALTHY";  // HEALTHY, PROBATION, SHUTDOWN
};

struct ReputationOptions {
  int64_t window_ms = 24 * 3600 * 1000;  // the window of recent sends
  uint64_t min_sends = 100;              // fewer: not representative, HEALTHY
  double probation_bounce = 0.05, shutdown_bounce = 0.10;
  double probation_complaint = 0.001, shutdown_complaint = 0.005;
};

// Sending statistics per minute, kept two weeks, for three kinds of scope:
// the account (""), configuration sets ("cs:<name>") and identities
// ("id:<domain>"). Feeds GetSendStatistics (15-minute buckets), the admin
// statistics API (per minute or hour), reputation and alarms.
//
// Owned by the app; thread-safe (one mutex: updates are a few map
// increments per event). Persisted to a JSON file by Save(), loaded by Load().
// In a cluster, every query sees the other nodes' minutes too (SetPeers).
class Stats {
 public:
  explicit Stats(ReputationOptions options) : options_(options) {}

  // Counts `n` recipients of `kind` at `when_ms` for the account, the
  // configuration set (may be empty) and the sender's identity domain.
  void Record(Kind kind, uint64_t n, int64_t when_ms,
              const std::string& config_set, const std::string& identity);

  // Sums over [from_ms, to_ms) in buckets of `bucket_ms` (only non-empty
  // buckets), oldest first.
  struct Bucket {
    int64_t start_ms;
    Counters c;
  };
  std::vector<Bucket> Series(const std::string& scope, int64_t from_ms,
                             int64_t to_ms, int64_t bucket_ms);
  // The total over [from_ms, to_ms).
  Counters Total(const std::string& scope, int64_t from_ms, int64_t to_ms);
  // The largest per-minute value of a counter in [from_ms, to_ms).
  uint64_t MaxPerMinute(const std::string& scope, const std::string& counter,
                        int64_t from_ms, int64_t to_ms);

  Reputation ReputationOf(const std::string& scope, int64_t now_ms);
  // Scopes that have data ("" , "cs:...", "id:...").
  std::vector<std::string> Scopes();
  // A fresh start (operator re-enabled sending): the window begins now.
  void FreshStart(const std::string& scope, int64_t now_ms);

  Status Save(const std::string& path);
  Status Load(const std::string& path);

  // Cluster statistics (stats::ClusterSync): the minutes this node recorded
  // into since the last call, each as {"<scope>":[sends, deliveries, ...]}.
  std::vector<std::pair<int64_t, std::string>> TakeDirtyMinutes();
  void MarkDirty(int64_t minute) {
    std::lock_guard<std::mutex> lock(mu_);
    dirty_.insert(minute);
  }
  // The other nodes' sums per scope and minute, replacing what was held
  // for minutes at or after from_ms; every query adds them to this node's.
  using Minutes = std::map<std::string, std::map<int64_t, Counters>>;
  void SetPeers(const Minutes& peers, int64_t from_ms);
  // Parses one minute's JSON (TakeDirtyMinutes' format) into `into`.
  static bool ParseMinute(const std::string& json, int64_t minute,
                          Minutes* into);

  // "sends" -> &Counters::sends, ...; nullptr for an unknown name.
  static uint64_t Counters::*Field(const std::string& name);

 private:
  void Prune(int64_t now_ms);
  // This node's and the peers' minutes of `scope` in [from, to), summed per
  // minute (mu_ held).
  std::map<int64_t, Counters> MergedLocked(const std::string& scope,
                                           int64_t from_ms, int64_t to_ms);

  ReputationOptions options_;
  std::mutex mu_;
  std::map<std::string, std::map<int64_t, Counters>>
      minutes_;              // scope -> minute
  Minutes peers_;            // the other nodes' (ClusterSync)
  std::set<int64_t> dirty_;  // minutes recorded into since the last sync
  std::map<std::string, int64_t> fresh_start_;
  int64_t last_prune_ms_ = 0;
};

}  // namespace sesame::stats
