#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "spool/record.h"

struct sqlite3;

namespace sesame::delivery {

// What is kept of an outbound message after it left the queue, so that
// feedback arriving later (an asynchronous bounce or a complaint, the
// normal case) is published to the right configuration set's destinations
// with the mail object SES sends: the metadata and the header block.
//
// Kept in <data_dir>/sent.db (SQLite, WAL) for `retention_ms`, keyed by
// message id. Record() never blocks the caller on disk: it queues the entry
// for a writer thread that inserts in batches of one transaction (losing the
// last batch to a crash only loses late-feedback mapping, never mail).
// Lookup() is a point read on the caller's own connection.
//
// Owned by the engine. Record() and Lookup() are thread-safe; Lookup() is
// meant for the rare inbound-feedback path, not per message.
class SentIndex {
 public:
  struct Entry {
    spool::MessageMeta meta;
    std::string header_block;
  };
  SentIndex() = default;
  ~SentIndex();
  SentIndex(const SentIndex&) = delete;
  SentIndex& operator=(const SentIndex&) = delete;

  Status Open(const std::string& path, int64_t retention_ms);
  void Record(const spool::MessageMeta& meta, std::string header_block);
  std::optional<Entry> Lookup(const std::string& message_id);

  // Message search (the dashboard): newest first, messages created in
  // [since_ms, until_ms) that `match` accepts, after `cursor` (the previous
  // page's `next`; "" for the newest), at most `limit`. One call reads at
  // most `max_scan` rows; `next` is empty when nothing is left. Entries
  // still in the writer's queue are not searched (at most a batch, about a
  // second). Blocks Lookup() meanwhile: for an operator's query, not mail.
  struct Found {
    std::string id;
    Entry entry;
  };
  struct Page {
    std::vector<Found> items;
    std::string next;
    size_t scanned = 0;
  };
  Page Search(int64_t since_ms, int64_t until_ms, const std::string& cursor,
              size_t limit, size_t max_scan,
              const std::function<bool(const Entry&)>& match);
  // Flushes queued entries and stops the writer.
  void Close();

 private:
  void WriterLoop();
  void WriteBatch(std::vector<std::pair<std::string, Entry>>& batch);

  int64_t retention_ms_ = 0;
  sqlite3* write_db_ = nullptr;  // the writer thread's
  sqlite3* read_db_ = nullptr;   // Lookup's, under read_mu_
  std::mutex read_mu_;
  std::mutex mu_;  // guards queue_ and stop_; held for a push or a swap
  std::condition_variable cv_;
  std::vector<std::pair<std::string, Entry>> queue_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace sesame::delivery
