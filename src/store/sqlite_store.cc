#include "store/sqlite_store.h"

#include <sqlite3.h>

namespace sesame::store {
namespace {

Error Fail(sqlite3* db, const std::string& what) {
  return Error::Transient(
      "store", what + ": " + (db ? sqlite3_errmsg(db) : "no database"));
}

// RAII for a prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  sqlite3_stmt* get() { return s_; }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(s_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           sqlite3_column_bytes(s_, col))
             : "";
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  auto s = SqliteStore::Open(path);
  if (!s.ok()) return s.error();
  return std::unique_ptr<Store>(std::move(*s));
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(
          path.c_str(), &db,
          SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
          nullptr) != SQLITE_OK) {
    Error e = Fail(db, "cannot open " + path);
    sqlite3_close(db);
    return e;
  }
  const char* setup =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "PRAGMA busy_timeout=5000;"
      "CREATE TABLE IF NOT EXISTS documents ("
      "  kind TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL, "
      "updated_ms BIGINT NOT NULL,"
      "  PRIMARY KEY (kind, name));";
  char* err = nullptr;
  if (sqlite3_exec(db, setup, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    sqlite3_close(db);
    return Error::Permanent("store", "cannot initialise " + path + ": " + msg);
  }
  sqlite3* reader = nullptr;
  if (sqlite3_open_v2(path.c_str(), &reader,
                      SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK ||
      sqlite3_exec(reader, "PRAGMA busy_timeout=5000;", nullptr, nullptr,
                   nullptr) != SQLITE_OK) {
    Error e = Fail(reader, "cannot open " + path + " for reading");
    sqlite3_close(reader);
    sqlite3_close(db);
    return e;
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(db, reader));
}

SqliteStore::~SqliteStore() {
  sqlite3_finalize(get_stmt_);
  sqlite3_close(reader_);
  sqlite3_close(db_);
}

Result<std::optional<std::string>> SqliteStore::Get(const std::string& kind,
                                                    const std::string& name) {
  std::lock_guard<std::mutex> lock(read_mu_);
  // Reads are on the mail and event paths (suppression, configuration sets,
  // event destinations): the statement is prepared once, not parsed per call.
  if (!get_stmt_ &&
      sqlite3_prepare_v3(
          reader_, "SELECT body FROM documents WHERE kind = ?1 AND name = ?2",
          -1, SQLITE_PREPARE_PERSISTENT, &get_stmt_, nullptr) != SQLITE_OK)
    return Fail(reader_, "get");
  sqlite3_stmt* st = get_stmt_;
  sqlite3_bind_text(st, 1, kind.data(), static_cast<int>(kind.size()),
                    SQLITE_STATIC);
  sqlite3_bind_text(st, 2, name.data(), static_cast<int>(name.size()),
                    SQLITE_STATIC);
  int rc = sqlite3_step(st);
  Result<std::optional<std::string>> out = std::optional<std::string>();
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    out = std::optional<std::string>(
        t ? std::string(reinterpret_cast<const char*>(t),
                        sqlite3_column_bytes(st, 0))
          : "");
  } else if (rc != SQLITE_DONE) {
    out = Fail(reader_, "get");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

Status SqliteStore::Put(const std::string& kind, const std::string& name,
                        const std::string& json, bool create_only) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, create_only ? "INSERT INTO documents (kind, name, body, "
                            "updated_ms) VALUES (?1, ?2, ?3, ?4)"
                          : "INSERT INTO documents (kind, name, body, "
                            "updated_ms) VALUES (?1, ?2, ?3, ?4) "
                            "ON CONFLICT (kind, name) DO UPDATE SET body = "
                            "excluded.body, updated_ms = excluded.updated_ms");
  s.Bind(1, kind);
  s.Bind(2, name);
  s.Bind(3, json);
  s.Bind(4, static_cast<int64_t>(sqlite3_int64(time(nullptr)) * 1000));
  int rc = sqlite3_step(s.get());
  if (rc == SQLITE_CONSTRAINT)
    return Error::Permanent("exists", kind + " " + name + " already exists");
  if (rc != SQLITE_DONE) return Fail(db_, "put");
  return Ok{};
}

Result<bool> SqliteStore::Delete(const std::string& kind,
                                 const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "DELETE FROM documents WHERE kind = ?1 AND name = ?2");
  s.Bind(1, kind);
  s.Bind(2, name);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Fail(db_, "delete");
  return sqlite3_changes(db_) > 0;
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::List(
    const std::string& kind, const std::string& after, size_t limit) {
  std::lock_guard<std::mutex> lock(read_mu_);
  Stmt s(reader_,
         "SELECT name, body FROM documents WHERE kind = ?1 AND name > ?2 ORDER "
         "BY name LIMIT ?3");
  s.Bind(1, kind);
  s.Bind(2, after);
  s.Bind(3, static_cast<int64_t>(limit));
  std::vector<std::pair<std::string, std::string>> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW)
    out.emplace_back(s.Text(0), s.Text(1));
  if (rc != SQLITE_DONE) return Fail(reader_, "list");
  return out;
}

Result<std::vector<std::string>> SqliteStore::Kinds() {
  std::lock_guard<std::mutex> lock(read_mu_);
  Stmt s(reader_, "SELECT DISTINCT kind FROM documents ORDER BY kind");
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(s.Text(0));
  if (rc != SQLITE_DONE) return Fail(reader_, "kinds");
  return out;
}

}  // namespace sesame::store
