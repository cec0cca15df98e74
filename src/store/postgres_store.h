#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

struct pg_conn;

namespace sesame::store {

// The PostgreSQL backend, shared by several nodes: the same documents table
// as SqliteStore, created and migrated by versioned migrations (Migrate),
// and a trigger that NOTIFYs channel `sesame_store` with "kind\tname" on
// every change, whoever makes it, so each node's snapshot follows the
// others' writes (WaitChanges).
//
// Thread-safe: a small pool of connections, each used by one thread at a
// time (libpq connections are not thread-safe); WaitChanges has its own
// connection and is called by one thread (SnapshotStore's follower). A lost
// connection is re-established on the next call; until then every call
// fails with a transient "store-unavailable" error.
class PostgresStore : public Store {
 public:
  // Connects to `dsn` (a libpq connection string or URI) and runs the
  // migrations still missing.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& dsn);
  // Applies the migrations `dsn`'s database lacks, under an advisory lock
  // so two nodes starting at once do not both migrate. Returns the schema
  // version after, and the number applied.
  static Result<std::pair<int, int>> Migrate(const std::string& dsn);
  ~PostgresStore() override;

  Result<std::optional<std::string>> Get(const std::string& kind,
                                         const std::string& name) override;
  Status Put(const std::string& kind, const std::string& name,
             const std::string& json, bool create_only) override;
  Result<bool> Delete(const std::string& kind,
                      const std::string& name) override;
  Result<std::vector<std::pair<std::string, std::string>>> List(
      const std::string& kind, const std::string& after, size_t limit) override;
  Result<std::vector<std::string>> Kinds() override;
  bool Shared() const override { return true; }
  Result<std::vector<Change>> WaitChanges(int timeout_ms) override;
  // What the LISTEN connection last saw: it probes the server every two
  // seconds while idle, so an outage shows within about that.
  int64_t UnreachableSinceMs() override { return down_since_ms_.load(); }
  bool IsLeader() override { return leader_.load(); }

 private:
  explicit PostgresStore(std::string dsn) : dsn_(std::move(dsn)) {}
  class Lease;  // one pooled connection, borrowed for one call
  pg_conn* Borrow();
  void Return(pg_conn* c);

  const std::string dsn_;
  std::mutex mu_;  // guards idle_ and open_
  std::condition_variable returned_;
  std::vector<pg_conn*> idle_;
  int open_ = 0;                 // connections made, idle or lent
  pg_conn* listener_ = nullptr;  // WaitChanges' own, LISTENing
  int64_t probed_ms_ = 0;        // the listener's last SELECT 1
  // 0 while reachable; set by the LISTEN connection (SetReachable).
  std::atomic<int64_t> down_since_ms_{0};
  // The listener session holds pg_advisory_lock(kLeaderLock) (tried at each
  // probe while it does not); losing the session loses it.
  std::atomic<bool> leader_{false};
  void TryLead();
  void SetReachable(bool up);
};

}  // namespace sesame::store
