// All Asio code lives in this translation unit to keep compile times low.
#include "net/server.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "auth/login_throttle.h"
#include "base/histogram.h"
#include "base/ids.h"
#include "base/log.h"
#include "net/certificates.h"
#include "smtp/server_session.h"

namespace sesame::net {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr char kLog[] = "server";

enum class Kind { kSubmission, kImplicitTls, kMx, kHttp };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kSubmission:
      return "smtp";
    case Kind::kImplicitTls:
      return "smtps";
    case Kind::kMx:
      return "mx";
    case Kind::kHttp:
      return "http";
  }
  return "?";
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Completes with admission's verdict on the calling coroutine's executor
// (admission answers from the spool writer or a signing thread).
template <typename Token>
auto AsyncSubmit(admission::Admission* adm, admission::Submission sub,
                 Token&& token) {
  return asio::async_initiate<Token, void(Status)>(
      [adm](auto handler, admission::Submission sub) {
        auto ex = asio::get_associated_executor(handler);
        using H = decltype(handler);
        auto shared = std::make_shared<H>(std::move(handler));
        adm->Submit(std::move(sub), [shared,
                                     ex](std::optional<admission::Refusal> r) {
          Status s = r ? admission::ToStatus(*r) : Status();
          asio::post(ex, [shared, s]() mutable { (*shared)(std::move(s)); });
        });
      },
      token, std::move(sub));
}

}  // namespace

struct Server::Impl {
  Impl(const config::Config& c, spool::Spool* s, admission::Admission* a,
       AdminHooks h)
      : config(c),
        spool(s),
        admission(a),
        hooks(std::move(h)),
        ssl_ctx(ssl::context::tls_server) {}

  const config::Config& config;
  spool::Spool* spool;
  admission::Admission* admission;
  AdminHooks hooks;
  ssl::context ssl_ctx;
  Certificates certificates;  // the pair ssl_ctx's handshakes use (SIGHUP)
  std::vector<std::unique_ptr<asio::io_context>> loops;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::pair<Kind, tcp::acceptor*>> listening;
  std::vector<Bound> bound;
  std::atomic<size_t> next_loop{0};
  std::atomic<bool> stopping{false};

  // Metrics: relaxed atomics, safe from every loop thread.
  Histogram commit_latency;  // end of DATA seen -> 250 written
  std::atomic<uint64_t> accepted[3] = {0, 0, 0};  // by Kind (smtp, smtps, mx)
  std::atomic<uint64_t> not_accepted{0};          // spool failures (452/554)
  std::atomic<uint64_t> mx_filtered{
      0};  // MX connections a receipt filter refused
  std::atomic<uint64_t> sessions_total{0};
  std::atomic<uint64_t> sessions_refused{0};
  std::atomic<uint64_t> tls_sessions{0};
  std::atomic<uint64_t> rcpt_accepted{0}, rcpt_rejected{0};
  std::atomic<uint64_t> throttled{0};
  auth::LoginThrottle login_throttle;  // failed SMTP AUTH per address/user
  std::atomic<uint64_t> auth_locked_out{0};  // attempts refused by lockout

  // Adds a session's counts to the totals when its coroutine ends, whatever
  // path it ends by.
  struct SessionTally {
    Impl* impl;
    const smtp::ServerSession* session;
    ~SessionTally() {
      impl->rcpt_accepted += session->rcpt_accepted();
      impl->rcpt_rejected += session->rcpt_rejected();
      if (session->tls_active()) ++impl->tls_sessions;
    }
  };

  // Connection accounting, touched only at accept and close.
  std::mutex conn_mu;
  size_t connections = 0;
  std::unordered_map<std::string, size_t> per_ip;
  // HTTP's own, under the same mutex: past its limits a small reserve of
  // connections may still ask /health or /ready.
  static constexpr size_t kHttpReserve = 32;
  size_t http_connections = 0;
  std::unordered_map<std::string, size_t> http_per_ip;
  std::atomic<uint64_t> http_refused{0}, accept_errors{0};
  // One reserve connection. A flood of idle connections must not hold the
  // reserve against a health check, so a newcomer evicts the oldest reserve
  // connection that has sent nothing; one whose request has arrived is
  // never evicted. `socket` is set, cleared and closed only on `loop`.
  struct ReserveTicket {
    asio::any_io_executor loop;
    tcp::socket* socket = nullptr;
    std::atomic<bool> has_bytes{false};
  };
  std::vector<std::shared_ptr<ReserveTicket>> http_reserve;  // oldest first

