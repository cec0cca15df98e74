// The outbound engine. All Asio code of delivery lives in this translation
// unit to keep compile times low.
#include "delivery/engine.h"

#include <fcntl.h>
#include <malloc.h>
#include <openssl/ssl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <memory_resource>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/histogram.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/shared_limits.h"
#include "delivery/dsn.h"
#include "delivery/policy.h"
#include "delivery/sent_index.h"
#include "delivery/ses_events.h"
#include "delivery/verp.h"
#include "feedback/report.h"
#include "smtp/address.h"
#include "smtp/client_protocol.h"
#include "smtp/client_session.h"

namespace sesame::delivery {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using spool::RecipientStatus;

namespace {

constexpr char kLog[] = "delivery";
constexpr char kEgress[] = "default";

std::string DomainOf(const std::string& address) {
  size_t at = address.rfind('@');
  return smtp::AsciiLower(at == std::string::npos ? ""
                                                  : address.substr(at + 1));
}

// One recipient's result of one attempt.
struct RcptResult {
  int index = 0;
  int code = 0;  // SMTP reply code, synthesized where no peer answered
  std::string response;
  bool dead_letter = false;  // cannot be processed: goes to the DLQ
};

struct Target {
  std::string host;
  std::string address;
  uint16_t port = 25;
};

// A job's recipient indexes (16 bytes): up to four inline, as nearly every
// job has; more on the heap, in a block sized to a power of two.
class RcptList {
 public:
  RcptList() = default;
  RcptList(std::initializer_list<uint16_t> l) {
    for (uint16_t i : l) push_back(i);
  }
  RcptList(const RcptList& o) { *this = o; }
  RcptList(RcptList&& o) noexcept { *this = std::move(o); }
  RcptList& operator=(const RcptList& o) {
    if (this == &o) return *this;
    Clear();
    for (uint16_t i : o) push_back(i);
    return *this;
  }
  RcptList& operator=(RcptList&& o) noexcept {
    if (this == &o) return *this;
    Clear();
    n_ = std::exchange(o.n_, 0);
    std::memcpy(&u_, &o.u_, sizeof u_);
    return *this;
  }
  ~RcptList() { Clear(); }

  void push_back(uint16_t i) {
    if (n_ < kInline) {
      u_.inline_[n_++] = i;
      return;
    }
    if (n_ == kInline || (n_ & (n_ - 1)) == 0) {  // full: double
      uint16_t* grown = new uint16_t[size_t(n_) * 2];
      std::memcpy(grown, data(), n_ * sizeof(uint16_t));
      if (n_ > kInline) delete[] u_.heap;
      u_.heap = grown;
    }
    u_.heap[n_++] = i;
  }
  const uint16_t* begin() const { return data(); }
  const uint16_t* end() const { return data() + n_; }
  uint16_t operator[](size_t k) const { return data()[k]; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }

 private:
  static constexpr uint32_t kInline = 4;
  const uint16_t* data() const { return n_ > kInline ? u_.heap : u_.inline_; }
  void Clear() {
    if (n_ > kInline) delete[] u_.heap;
    n_ = 0;
  }
  uint32_t n_ = 0;
  union {
    uint16_t inline_[kInline];
    uint16_t* heap;
  } u_{};
};

}  // namespace

struct Engine::Impl {
  Impl(const config::Config& c, spool::Spool* s, dns::Resolver* r)
      : config(c),
        policy(c.delivery),
        spool(s),
        resolver(r),
        ssl_ctx(ssl::context::tls_client),
        timer(loop),
        rng(std::random_device{}()) {
    ssl_ctx.set_verify_mode(
        ssl::verify_none);  // opportunistic TLS: encryption, not authentication
    SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
    ehlo_name =
        c.delivery.ehlo_name.empty() ? c.hostname : c.delivery.ehlo_name;
  }

  // --- state (engine thread only) ---------------------------------------
  SentIndex* sent_index = nullptr;  // retired outbound messages (the app's)
  // One queued message: the compact record every queued message has (24
  // bytes under its 24-byte key; docs/architecture.md counts the cost).
  struct Msg {
    // The whole metadata while the message is worked on (an attempt, its
    // outcome, an admin change); null while it waits: Load() reads it back
    // from the spool, PageOut() drops it.
    std::unique_ptr<spool::MessageMeta> meta;
    int64_t created_ms = 0;
    uint16_t config_set = 0;  // index into config_sets
    uint16_t jobs = 0;  // scheduled, routing or in a ready queue/connection
    uint16_t dead = 0;  // recipients in the dead-letter queue
    // State records written but not yet durable: until they are, the spool
    // still has the older state, so the metadata stays in memory.
    uint8_t unsynced = 0;
    bool queued : 1 = false;    // a recipient is still queued
    bool page_out : 1 = false;  // PageOut() once the states are durable
  };
  static_assert(sizeof(Msg) == 24);
  // Pooled nodes (msg_pool): packed, no allocator header each.
  using Messages =
      std::pmr::unordered_map<spool::MessageKey, Msg, spool::MessageKeyHash>;
  using MsgEntry = Messages::value_type;
  // One message's recipients at one domain (64 bytes). Jobs point at their
  // message's entry: a message leaves `messages` only when its job count
  // is zero.
  struct Job {
    MsgEntry* msg = nullptr;
    const std::string* domain = nullptr;  // interned
    RcptList rcpts;
    int64_t due_ms = 0;
    int64_t expires_ms = 0;  // when every recipient of the job has expired
  };
  static_assert(sizeof(Job) == 48);
  // A scheduled queue: a min-heap on due_ms (a deque, so a million jobs
  // cost no node per job and no reallocation spike).
  struct JobHeap {
    std::deque<Job> jobs;
    // Earliest due first; among equals (a recovered backlog never tried)
    // the oldest message.
    static bool Later(const Job& a, const Job& b) {
      return a.due_ms != b.due_ms
                 ? a.due_ms > b.due_ms
                 : a.msg->second.created_ms > b.msg->second.created_ms;
    }
    void Push(Job j) {
      jobs.push_back(std::move(j));
      std::push_heap(jobs.begin(), jobs.end(), Later);
    }
    Job Pop() {
      std::pop_heap(jobs.begin(), jobs.end(), Later);
      Job j = std::move(jobs.back());
      jobs.pop_back();
      return j;
    }
    int64_t NextDue() const { return jobs.front().due_ms; }
    bool empty() const { return jobs.empty(); }
    size_t size() const { return jobs.size(); }
  };
  struct Site {
    std::string key;
    const config::Route* route = nullptr;
    std::vector<Target> targets;
    std::vector<std::string> host_names;
    config::Shaping shaping;
    std::deque<Job> ready;
    int connections = 0;
    std::vector<asio::steady_timer*> idle;  // connections waiting for work
    double tokens_sec = 0, tokens_hour = 0;
    int64_t refill_ms = 0;
    int64_t suspended_until_ms = 0;
    int64_t ramp_from_ms = 0;
    uint32_t ramp_seconds = 0;
    bool ramp_pump_armed = false;  // a timer will Pump at the next ramp step
    bool wake_armed = false;       // a timer will Pump when a pause ends
    // Every host refused or timed out this many times in a row: the site is
    // down, suspended for its back-off interval, and a single probe
    // connection decides when it resumes. 0: up.
    uint32_t down_failures = 0;
    std::string last_error;  // why it is down, for parked jobs and /admin
    // No job in `ready` expires before this (a lower bound, tightened when
    // the parked jobs are scanned): while a site is down, the parked jobs
    // are scanned for expiry only when one may have expired.
    int64_t ready_expiry_ms = INT64_MAX;
    uint64_t generation =
        0;  // bumped on failback: connections to a non-preferred host retire
    uint64_t opened = 0, deliveries = 0;
    int peak_connections = 0;
    // Shared limits: a lease was refused (every slot is held by the
    // cluster); no new connection is tried before this.
    int64_t lease_wait_until_ms = 0;
    // Dedicated source addresses (a sending pool's), used in turn; empty:
    // delivery.source_address or the kernel's choice.
    std::vector<std::string> sources;
    size_t next_source = 0;
  };

  const config::Config& config;
  Policy policy;
  spool::Spool* spool;
  dns::Resolver* resolver;
  admission::Admission* admission = nullptr;  // DSNs enter through it
  capture::Mailbox* mailbox = nullptr;        // capture mode files here
  // Cluster-wide shaping (Redis): connection slots and rates are asked of
  // it; null: the in-process limits alone.
  SharedLimits* shared = nullptr;
  asio::io_context loop{1};
  ssl::context ssl_ctx;
  asio::steady_timer timer;    // fires at the earliest scheduled job
  bool timer_pending = false;  // a wait is armed, for timer_due_ms
  int64_t timer_due_ms = 0;
  std::thread thread;
  std::mt19937_64 rng;
  std::string ehlo_name;
  std::string verp_key;
  EngineHooks hooks;
  // Configuration set index -> (when fetched, its pool's addresses).
  std::unordered_map<uint16_t, std::pair<int64_t, std::vector<std::string>>>
      source_cache;
  feedback::Classifier classifier = feedback::Classifier::Default();
  std::atomic<bool> stopping{false};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      guard;

  std::pmr::unsynchronized_pool_resource msg_pool;
  Messages messages{&msg_pool};
  size_t dead_total = 0;  // the sum of every Msg::dead
  // Domains and configuration set names, one copy each for all jobs and
  // messages (kept for the process's life: bounded by the distinct names).
  std::unordered_set<std::string> interned;
  // Configuration set names by Msg::config_set (0 is "").
  std::vector<const std::string*> config_sets{Intern("")};
  std::unordered_map<std::string_view, uint16_t> config_set_index{{"", 0}};
  // Scheduled queues keyed by "configuration set|domain"; `next_due` indexes
  // each queue's earliest job so the timer needs only the global minimum.
  std::map<std::string, JobHeap> scheduled;
  std::set<std::pair<int64_t, std::string>> next_due;
  std::map<std::string, std::shared_ptr<Site>> sites;  // "egress|site"
  std::map<std::string, bool> host_health;  // static route "host:port" -> up
  int outcomes_fd = -1;
  std::string outcome_buf;

