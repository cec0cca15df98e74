#include "store/snapshot_store.h"

#include <algorithm>

namespace sesame::store {

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::Wrap(
    std::unique_ptr<Store> backend, std::set<std::string> kinds,
    std::set<std::string> filtered) {
  std::unique_ptr<SnapshotStore> s(
      new SnapshotStore(std::move(backend), std::move(kinds)));
  for (const auto& kind : s->kinds_) {
    if (Status st = s->Load(kind); !st.ok()) return st.error();
  }
  // Only a shared backend: an embedded one is read locally anyway, and
  // another process (the CLI) may write it without telling this one.
  if (s->backend_->Shared()) {
    for (const auto& kind : filtered) {
      if (Status st = s->LoadFilter(kind); !st.ok()) return st.error();
    }
  }
  if (s->backend_->Shared())
    s->follower_ = std::thread([p = s.get()] { p->Follow(); });
  return s;
}

SnapshotStore::~SnapshotStore() {
  stop_ = true;
  if (follower_.joinable()) follower_.join();
}

// Reads `kind` whole from the backend, then swaps it in: readers see the
// old set or the new, never half.
Status SnapshotStore::Load(const std::string& kind) {
  std::map<std::string, std::string> docs;
  std::string after;
  while (true) {
    auto rows = backend_->List(kind, after, 1000);
    if (!rows.ok()) return rows.error();
    for (auto& [name, body] : *rows) docs[name] = std::move(body);
    if (rows->size() < 1000) break;
    after = rows->back().first;
  }
  std::unique_lock lock(mu_);
  docs_[kind] = std::move(docs);
  return Ok{};
}

// Lists the kind's names into a new filter (planned for twice as many),
// then swaps it in. Under write_mu_ (or before the store is shared), so no
// local write slips between the listing and the swap.
Status SnapshotStore::LoadFilter(const std::string& kind) {
  std::vector<std::string> names;
  std::string after;
  while (true) {
    auto rows = backend_->List(kind, after, 1000);
    if (!rows.ok()) return rows.error();
    for (auto& [name, body] : *rows) names.push_back(std::move(name));
    if (rows->size() < 1000) break;
    after = names.back();
  }
  auto filter =
      std::make_shared<NameFilter>(std::max<size_t>(65536, names.size() * 2));
  for (const auto& n : names) filter->Insert(n);
  std::unique_lock lock(mu_);
  filters_[kind] = std::move(filter);
  return Ok{};
}

std::shared_ptr<NameFilter> SnapshotStore::FilterOf(
    const std::string& kind) const {
  std::shared_lock lock(mu_);
  auto it = filters_.find(kind);
  return it == filters_.end() ? nullptr : it->second;
}

// The follower: other nodes' changes, applied until the destructor stops
// it. While the backend is down WaitChanges fails (and waits); the
// snapshot keeps serving what it has, and a reconnect resynchronises.
void SnapshotStore::Follow() {
  while (!stop_) {
    auto changes = backend_->WaitChanges(200);
    if (!changes.ok()) continue;
    for (const Change& c : *changes) Apply(c);
  }
}

// Under write_mu_: the backend read and the swap are not interleaved with
// a local write, so an older value never replaces a newer one.
void SnapshotStore::Apply(const Change& c) {
  std::lock_guard<std::mutex> writer(write_mu_);
  if (c.kind.empty()) {
    // A kind that fails to load keeps its old copy; the backend's next
    // reconnect asks for another full resync.
    for (const auto& kind : kinds_) (void)Load(kind);
    std::vector<std::string> filtered;
    {
      std::shared_lock lock(mu_);
      for (const auto& [kind, f] : filters_) filtered.push_back(kind);
    }
    for (const auto& kind : filtered) (void)LoadFilter(kind);
  } else if (auto filter = FilterOf(c.kind)) {
    filter->Insert(c.name);
    // Past its plan the false positives climb: rebuild, larger.
    if (filter->inserted() > filter->planned()) (void)LoadFilter(c.kind);
    return;  // no cached document changed
  } else if (Cached(c.kind)) {
    auto doc = backend_->Get(c.kind, c.name);
    if (!doc.ok()) return;  // the reconnect's resync repairs it
    std::unique_lock lock(mu_);
    if (*doc)
      docs_[c.kind][c.name] = **doc;
    else
      docs_[c.kind].erase(c.name);
  } else {
    return;  // a kind nobody here caches (statistics, heartbeats)
  }
  ++generation_;
}

Result<std::optional<std::string>> SnapshotStore::Get(const std::string& kind,
                                                      const std::string& name) {
  if (!Cached(kind)) {
    if (auto filter = FilterOf(kind); filter && !filter->MayContain(name))
      return std::optional<std::string>();
    return backend_->Get(kind, name);
  }
  std::shared_lock lock(mu_);
  const auto& docs = docs_.at(kind);
  auto it = docs.find(name);
  if (it == docs.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status SnapshotStore::Put(const std::string& kind, const std::string& name,
                          const std::string& json, bool create_only) {
  if (auto filter = FilterOf(kind)) {
    // Into the filter first: a read after the write returns finds it.
    std::lock_guard<std::mutex> writer(write_mu_);
    FilterOf(kind)->Insert(name);  // a rebuild may have swapped it
    return backend_->Put(kind, name, json, create_only);
  }
  if (!Cached(kind)) return backend_->Put(kind, name, json, create_only);
  std::lock_guard<std::mutex> writer(write_mu_);
  Status s = backend_->Put(kind, name, json, create_only);
  if (!s.ok()) return s;
  std::unique_lock lock(mu_);
  docs_[kind][name] = json;
  return s;
}

Result<bool> SnapshotStore::Delete(const std::string& kind,
                                   const std::string& name) {
  if (!Cached(kind)) return backend_->Delete(kind, name);
  std::lock_guard<std::mutex> writer(write_mu_);
  auto r = backend_->Delete(kind, name);
  if (!r.ok()) return r;
  std::unique_lock lock(mu_);
  docs_[kind].erase(name);
  return r;
}

Result<std::vector<std::pair<std::string, std::string>>> SnapshotStore::List(
    const std::string& kind, const std::string& after, size_t limit) {
  if (!Cached(kind)) return backend_->List(kind, after, limit);
  std::vector<std::pair<std::string, std::string>> out;
  std::shared_lock lock(mu_);
  const auto& docs = docs_.at(kind);
  for (auto it = docs.upper_bound(after);
       it != docs.end() && out.size() < limit; ++it)
    out.emplace_back(it->first, it->second);
  return out;
}

}  // namespace sesame::store