  asio::io_context& PickLoop() { return *loops[next_loop++ % loops.size()]; }

  Status SetupTls() {
    try {
      ssl_ctx.set_options(ssl::context::default_workarounds |
                          ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                          ssl::context::single_dh_use);
      SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
      ssl_ctx.use_certificate_chain_file(config.CertFile());
      ssl_ctx.use_private_key_file(config.KeyFile(), ssl::context::pem);
    } catch (const std::exception& e) {
      return Error::Permanent("tls",
                              std::string("cannot load TLS certificate/key (") +
                                  config.CertFile() + ", " + config.KeyFile() +
                                  "): " + e.what());
    }
    if (Status st = certificates.Load(config.CertFile(), config.KeyFile());
        !st.ok())
      return st;
    certificates.Install(ssl_ctx.native_handle());
    return Ok{};
  }

  Status Bind(Kind kind, const config::Listener& l) {
    if (!l.enabled) return Ok{};
    try {
      auto acc = std::make_unique<tcp::acceptor>(*loops[0]);
      tcp::endpoint ep(asio::ip::make_address(l.address), l.port);
      acc->open(ep.protocol());
      acc->set_option(asio::socket_base::reuse_address(true));
      if (ep.address().is_v6()) acc->set_option(asio::ip::v6_only(false));
      acc->bind(ep);
      // The kernel's largest backlog (net.core.somaxconn): a burst of
      // connections waits in the queue rather than having SYNs dropped
      // (a dropped SYN costs the client a 1 s retransmit).
      acc->listen(asio::socket_base::max_listen_connections);
      bound.push_back(
          {KindName(kind), l.address, acc->local_endpoint().port()});
      listening.emplace_back(kind, acc.get());
      acceptors.push_back(std::move(acc));
    } catch (const boost::system::system_error& e) {
      // The code's own words ("Address already in use"), not what() with
      // Asio's source location.
      return Error::Permanent("listen", std::string("cannot listen on ") +
                                            KindName(kind) + " " + l.address +
                                            ":" + std::to_string(l.port) +
                                            ": " + e.code().message());
    } catch (const std::exception& e) {
      return Error::Permanent("listen", std::string("cannot listen on ") +
                                            KindName(kind) + " " + l.address +
                                            ":" + std::to_string(l.port) +
                                            ": " + e.what());
    }
    return Ok{};
  }

  awaitable<void> AcceptLoop(Kind kind, tcp::acceptor* acc) {
    int64_t backoff_ms = 0, last_accept_log_ms = 0;
    uint64_t logged_accept_errors = 0;
    while (!stopping) {
      asio::io_context& loop = PickLoop();
      tcp::socket sock(loop);
      boost::system::error_code ec;
      co_await acc->async_accept(sock, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping) co_return;
        // EMFILE and friends: back off (doubling up to 1 s) instead of
        // spinning, and log once per 10 s with a count, not per failure.
        ++accept_errors;
        backoff_ms = std::min<int64_t>(backoff_ms ? backoff_ms * 2 : 10, 1000);
        int64_t now = NowMillis();
        if (now - last_accept_log_ms >= 10'000) {
          SESAME_LOG(kWarn, kLog)
              << "accept on " << KindName(kind) << ": " << ec.message() << " ("
              << accept_errors - logged_accept_errors
              << " accept errors since the last report; backing off "
              << backoff_ms << " ms)";
          last_accept_log_ms = now;
          logged_accept_errors = accept_errors;
        }
        asio::steady_timer t(co_await asio::this_coro::executor,
                             std::chrono::milliseconds(backoff_ms));
        co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      backoff_ms = 0;
      sock.set_option(tcp::no_delay(true), ec);
      if (kind == Kind::kHttp) {
        asio::co_spawn(loop, HttpConnection(std::move(sock)), asio::detached);
      } else {
        asio::co_spawn(loop, SmtpConnection(kind, std::move(sock)),
                       asio::detached);
      }
    }
  }

  // Returns false when a limit is exceeded; the caller answers 421.
  bool Admit(const std::string& ip) {
    std::lock_guard<std::mutex> lock(conn_mu);
    if (connections >= config.limits.max_connections) return false;
    if (per_ip[ip] >= config.limits.max_connections_per_ip) return false;
    ++connections;
    ++per_ip[ip];
    return true;
  }
  void Release(const std::string& ip) {
    std::lock_guard<std::mutex> lock(conn_mu);
    --connections;
    if (--per_ip[ip] == 0) per_ip.erase(ip);
  }