  // Counters for /metrics.
  uint64_t n_delivered = 0, n_deferred = 0, n_failed = 0, n_expired = 0,
           n_dead = 0, n_dsn = 0, n_attempts = 0, n_suppressed = 0,
           n_tls_connections = 0;
  // Acceptance to delivery, per delivered recipient.
  Histogram delivery_latency;

  static int64_t Now() { return NowMillis(); }

  // --- scheduling -------------------------------------------------------
  const std::string* Intern(const std::string& name) {
    return &*interned.insert(name).first;
  }
  uint16_t ConfigSetIndex(const std::string& name) {
    auto it = config_set_index.find(name);
    if (it != config_set_index.end()) return it->second;
    if (config_sets.size() > UINT16_MAX) {
      // Far past SES's limit of configuration sets per account.
      SESAME_LOG(kError, kLog) << "too many configuration sets; " << name
                               << " is scheduled under the default one";
      return 0;
    }
    const std::string* s = Intern(name);
    config_sets.push_back(s);
    return config_set_index[*s] = static_cast<uint16_t>(config_sets.size() - 1);
  }
  const std::string& ConfigSetOf(const Msg& m) const {
    return *config_sets[m.config_set];
  }

  // The message's metadata, read back from the spool when it was paged out;
  // nullptr (logged) when it cannot be read.
  spool::MessageMeta* Load(MsgEntry& e) {
    Msg& m = e.second;
    m.page_out = false;  // in use again
    if (m.meta) return m.meta.get();
    auto info = spool->Find(e.first.ToId());
    if (!info.ok()) {
      SESAME_LOG(kError, kLog)
          << "cannot read queued message " << e.first.ToId() << ": "
          << info.error().message();
      return nullptr;
    }
    m.meta = std::make_unique<spool::MessageMeta>(std::move(info->meta));
    return m.meta.get();
  }
  static void PageOut(Msg& m) {
    m.page_out = m.unsynced > 0;
    if (!m.page_out) m.meta.reset();
  }

  // Writes the message's recipient states to the spool and refreshes its
  // counters; the metadata may be paged out once the write is durable.
  void PersistState(MsgEntry& e) {
    Msg& m = e.second;
    Recount(m);
    m.page_out = false;
    if (m.unsynced < UINT8_MAX) ++m.unsynced;
    spool->UpdateState(m.meta->id, m.meta->recipients,
                       [this, key = e.first](Status) {
                         asio::post(loop, [this, key] {
                           auto it = messages.find(key);
                           if (it == messages.end() || it->second.unsynced == 0)
                             return;
                           Msg& m = it->second;
                           if (--m.unsynced == 0 && m.page_out) PageOut(m);
                         });
                       });
  }

  // Refreshes the compact counters after recipient states changed.
  void Recount(Msg& m) { Recount(m, m.meta->recipients); }
  void Recount(Msg& m, const std::vector<spool::Recipient>& recipients) {
    uint16_t dead = 0;
    bool queued = false;
    for (const auto& r : recipients) {
      dead += r.status == RecipientStatus::kDeadLetter;
      queued |= r.status == RecipientStatus::kQueued;
    }
    dead_total = dead_total - m.dead + dead;
    m.dead = dead;
    m.queued = queued;
  }

  int64_t DefaultExpiry(const Msg& m) const {
    return m.created_ms +
           int64_t(policy.MaxDeliverySeconds(ConfigSetOf(m))) * 1000;
  }
  int64_t ExpiryOf(const Msg& m, const spool::Recipient& r) const {
    return r.expires_ms ? r.expires_ms : DefaultExpiry(m);
  }

  // A job whose message (or its metadata) is gone: it is dropped.
  void DropJob(const Job& job) {
    if (job.msg->second.jobs > 0) --job.msg->second.jobs;
    MaybeRetire(messages.find(job.msg->first));
  }

  void Schedule(Job job) {
    const Msg& m = job.msg->second;
    std::string key = ConfigSetOf(m) + "|" + *job.domain;
    auto& q = scheduled[key];
    int64_t old_head = q.empty() ? -1 : q.NextDue();
    q.Push(std::move(job));
    int64_t head = q.NextDue();
    if (old_head != head) {
      if (old_head >= 0) next_due.erase({old_head, key});
      next_due.insert({head, key});
    }
    ArmTimer();
  }

