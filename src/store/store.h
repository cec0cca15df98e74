#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sesame::store {

// The state store: named JSON documents by kind (identity, template,
// configuration set, suppressed destination, ...). Writes are durable when
// they return. An interface, as leveldb's Env is a seam: SqliteStore is the
// backend today (the cluster work adds PostgreSQL), SnapshotStore serves
// hot reads from memory in front of either.
//
// Implementations are thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  // Opens the SQLite backend at `path` (created if absent).
  static Result<std::unique_ptr<Store>> Open(const std::string& path);

  virtual Result<std::optional<std::string>> Get(const std::string& kind,
                                                 const std::string& name) = 0;
  // create_only: fail with code "exists" when the document is already there.
  virtual Status Put(const std::string& kind, const std::string& name,
                     const std::string& json, bool create_only) = 0;
  // Returns false when there was nothing to delete.
  virtual Result<bool> Delete(const std::string& kind,
                              const std::string& name) = 0;
  // Documents of a kind in name order, starting after `after` (pagination).
  virtual Result<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& kind, const std::string& after, size_t limit) = 0;
};

}  // namespace sesame::store