  bool AdmitHttp(const std::string& ip) {
    std::lock_guard<std::mutex> lock(conn_mu);
    if (http_connections < config.limits.max_http_connections &&
        http_per_ip[ip] < config.limits.max_http_connections_per_ip) {
      ++http_connections;
      ++http_per_ip[ip];
      return true;
    }
    if (http_per_ip[ip] == 0) http_per_ip.erase(ip);
    return false;
  }
  void ReleaseHttp(const std::string& ip) {
    std::lock_guard<std::mutex> lock(conn_mu);
    --http_connections;
    if (--http_per_ip[ip] == 0) http_per_ip.erase(ip);
  }
  // A reserve slot for a connection over the limits, evicting the oldest
  // silent one when the reserve is full; null when every reserve connection
  // has a request in (the newcomer is closed).
  std::shared_ptr<ReserveTicket> AdmitReserve(asio::any_io_executor loop,
                                              bool has_bytes) {
    auto ticket = std::make_shared<ReserveTicket>();
    ticket->loop = loop;
    ticket->has_bytes = has_bytes;
    std::shared_ptr<ReserveTicket> evicted;
    {
      std::lock_guard<std::mutex> lock(conn_mu);
      if (http_reserve.size() >= kHttpReserve) {
        auto it = std::find_if(http_reserve.begin(), http_reserve.end(),
                               [](const auto& t) { return !t->has_bytes; });
        if (it == http_reserve.end()) return nullptr;
        evicted = std::move(*it);
        http_reserve.erase(it);
      }
      http_reserve.push_back(ticket);
    }
    if (evicted) {
      asio::post(evicted->loop, [evicted] {
        boost::system::error_code ec;
        if (evicted->socket) evicted->socket->close(ec);
      });
    }
    return ticket;
  }
  void ReleaseReserve(const std::shared_ptr<ReserveTicket>& ticket) {
    std::lock_guard<std::mutex> lock(conn_mu);
    auto it = std::find(http_reserve.begin(), http_reserve.end(), ticket);
    if (it != http_reserve.end()) http_reserve.erase(it);
  }

  bool Authenticate(std::string_view user, std::string_view pass) const {
    if (hooks.authenticate && hooks.authenticate(user, pass)) return true;
    bool ok = false;
    for (const auto& u : config.smtp_users) {
      ok |= ConstantTimeEquals(user, u.username) &&
            ConstantTimeEquals(pass, u.password);
    }
    return ok;
  }

  awaitable<void> SmtpConnection(Kind kind, tcp::socket sock) {
    boost::system::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    if (ec) co_return;
    std::string ip =
        remote.address().is_v6() && remote.address().to_v6().is_v4_mapped()
            ? asio::ip::make_address_v4(asio::ip::v4_mapped,
                                        remote.address().to_v6())
                  .to_string()
            : remote.address().to_string();
    if (!Admit(ip)) {
      ++sessions_refused;
      SESAME_LOG(kWarn, kLog) << "refusing " << ip << " on " << KindName(kind)
                              << ": connection limit";
      std::string msg = "421 4.7.0 " + config.hostname +
                        " Too many connections, try again later\r\n";
      co_await asio::async_write(sock, asio::buffer(msg),
                                 asio::redirect_error(use_awaitable, ec));
      sock.close(ec);
      co_return;
    }
    ++sessions_total;
    struct Releaser {
      Impl* impl;
      std::string ip;
      ~Releaser() { impl->Release(ip); }
    } releaser{this, ip};
    try {
      co_await RunSmtp(kind, std::move(sock), ip);
    } catch (const std::exception& e) {
      SESAME_LOG(kWarn, kLog)
          << KindName(kind) << " session with " << ip << " ended: " << e.what();
    }
  }

  // The I/O side of one SMTP connection. Plaintext until STARTTLS (or from
  // the start on smtps), when the socket moves into an ssl::stream. One
  // watchdog timer per connection enforces idle timeouts: reads and writes
  // only move a deadline, so the hot path arms no timers.
  struct Conn {
    explicit Conn(tcp::socket s)
        : sock(std::move(s)), watchdog(sock.get_executor()) {}
    tcp::socket sock;
    std::optional<ssl::stream<tcp::socket>> tls;
    asio::steady_timer watchdog;
    std::chrono::steady_clock::time_point deadline;
    bool timed_out = false;
    bool done = false;