  // Arms the timer for the earliest scheduled job. Re-arming costs a
  // timerfd_settime, so it happens only when the earliest due time moves
  // earlier than the wait already pending (at start-up, a million Schedule
  // calls would otherwise re-arm it a million times).
  void ArmTimer() {
    if (next_due.empty()) return;
    int64_t due = next_due.begin()->first;
    if (timer_pending && timer_due_ms <= due) return;
    timer_pending = true;
    timer_due_ms = due;
    timer.expires_after(
        std::chrono::milliseconds(std::max<int64_t>(0, due - Now())));
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // replaced by an earlier wait, which owns the flag
      timer_pending = false;
      RunDue();
    });
  }

  // Due jobs are dispatched this many at a time; the timer, already due,
  // brings the rest on the next turn of the loop. A backlog that falls due
  // at once (start-up with a million queued) is routed in slices, so its
  // routing state never exists for all jobs at once and the loop keeps
  // serving connections and admin calls meanwhile.
  static constexpr size_t kDispatchBatch = 4096;

  void RunDue() {
    int64_t now = Now();
    std::vector<Job> due;
    while (!next_due.empty() && next_due.begin()->first <= now &&
           due.size() < kDispatchBatch) {
      std::string key = next_due.begin()->second;
      next_due.erase(next_due.begin());
      auto& q = scheduled[key];
      while (!q.empty() && q.NextDue() <= now && due.size() < kDispatchBatch)
        due.push_back(q.Pop());
      if (q.empty()) {
        scheduled.erase(key);
      } else {
        next_due.insert({q.NextDue(), key});
      }
    }
    for (auto& j : due) Dispatch(std::move(j));
    ArmTimer();
  }

  void AddMessage(const spool::MessageInfo& info, bool fresh) {
    if (info.meta.source == "mx") return;  // inbound::Processor's
    auto key = spool::MessageKey::FromId(info.meta.id);
    if (!key) return;  // the spool refuses such ids
    Msg m;
    // A recovered message waits on disk until an attempt needs it; a fresh
    // one is about to be attempted.
    if (fresh) m.meta = std::make_unique<spool::MessageMeta>(info.meta);
    m.created_ms = info.meta.created_ms;
    m.config_set = ConfigSetIndex(info.meta.config_set);
    auto [it, inserted] = messages.try_emplace(*key, std::move(m));
    if (!inserted) return;  // already queued (a commit seen twice)
    MsgEntry& e = *it;
    const std::string& source = info.meta.source;
    if (fresh && source != "mx" && source != "dsn") {
      MessageEvent send;
      send.type = MessageEvent::Type::kSend;
      send.timestamp_ms = e.second.created_ms;
      send.meta = *e.second.meta;
      send.header_block = info.header_block;  // captured at commit
      Emit(std::move(send));
      Suppress(e);
    }
    const auto& rcpts =
        e.second.meta ? e.second.meta->recipients : info.meta.recipients;
    Recount(e.second, rcpts);
    std::map<std::string, Job> by_domain;
    for (size_t i = 0; i < rcpts.size() && i <= UINT16_MAX; ++i) {
      const auto& r = rcpts[i];
      if (r.status != RecipientStatus::kQueued) continue;
      std::string d = DomainOf(r.address);
      Job& j = by_domain[d];
      if (!j.msg) j.domain = Intern(d);
      j.msg = &e;
      j.rcpts.push_back(static_cast<uint16_t>(i));
      j.due_ms = std::max(j.due_ms, r.next_attempt_ms);
      j.expires_ms = std::max(j.expires_ms, ExpiryOf(e.second, r));
    }
    if (by_domain.empty() && e.second.dead == 0) {
      // Every recipient was settled before a crash, but the removal record
      // did not become durable: finish the job now, or it stays queued.
      spool->Remove(info.meta.id, nullptr);
      dead_total -= e.second.dead;
      messages.erase(it);
      return;
    }
    e.second.jobs = static_cast<uint16_t>(by_domain.size());
    for (auto& [d, j] : by_domain) Schedule(std::move(j));
  }

  // --- routing ----------------------------------------------------------
  void Dispatch(Job job) {
    if (config.delivery.mode == "hold") {
      // Maintenance: keep it queued, look again later (config reload lands
      // later).
      job.due_ms = Now() + 60 * 1000;
      Schedule(std::move(job));
      return;
    }
    if (*job.domain == kSimulatorHost) {
      Simulate(std::move(job));
      return;
    }
    if (config.delivery.mode == "capture") {
      Capture(std::move(job));
      return;
    }
    if (const config::Route* route = policy.RouteFor(*job.domain)) {
      ResolveRoute(route, std::move(job));
      return;
    }
    std::string domain = *job.domain;
    resolver->ResolveMx(
        domain, [this, job = std::move(job)](Result<dns::MxResult> r) mutable {
          asio::post(loop,
                     [this, job = std::move(job), r = std::move(r)]() mutable {
                       OnMx(std::move(job), std::move(r));
                     });
        });
  }

  void OnMx(Job job, Result<dns::MxResult> r) {
    if (!r.ok()) {
      const Error& e = r.error();
      int code = e.transient() ? 451 : (e.code() == "null_mx" ? 556 : 550);
      std::string enhanced = e.transient()
                                 ? "4.4.3"
                                 : (e.code() == "null_mx" ? "5.1.10" : "5.1.2");
      FinishWithoutPeer(
          std::move(job), code,
          std::to_string(code) + " " + enhanced + " " + e.message(), false);
      return;
    }
    std::vector<Target> targets;
    std::vector<std::string> names;
    for (const auto& h : r->hosts) {
      names.push_back(h.name);
      for (const auto& a : h.addresses)
        targets.push_back({h.name, a, config.delivery.mx_port});
    }
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    const std::vector<std::string>& sources = SourcesOf(job);
    std::string key = EgressKey(sources) + "|mx:";
    for (const auto& n : sorted) key += n + ",";
    auto& site = SiteFor(key, *job.domain, names, nullptr);
    site->targets = std::move(targets);
    site->sources = sources;
    Enqueue(site, std::move(job));
  }

  // "host", "host:port", "[v6]" or "[v6]:port".
  static std::pair<std::string, uint16_t> SplitHostPort(const std::string& hp,
                                                        uint16_t def) {
    if (!hp.empty() && hp.front() == '[') {
      size_t rb = hp.find(']');
      std::string host =
          hp.substr(1, rb == std::string::npos ? std::string::npos : rb - 1);
      if (rb != std::string::npos && rb + 1 < hp.size() && hp[rb + 1] == ':') {
        return {host, static_cast<uint16_t>(std::atoi(hp.c_str() + rb + 2))};
      }
      return {host, def};
    }
    size_t colon = hp.rfind(':');
    if (colon == std::string::npos || hp.find(':') != colon)
      return {hp, def};  // bare IPv6 has several
    return {hp.substr(0, colon),
            static_cast<uint16_t>(std::atoi(hp.c_str() + colon + 1))};
  }

  void ResolveRoute(const config::Route* route, Job job) {
    struct State {
      std::vector<std::vector<Target>> per_host;
      int pending;
      std::optional<Error> error;
      Job job;
    };
    auto st = std::make_shared<State>();
    st->per_host.resize(route->hosts.size());
    st->pending = static_cast<int>(route->hosts.size());
    st->job = std::move(job);
    for (size_t i = 0; i < route->hosts.size(); ++i) {
      auto [host, port] = SplitHostPort(route->hosts[i], 25);
      resolver->ResolveHost(host, [this, st, i, host = host, port = port,
                                   route](Result<dns::MxResult> r) {
        asio::post(loop, [this, st, i, host, port, route,
                          r = std::move(r)]() mutable {
          if (r.ok()) {
            for (const auto& h : r->hosts) {
              for (const auto& a : h.addresses)
                st->per_host[i].push_back({host, a, port});
            }
          } else {
            st->error = r.error();
          }
          if (--st->pending > 0) return;
          // Healthy hosts first, each group in configured (primary-first)
          // order.
          std::vector<Target> targets;
          for (int pass = 0; pass < 2; ++pass) {
            for (size_t k = 0; k < route->hosts.size(); ++k) {
              bool up = host_health.count(route->hosts[k]) == 0 ||
                        host_health[route->hosts[k]];
              if ((pass == 0) == up)
                targets.insert(targets.end(), st->per_host[k].begin(),
                               st->per_host[k].end());
            }
          }
          if (targets.empty()) {
            // A route that resolves nowhere is a configuration problem: park
            // it.
            bool permanent = st->error && !st->error->transient();
            FinishWithoutPeer(
                std::move(st->job), permanent ? 550 : 451,
                (permanent ? "550 5.4.4 route " : "451 4.4.3 route ") +
                    route->match + " resolves nowhere: " +
                    (st->error ? st->error->message() : "no address"),
                permanent);
            return;
          }
          const std::vector<std::string>& sources = SourcesOf(st->job);
          auto& site = SiteFor(EgressKey(sources) + "|route:" + route->match,
                               *st->job.domain, route->hosts, route);
          site->targets = std::move(targets);
          site->sources = sources;
          Enqueue(site, std::move(st->job));
        });
      });
    }
  }

  // --- egress: dedicated IP pools ------------------------------------------
  // A job's source addresses: its configuration set's sending pool's
  // dedicated addresses (asked through the hook, cached for 5 s per set),
  // else none (the default source). Each pool is its own egress, so its
  // sites (shaping, back-off, connections) are its own.
  const std::vector<std::string>& SourcesOf(const Job& job) {
    static const std::vector<std::string> kNone;
    uint16_t cs = job.msg->second.config_set;
    if (!hooks.sending_addresses || cs == 0) return kNone;
    auto& [fetched_ms, addresses] = source_cache[cs];
    int64_t now = Now();
    if (fetched_ms == 0 || now - fetched_ms > 5000) {
      addresses = hooks.sending_addresses(*config_sets[cs]);
      fetched_ms = now;
    }
    return addresses;
  }
  static std::string EgressKey(const std::vector<std::string>& sources) {
    if (sources.empty()) return kEgress;
    std::string key = "pool:";
    for (const auto& s : sources) key += s + ",";
    return key;
  }

  std::shared_ptr<Site>& SiteFor(const std::string& key,
                                 const std::string& domain,
                                 const std::vector<std::string>& hosts,
                                 const config::Route* route) {
    auto& s = sites[key];
    if (!s) {
      s = std::make_shared<Site>();
      s->key = key;
      s->route = route;
      s->host_names = hosts;
      s->shaping = policy.ShapingFor(domain, hosts);
      s->tokens_sec = std::max(1.0, s->shaping.rate_per_second);
      s->tokens_hour = std::max(1.0, s->shaping.rate_per_hour);
      s->refill_ms = Now();
    }
    return s;
  }

  // --- ready queues and shaping ---------------------------------------
  int MaxConnections(const Site& s, int64_t now) const {
    if (now < s.suspended_until_ms) return 0;
    if (s.down_failures > 0) return 1;  // the probe
    int max = static_cast<int>(s.shaping.max_connections);
    if (s.ramp_seconds > 0 && now >= s.ramp_from_ms) {
      int64_t steps = (now - s.ramp_from_ms) / (int64_t(s.ramp_seconds) * 1000);
      if (steps < 20) max = std::min<int64_t>(max, int64_t(1) << steps);
    }
    return std::max(max, 0);
  }

  // Milliseconds until a delivery token is available; 0 takes one now.
  int64_t TakeToken(Site& s) {
    int64_t now = Now();
    double elapsed = (now - s.refill_ms) / 1000.0;
    s.refill_ms = now;
    bool per_sec = s.shaping.rate_per_second > 0,
         per_hour = s.shaping.rate_per_hour > 0;
    if (per_sec)
      s.tokens_sec =
          std::min(std::max(1.0, s.shaping.rate_per_second),
                   s.tokens_sec + elapsed * s.shaping.rate_per_second);
    if (per_hour)
      s.tokens_hour =
          std::min(std::max(1.0, s.shaping.rate_per_hour),
                   s.tokens_hour + elapsed * s.shaping.rate_per_hour / 3600);
    int64_t wait = 0;
    if (per_sec && s.tokens_sec < 1)
      wait = std::max<int64_t>(
          wait,
          int64_t((1 - s.tokens_sec) * 1000 / s.shaping.rate_per_second) + 1);
    if (per_hour && s.tokens_hour < 1)
      wait = std::max<int64_t>(
          wait,
          int64_t((1 - s.tokens_hour) * 3600000 / s.shaping.rate_per_hour) + 1);
    if (wait > 0) return wait;
    if (per_sec) s.tokens_sec -= 1;
    if (per_hour) s.tokens_hour -= 1;
    return 0;
  }

  // Jobs beyond this many in a ready queue wait with their message paged
  // out (as do all jobs parked on a site that is down).
  static constexpr size_t kReadyHot = 1024;

  void Enqueue(const std::shared_ptr<Site>& site, Job job) {
    site->ready_expiry_ms = std::min(site->ready_expiry_ms, job.expires_ms);
    if (site->down_failures > 0 || site->ready.size() >= kReadyHot)
      PageOut(job.msg->second);
    site->ready.push_back(std::move(job));
    Pump(site);
  }

  void Pump(const std::shared_ptr<Site>& site) {
    if (stopping) return;
    size_t waiting = site->ready.size();
    // Wake idle connections first: reuse beats a new connection.
    while (waiting > 0 && !site->idle.empty()) {
      site->idle.back()->cancel();
      site->idle.pop_back();
      --waiting;
    }
    int64_t now = Now();
    int max = MaxConnections(*site, now);
    const bool lease_wait = now < site->lease_wait_until_ms;
    while (waiting > 0 && site->connections < max && !lease_wait) {
      ++site->connections;
      site->peak_connections =
          std::max(site->peak_connections, site->connections);
      asio::co_spawn(loop, Connection(site), asio::detached);
      --waiting;
    }
    if (!site->ready.empty() && (site->connections == 0 || lease_wait) &&
        !site->wake_armed) {
      // Suspended, ramping from zero, or refused a cluster slot: look again
      // when the suspension ends (one timer per site, however many jobs
      // park meanwhile).
      site->wake_armed = true;
      int64_t at = std::max(
          {site->suspended_until_ms, site->lease_wait_until_ms, now + 100});
      auto t = std::make_shared<asio::steady_timer>(
          loop, std::chrono::milliseconds(at - now));
      t->async_wait([this, t, site](boost::system::error_code) {
        site->wake_armed = false;
        Pump(site);
      });
    } else if (waiting > 0 && !site->ramp_pump_armed) {
      // Ramping: the limit doubles at the next step even if no new job
      // arrives to call Pump, so look again then.
      if (int64_t next = NextRampStep(*site, now); next > 0) {
        site->ramp_pump_armed = true;
        auto t = std::make_shared<asio::steady_timer>(
            loop, std::chrono::milliseconds(next - now));
        t->async_wait([this, t, site](boost::system::error_code) {
          site->ramp_pump_armed = false;
          Pump(site);
        });
      }
    }
  }

  // When a ramping site's connection limit next grows; 0 when it does not
  // ramp (any more).
  int64_t NextRampStep(const Site& s, int64_t now) const {
    if (s.ramp_seconds == 0 || now < s.ramp_from_ms) return 0;
    int64_t step_ms = int64_t(s.ramp_seconds) * 1000;
    int64_t steps = (now - s.ramp_from_ms) / step_ms;
    if (steps >= 20 || (int64_t(1) << steps) >= s.shaping.max_connections)
      return 0;
    return s.ramp_from_ms + (steps + 1) * step_ms;
  }

  void Suspend(Site& s, const config::BackoffRule& rule,
               const std::string& reply) {
    int64_t now = Now();
    if (s.suspended_until_ms > now) return;
    s.suspended_until_ms = now + int64_t(rule.suspend_seconds) * 1000;
    s.ramp_from_ms = s.suspended_until_ms;
    s.ramp_seconds = rule.ramp_seconds;
    SESAME_LOG(kWarn, kLog) << "site " << s.key << " suspended for "
                            << rule.suspend_seconds << "s after: " << reply;
  }

  // Every host of the site refused or timed out. Rather than try its queue
  // message by message, the site is suspended for its back-off interval
  // (the retry schedule, per site, with jitter). The job that waited
  // longest is the attempt: one outcome line and one DeliveryDelay. The
  // others stay parked in the ready queue, delayed with the site's last
  // error, until the probe connection finds a host; those past their expiry
  // are finished now. A dead destination costs a timer.
  void SiteDown(const std::shared_ptr<Site>& site, const std::string& why) {
    int64_t now = Now();
    if (now < site->suspended_until_ms) {
      Pump(site);  // a sibling connection suspended it already
      return;
    }
    ++site->down_failures;
    site->last_error = why;
    double delay = policy.RetryDelaySeconds(site->down_failures, rng);
    site->suspended_until_ms = now + int64_t(delay * 1000);
    SESAME_LOG(kWarn, kLog)
        << "site " << site->key << " down (" << site->down_failures
        << " in a row), suspended for " << int64_t(delay) << "s; "
        << site->ready.size() << " jobs parked: " << why;
    if (!site->ready.empty()) {
      Job head = std::move(site->ready.front());
      site->ready.pop_front();
      FinishWithoutPeer(std::move(head), 451, why, false);
    }
    ExpireParked(*site, now, why);
    Pump(site);
  }

  void SiteUp(const std::shared_ptr<Site>& site) {
    SESAME_LOG(kInfo, kLog) << "site " << site->key << " reachable again after "
                            << site->down_failures << " failed attempts; "
                            << site->ready.size() << " jobs resume";
    site->down_failures = 0;
    site->last_error.clear();
    Pump(site);  // the other connections open now
  }

  // Parked jobs whose message is past its expiry are finished as expired,
  // with the site's error. Scans only when one may have expired.
  void ExpireParked(Site& site, int64_t now, const std::string& why) {
    if (now < site.ready_expiry_ms) return;
    std::deque<Job> keep, expired;
    int64_t next = INT64_MAX;
    for (auto& j : site.ready) {
      int64_t at = j.expires_ms;
      if (now >= at) {
        expired.push_back(std::move(j));
      } else {
        next = std::min(next, at);
        keep.push_back(std::move(j));
      }
    }
    site.ready.swap(keep);
    site.ready_expiry_ms = next;
    for (auto& j : expired) FinishWithoutPeer(std::move(j), 451, why, false);
  }

  // --- SMTP client ------------------------------------------------------
  // One outbound connection: the socket (TLS once STARTTLS succeeds) and
  // the pure protocol state machine it drives (smtp::ClientSession).
  struct Client {
    Client(asio::io_context& io, smtp::ClientSession::Options o)
        : sock(io), timer(io), session(std::move(o)) {}
    tcp::socket sock;
    std::optional<ssl::stream<tcp::socket>> tls;
    asio::steady_timer timer;
    smtp::ClientSession session;
    Target target;
    std::string last_error;
    std::array<char, 16384> buf;

    bool usable() const { return session.usable(); }

    // How long the session may wait in its current phase (RFC 5321 4.5.3.2).
    static uint32_t WaitFor(smtp::ClientSession::Phase p,
                            const config::Delivery& d) {
      using P = smtp::ClientSession::Phase;
      switch (p) {
        case P::kGreeting:
          return d.greeting_timeout;
        case P::kMail:
        case P::kRset:
          return d.mail_timeout;
        case P::kRcpt:
          return d.rcpt_timeout;
        case P::kData:
          return d.data_timeout;
        case P::kDataEnd:
          return d.data_end_timeout;
        case P::kQuit:
          return 10;
        default:
          return d.ehlo_timeout;
      }
    }

    // Writes what the session has to say and feeds it the server's bytes
    // until it reports an event (anything but kNone).
    awaitable<smtp::ClientSession::Event> Drive(const config::Delivery& d) {
      using E = smtp::ClientSession::Event;
      E ev = E::kNone;
      while (true) {
        if (!session.output().empty()) {
          std::string out = std::move(session.output());
          session.output().clear();
          // The body goes out under the data block timeout.
          uint32_t t = out.size() > 4096 ? d.data_block_timeout
                                         : WaitFor(session.phase(), d);
          Status w = co_await Write(out, t);
          if (!w.ok()) co_return session.OnDisconnect(w.error().message());
        }
        if (ev != E::kNone) co_return ev;
        boost::system::error_code ec;
        auto n = co_await ReadSome(WaitFor(session.phase(), d), &ec);
        if (!n) {
          ev = session.OnTimeout();
        } else if (ec) {
          ev = session.OnDisconnect(ec.message());
        } else {
          ev = session.Feed(std::string_view(buf.data(), *n));
        }
      }
    }

    // Bytes read, or nullopt on timeout (errors in *ec).
    awaitable<std::optional<size_t>> ReadSome(uint32_t seconds,
                                              boost::system::error_code* ec) {
      boost::system::error_code tec;
      timer.expires_after(std::chrono::seconds(seconds));
      std::variant<size_t, std::monostate> r;
      if (tls) {
        r = co_await (
            tls->async_read_some(asio::buffer(buf),
                                 asio::redirect_error(use_awaitable, *ec)) ||
            timer.async_wait(asio::redirect_error(use_awaitable, tec)));
      } else {
        r = co_await (
            sock.async_read_some(asio::buffer(buf),
                                 asio::redirect_error(use_awaitable, *ec)) ||
            timer.async_wait(asio::redirect_error(use_awaitable, tec)));
      }
      if (r.index() == 1) co_return std::nullopt;
      co_return std::get<0>(r);
    }

    awaitable<Status> Write(const std::string& data, uint32_t seconds) {
      boost::system::error_code ec, tec;
      timer.expires_after(std::chrono::seconds(seconds));
      std::variant<size_t, std::monostate> r;
      if (tls) {
        r = co_await (
            asio::async_write(*tls, asio::buffer(data),
                              asio::redirect_error(use_awaitable, ec)) ||
            timer.async_wait(asio::redirect_error(use_awaitable, tec)));
      } else {
        r = co_await (
            asio::async_write(sock, asio::buffer(data),
                              asio::redirect_error(use_awaitable, ec)) ||
            timer.async_wait(asio::redirect_error(use_awaitable, tec)));
      }
      if (r.index() == 1 || ec) {
        co_return Error::Transient(
            "connection", r.index() == 1 ? "timeout while sending"
                                         : "send failed: " + ec.message());
      }
      co_return Ok{};
    }

    awaitable<void> Quit(const config::Delivery& d) {
      session.Quit();
      if (!session.output().empty()) co_await Drive(d);
    }

    void Close() {
      boost::system::error_code ec;
      (tls ? tls->next_layer() : sock).close(ec);
    }
  };

  smtp::ClientSession::Options SessionOptions(const Target& t,
                                              bool tls_available) const {
    smtp::ClientSession::Options o;
    o.ehlo_name = ehlo_name;
    o.peer = t.host;
    o.tls_available = tls_available;
    // TLS a configuration set requires is checked per message (454 4.7.5);
    // the connection itself is opportunistic.
    o.tls_required = false;
    return o;
  }

  // Connects to the first target that greets with 220 and completes EHLO
  // (or HELO) and, when offered, STARTTLS.
  awaitable<std::unique_ptr<Client>> Open(Site& site) {
    const auto& d = config.delivery;
    std::string last = "no target";
    // A copy: routing callbacks may replace site.targets while we wait.
    const std::vector<Target> targets = site.targets;
    for (const Target& t : targets) {
      auto c = std::make_unique<Client>(loop, SessionOptions(t, true));
      c->target = t;
      boost::system::error_code ec, tec;
      tcp::endpoint ep(asio::ip::make_address(t.address, ec), t.port);
      if (ec) continue;
      c->sock.open(ep.protocol(), ec);
      std::string source =
          site.sources.empty()
              ? d.source_address
              : site.sources[site.next_source++ % site.sources.size()];
      if (!source.empty()) {
        c->sock.bind(tcp::endpoint(asio::ip::make_address(source, ec), 0), ec);
      }
      c->timer.expires_after(std::chrono::seconds(d.connect_timeout));
      auto r = co_await (
          c->sock.async_connect(ep, asio::redirect_error(use_awaitable, ec)) ||
          c->timer.async_wait(asio::redirect_error(use_awaitable, tec)));
      if (r.index() == 1 || ec) {
        last = t.host + "[" + t.address + "]:" + std::to_string(t.port) + ": " +
               (r.index() == 1 ? std::string("connect timeout") : ec.message());
        MarkHost(site, t, false);
        continue;
      }
      c->sock.set_option(tcp::no_delay(true), ec);
      auto ev = co_await c->Drive(d);
      if (ev == smtp::ClientSession::Event::kStartTls) {
        c->tls.emplace(std::move(c->sock), ssl_ctx);
        SSL_set_tlsext_host_name(c->tls->native_handle(), t.host.c_str());
        c->timer.expires_after(std::chrono::seconds(d.ehlo_timeout));
        auto hs = co_await (
            c->tls->async_handshake(ssl::stream_base::client,
                                    asio::redirect_error(use_awaitable, ec)) ||
            c->timer.async_wait(asio::redirect_error(use_awaitable, tec)));
        if (hs.index() == 1 || ec) {
          last = t.host + "[" + t.address + "] TLS handshake failed";
          c->Close();
          continue;
        }
        ++n_tls_connections;
        c->session.OnTlsEstablished();
        ev = co_await c->Drive(d);
      }
      if (ev != smtp::ClientSession::Event::kReady) {
        last = t.host + "[" + t.address + "] " + c->session.error();
        c->Close();
        continue;
      }
      MarkHost(site, t, true);
      ++site.opened;
      co_return c;
    }
    auto none = std::make_unique<Client>(loop, SessionOptions(Target{}, false));
    none->last_error = last;
    co_return none;
  }

  void MarkHost(Site& site, const Target& t, bool up) {
    if (!site.route) return;
    std::string key;
    for (const auto& h : site.route->hosts) {
      auto [host, port] = SplitHostPort(h, 25);
      if (host == t.host && port == t.port) key = h;
    }
    if (key.empty() || up)
      return;  // only the health check declares a host up again
    if (host_health[key])
      SESAME_LOG(kWarn, kLog)
          << "route host " << key << " unreachable; failing over";
    host_health[key] = false;
  }

  // With VERP each recipient gets its own return path, hence its own
  // transaction (on the same connection); otherwise one for all.
  awaitable<std::vector<RcptResult>> Transaction(Client& c, const Job& job) {
    spool::MessageMeta* meta = Load(*job.msg);
    if (!meta) co_return std::vector<RcptResult>();
    // Copied: the metadata may be paged out while the transaction runs.
    const std::string sender = meta->mail_from;
    const std::string id = meta->id;
    if (config.delivery.verp_domain.empty() || verp_key.empty() ||
        sender.empty() || job.rcpts.size() == 1) {
      std::string from = sender;
      if (!config.delivery.verp_domain.empty() && !verp_key.empty() &&
          !sender.empty()) {
        from = VerpAddress({id, job.rcpts[0]}, config.delivery.verp_domain,
                           verp_key);
      }
      std::vector<RcptResult> r = co_await TransactionFrom(c, job, from);
      co_return r;
    }
    std::vector<RcptResult> all;
    for (int i : job.rcpts) {
      Job one = job;
      one.rcpts = {static_cast<uint16_t>(i)};
      std::vector<RcptResult> r;
      if (c.usable()) {
        // Named, not a temporary in the co_await operand (GCC 12 coroutine
        // bugs).
        std::string from =
            VerpAddress({id, i}, config.delivery.verp_domain, verp_key);
        r = co_await TransactionFrom(c, one, from);
      } else {
        r.push_back(
            {i, 451,
             "451 4.4.2 connection lost before this recipient's transaction",
             false});
      }
      all.insert(all.end(), r.begin(), r.end());
    }
    co_return all;
  }

  awaitable<std::vector<RcptResult>> TransactionFrom(
      Client& c, Job job, std::string envelope_from) {
    const auto& d = config.delivery;
    std::vector<RcptResult> results;
    auto all = [&](int code, const std::string& response, bool dead = false) {
      results.clear();
      for (int i : job.rcpts) results.push_back({i, code, response, dead});
      return results;
    };
    spool::MessageMeta* meta = Load(*job.msg);
    if (!meta) co_return results;
    const Msg& m = job.msg->second;
    if (policy.TlsRequired(ConfigSetOf(m)) && !c.tls) {
      co_return all(454,
                    "454 4.7.5 TLS required by the configuration set but " +
                        c.target.host + " does not offer STARTTLS");
    }
    auto body = spool->ReadBody(meta->id);
    if (!body.ok())
      co_return all(
          451, "451 4.3.0 unreadable spool record: " + body.error().message(),
          true);
    smtp::ClientSession::Message msg;
    msg.mail_from = std::move(envelope_from);
    for (int i : job.rcpts) {
      msg.recipients.push_back(meta->recipients[i].address);
      msg.indexes.push_back(i);
    }
    // SES's instruction headers stay here; the events read them from the
    // spool's copy. `body` lives in this frame for the whole transaction
    // (msg.body is a view of it).
    *body = smtp::WithoutSesHeaders(std::move(*body));
    msg.body = *body;
    msg.size = body->size();
    msg.eight_bit = meta->eight_bit;
    msg.smtputf8 = meta->smtputf8;
    auto ev = c.session.Send(std::move(msg));
    if (ev == smtp::ClientSession::Event::kNone) ev = co_await c.Drive(d);
    for (auto& o : c.session.TakeOutcomes())
      results.push_back({o.index, o.code, std::move(o.text), false});
    co_return results;
  }

  // Awaits a SharedLimits answer: its callback (on the limits' thread)
  // posts the value back to this loop and wakes the waiting coroutine.
  template <typename T, typename Ask>
  awaitable<T> AskShared(Ask ask) {
    auto timer = std::make_shared<asio::steady_timer>(
        loop, asio::steady_timer::time_point::max());
    auto result = std::make_shared<std::optional<T>>();
    ask([this, timer, result](T v) {
      asio::post(loop, [timer, result, v = std::move(v)]() mutable {
        *result = std::move(v);
        timer->cancel();
      });
    });
    while (!*result) {
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(use_awaitable, ec));
    }
    co_return std::move(**result);
  }

  // A cluster-wide connection slot, released when the connection's frame
  // ends, however it ends; after Stop() (frames destroyed with the loop)
  // the slot expires in the cluster by itself.
  struct Lease {
    Impl* engine;
    std::string key;
    std::optional<uint64_t> id;
    ~Lease() {
      if (id && engine->shared) engine->shared->ReleaseLease(key, *id);
    }
  };

  // The site's delivery rates on the shared limits: 0 when a delivery may
  // go now, else how long to wait.
  awaitable<int64_t> TakeSharedToken(const Site& s) {
    for (auto [rate, period] : {std::pair{s.shaping.rate_per_second, 1.0},
                                {s.shaping.rate_per_hour, 3600.0}}) {
      if (rate <= 0) continue;
      auto ask = [this, &s, rate = rate,
                  period = period](SharedLimits::RateDone done) {
        shared->TakeRate(s.key, rate, period, std::move(done));
      };
      int64_t wait = co_await AskShared<int64_t>(ask);
      if (wait > 0) co_return wait;
    }
    co_return 0;
  }

  awaitable<void> Connection(std::shared_ptr<Site> site) {
    Lease lease{this, site->key, std::nullopt};
    if (shared) {
      int limit = static_cast<int>(site->shaping.max_connections);
      auto ask = [this, site, limit](SharedLimits::LeaseDone done) {
        shared->AcquireLease(site->key, limit, std::move(done));
      };
      lease.id = co_await AskShared<std::optional<uint64_t>>(ask);
      if (!lease.id) {
        // Every slot is held (by this node's connections or others'):
        // look again in a quarter second.
        --site->connections;
        site->lease_wait_until_ms = Now() + 250;
        Pump(site);
        co_return;
      }
    }
    auto client = co_await Open(*site);
    if (!client->usable()) {
      --site->connections;
      SiteDown(site, "451 4.4.1 no reachable host for " + site->key + ": " +
                         client->last_error);
      co_return;
    }
    if (site->down_failures > 0) SiteUp(site);
    uint64_t generation = site->generation;
    uint32_t sent = 0;
    asio::steady_timer wait(loop);
    while (sent < site->shaping.messages_per_connection && client->usable() &&
           !stopping) {
      if (site->ready.empty()) {
        site->idle.push_back(&wait);
        wait.expires_after(std::chrono::seconds(config.delivery.idle_seconds));
        boost::system::error_code ec;
        co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
        site->idle.erase(
            std::remove(site->idle.begin(), site->idle.end(), &wait),
            site->idle.end());
        if (site->ready.empty()) break;
      }
      if (Now() < site->suspended_until_ms || site->generation != generation)
        break;
      if (site->connections > MaxConnections(*site, Now())) break;  // ramping
      int64_t ms = 0;
      if (shared) {
        ms = co_await TakeSharedToken(*site);
      } else {
        ms = TakeToken(*site);
      }
      if (ms > 0) {
        wait.expires_after(std::chrono::milliseconds(ms));
        boost::system::error_code ec;
        co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      Job job = std::move(site->ready.front());
      site->ready.pop_front();
      auto started = std::chrono::steady_clock::now();
      std::vector<RcptResult> results = co_await Transaction(*client, job);
      int64_t elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
      ++site->deliveries;
      ++sent;
      for (const auto& r : results) {
        if (r.code >= 400 && r.code < 500) {
          if (const auto* rule = policy.BackoffFor(r.response))
            Suspend(*site, *rule, r.response);
        }
      }
      Finish(std::move(job), results, client->target, elapsed,
             client->tls.has_value());
    }
    if (client->usable()) co_await client->Quit(config.delivery);
    client->Close();
    --site->connections;
    Pump(site);
  }

  // --- health checks for static routes -----------------------------------
  awaitable<void> HealthCheck(const config::Route* route,
                              std::string hostport) {
    auto [host, port] = SplitHostPort(hostport, 25);
    asio::steady_timer t(loop);
    while (!stopping) {
      bool up = false;
      std::string address = host;
      boost::system::error_code ec, tec;
      auto addr = asio::ip::make_address(host, ec);
      if (!ec) {
        Client c(loop, SessionOptions(Target{host, host, port}, false));
        tcp::endpoint ep(addr, port);
        c.timer.expires_after(
            std::chrono::seconds(route->health_timeout_seconds));
        auto r = co_await (
            c.sock.async_connect(ep, asio::redirect_error(use_awaitable, ec)) ||
            c.timer.async_wait(asio::redirect_error(use_awaitable, tec)));
        if (r.index() == 0 && !ec) {
          // Greeting and EHLO (no STARTTLS) under the health timeout.
          config::Delivery quick = config.delivery;
          quick.greeting_timeout = quick.ehlo_timeout =
              route->health_timeout_seconds;
          up = co_await c.Drive(quick) == smtp::ClientSession::Event::kReady;
          if (up) co_await c.Quit(quick);
        }
        c.Close();
      } else {
        up = true;  // names are checked by delivery attempts themselves
      }
      bool was = host_health.count(hostport) == 0 || host_health[hostport];
      host_health[hostport] = up;
      if (was != up) {
        SESAME_LOG(kWarn, kLog)
            << "route " << route->match << " host " << hostport
            << (up ? " is back up" : " is down");
        if (up) {
          // Failback: connections to backups retire; new ones prefer this
          // host. A site that is down is probed now, not at the end of its
          // back-off interval.
          for (auto& [k, s] : sites) {
            if (s->route != route) continue;
            ++s->generation;
            if (s->down_failures > 0) {
              s->suspended_until_ms = 0;
              Pump(s);
            }
          }
        }
      }
      t.expires_after(std::chrono::seconds(route->health_interval_seconds));
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

  // --- the SES mailbox simulator (delivery/ses_events.h): no network ------
  void Simulate(Job job) {
    spool::MessageMeta* meta = Load(*job.msg);
    if (!meta) return DropJob(job);
    std::vector<RcptResult> results;
    for (int i : job.rcpts) {
      SimulatorReply v = SimulatorVerdict(meta->recipients[i].address);
      results.push_back({i, v.code, std::move(v.response), false});
    }
    Finish(std::move(job), results, Target{kSimulatorHost, "127.0.0.1", 0}, 0,
           false);
  }

  // --- capture mode -------------------------------------------------------
  void Capture(Job job) {
    spool::MessageMeta* meta = Load(*job.msg);
    if (!meta) return DropJob(job);
    std::vector<RcptResult> results;
    auto body = spool->ReadBody(meta->id);
    Status filed = body.ok() ? mailbox->File(*meta, *body) : body.error();
    for (int i : job.rcpts) {
      if (filed.ok()) {
        results.push_back(
            {i, 250, "250 2.0.0 captured in the local mailbox", false});
      } else {
        results.push_back({i, 451,
                           "451 4.3.0 not captured: " + filed.error().message(),
                           true});
      }
    }
    Finish(std::move(job), results, Target{"mailbox", "127.0.0.1", 0}, 0,
           false);
  }

  // --- events ---------------------------------------------------------------
  void Emit(MessageEvent e) {
    if (hooks.on_event) hooks.on_event(std::move(e));
  }

  // Recipients on the suppression list in effect are accepted but not
  // delivered, as SES does: a Bounce Permanent/OnAccountSuppressionList.
  void Suppress(MsgEntry& e) {
    Msg* m = &e.second;
    if (!hooks.suppressed) return;
    MessageEvent bounce;
    bounce.type = MessageEvent::Type::kBounce;
    bounce.timestamp_ms = Now();
    bounce.classification = feedback::ForReason("on_suppression_list", true);
    for (auto& r : m->meta->recipients) {
      if (r.status != RecipientStatus::kQueued ||
          !hooks.suppressed(smtp::AsciiLower(r.address), m->meta->config_set))
        continue;
      r.status = RecipientStatus::kFailed;
      r.last_response =
          "550 5.1.1 <" + r.address + ">: on the account suppression list";
      bounce.recipients.push_back({r.address, "failed", "5.1.1",
                                   "Amazon SES did not send the message to "
                                   "this address because it is on the "
                                   "suppression list for your account."});
      Outcome(*m, r, "suppressed", Target{}, 0, false);
      ++n_suppressed;
    }
    if (bounce.recipients.empty()) return;
    FlushOutcomes();
    PersistState(e);
    bounce.meta = *m->meta;
    Emit(std::move(bounce));
  }

  // SES event records for one attempt's results (delivery/ses_events.h).
  void EmitAttemptEvents(const Msg& m, const std::vector<RcptResult>& results,
                         const std::vector<const char*>& outcomes,
                         const Target& target, int64_t elapsed_ms) {
    if (!hooks.on_event) return;
    Attempt a;
    a.meta = *m.meta;
    a.remote_host = target.host;
    a.remote_ip = target.address;
    a.reporting_mta = ehlo_name;
    a.now_ms = Now();
    a.processing_ms = elapsed_ms ? elapsed_ms : a.now_ms - m.created_ms;
    std::vector<AttemptRecipient> rs;
    for (size_t k = 0; k < results.size(); ++k) {
      const spool::Recipient& rc = m.meta->recipients[results[k].index];
      rs.push_back({rc.address, results[k].code, rc.last_response, outcomes[k],
                    ExpiryOf(m, rc)});
    }
    for (auto& e : AttemptEvents(a, rs, classifier)) Emit(std::move(e));
  }

  // --- outcomes -----------------------------------------------------------
  void FinishWithoutPeer(Job job, int code, const std::string& response,
                         bool dead_letter) {
    std::vector<RcptResult> results;
    for (int i : job.rcpts) results.push_back({i, code, response, dead_letter});
    Finish(std::move(job), results, Target{}, 0, false);
  }

  void Outcome(const Msg& m, const spool::Recipient& r, const char* outcome,
               const Target& t, int64_t elapsed_ms, bool tls) {
    outcome_buf +=
        "{\"timestamp\":\"" + IsoTime(Now()) + "\",\"messageId\":\"" +
        JsonEscape(m.meta->id) + "\",\"recipient\":\"" + JsonEscape(r.address) +
        "\",\"outcome\":\"" + outcome + "\",\"smtpResponse\":\"" +
        JsonEscape(r.last_response) +
        "\",\"attempt\":" + std::to_string(r.attempts) + ",\"remoteMtaIp\":\"" +
        JsonEscape(t.address) + "\",\"remoteHost\":\"" + JsonEscape(t.host) +
        "\",\"reportingMta\":\"" + JsonEscape(ehlo_name) +
        "\",\"processingTimeMillis\":" + std::to_string(elapsed_ms) +
        ",\"tls\":" + (tls ? "true" : "false") + ",\"source\":\"" +
        JsonEscape(m.meta->source) + "\",\"from\":\"" +
        JsonEscape(m.meta->mail_from) + "\",\"configurationSet\":\"" +
        JsonEscape(m.meta->config_set) + "\",\"sendTimestamp\":\"" +
        IsoTime(m.meta->created_ms) + "\",\"nextAttempt\":" +
        (std::string(outcome) == "deferred"
             ? "\"" + IsoTime(r.next_attempt_ms) + "\""
             : "null") +
        "}\n";
    if (outcome_buf.size() > 64 * 1024) FlushOutcomes();
  }

  void FlushOutcomes() {
    if (outcome_buf.empty() || outcomes_fd < 0) return;
    ssize_t n = ::write(outcomes_fd, outcome_buf.data(), outcome_buf.size());
    if (n < 0) SESAME_LOG(kError, kLog) << "outcome log write failed";
    outcome_buf.clear();
  }

  void Finish(Job job, const std::vector<RcptResult>& results,
              const Target& target, int64_t elapsed_ms, bool tls) {
    Msg& m = job.msg->second;
    if (!Load(*job.msg)) return DropJob(job);
    int64_t now = Now();
    ++n_attempts;
    Job retry;
    retry.msg = job.msg;
    retry.domain = job.domain;
    std::vector<FailedRecipient> failed;
    std::vector<const char*> outcomes;
    for (const auto& r : results) {
      spool::Recipient& rc = m.meta->recipients[r.index];
      rc.attempts++;
      rc.last_response = r.response;
      const char* outcome;
      int64_t expiry = ExpiryOf(m, rc);
      if (r.dead_letter) {
        rc.status = RecipientStatus::kDeadLetter;
        outcome = "dead_letter";
        ++n_dead;
      } else if (r.code >= 200 && r.code < 300) {
        rc.status = RecipientStatus::kDelivered;
        outcome = "delivered";
        ++n_delivered;
        delivery_latency.Observe(double(now - m.created_ms) / 1000.0);
      } else if (r.code >= 500) {
        rc.status = RecipientStatus::kFailed;
        outcome = "failed";
        ++n_failed;
      } else if (now >= expiry) {
        rc.last_response = r.response + " (expired after " +
                           std::to_string(rc.attempts) + " attempts)";
        rc.status = config.delivery.expired_to_dead_letter
                        ? RecipientStatus::kDeadLetter
                        : RecipientStatus::kFailed;
        outcome =
            config.delivery.expired_to_dead_letter ? "dead_letter" : "expired";
        ++(config.delivery.expired_to_dead_letter ? n_dead : n_expired);
      } else {
        double delay = policy.RetryDelaySeconds(rc.attempts, rng);
        rc.next_attempt_ms =
            std::min<int64_t>(now + int64_t(delay * 1000), expiry);
        retry.rcpts.push_back(static_cast<uint16_t>(r.index));
        retry.due_ms = std::max(retry.due_ms, rc.next_attempt_ms);
        retry.expires_ms = std::max(retry.expires_ms, expiry);
        outcome = "deferred";
        ++n_deferred;
      }
      if (rc.status == RecipientStatus::kFailed) {
        failed.push_back({rc.address, EnhancedStatus(rc.last_response, true),
                          "smtp; " + rc.last_response,
                          target.host.empty() ? "" : "dns; " + target.host,
                          now});
      }
      Outcome(m, rc, outcome, target, elapsed_ms, tls);
      outcomes.push_back(outcome);
    }
    FlushOutcomes();
    PersistState(*job.msg);
    EmitAttemptEvents(m, results, outcomes, target, elapsed_ms);
    if (!failed.empty()) SendDsn(m, failed);
    --m.jobs;
    if (!retry.rcpts.empty()) {
      ++m.jobs;
      Schedule(std::move(retry));
    }
    if (!MaybeRetire(messages.find(job.msg->first))) PageOut(m);
  }

  // Removes a message none of whose recipients is queued or dead-lettered
  // any more; true when it is gone.
  bool MaybeRetire(Messages::iterator it) {
    if (it == messages.end()) return true;
    Msg& m = it->second;
    if (m.jobs > 0 || m.dead > 0 || m.queued) return false;
    std::string id = it->first.ToId();
    RememberSent(*it);
    spool->Remove(id, nullptr);
    messages.erase(it);
    return true;
  }

  // Outbound mail leaves the queue long before its feedback arrives: keep
  // what a late bounce or complaint needs (configuration set, recipients,
  // headers) in the sent index.
  void RememberSent(MsgEntry& e) {
    // Only while events are published: otherwise late feedback needs no
    // more than its VERP token (suppression, statistics).
    int64_t now = Now();
    if (now - remember_checked_ms >= 1000) {
      remember_checked_ms = now;
      remember = hooks.remember_sent && hooks.remember_sent();
    }
    if (!remember || !sent_index) return;
    const spool::MessageMeta* meta = Load(e);
    if (!meta || meta->source == "mx" || meta->source == "dsn" ||
        meta->source == "verification")
      return;
    auto headers = spool->ReadHeaderBlock(meta->id, 16 * 1024);
    sent_index->Record(*meta, headers.ok() ? std::move(*headers) : "");
  }
  bool remember = false;  // cached hooks.remember_sent()
  int64_t remember_checked_ms = -1'000'000;

  // True when the submission's sender proved itself: SMTP AUTH, or a
  // client in relay_networks (trusted by configuration).
  bool SenderAuthenticated(const spool::MessageMeta& meta) const {
    if (!meta.auth_user.empty()) return true;
    for (const auto& n : config.relay_networks) {
      if (n.Contains(meta.client_ip)) return true;
    }
    return false;
  }

  void SendDsn(const Msg& m, const std::vector<FailedRecipient>& failed) {
    // Never for bounces themselves, inbound feedback, or a null sender: no
    // loops.
    if (!config.delivery.dsn || m.meta->mail_from.empty()) return;
    if (m.meta->source != "smtp" && m.meta->source != "smtps") return;
    // Only to senders we know: an unauthenticated sender may be forged, and
    // its DSN would be backscatter to the victim.
    if (!SenderAuthenticated(*m.meta)) return;
    auto body = spool->ReadBody(m.meta->id);
    std::string original = body.ok() ? *body : "";
    int64_t now = Now();
    spool::MessageMeta meta;
    meta.id = NewMessageId(now);
    meta.created_ms = now;
    meta.mail_from = "";
    spool::Recipient r;
    r.address = m.meta->mail_from;
    meta.recipients.push_back(r);
    meta.source = "dsn";
    meta.client_ip = "127.0.0.1";
    std::string dsn = BuildDsn(config.hostname, m.meta->mail_from, m.meta->id,
                               m.created_ms, failed, original, now,
                               meta.id.substr(0, 16) + meta.id.substr(17, 8));
    dsn = "Received: by " + config.hostname + " (Sesame)\r\n\tid " + meta.id +
          "; " + Rfc5322Date(now) + "\r\n" + dsn;
    ++n_dsn;
    // Internal mail enters like any other (the commit listener submits it
    // back to this engine once durable).
    admission::Submission s;
    s.source = admission::Source::kInternal;
    s.meta = std::move(meta);
    s.content = std::move(dsn);
    admission->Submit(std::move(s), [](std::optional<admission::Refusal> r) {
      if (r) SESAME_LOG(kWarn, kLog) << "DSN not stored: " << r->message;
    });
  }

  // --- admin ---------------------------------------------------------------
  template <typename F>
  auto RunOnLoop(F f) -> decltype(f()) {
    // Already on the engine thread (an admin call posted through Run()):
    // answer at once.
    if (loop.get_executor().running_in_this_thread()) return f();
    std::promise<decltype(f())> p;
    asio::post(loop, [&] { p.set_value(f()); });
    return p.get_future().get();
  }

  std::string DeadLetters() {
    std::string out = "[";
    bool first = true;
    for (auto& e : messages) {
      Msg& m = e.second;
      if (m.dead == 0) continue;
      // From the spool: the size (not kept in memory) and, when paged out,
      // the metadata (the one in memory is newer while it is loaded).
      auto info = spool->Find(e.first.ToId());
      if (!info.ok()) continue;
      const spool::MessageMeta* meta = m.meta ? m.meta.get() : &info->meta;
      for (const auto& r : meta->recipients) {
        if (r.status != RecipientStatus::kDeadLetter) continue;
        out += first ? "\n " : ",\n ";
        first = false;
        out += "{\"MessageId\":\"" + JsonEscape(meta->id) +
               "\",\"Recipient\":\"" + JsonEscape(r.address) +
               "\",\"From\":\"" + JsonEscape(meta->mail_from) +
               "\",\"Reason\":\"" + JsonEscape(r.last_response) +
               "\",\"Attempts\":" + std::to_string(r.attempts) +
               ",\"Size\":" + std::to_string(info->size) + ",\"CreatedAt\":\"" +
               IsoTime(m.created_ms) + "\"}";
      }
    }
    return out + (first ? "]\n" : "\n]\n");
  }

  // The queues for the dashboard: per site its ready jobs, connections and
  // the oldest message waiting there; per scheduled queue its jobs and next
  // due time; and the oldest message held overall.
  std::string Queues() {
    auto created = [](const Job& j) { return j.msg->second.created_ms; };
    int64_t now = Now();
    std::string out = "{\"sites\":[";
    bool first = true;
    for (const auto& [k, s] : sites) {
      int64_t oldest = 0;
      std::string oldest_id;
      for (const auto& j : s->ready) {
        int64_t c = created(j);
        if (c && (!oldest || c < oldest))
          oldest = c, oldest_id = j.msg->first.ToId();
      }
      out +=
          std::string(first ? "" : ",") + "{\"site\":\"" + JsonEscape(k) +
          "\",\"ready\":" + std::to_string(s->ready.size()) +
          ",\"connections\":" + std::to_string(s->connections) +
          ",\"delivered\":" + std::to_string(s->deliveries) +
          ",\"suspended\":" + (s->suspended_until_ms > now ? "true" : "false") +
          ",\"suspendedUntil\":" +
          (s->suspended_until_ms > now
               ? "\"" + IsoTime(s->suspended_until_ms) + "\""
               : "null") +
          ",\"down\":" + (s->down_failures > 0 ? "true" : "false") +
          ",\"failedAttempts\":" + std::to_string(s->down_failures) +
          ",\"lastError\":\"" + JsonEscape(s->last_error) + "\"" +
          ",\"oldestMessageId\":\"" + JsonEscape(oldest_id) +
          "\",\"oldestCreatedAt\":" +
          (oldest ? "\"" + IsoTime(oldest) + "\"" : "null") + "}";
      first = false;
    }
    out += "],\"scheduled\":[";
    first = true;
    for (const auto& [k, q] : scheduled) {
      if (q.empty()) continue;
      int64_t oldest = 0;
      for (const auto& j : q.jobs) {
        int64_t c = created(j);
        if (c && (!oldest || c < oldest)) oldest = c;
      }
      out += std::string(first ? "" : ",") + "{\"queue\":\"" + JsonEscape(k) +
             "\",\"jobs\":" + std::to_string(q.size()) + ",\"nextDue\":\"" +
             IsoTime(q.NextDue()) + "\",\"oldestCreatedAt\":" +
             (oldest ? "\"" + IsoTime(oldest) + "\"" : "null") + "}";
      first = false;
    }
    const MsgEntry* oldest = nullptr;
    for (const auto& e : messages) {
      if (e.second.queued &&
          (!oldest || e.second.created_ms < oldest->second.created_ms))
        oldest = &e;
    }
    out += "],\"messages\":" + std::to_string(messages.size()) +
           ",\"deadLetters\":" + std::to_string(dead_total) + ",\"oldest\":";
    if (oldest) {
      out += "{\"messageId\":\"" + JsonEscape(oldest->first.ToId()) +
             "\",\"createdAt\":\"" + IsoTime(oldest->second.created_ms) +
             "\",\"ageSeconds\":" +
             std::to_string((now - oldest->second.created_ms) / 1000) + "}";
    } else {
      out += "null";
    }
    return out + "}";
  }

  // The messages an admin operation on `only` ("" = all) concerns: those
  // with dead-lettered recipients.
  std::vector<MsgEntry*> DeadLettered(const std::string& only) {
    std::vector<MsgEntry*> out;
    if (!only.empty()) {
      auto key = spool::MessageKey::FromId(only);
      auto it = key ? messages.find(*key) : messages.end();
      if (it != messages.end() && it->second.dead > 0) out.push_back(&*it);
      return out;
    }
    for (auto& e : messages)
      if (e.second.dead > 0) out.push_back(&e);
    return out;
  }

  int Redrive(const std::string& only) {
    int n = 0;
    int64_t now = Now();
    for (MsgEntry* e : DeadLettered(only)) {
      Msg& m = e->second;
      spool::MessageMeta* meta = Load(*e);
      if (!meta) continue;
      std::map<std::string, Job> by_domain;
      for (size_t i = 0; i < meta->recipients.size() && i <= UINT16_MAX; ++i) {
        auto& r = meta->recipients[i];
        if (r.status != RecipientStatus::kDeadLetter) continue;
        r.status = RecipientStatus::kQueued;
        r.attempts = 0;
        r.next_attempt_ms = now;
        r.expires_ms =
            now + int64_t(policy.MaxDeliverySeconds(meta->config_set)) * 1000;
        std::string d = DomainOf(r.address);
        Job& j = by_domain[d];
        if (!j.msg) j.domain = Intern(d);
        j.msg = e;
        j.due_ms = now;
        j.expires_ms = std::max(j.expires_ms, r.expires_ms);
        j.rcpts.push_back(static_cast<uint16_t>(i));
        ++n;
      }
      if (by_domain.empty()) continue;
      PersistState(*e);
      PageOut(m);
      for (auto& [d, j] : by_domain) {
        ++m.jobs;
        Schedule(std::move(j));
      }
    }
    return n;
  }

  int Purge(const std::string& only) {
    int n = 0;
    for (MsgEntry* e : DeadLettered(only)) {
      spool::MessageMeta* meta = Load(*e);
      if (!meta) continue;
      for (auto& r : meta->recipients) {
        if (r.status != RecipientStatus::kDeadLetter) continue;
        r.status = RecipientStatus::kFailed;
        r.last_response += " (purged from the dead-letter queue)";
        ++n;
      }
      PersistState(*e);
      if (!MaybeRetire(messages.find(e->first))) PageOut(e->second);
    }
    return n;
  }

  // On the engine thread (the registry's owned family).
  void WriteMetrics(metrics::Writer& w) {
    size_t scheduled_jobs = 0, ready = 0;
    int conns = 0;
    uint64_t opened = 0;
    for (const auto& [k, q] : scheduled) scheduled_jobs += q.size();
    for (const auto& [k, s] : sites) {
      opened += s->opened;
      ready += s->ready.size();
      conns += s->connections;
    }
    size_t dead = dead_total;
    w.Counter("sesame_delivery_attempts_total",
              "Delivery attempts (one per job: a message's recipients at one "
              "domain).",
              n_attempts);
    w.Counter("sesame_delivery_delivered_total", "Recipients delivered.",
              n_delivered);
    w.Counter("sesame_delivery_deferred_total",
              "Recipient attempts deferred for retry.", n_deferred);
    w.Counter("sesame_delivery_failed_total",
              "Recipients failed permanently (5xx).", n_failed);
    w.Counter("sesame_delivery_expired_total",
              "Recipients failed after their lifetime ran out.", n_expired);
    w.Counter("sesame_delivery_dead_lettered_total",
              "Recipients moved to the dead-letter queue.", n_dead);
    w.Counter("sesame_delivery_dsn_total",
              "Delivery status notifications generated.", n_dsn);
    w.Counter("sesame_delivery_tls_connections_total",
              "Outbound connections upgraded with STARTTLS: with "
              "connections_opened_total, the TLS share.",
              n_tls_connections);
    w.HistogramFamily("sesame_delivery_latency_seconds",
                      "From acceptance to delivery, per delivered recipient.",
                      delivery_latency);
    w.Counter("sesame_delivery_suppressed_total",
              "Recipients not delivered because they are on the suppression "
              "list.",
              n_suppressed);
    w.Counter("sesame_delivery_connections_opened_total",
              "Outbound SMTP connections established.", opened);
    w.Gauge("sesame_delivery_messages", "Messages held by the delivery engine.",
            messages.size());
    w.Gauge("sesame_delivery_scheduled_jobs",
            "Jobs waiting for their due time.", scheduled_jobs);
    w.Gauge("sesame_delivery_ready_jobs", "Jobs waiting for a connection.",
            ready);
    w.Gauge("sesame_delivery_connections", "Open outbound SMTP connections.",
            conns);
    w.Gauge("sesame_dead_letter_recipients",
            "Recipients in the dead-letter queue.", dead);
    size_t down = 0, parked = 0;
    for (const auto& [k, s] : sites) {
      if (s->down_failures == 0) continue;
      ++down;
      parked += s->ready.size();
    }
    w.Gauge("sesame_delivery_sites_down",
            "Sites whose every host refused or timed out: suspended, "
            "probed once per back-off interval.",
            down);
    w.Gauge("sesame_delivery_parked_jobs",
            "Jobs waiting on a site that is down (delayed, not attempted).",
            parked);
    w.Family("sesame_delivery_site_connections", "Open connections per site.",
             "gauge");
    for (const auto& [k, s] : sites)
      w.Sample("sesame_delivery_site_connections", {{"site", k}},
               s->connections);
    w.Family("sesame_delivery_site_ready_jobs",
             "Jobs waiting for a connection per site.", "gauge");
    for (const auto& [k, s] : sites)
      w.Sample("sesame_delivery_site_ready_jobs", {{"site", k}},
               s->ready.size());
  }
};

Engine::Engine(const config::Config& config, spool::Spool* spool,
               dns::Resolver* resolver, std::string verp_key)
    : impl_(std::make_unique<Impl>(config, spool, resolver)) {
  impl_->verp_key = std::move(verp_key);
}

Engine::~Engine() { Stop(); }

Status Engine::Start() {
  Impl* d = impl_.get();
  std::string path = d->config.data_dir + "/outcomes.jsonl";
  d->outcomes_fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (d->outcomes_fd < 0)
    return Error::Permanent("delivery", "cannot open " + path);
  d->guard.emplace(asio::make_work_guard(d->loop));
  // In commit order; the scheduled queues then start delivery in order of
  // due time.
  auto backlog = std::make_shared<std::vector<spool::MessageInfo>>(
      d->spool->TakeRecovered([](const spool::MessageMeta& m) {
        return m.source != "mx";  // inbound::Processor's
      }));
  asio::post(d->loop, [d, backlog] {
    d->messages.reserve(backlog->size());
    for (auto& info : *backlog) {
      d->AddMessage(info, false);
      info = spool::MessageInfo();  // one copy at a time
    }
    if (!backlog->empty())
      SESAME_LOG(kInfo, kLog)
          << "scheduled " << d->messages.size() << " queued messages";
    bool trim = !backlog->empty();
    backlog->clear();
    backlog->shrink_to_fit();
    // The recovered metadata was freed in small blocks: give the pages
    // back, so the resident size is the compact records'.
    if (trim) ::malloc_trim(0);
    if (d->config.delivery.mode == "smtp") {
      for (const auto& r : d->config.delivery.routes) {
        for (const auto& h : r.hosts)
          asio::co_spawn(d->loop, d->HealthCheck(&r, h), asio::detached);
      }
    }
  });
  d->thread = std::thread([d] { d->loop.run(); });
  return Ok{};
}

void Engine::Stop() {
  Impl* d = impl_.get();
  if (d->stopping.exchange(true)) return;
  asio::post(d->loop, [d] { d->FlushOutcomes(); });
  d->guard.reset();
  d->loop.stop();
  if (d->thread.joinable()) d->thread.join();
  d->shared = nullptr;  // connection frames die with the loop, unreleased
  if (d->outcomes_fd >= 0) ::close(d->outcomes_fd);
}

void Engine::SetHooks(EngineHooks hooks) { impl_->hooks = std::move(hooks); }
void Engine::SetOutputs(admission::Admission* admission,
                        capture::Mailbox* mailbox, SentIndex* sent_index) {
  impl_->admission = admission;
  impl_->mailbox = mailbox;
  impl_->sent_index = sent_index;
}
void Engine::SetSharedLimits(SharedLimits* limits) { impl_->shared = limits; }
void Engine::SetClassifier(feedback::Classifier classifier) {
  impl_->classifier = std::move(classifier);
}

void Engine::Submit(const spool::MessageInfo& info) {
  Impl* d = impl_.get();
  asio::post(d->loop, [d, info] { d->AddMessage(info, true); });
}

void Engine::Run(std::function<void()> fn) {
  asio::post(impl_->loop, std::move(fn));
}

std::string Engine::DeadLettersJson() {
  return impl_->RunOnLoop([this] { return impl_->DeadLetters(); });
}
std::string Engine::QueuesJson() {
  return impl_->RunOnLoop([this] { return impl_->Queues(); });
}
int Engine::Redrive(const std::string& id) {
  return impl_->RunOnLoop([this, &id] { return impl_->Redrive(id); });
}
int Engine::Purge(const std::string& id) {
  return impl_->RunOnLoop([this, &id] { return impl_->Purge(id); });
}
void Engine::RegisterMetrics(metrics::Registry* registry) {
  Impl* d = impl_.get();
  registry->AddOwned(
      [d](std::function<void()> f) { asio::post(d->loop, std::move(f)); },
      [d](metrics::Writer& w) { d->WriteMetrics(w); });
}

}  // namespace sesame::delivery
