#include "stats/cluster_sync.h"

#include <cstdio>

namespace sesame::stats {
namespace {

constexpr const char* kKind = "stats-minute";
constexpr int64_t kKeepMs = 14 * 24 * 3600 * 1000LL;
constexpr int64_t kRereadMs = 3600 * 1000LL;

std::string MinuteKey(int64_t minute_ms) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%015lld", static_cast<long long>(minute_ms));
  return buf;
}

}  // namespace

ClusterSync::ClusterSync(Stats* stats, store::Store* store, std::string node_id)
    : stats_(stats), store_(store), node_(std::move(node_id)) {}

std::string ClusterSync::Name(int64_t minute_ms, const std::string& node) {
  return MinuteKey(minute_ms) + "/" + node;
}

Status ClusterSync::Sync(int64_t now_ms, bool prune) {
  Status w = Write();
  Status r = Read(loaded_ ? now_ms - kRereadMs : now_ms - kKeepMs);
  if (r.ok()) loaded_ = true;
  if (prune && now_ms - pruned_ms_ > kRereadMs) Prune(now_ms);
  return w.ok() ? r : w;
}

Status ClusterSync::Write() {
  Status result = Ok{};
  for (const auto& [minute, doc] : stats_->TakeDirtyMinutes()) {
    Status st = store_->Put(kKind, Name(minute, node_), doc, false);
    if (!st.ok()) {
      stats_->MarkDirty(minute);  // again at the next sync
      result = st;
    }
  }
  return result;
}

Status ClusterSync::Read(int64_t from_ms) {
  int64_t from_minute = from_ms / 60000 * 60000;
  Stats::Minutes peers;
  std::string after = MinuteKey(from_minute);  // "<m>/..." sorts after "<m>"
  while (true) {
    auto page = store_->List(kKind, after, 1000);
    if (!page.ok()) return page.error();
    for (const auto& [name, doc] : *page) {
      size_t slash = name.find('/');
      if (slash != 15 || name.compare(slash + 1, std::string::npos, node_) == 0)
        continue;  // malformed, or this node's own
      int64_t minute = std::strtoll(name.substr(0, slash).c_str(), nullptr, 10);
      (void)Stats::ParseMinute(doc, minute, &peers);
    }
    if (page->size() < 1000) break;
    after = page->back().first;
  }
  stats_->SetPeers(peers, from_minute);
  return Ok{};
}

void ClusterSync::Prune(int64_t now_ms) {
  pruned_ms_ = now_ms;
  std::string cutoff = MinuteKey((now_ms - kKeepMs) / 60000 * 60000);
  auto page = store_->List(kKind, "", 1000);
  if (!page.ok()) return;
  for (const auto& [name, doc] : *page) {
    if (name >= cutoff) break;
    (void)store_->Delete(kKind, name);
  }
}

Status ClusterSync::SyncAlarms(Alarms* alarms, bool leader) {
  if (leader) {
    std::string snapshot = alarms->Snapshot();
    if (snapshot == alarms_written_) return Ok{};
    Status st = store_->Put("alarm-state", "leader", snapshot, false);
    if (st.ok()) alarms_written_ = snapshot;
    return st;
  }
  alarms_written_.clear();  // leading again later: write at once
  auto doc = store_->Get("alarm-state", "leader");
  if (!doc.ok()) return doc.error();
  if (doc->has_value()) alarms->Adopt(**doc);
  return Ok{};
}

}  // namespace sesame::stats