    tcp::socket& lowest() { return tls ? tls->next_layer() : sock; }
    void Arm(std::chrono::seconds timeout) {
      deadline = std::chrono::steady_clock::now() + timeout;
      // Deadlines usually move later, which the watchdog notices when it
      // wakes; an earlier one must wake it now.
      if (deadline < watchdog.expiry()) watchdog.cancel();
    }
  };

  static awaitable<void> Watchdog(std::shared_ptr<Conn> c) {
    boost::system::error_code ec;
    while (!c->done) {
      c->watchdog.expires_at(c->deadline);
      co_await c->watchdog.async_wait(asio::redirect_error(use_awaitable, ec));
      if (c->done) break;
      if (std::chrono::steady_clock::now() >= c->deadline) {
        c->timed_out = true;
        c->lowest().cancel(
            ec);  // the pending read or write completes with operation_aborted
        // Give the 421 a bounded time; then close outright.
        c->watchdog.expires_after(std::chrono::seconds(5));
        co_await c->watchdog.async_wait(
            asio::redirect_error(use_awaitable, ec));
        if (!c->done) c->lowest().close(ec);
        break;
      }
    }
  }

  awaitable<void> RunSmtp(Kind kind, tcp::socket sock, std::string ip) {
    auto c = std::make_shared<Conn>(std::move(sock));
    const auto timeout =
        std::chrono::seconds(config.limits.command_timeout_seconds);
    const auto data_timeout =
        std::chrono::seconds(config.limits.data_timeout_seconds);
    c->Arm(timeout);
    asio::co_spawn(c->sock.get_executor(), Watchdog(c), asio::detached);
    struct Finish {
      std::shared_ptr<Conn> c;
      ~Finish() {
        c->done = true;
        c->watchdog.cancel();
      }
    } finish{c};
    boost::system::error_code ec;

    auto handshake = [&]() -> awaitable<bool> {
      c->tls.emplace(std::move(c->sock), ssl_ctx);
      c->Arm(timeout);
      co_await c->tls->async_handshake(ssl::stream_base::server,
                                       asio::redirect_error(use_awaitable, ec));
      co_return !ec && !c->timed_out;
    };
    auto write = [&](std::string& out) -> awaitable<bool> {
      if (out.empty()) co_return true;
      if (!c->timed_out) c->Arm(timeout);
      if (c->tls) {
        co_await asio::async_write(*c->tls, asio::buffer(out),
                                   asio::redirect_error(use_awaitable, ec));
      } else {
        co_await asio::async_write(c->sock, asio::buffer(out),
                                   asio::redirect_error(use_awaitable, ec));
      }
      out.clear();
      co_return !ec;
    };

    if (kind == Kind::kImplicitTls && !co_await handshake()) co_return;
    if (kind == Kind::kMx && hooks.mx_refuses && hooks.mx_refuses(ip)) {
      // A receipt filter blocks this address: refused before any command
      // (RFC 5321 3.1's 554 greeting), then closed.
      ++mx_filtered;
      std::string refusal = "554 5.7.1 Access denied: " + ip +
                            " is blocked by a receipt filter\r\n";
      co_await write(refusal);
      co_return;
    }
    smtp::SessionOptions opts;
    opts.hostname = config.hostname;
    opts.listener = KindName(kind);
    opts.client_ip = ip;
    opts.tls_available = true;
    opts.tls_active = c->tls.has_value();
    opts.allow_auth = kind != Kind::kMx;
    opts.submission = kind != Kind::kMx;
    opts.storage_available = [sp = spool] { return sp->Accepting(); };
    opts.auth_requires_tls = !config.auth_without_tls;
    opts.max_message_bytes = config.limits.max_message_bytes;
    opts.max_recipients = config.limits.max_recipients;
    opts.max_errors = static_cast<int>(config.limits.max_errors);
    opts.local_domains = config.mx_domains;
    opts.is_local_domain = hooks.is_mx_domain;
    if (kind == Kind::kMx) opts.receiving = hooks.receiving;
    if (kind != Kind::kMx) {
      for (const auto& n : config.relay_networks)
        opts.relay_client |= n.Contains(ip);
    }
    // Failed logins are slowed, then the address is locked out: the delay
    // is served before the 535 reply is written.
    int64_t auth_delay_ms = 0;
    opts.auth_gate = [this,
                      ip](std::string_view) -> std::optional<std::string> {
      int64_t left = login_throttle.LockedFor(ip, NowMillis());
      if (left == 0) return std::nullopt;
      ++auth_locked_out;
      return "Too many failed authentications from " + ip + "; try again in " +
             std::to_string((left + 999) / 1000) + " s";
    };
    smtp::ServerSession session(
        opts,
        [this, ip, &auth_delay_ms](std::string_view u, std::string_view p) {
          bool ok = Authenticate(u, p);
          if (ok) {
            login_throttle.Succeeded(ip, std::string(u));
          } else {
            auth_delay_ms =
                login_throttle.Failed(ip, std::string(u), NowMillis());
          }
          return ok;
        });
    if (c->tls)
      session.OnTlsEstablished(
          std::string(SSL_get_version(c->tls->native_handle())));
    SessionTally tally{this, &session};
    session.Start();

    std::string in;
    constexpr size_t kReadSize = 16 * 1024;
    std::unique_ptr<char[]> buf(
        new char[kReadSize]);  // uninitialised: no memset per connection
    std::vector<std::chrono::steady_clock::time_point>
        unreported;  // commits awaiting their reply write
    while (true) {
      // Consume everything buffered; replies accumulate (PIPELINING).
      bool close = false;
      while (!in.empty()) {
        size_t consumed = 0;
        auto action = session.Process(in, &consumed);
        in.erase(0, consumed);
        if (action == smtp::ServerSession::Action::kCommit) {
          unreported.push_back(std::chrono::steady_clock::now());
          smtp::Envelope env = session.TakeEnvelope();
          spool::MessageMeta meta;
          meta.id = env.id;
          meta.created_ms = env.received_ms;
          meta.mail_from = env.mail_from;
          for (auto& r : env.recipients) {
            spool::Recipient rc;
            rc.address = std::move(r);
            meta.recipients.push_back(std::move(rc));
          }
          meta.smtputf8 = env.smtputf8;
          meta.eight_bit = env.eight_bit;
          meta.tls = env.tls;
          meta.auth_user = env.auth_user;
          meta.client_ip = env.client_ip;
          meta.source = KindName(kind);
          // SES SMTP: the configuration set is named by a header.
          if (kind != Kind::kMx)
            meta.config_set =
                smtp::HeaderValue(env.content, "X-SES-CONFIGURATION-SET");
          admission::Submission sub;
          sub.source = kind == Kind::kMx ? admission::Source::kInbound
                                         : admission::Source::kSubmission;
          sub.meta = std::move(meta);
          sub.content = std::move(env.content);
          Status s =
              co_await AsyncSubmit(admission, std::move(sub), use_awaitable);
          if (s.ok()) {
            ++accepted[static_cast<int>(kind)];
          } else {
            ++not_accepted;
            if (s.error().code() == "throttled") ++throttled;
            SESAME_LOG(kWarn, kLog)
                << "not accepted " << env.id << ": " << s.error().ToString();
          }
          session.OnCommitResult(s, env.id);
          continue;
        }
        if (action == smtp::ServerSession::Action::kStartTls) {
          in.clear();  // RFC 3207 / CVE-2011-0411: never act on pre-TLS
                       // pipelined bytes
          if (!co_await write(session.output())) co_return;
          if (!co_await handshake()) co_return;
          session.OnTlsEstablished(
              std::string(SSL_get_version(c->tls->native_handle())));
          continue;
        }
        if (action == smtp::ServerSession::Action::kClose) {
          close = true;
          break;
        }
      }
      if (auth_delay_ms > 0) {
        asio::steady_timer pause(c->sock.get_executor(),
                                 std::chrono::milliseconds(auth_delay_ms));
        auth_delay_ms = 0;
        c->Arm(timeout + std::chrono::seconds(10));
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      }
      if (!co_await write(session.output())) break;
      auto now = std::chrono::steady_clock::now();
      for (auto t : unreported)
        commit_latency.Observe(std::chrono::duration<double>(now - t).count());
      unreported.clear();
      if (close) break;
      // A command must arrive whole within the command timeout: while one
      // is partly read, more bytes do not move its deadline (a client
      // sending a byte at a time cannot hold the connection forever).
      // Content (DATA/BDAT) gets the per-read data timeout of RFC 5321.
      if (session.in_content()) {
        c->Arm(data_timeout);
      } else if (!session.partial_line()) {
        c->Arm(timeout);
      }
      size_t n = 0;
      if (c->tls) {
        n = co_await c->tls->async_read_some(
            asio::buffer(buf.get(), kReadSize),
            asio::redirect_error(use_awaitable, ec));
      } else {
        n = co_await c->sock.async_read_some(
            asio::buffer(buf.get(), kReadSize),
            asio::redirect_error(use_awaitable, ec));
      }
      if (c->timed_out) {
        session.OnTimeout();
        ec = {};
        co_await write(session.output());
        break;
      }
      if (ec) break;  // EOF or reset: nothing acknowledged is at stake
      in.append(buf.get(), n);
    }
    if (c->tls && !c->timed_out) {
      c->Arm(std::chrono::seconds(2));
      co_await c->tls->async_shutdown(asio::redirect_error(use_awaitable, ec));
    }
    c->lowest().close(ec);
  }

