#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "stats/alarms.h"
#include "stats/stats.h"
#include "store/store.h"

namespace sesame::stats {

// Sending statistics across a cluster's nodes, through the shared store:
// each node writes the minutes it counted into (documents of kind
// "stats-minute" named "<minute, 15 digits>/<node id>", so names sort by
// time), and reads the other nodes' recent minutes into its Stats as peers.
// GetSendStatistics, the dashboard's charts, reputation and alarms then see
// the cluster's totals. The first Sync reads two weeks; later ones the last
// hour (a late bounce counts into the minute of its event).
//
// Owned by the app; Sync() runs on the stats thread, every few seconds:
// never on a send's path.
class ClusterSync {
 public:
  ClusterSync(Stats* stats, store::Store* store, std::string node_id);

  // Writes this node's changed minutes, reads the others'; and, when
  // `prune` (the leader), deletes minutes older than two weeks, hourly.
  Status Sync(int64_t now_ms, bool prune);

  // The alarms' view: the leader writes its Alarms::Snapshot (document
  // "alarm-state"/"leader", when it changed), the others adopt it, so every
  // node's /admin/alarms, history and enforcement status agree.
  Status SyncAlarms(Alarms* alarms, bool leader);

  static std::string Name(int64_t minute_ms, const std::string& node);

 private:
  Status Write();
  Status Read(int64_t from_ms);
  void Prune(int64_t now_ms);

  Stats* const stats_;
  store::Store* const store_;
  const std::string node_;
  bool loaded_ = false;
  std::string alarms_written_;  // the last snapshot this node wrote
  int64_t pruned_ms_ = 0;
};

}  // namespace sesame::stats
