#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sesame::store {

// The state store: named JSON documents by kind (identity, template,
// configuration set, suppressed destination, ...). SQLite in WAL mode; the
// SQL is plain enough to move to PostgreSQL unchanged. Writes are durable
// when they return.
//
// Owned by the app. Thread-safe: one connection behind a mutex (state
// changes are rare; sends read cached copies in the services).
class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();

  Result<std::optional<std::string>> Get(const std::string& kind,
                                         const std::string& name);
  // create_only: fail with code "exists" when the document is already there.
  Status Put(const std::string& kind, const std::string& name,
             const std::string& json, bool create_only);
  // Returns false when there was nothing to delete.
  Result<bool> Delete(const std::string& kind, const std::string& name);
  // Documents of a kind in name order, starting after `after` (pagination).
  Result<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& kind, const std::string& after, size_t limit);

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  std::mutex mu_;
  sqlite3* db_;
  sqlite3_stmt* get_stmt_ = nullptr;  // Get's statement, prepared once
};

}  // namespace sesame::store