  void WriteMetrics(metrics::Writer& w) {
    w.Family("sesame_smtp_messages_accepted_total",
             "Messages made durable and answered 250.", "counter");
    for (Kind k : {Kind::kSubmission, Kind::kImplicitTls, Kind::kMx}) {
      w.Sample("sesame_smtp_messages_accepted_total",
               {{"listener", KindName(k)}},
               accepted[static_cast<int>(k)].load());
    }
    w.Counter("sesame_smtp_receipt_filter_refusals_total",
              "MX connections refused at connect by a receipt filter.",
              mx_filtered.load());
    w.Counter("sesame_smtp_messages_not_accepted_total",
              "Messages refused at the end of DATA: by admission, or because "
              "the spool failed.",
              not_accepted.load());
    w.Counter("sesame_smtp_sessions_total", "SMTP sessions admitted.",
              sessions_total.load());
    w.Counter("sesame_smtp_tls_sessions_total",
              "SMTP sessions that ran over TLS (implicit or STARTTLS): with "
              "sessions_total, the TLS share.",
              tls_sessions.load());
    w.Family("sesame_smtp_recipients_total", "RCPT commands by result.",
             "counter");
    w.Sample("sesame_smtp_recipients_total", {{"result", "accepted"}},
             rcpt_accepted.load());
    w.Sample("sesame_smtp_recipients_total", {{"result", "rejected"}},
             rcpt_rejected.load());
    w.Counter("sesame_smtp_throttled_total",
              "Messages refused by the sending quota (454).", throttled.load());
    w.Family("sesame_smtp_auth_failures_total",
             "Failed SMTP AUTH attempts: wrong credentials, or refused while "
             "the address was locked out.",
             "counter");
    w.Sample("sesame_smtp_auth_failures_total", {{"reason", "credentials"}},
             login_throttle.failures());
    w.Sample("sesame_smtp_auth_failures_total", {{"reason", "locked_out"}},
             auth_locked_out.load());
    w.Counter("sesame_smtp_auth_lockouts_total",
              "Client addresses locked out after repeated failed SMTP AUTH.",
              login_throttle.lockouts());
    w.Counter("sesame_smtp_sessions_refused_total",
              "SMTP sessions refused by connection limits.",
              sessions_refused.load());
    {
      std::lock_guard<std::mutex> lock(conn_mu);  // two ints: held briefly
      w.Gauge("sesame_smtp_connections", "Open SMTP connections.", connections);
      w.Gauge("sesame_http_connections", "Open HTTP connections.",
              http_connections + http_reserve.size());
    }
    w.Counter("sesame_http_connections_refused_total",
              "HTTP connections over the connection limits (closed, or served "
              "only /health and /ready).",
              http_refused.load());
    w.Counter("sesame_accept_errors_total",
              "Failed accept() calls (e.g. out of file descriptors).",
              accept_errors.load());
    w.HistogramFamily("sesame_smtp_commit_seconds",
                      "From the end of DATA to the 250 reply written (spool "
                      "sync included).",
                      commit_latency);
  }

