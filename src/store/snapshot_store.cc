#include "store/snapshot_store.h"

namespace sesame::store {

Result<std::unique_ptr<SnapshotStore>> SnapshotStore::Wrap(
    std::unique_ptr<Store> backend, std::set<std::string> kinds) {
  std::unique_ptr<SnapshotStore> s(
      new SnapshotStore(std::move(backend), std::move(kinds)));
  for (const auto& kind : s->kinds_) {
    auto& docs = s->docs_[kind];
    std::string after;
    while (true) {
      auto rows = s->backend_->List(kind, after, 1000);
      if (!rows.ok()) return rows.error();
      for (auto& [name, body] : *rows) docs[name] = std::move(body);
      if (rows->size() < 1000) break;
      after = rows->back().first;
    }
  }
  return s;
}

Result<std::optional<std::string>> SnapshotStore::Get(const std::string& kind,
                                                      const std::string& name) {
  if (!Cached(kind)) return backend_->Get(kind, name);
  std::shared_lock lock(mu_);
  const auto& docs = docs_.at(kind);
  auto it = docs.find(name);
  if (it == docs.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status SnapshotStore::Put(const std::string& kind, const std::string& name,
                          const std::string& json, bool create_only) {
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
