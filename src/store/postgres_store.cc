#include "store/postgres_store.h"

#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include "base/ids.h"
#include "base/log.h"

namespace sesame::store {
namespace {

constexpr int kPoolSize = 4;
// pg_advisory_lock's key for migrations: any constant both nodes share.
constexpr const char* kMigrationLock = "7365736d";  // "sesm"

// Each migration runs once, in order, in its own transaction; append new
// ones, never edit a released one (schema_migrations records the version).
const char* const kMigrations[] = {
    // 1: the documents, and a NOTIFY on every change for other nodes.
    "CREATE TABLE documents ("
    "  kind TEXT NOT NULL, name TEXT COLLATE \"C\" NOT NULL,"
    "  body TEXT NOT NULL,"
    "  updated_ms BIGINT NOT NULL, PRIMARY KEY (kind, name));"
    "CREATE FUNCTION sesame_notify() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    "  IF TG_OP = 'DELETE' THEN"
    "   PERFORM pg_notify('sesame_store', OLD.kind || E'\\t' || OLD.name);"
    "  ELSE"
    "   PERFORM pg_notify('sesame_store', NEW.kind || E'\\t' || NEW.name);"
    "  END IF;"
    "  RETURN NULL;"
    " END $$;"
    "CREATE TRIGGER documents_notify AFTER INSERT OR UPDATE OR DELETE ON "
    "documents FOR EACH ROW EXECUTE FUNCTION sesame_notify();",
};

// libpq's text names hosts and ports: it goes to the log (at most once a
// second, as an outage fails every request), and callers, who may be API
// clients, get a plain transient error.
std::string ErrorText(PGconn* c) {
  std::string why = c ? PQerrorMessage(c) : "out of memory";
  while (!why.empty() && (why.back() == '\n' || why.back() == ' '))
    why.pop_back();
  return why;
}

Error Unavailable(PGconn* c, const std::string& what) {
  static std::atomic<int64_t> last_logged{0};
  std::string why = ErrorText(c);
  int64_t now = time(nullptr);
  if (last_logged.exchange(now) != now)
    SESAME_LOG(kWarn, "store") << "PostgreSQL " << what << " failed: " << why;
  return Error::Transient("store-unavailable",
                          "the state store is unreachable; retry later");
}

// Runs one statement with text parameters; the result is the caller's.
struct Query {
  PGresult* r = nullptr;
  Query(PGconn* c, const char* sql, std::vector<const std::string*> params) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    for (const std::string* p : params) {
      values.push_back(p->c_str());
      lengths.push_back(static_cast<int>(p->size()));
    }
    r = PQexecParams(c, sql, static_cast<int>(params.size()), nullptr,
                     values.data(), lengths.data(), nullptr, 0);
  }
  ~Query() { PQclear(r); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  bool ok() const {
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  std::string State() const {
    const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s ? s : "";
  }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
  }
};

bool Exec(PGconn* c, const char* sql, std::string* why) {
  PGresult* r = PQexec(c, sql);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
            PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) *why = PQresultErrorMessage(r);
  PQclear(r);
  return ok;
}

PGconn* Connect(const std::string& dsn) {
  // A server that went away without a reset (a dead host, a dropped route)
  // would hold a connect for minutes of SYN retries, and a reconnect may
  // run on a thread that must not wait long: 3 s unless the DSN says
  // otherwise (later keywords win, so the DSN's own setting comes after).
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"3", dsn.c_str(), nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  // Notices (CREATE ... IF NOT EXISTS) are not errors: keep stderr quiet.
  if (c)
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
  return c;
}

}  // namespace