  // HTTP/1.1 with keep-alive on Boost.Beast (the only Beast code in Sesame).
  // Requests go to the app's handler; its answer is posted back to this
  // connection's loop.
  awaitable<void> HttpConnection(tcp::socket sock) {
    namespace beast = boost::beast;
    boost::system::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    std::string ip = ec ? "" : remote.address().to_string();
    bool loopback = !ec && remote.address().is_loopback();
    std::shared_ptr<ReserveTicket> reserve;
    if (!AdmitHttp(ip)) {
      ++http_refused;
      // A request already waiting in the socket is a live client, kept
      // ahead of silent ones.
      char first = 0;
      bool has_bytes =
          ::recv(sock.native_handle(), &first, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
      reserve = AdmitReserve(sock.get_executor(), has_bytes);
      if (!reserve) {
        sock.close(ec);  // over every limit: the descriptor goes back at once
        co_return;
      }
    }
    struct HttpReleaser {
      Impl* impl;
      std::string ip;
      std::shared_ptr<ReserveTicket> reserve;
      ~HttpReleaser() {
        if (!reserve) {
          impl->ReleaseHttp(ip);
          return;
        }
        reserve->socket = nullptr;
        impl->ReleaseReserve(reserve);
      }
    } releaser{this, ip, reserve};
    if (config.http.tls) {
      beast::ssl_stream<beast::tcp_stream> stream(
          beast::tcp_stream(std::move(sock)), ssl_ctx);
      if (reserve) reserve->socket = &beast::get_lowest_layer(stream).socket();
      beast::get_lowest_layer(stream).expires_after(
          HeaderDeadline(reserve.get()));
      co_await stream.async_handshake(ssl::stream_base::server,
                                      asio::redirect_error(use_awaitable, ec));
      if (ec) co_return;
      co_await ServeHttp(stream, ip, loopback, reserve.get());
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
    } else {
      beast::tcp_stream stream(std::move(sock));
      if (reserve) reserve->socket = &stream.socket();
      co_await ServeHttp(stream, ip, loopback, reserve.get());
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  // How long the TLS handshake, and each request's header (idle time
  // included), may take: a reserve connection must ask at once.
  std::chrono::milliseconds HeaderDeadline(const ReserveTicket* reserve) const {
    return reserve ? std::chrono::milliseconds(500)
                   : std::chrono::seconds(
                         config.limits.http_header_timeout_seconds);
  }

  // Serves requests on one connection. The header of each request (the
  // idle wait before it included) must arrive within the header timeout;
  // a trickle of bytes does not extend it. The body then gets a deadline
  // from its declared length and the minimum rate. A reserve connection
  // (over the limits) is answered once: /health and /ready, or 503.
  template <typename Stream>
  awaitable<void> ServeHttp(Stream& stream, std::string ip, bool loopback,
                            ReserveTicket* reserve) {
    namespace beast = boost::beast;
    namespace bhttp = boost::beast::http;
    boost::system::error_code ec;
    beast::flat_buffer buffer;
    while (!stopping) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(16 * 1024);
      parser.body_limit(config.limits.max_message_bytes * 4 / 3 +
                        1024 * 1024);  // base64 of the largest message
      const auto& lim = config.limits;
      beast::get_lowest_layer(stream).expires_after(HeaderDeadline(reserve));
      co_await bhttp::async_read_header(
          stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == beast::error::timeout || ec == asio::error::operation_aborted ||
          ec == asio::error::bad_descriptor)
        break;  // closed, timed out, or evicted from the reserve
      if (reserve) reserve->has_bytes = true;
      if (!ec && !parser.is_done()) {
        uint64_t expected = parser.content_length()
                                ? *parser.content_length()
                                : config.limits.max_message_bytes * 4 / 3;
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(
            lim.http_header_timeout_seconds +
            expected /
                std::max<uint64_t>(1, lim.http_min_body_bytes_per_second)));
        co_await bhttp::async_read(stream, buffer, parser,
                                   asio::redirect_error(use_awaitable, ec));
        // Too slow: the stream closed the socket on its deadline.
        if (ec == beast::error::timeout) break;
      }
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) break;
      // A reserve connection serves only the health endpoints.
      bool refused = false;
      if (reserve && !ec) {
        std::string_view target = parser.get().target();
        target = target.substr(0, target.find('?'));
        refused = target != "/health" && target != "/ready";
      }
      if (ec || refused) {
        int status = refused                            ? 503
                     : ec == bhttp::error::body_limit   ? 413
                     : ec == bhttp::error::header_limit ? 431
                                                        : 400;
        std::string msg = status == 503
                              ? "Too many connections; try again later"
                          : ec == bhttp::error::body_limit
                              ? "Request body is larger than the limit"
                          : ec == bhttp::error::header_limit
                              ? "Request headers are larger than 16 KB"
                              : "Malformed HTTP request: " + ec.message();
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        bhttp::response<bhttp::string_body> res{
            static_cast<bhttp::status>(status), 11};
        res.set(bhttp::field::content_type, "application/json");
        res.set(bhttp::field::connection, "close");
        res.body() = "{\"message\":\"" + msg + "\"}";
        res.prepare_payload();
        co_await bhttp::async_write(stream, res,
                                    asio::redirect_error(use_awaitable, ec));
        break;
      }
      auto& req = parser.get();
      net::HttpRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      size_t q = r.target.find('?');
      r.path = r.target.substr(0, q);
      r.query = q == std::string::npos ? "" : r.target.substr(q + 1);
      for (const auto& f : req)
        r.headers.emplace_back(std::string(f.name_string()),
                               std::string(f.value()));
      r.body = std::move(req.body());
      r.remote_ip = ip;
      r.loopback = loopback;
      r.secure = !std::is_same_v<Stream, beast::tcp_stream>;
      bool keep_alive = req.keep_alive();
      unsigned version = req.version();
      net::HttpResponse resp;
      if (hooks.http) {
        // The request travels in a shared_ptr and the initiation lambda is
        // built outside the co_await expression: GCC 12 mishandles
        // init-captures of coroutine locals inside co_await operands.
        auto shared_req = std::make_shared<net::HttpRequest>(std::move(r));
        auto initiate = [this, shared_req](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          hooks.http(std::move(*shared_req),
                     [shared, ex](net::HttpResponse out) {
                       asio::post(ex, [shared, out = std::move(out)]() mutable {
                         (*shared)(std::move(out));
                       });
                     });
        };
        resp = co_await asio::async_initiate<decltype(use_awaitable),
                                             void(net::HttpResponse)>(
            initiate, use_awaitable);
      } else {
        resp.status = 404;
        resp.body = "{\"message\":\"not found\"}";
      }
      bhttp::response<bhttp::string_body> res{
          static_cast<bhttp::status>(resp.status), version};
      res.set(bhttp::field::content_type, resp.content_type);
      res.set(bhttp::field::server, "Sesame");
      for (const auto& [k, v] : resp.headers) res.set(k, v);
      res.body() = std::move(resp.body);
      res.keep_alive(keep_alive && !stopping && !reserve);
      res.prepare_payload();
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      co_await bhttp::async_write(stream, res,
                                  asio::redirect_error(use_awaitable, ec));
      if (ec || !res.keep_alive()) break;
    }
  }
};

