#pragma once

#include <mutex>

#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sesame::store {

// The SQLite backend: one table of documents in WAL mode with
// synchronous=FULL; the SQL is plain enough to move to PostgreSQL
// unchanged.
//
// Thread-safe with two connections: writes go through one (its mutex is
// held across the commit's fsync), reads through the other, so a reader
// never waits behind a writer's fsync — WAL lets them run at once.
class SqliteStore : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  Result<std::optional<std::string>> Get(const std::string& kind,
                                         const std::string& name) override;
  Status Put(const std::string& kind, const std::string& name,
             const std::string& json, bool create_only) override;
  Result<bool> Delete(const std::string& kind,
                      const std::string& name) override;
  Result<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& kind, const std::string& after, size_t limit) override;
  Result<std::vector<std::string>> Kinds() override;

 private:
  SqliteStore(sqlite3* writer, sqlite3* reader)
      : db_(writer), reader_(reader) {}
  std::mutex mu_;  // guards db_ (writes)
  sqlite3* db_;
  std::mutex read_mu_;  // guards reader_ and get_stmt_
  sqlite3* reader_;
  sqlite3_stmt* get_stmt_ = nullptr;  // Get's statement, prepared once
};

}  // namespace sesame::store
