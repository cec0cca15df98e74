#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>

#include "store/name_filter.h"
#include "store/store.h"

namespace sesame::store {

// An in-memory snapshot of chosen kinds in front of a backend: the small,
// hot documents every send reads (account settings, identities and their
// policies and MAIL FROM, configuration sets, DKIM keys, templates). Reads
// of those kinds never touch the backend; a write goes to the backend first
// (durable), then replaces the snapshot's copy, so the next send sees it.
// Other kinds pass through. Over a shared backend, kinds too large to hold
// (the suppression list, which may hold millions) can be `filtered`: the
// snapshot keeps a Bloom filter of their names (NameFilter), so a read of a
// name that is certainly absent — nearly every recipient — costs no round
// trip to PostgreSQL, on the delivery engine's thread least of all.
//
// Over a shared backend (PostgreSQL, several nodes) a follower thread
// applies the other nodes' changes as WaitChanges reports them, typically
// within milliseconds of their commit; Generation() counts them so caches
// above (DKIM keys) know to drop what they derived.
//
// Thread-safe. Readers take a shared lock that a writer holds only to swap
// one entry — never across the backend's fsync; writers are serialised
// among themselves so the snapshot follows the backend's order.
class SnapshotStore : public Store {
 public:
  // Loads every document of `kinds` from `backend`.
  static Result<std::unique_ptr<SnapshotStore>> Wrap(
      std::unique_ptr<Store> backend, std::set<std::string> kinds,
      std::set<std::string> filtered = {});

  Result<std::optional<std::string>> Get(const std::string& kind,
                                         const std::string& name) override;
  Status Put(const std::string& kind, const std::string& name,
             const std::string& json, bool create_only) override;
  Result<bool> Delete(const std::string& kind,
                      const std::string& name) override;
  Result<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& kind, const std::string& after, size_t limit) override;
  bool Shared() const override { return backend_->Shared(); }
  bool IsLeader() override { return backend_->IsLeader(); }
  int64_t UnreachableSinceMs() override {
    return backend_->UnreachableSinceMs();
  }
  ~SnapshotStore() override;

  uint64_t Generation() const override { return generation_.load(); }
  // The backend behind the snapshot (reads past it: DocumentBlob's
  // ReadThrough).
  Store* backend() { return backend_.get(); }

 private:
  SnapshotStore(std::unique_ptr<Store> backend, std::set<std::string> kinds)
      : backend_(std::move(backend)), kinds_(std::move(kinds)) {}
  bool Cached(const std::string& kind) const { return kinds_.count(kind) > 0; }
  // The kind's filter, or null when it is not filtered.
  std::shared_ptr<NameFilter> FilterOf(const std::string& kind) const;
  Status Load(const std::string& kind);
  Status LoadFilter(const std::string& kind);
  void Follow();
  void Apply(const Change& c);

  std::unique_ptr<Store> backend_;
  const std::set<std::string> kinds_;
  std::mutex write_mu_;           // one writer at a time: backend write + swap
  mutable std::shared_mutex mu_;  // guards docs_
  std::map<std::string, std::map<std::string, std::string>> docs_;
  std::map<std::string, std::shared_ptr<NameFilter>> filters_;  // by mu_
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::thread follower_;  // runs Follow when the backend is shared
};

}  // namespace sesame::store