void Server::RegisterMetrics(metrics::Registry* registry) {
  registry->Add([d = impl_.get()](metrics::Writer& w) { d->WriteMetrics(w); });
}

Server::Server(const config::Config& config, spool::Spool* spool,
               admission::Admission* admission, AdminHooks hooks)
    : impl_(
          std::make_unique<Impl>(config, spool, admission, std::move(hooks))) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  // Default: leave one core to the spool writer and the kernel's I/O work;
  // measured on 2 cores, one loop thread beat two by 15-25% (fewer wake-ups).
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  unsigned n =
      impl_->config.threads ? impl_->config.threads : std::max(1u, cores - 1);
  for (unsigned i = 0; i < n; ++i) {
    impl_->loops.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->loops.back()));
  }
  Status s = impl_->SetupTls();
  if (!s.ok()) return s;
  const auto& c = impl_->config;
  for (auto [kind, l] :
       {std::pair{Kind::kSubmission, &c.smtp},
        std::pair{Kind::kImplicitTls, &c.smtps}, std::pair{Kind::kMx, &c.mx},
        std::pair{Kind::kHttp, &c.http}}) {
    s = impl_->Bind(kind, *l);
    if (!s.ok()) return s;
  }
  for (auto& [kind, acc] : impl_->listening) {
    asio::co_spawn(*impl_->loops[0], impl_->AcceptLoop(kind, acc),
                   asio::detached);
  }
  return Ok{};
}

void Server::Run() {
  std::vector<std::thread> threads;
  for (size_t i = 1; i < impl_->loops.size(); ++i) {
    threads.emplace_back([this, i] { impl_->loops[i]->run(); });
  }
  impl_->loops[0]->run();
  for (auto& t : threads) t.join();
}

Status Server::ReloadCertificates(const std::string& cert_file,
                                  const std::string& key_file) {
  Status st = impl_->certificates.Load(cert_file, key_file);
  if (st.ok())
    SESAME_LOG(kInfo, "tls")
        << "certificate reloaded from " << cert_file << " (SHA-256 "
        << impl_->certificates.Fingerprint() << ")";
  return st;
}

void Server::Stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(*impl_->loops[0], [this] {
    for (auto& a : impl_->acceptors) {
      boost::system::error_code ec;
      a->close(ec);
    }
  });
  for (auto& g : impl_->guards) g.reset();
  for (auto& l : impl_->loops) l->stop();
}

std::vector<Server::Bound> Server::bound() const { return impl_->bound; }

}  // namespace sesame::net