// A connection from the pool for one call: re-established first when the
// last call lost it, returned to the pool at the end of scope.
class PostgresStore::Lease {
 public:
  explicit Lease(PostgresStore* s) : s_(s), c_(s->Borrow()) {
    if (PQstatus(c_) != CONNECTION_OK) PQreset(c_);
  }
  ~Lease() { s_->Return(c_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  bool up() const { return PQstatus(c_) == CONNECTION_OK; }
  PGconn* get() const { return c_; }

 private:
  PostgresStore* s_;
  PGconn* c_;
};

PGconn* PostgresStore::Borrow() {
  std::unique_lock lock(mu_);
  returned_.wait(lock, [this] { return !idle_.empty() || open_ < kPoolSize; });
  if (!idle_.empty()) {
    PGconn* c = idle_.back();
    idle_.pop_back();
    return c;
  }
  ++open_;
  lock.unlock();  // connecting is a round trip: not under the pool's lock
  return Connect(dsn_);
}

void PostgresStore::Return(PGconn* c) {
  std::lock_guard lock(mu_);
  idle_.push_back(c);
  returned_.notify_one();
}

Result<std::pair<int, int>> PostgresStore::Migrate(const std::string& dsn) {
  PGconn* c = Connect(dsn);
  std::unique_ptr<PGconn, void (*)(PGconn*)> hold(c, PQfinish);
  // Run by an operator or at start-up: the whole of libpq's text.
  if (PQstatus(c) != CONNECTION_OK)
    return Error::Transient("store-unavailable",
                            "cannot connect to PostgreSQL: " + ErrorText(c));
  std::string why;
  std::string lock =
      std::string("SELECT pg_advisory_lock(x'") + kMigrationLock + "'::int)";
  if (!Exec(c, lock.c_str(), &why) ||
      !Exec(c,
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
            &why))
    return Error::Transient("store", "PostgreSQL migration: " + why);
  Query v(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
  if (!v.ok())
    return Error::Transient("store", "PostgreSQL migration: " + ErrorText(c));
  int version = std::stoi(v.Text(0, 0));
  const int latest = static_cast<int>(std::size(kMigrations));
  if (version > latest)
    return Error::Permanent(
        "store", "the PostgreSQL schema is at version " +
                     std::to_string(version) + ", newer than this Sesame's " +
                     std::to_string(latest) + ": upgrade Sesame");
  int applied = 0;
  for (; version < latest; ++version, ++applied) {
    std::string record = "INSERT INTO schema_migrations VALUES (" +
                         std::to_string(version + 1) + ", " +
                         std::to_string(int64_t(time(nullptr)) * 1000) + ")";
    if (!Exec(c, "BEGIN", &why) || !Exec(c, kMigrations[version], &why) ||
        !Exec(c, record.c_str(), &why) || !Exec(c, "COMMIT", &why)) {
      std::string ignored;
      Exec(c, "ROLLBACK", &ignored);
      return Error::Permanent("store", "PostgreSQL migration " +
                                           std::to_string(version + 1) +
                                           " failed: " + why);
    }
  }
  // The session's end releases the advisory lock.
  return std::make_pair(version, applied);
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(
    const std::string& dsn) {
  auto m = Migrate(dsn);
  if (!m.ok()) return m.error();
  return std::unique_ptr<PostgresStore>(new PostgresStore(dsn));
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& backend,
                                           const std::string& sqlite_path,
                                           const std::string& dsn) {
  if (backend != "postgres") return Open(sqlite_path);
  auto s = PostgresStore::Open(dsn);
  if (!s.ok()) return s.error();
  return std::unique_ptr<Store>(std::move(*s));
}

PostgresStore::~PostgresStore() {
  for (PGconn* c : idle_) PQfinish(c);
  if (listener_) PQfinish(listener_);
}

Result<std::optional<std::string>> PostgresStore::Get(const std::string& kind,
                                                      const std::string& name) {
  Lease c(this);
  if (!c.up()) return Unavailable(c.get(), "connection");
  Query q(c.get(), "SELECT body FROM documents WHERE kind = $1 AND name = $2",
          {&kind, &name});
  if (!q.ok()) return Unavailable(c.get(), "get");
  if (PQntuples(q.r) == 0) return std::optional<std::string>();
  return std::optional<std::string>(q.Text(0, 0));
}

Status PostgresStore::Put(const std::string& kind, const std::string& name,
                          const std::string& json, bool create_only) {
  Lease c(this);
  if (!c.up()) return Unavailable(c.get(), "connection");
  std::string now = std::to_string(int64_t(time(nullptr)) * 1000);
  Query q(c.get(),
          create_only
              ? "INSERT INTO documents (kind, name, body, updated_ms) "
                "VALUES ($1, $2, $3, $4)"
              : "INSERT INTO documents (kind, name, body, updated_ms) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (kind, name) DO UPDATE "
                "SET body = excluded.body, updated_ms = excluded.updated_ms",
          {&kind, &name, &json, &now});
  if (q.State() == "23505")  // unique_violation
    return Error::Permanent("exists", kind + " " + name + " already exists");
  if (!q.ok()) return Unavailable(c.get(), "put");
  return Ok{};
}

Result<bool> PostgresStore::Delete(const std::string& kind,
                                   const std::string& name) {
  Lease c(this);
  if (!c.up()) return Unavailable(c.get(), "connection");
  Query q(c.get(), "DELETE FROM documents WHERE kind = $1 AND name = $2",
          {&kind, &name});
  if (!q.ok()) return Unavailable(c.get(), "delete");
  return std::strcmp(PQcmdTuples(q.r), "0") != 0;
}

Result<std::vector<std::pair<std::string, std::string>>> PostgresStore::List(
    const std::string& kind, const std::string& after, size_t limit) {
  Lease c(this);
  if (!c.up()) return Unavailable(c.get(), "connection");
  std::string n = std::to_string(limit);
  // name is COLLATE "C": byte order, as SQLite's and the snapshot's map.
  Query q(c.get(),
          "SELECT name, body FROM documents WHERE kind = $1 AND name > $2 "
          "ORDER BY name LIMIT $3",
          {&kind, &after, &n});
  if (!q.ok()) return Unavailable(c.get(), "list");
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < PQntuples(q.r); ++i)
    out.emplace_back(q.Text(i, 0), q.Text(i, 1));
  return out;
}

Result<std::vector<std::string>> PostgresStore::Kinds() {
  Lease c(this);
  if (!c.up()) return Unavailable(c.get(), "connection");
  Query q(c.get(), "SELECT DISTINCT kind FROM documents ORDER BY kind", {});
  if (!q.ok()) return Unavailable(c.get(), "kinds");
  std::vector<std::string> out;
  for (int i = 0; i < PQntuples(q.r); ++i) out.push_back(q.Text(i, 0));
  return out;
}

// The leader's lock: a session-level advisory lock on the listener's
// connection. The server drops it with the session: at once when a node's
// process dies, and within the keepalives below (about 25 s) when its
// machine does, so another node leads within 30 s.
constexpr int64_t kLeaderLock = 0x5e5a3e1ead;

void PostgresStore::TryLead() {
  if (leader_.load() || !listener_) return;
  PGresult* r = PQexec(listener_, ("SELECT pg_try_advisory_lock(" +
                                   std::to_string(kLeaderLock) + ")")
                                      .c_str());
  bool won = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
             std::strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  PQclear(r);
  if (won) {
    leader_ = true;
    SESAME_LOG(kInfo, "store")
        << "this node now leads the cluster's periodic work";
  }
}

void PostgresStore::SetReachable(bool up) {
  if (up) {
    down_since_ms_.store(0);
  } else if (down_since_ms_.load() == 0) {
    down_since_ms_.store(NowMillis());
  }
}

Result<std::vector<Store::Change>> PostgresStore::WaitChanges(int timeout_ms) {
  std::vector<Change> out;
  if (!listener_ || PQstatus(listener_) != CONNECTION_OK) {
    if (listener_) PQfinish(listener_);
    listener_ = Connect(dsn_);
    std::string why;
    if (PQstatus(listener_) != CONNECTION_OK ||
        !Exec(listener_, "LISTEN sesame_store", &why)) {
      Error e = Unavailable(listener_, "LISTEN");
      PQfinish(listener_);
      listener_ = nullptr;
      leader_ = false;
      SetReachable(false);
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      return e;
    }
    // A node whose machine dies holds the leader's lock until the server
    // notices: bound that by server-side keepalives on this session.
    Exec(listener_,
         "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; "
         "SET tcp_keepalives_count = 3",
         &why);
    TryLead();
    // Whatever changed while nobody listened is unknown: resynchronise.
    SetReachable(true);
    out.push_back(Change{});
    return out;
  }
  // An idle socket does not notice a server that went away without
  // closing it: a cheap query every two seconds does.
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  if (now_ms - probed_ms_ >= 2000) {
    probed_ms_ = now_ms;
    std::string why;
    if (!Exec(listener_, "SELECT 1", &why)) {
      SetReachable(false);
      leader_ = false;  // the session, and with it the lock, may be gone
      Error e = Unavailable(listener_, "probe");
      PQfinish(listener_);
      listener_ = nullptr;
      return e;
    }
    TryLead();
  }
  pollfd p{PQsocket(listener_), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) < 0) return out;
  if (!PQconsumeInput(listener_)) {
    SetReachable(false);
    leader_ = false;
    return Unavailable(listener_, "LISTEN");
  }
  while (PGnotify* n = PQnotifies(listener_)) {
    std::string payload = n->extra;
    PQfreemem(n);
    size_t tab = payload.find('\t');
    if (tab == std::string::npos) continue;
    out.push_back(Change{payload.substr(0, tab), payload.substr(tab + 1)});
  }
  return out;
}

}  // namespace sesame::store
