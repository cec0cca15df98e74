#include "delivery/sent_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "base/ids.h"
#include "base/log.h"

namespace sesame::delivery {
namespace {

constexpr char kLog[] = "sent-index";
constexpr size_t kMaxHeaderBlock = 16 * 1024;

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "sqlite error";
    sqlite3_free(err);
    return Error::Transient("sent-index", m);
  }
  return Ok{};
}

Result<sqlite3*> OpenDb(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(
          path.c_str(), &db,
          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
          nullptr) != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "cannot open";
    sqlite3_close(db);
    return Error::Transient("sent-index", path + ": " + m);
  }
  // NORMAL: a crash may lose the last transactions, which only costs the
  // mapping of late feedback for those messages.
  Status s = Exec(db,
                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                  "PRAGMA busy_timeout=5000;");
  if (!s.ok()) {
    sqlite3_close(db);
    return s.error();
  }
  return db;
}

}  // namespace

SentIndex::~SentIndex() { Close(); }

Status SentIndex::Open(const std::string& path, int64_t retention_ms) {
  retention_ms_ = retention_ms;
  auto w = OpenDb(path);
  if (!w.ok()) return w.error();
  write_db_ = *w;
  Status s =
      Exec(write_db_,
           "CREATE TABLE IF NOT EXISTS sent (id TEXT PRIMARY KEY, "
           "created_ms INTEGER NOT NULL, meta BLOB NOT NULL, "
           "headers BLOB NOT NULL);"
           "CREATE INDEX IF NOT EXISTS sent_created ON sent(created_ms);");
  if (!s.ok()) return s;
  auto r = OpenDb(path);
  if (!r.ok()) return r.error();
  read_db_ = *r;
  writer_ = std::thread([this] { WriterLoop(); });
  return Ok{};
}

void SentIndex::Record(const spool::MessageMeta& meta,
                       std::string header_block) {
  if (!write_db_) return;
  if (header_block.size() > kMaxHeaderBlock)
    header_block.resize(kMaxHeaderBlock);
  std::lock_guard lock(mu_);
  queue_.emplace_back(meta.id, Entry{meta, std::move(header_block)});
  if (queue_.size() == 1) cv_.notify_one();
}

void SentIndex::WriterLoop() {
  std::vector<std::pair<std::string, Entry>> batch;
  int64_t last_prune = 0;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5),
                   [&] { return stop_ || !queue_.empty(); });
      batch.swap(queue_);
      if (stop_ && batch.empty()) return;
    }
    if (!batch.empty()) WriteBatch(batch);
    batch.clear();
    int64_t now = NowMillis();
    if (now - last_prune > 60'000) {
      last_prune = now;
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(write_db_, "DELETE FROM sent WHERE created_ms < ?", -1,
                         &st, nullptr);
      sqlite3_bind_int64(st, 1, now - retention_ms_);
      sqlite3_step(st);
      sqlite3_finalize(st);
    }
  }
}

void SentIndex::WriteBatch(std::vector<std::pair<std::string, Entry>>& batch) {
  (void)Exec(write_db_, "BEGIN");
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(write_db_,
                     "INSERT OR REPLACE INTO sent VALUES (?, ?, ?, ?)", -1, &st,
                     nullptr);
  for (const auto& [id, e] : batch) {
    std::string meta = spool::EncodeMeta(e.meta);
    sqlite3_bind_text(st, 1, id.data(), static_cast<int>(id.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, e.meta.created_ms);
    sqlite3_bind_blob(st, 3, meta.data(), static_cast<int>(meta.size()),
                      SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, e.header_block.data(),
                      static_cast<int>(e.header_block.size()), SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
      SESAME_LOG(kWarn, kLog) << "insert: " << sqlite3_errmsg(write_db_);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (Status s = Exec(write_db_, "COMMIT"); !s.ok())
    SESAME_LOG(kWarn, kLog) << "commit: " << s.error().message();
}

std::optional<SentIndex::Entry> SentIndex::Lookup(const std::string& id) {
  {
    // Not yet written: the writer's queue first.
    std::lock_guard lock(mu_);
    for (auto it = queue_.rbegin(); it != queue_.rend(); ++it) {
      if (it->first == id) return it->second;
    }
  }
  std::lock_guard lock(read_mu_);
  if (!read_db_) return std::nullopt;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(read_db_, "SELECT meta, headers FROM sent WHERE id = ?",
                     -1, &st, nullptr);
  sqlite3_bind_text(st, 1, id.data(), static_cast<int>(id.size()),
                    SQLITE_STATIC);
  std::optional<Entry> out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    std::string_view meta(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                          static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    auto m = spool::DecodeMeta(meta);
    if (m.ok()) {
      const char* h = static_cast<const char*>(sqlite3_column_blob(st, 1));
      out = Entry{std::move(*m),
                  h ? std::string(h, sqlite3_column_bytes(st, 1)) : ""};
    }
  }
  sqlite3_finalize(st);
  return out;
}

// The cursor is "<created_ms>:<id>" of the last row read: rows sort by
// (created_ms, id) descending, so a page goes on exactly where the last
// stopped, also among messages of the same millisecond.
SentIndex::Page SentIndex::Search(
    int64_t since_ms, int64_t until_ms, const std::string& cursor, size_t limit,
    size_t max_scan, const std::function<bool(const Entry&)>& match) {
  Page page;
  int64_t before_ms = until_ms;
  std::string before_id = "\x7f";  // above every id: the whole millisecond
  if (size_t colon = cursor.find(':'); colon != std::string::npos) {
    before_ms = std::min<int64_t>(until_ms,
                                  std::atoll(cursor.substr(0, colon).c_str()));
    before_id = cursor.substr(colon + 1);
  }
  std::lock_guard lock(read_mu_);
  if (!read_db_) return page;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(
      read_db_,
      "SELECT id, created_ms, meta, headers FROM sent WHERE created_ms >= ? "
      "AND (created_ms < ? OR (created_ms = ? AND id < ?)) "
      "ORDER BY created_ms DESC, id DESC",
      -1, &st, nullptr);
  sqlite3_bind_int64(st, 1, since_ms);
  sqlite3_bind_int64(st, 2, before_ms);
  sqlite3_bind_int64(st, 3, before_ms);
  sqlite3_bind_text(st, 4, before_id.data(), static_cast<int>(before_id.size()),
                    SQLITE_TRANSIENT);
  std::string last;
  bool more = false;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (page.items.size() >= limit || page.scanned >= max_scan) {
      more = true;
      break;
    }
    ++page.scanned;
    const char* id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    std::string row_id = id ? id : "";
    last = std::to_string(sqlite3_column_int64(st, 1)) + ":" + row_id;
    std::string_view meta(static_cast<const char*>(sqlite3_column_blob(st, 2)),
                          static_cast<size_t>(sqlite3_column_bytes(st, 2)));
    auto m = spool::DecodeMeta(meta);
    if (!m.ok()) continue;
    const char* h = static_cast<const char*>(sqlite3_column_blob(st, 3));
    Entry e{std::move(*m),
            h ? std::string(h, sqlite3_column_bytes(st, 3)) : ""};
    if (match(e)) page.items.push_back({row_id, std::move(e)});
  }
  sqlite3_finalize(st);
  if (more) page.next = last;
  return page;
}

void SentIndex::Close() {
  if (writer_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    writer_.join();
  }
  if (write_db_) sqlite3_close(write_db_);
  write_db_ = nullptr;
  std::lock_guard lock(read_mu_);
  if (read_db_) sqlite3_close(read_db_);
  read_db_ = nullptr;
}

}  // namespace sesame::delivery
