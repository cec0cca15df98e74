#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/blob.h"
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
  // A document another process changed (kind and name), or, with both
  // empty, "anything may have changed" (after a lost connection).
  struct Change {
    std::string kind, name;
  };

  virtual ~Store() = default;

  // Opens the SQLite backend at `path` (created if absent).
  static Result<std::unique_ptr<Store>> Open(const std::string& path);
  // Opens the configured backend: "postgres" at libpq `dsn` (migrating its
  // schema), else SQLite at `sqlite_path`.
  static Result<std::unique_ptr<Store>> Open(const std::string& backend,
                                             const std::string& sqlite_path,
                                             const std::string& dsn);

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

  // The kinds that have documents, in byte order (sesame store import).
  virtual Result<std::vector<std::string>> Kinds() {
    return Error::Permanent("store", "this store cannot list its kinds");
  }

  // Whether the backend answers now (for /ready). An embedded one always
  // does while the process can read its file.
  virtual bool Reachable() { return UnreachableSinceMs() == 0; }
  // When the backend was first seen unreachable (epoch ms) in the outage
  // going on now; 0 while it is reachable.
  virtual int64_t UnreachableSinceMs() { return 0; }
  // True while this process is the one of its cluster that runs periodic
  // work (identity verification, alarm evaluation, retention): always for
  // an unshared backend; with PostgreSQL, while this node holds the
  // leader's advisory lock (released by the server when the node dies).
  virtual bool IsLeader() { return true; }
  // True when other processes (other nodes) write the same documents, so a
  // cache in front must follow WaitChanges.
  virtual bool Shared() const { return false; }
  // Changes when another process may have changed a document (never for an
  // unshared backend): caches derived from documents compare it.
  virtual uint64_t Generation() const { return 0; }
  // Changes made by others since the last call, waiting up to `timeout_ms`
  // for the first. Called by one thread. Unshared backends have none.
  virtual Result<std::vector<Change>> WaitChanges(int timeout_ms) {
    (void)timeout_ms;
    return std::vector<Change>{};
  }
};

// Document `name` of kind "blob" in `store`, as a Blob: how the access keys
// and IAM state are shared by a cluster's nodes. Wrap a SnapshotStore that
// holds "blob" so a read of an unchanged document costs a counter compare
// (the store's Generation), never a round trip. `store` outlives the blob.
// `fresh` (the backend behind the snapshot) serves ReadThrough's reads.
std::unique_ptr<Blob> DocumentBlob(Store* store, std::string name,
                                   Store* fresh = nullptr);

}  // namespace sesame::store
