#include "events/publisher.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "events/files.h"
#include "events/outbox.h"
#include "events/signer.h"
#include "events/subscriptions.h"
#include "events/webhook_client.h"
#include "events/webhook_target.h"

namespace sesame::events {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace json = boost::json;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr char kLog[] = "events";

int64_t Now() { return NowMillis(); }

std::string Uuid() {
  std::string h = RandomHex(16);
  h[12] = '4';
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
         h.substr(16, 4) + "-" + h.substr(20, 12);
}

std::string Q(std::string_view s) { return "\"" + JsonEscape(s) + "\""; }

}  // namespace

struct Publisher::Impl {
  PublisherOptions opt;
  DestinationLookup destinations;
  HeaderReader read_headers;
  NotificationLookup notifications;
  Signer signer;
  std::string cert_path;  // "/sns/SimpleNotificationService-<hash>.pem"
  SubscriptionRegistry registry;
  Outbox outbox;
  std::mt19937_64 rng{std::random_device{}()};

  // --- ingest thread: events in, outbox out ----------------------------------
  std::mutex mu;
  std::condition_variable cv;
  std::vector<delivery::MessageEvent> inbox;
  struct Message {
    std::string topic, subject, json;
  };
  std::vector<Message> messages_in;  // PublishMessage (alarms)
  std::vector<Ack> acks_in;
  bool stopping = false;
  std::thread ingest_thread;
  // Header blocks by message id, so later events of a message carry them.
  std::unordered_map<std::string, std::string> header_cache;
  std::deque<std::string> header_order;
  std::map<std::string, std::pair<int64_t, std::vector<Destination>>>
      dest_cache;
  std::unordered_map<std::string, std::pair<int64_t, IdentityNotifications>>
      notification_cache;
  std::atomic<uint64_t> published{0};

  // --- delivery thread ------------------------------------------------------
  asio::io_context loop{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      guard;
  std::thread delivery_thread;
  ssl::context tls{ssl::context::tls_client};
  WebhookClient webhooks{&tls, opt.events.timeout_seconds, opt.own_listeners};
  asio::steady_timer pump_timer{loop};

  explicit Impl(PublisherOptions o)
      : opt(std::move(o)), registry(opt.dir, opt.who), outbox(opt.dir) {}

  std::string TopicArn(const std::string& topic) {
    return registry.TopicArn(topic);
  }

  // --- state ----------------------------------------------------------------
  // The signing key, the outbox, then the subscriptions, each owed what the
  // outbox holds for its topic since it started and did not settle.
  Status LoadState() {
    ::mkdir(opt.dir.c_str(), 0700);
    Status s = signer.Load(opt.dir, "sesame", opt.events.signing == "ecdsa");
    if (!s.ok()) return s;
    cert_path = "/sns/SimpleNotificationService-" +
                auth::Sha256Hex(signer.cert_pem()).substr(0, 32) + ".pem";
    Outbox::Loaded logs = outbox.Load();
    s = registry.Load(opt.events, outbox.next_seq());
    if (!s.ok()) return s;
    for (const auto& sub : registry.all()) {
      const auto& acked = logs.acked[sub->id];
      const auto& dead = logs.dead[sub->id];
      for (const auto& [seq, r] : logs.records) {
        if (r->topic != sub->topic || seq < sub->start_seq || acked.count(seq))
          continue;
        if (dead.count(seq)) {
          sub->dead[seq] = r;
          outbox.AddDead(1);
        } else {
          sub->pending.push_back(r);
          outbox.AddOwed(1);
        }
      }
    }
    // Not fatal: it is written again on the next change, and a full disk
    // must not keep the server (and its delivery) from starting.
    if (Status saved = registry.SaveState(); !saved.ok())
      SESAME_LOG(kWarn, kLog)
          << saved.error().message()
          << " (kept in memory; written on the next change)";
    return outbox.Open();
  }

  // Unsubscribe (delivery thread): what it still had to deliver is settled.
  Status RemoveSub(const std::string& arn) {
    Sub* sub = registry.Remove(arn);
    if (!sub)
      return Error::Permanent("NotFound", "Subscription does not exist");
    for (const auto& r : sub->pending)
      PostAck(sub->id, r->seq, AckKind::kDelivered);
    for (const auto& [seq, r] : sub->dead) {
      PostAck(sub->id, seq, AckKind::kRedriven);
      PostAck(sub->id, seq, AckKind::kDelivered);
    }
    sub->pending.clear();
    sub->dead.clear();
    Status s = registry.SaveApiState();
    if (s.ok()) s = registry.SaveState();
    return s;
  }

  // --- ingest ---------------------------------------------------------------
  void IngestLoop() {
    while (true) {
      std::vector<delivery::MessageEvent> events;
      std::vector<Message> messages;
      std::vector<Ack> acks;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(200), [&] {
          return stopping || !inbox.empty() || !acks_in.empty() ||
                 !messages_in.empty();
        });
        events.swap(inbox);
        messages.swap(messages_in);
        acks.swap(acks_in);
        if (stopping && events.empty() && acks.empty()) break;
      }
      if (!events.empty() || !messages.empty()) {
        // Group commit: at most one outbox fdatasync per sync interval, so
        // the outbox never competes with the mail spool's commits for the
        // disk; events wait that long at most.
        int64_t wait = outbox.last_append_ms() +
                       int64_t(opt.events.sync_interval_ms) - Now();
        if (wait > 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(wait));
          std::lock_guard<std::mutex> lock(mu);
          std::move(inbox.begin(), inbox.end(), std::back_inserter(events));
          inbox.clear();
          std::move(acks_in.begin(), acks_in.end(), std::back_inserter(acks));
          acks_in.clear();
        }
        Ingest(events, messages);
      }
      if (!acks.empty()) outbox.WriteAcks(acks);
      // Acks are synced lazily: one lost on a crash means one redelivery.
      outbox.SyncAcksIfDue();
      outbox.MaybeCompact();
    }
    outbox.SyncAcksIfDue(true);
  }

  // The sender identity's notification topics, cached for a second like the
  // destinations: every Delivery event asks, and the answer takes several
  // state-store reads (the address, its domain, the parent domains).
  const IdentityNotifications& NotificationsFor(const std::string& sender) {
    int64_t now = Now();
    auto it = notification_cache.find(sender);
    if (it != notification_cache.end() && now - it->second.first < 1000)
      return it->second.second;
    if (notification_cache.size() > 10000) notification_cache.clear();
    auto& slot = notification_cache[sender];
    slot = {now, notifications(sender)};
    return slot.second;
  }

  std::vector<Destination> DestinationsFor(const std::string& config_set) {
    auto it = dest_cache.find(config_set);
    int64_t now = Now();
    if (it != dest_cache.end() && now - it->second.first < 1000)
      return it->second.second;
    auto d =
        destinations ? destinations(config_set) : std::vector<Destination>{};
    dest_cache[config_set] = {now, d};
    return d;
  }

  std::string HeadersOf(const delivery::MessageEvent& e) {
    auto it = header_cache.find(e.meta.id);
    if (it != header_cache.end()) return it->second;
    if (!e.meta_complete || !read_headers) return "";
    std::string h = read_headers(e.meta.id);
    header_cache[e.meta.id] = h;
    header_order.push_back(e.meta.id);
    while (header_order.size() > 100000) {
      header_cache.erase(header_order.front());
      header_order.pop_front();
    }
    return h;
  }

  void Ingest(std::vector<delivery::MessageEvent>& events,
              const std::vector<Message>& messages) {
    std::vector<RecordPtr> fresh;
    int64_t now = Now();
    for (const auto& m : messages) {
      if (!registry.HasSubscribers(m.topic)) continue;
      auto r = outbox.NewRecord(m.topic, m.json, now);
      r->sns.subject = m.subject;
      fresh.push_back(std::move(r));
    }
    for (auto& e : events) {
      // The engine read the header block at admission (a bounce or a
      // notification may come after the message is delivered and gone).
      // Late feedback carries the header block kept in the sent index.
      if (!e.header_block.empty() && !header_cache.count(e.meta.id)) {
        header_cache[e.meta.id] = std::move(e.header_block);
        header_order.push_back(e.meta.id);
      }
      const char* type = MatchingTypeName(e.type);
      std::set<std::string> topics;
      for (const auto& d : DestinationsFor(e.meta.config_set)) {
        if (!registry.HasSubscribers(d.topic)) continue;
        for (const auto& t : d.types) {
          if (t == type) topics.insert(d.topic);
        }
      }
      // Identity notifications: Bounce, Complaint and Delivery to the
      // sending identity's topics, in the notification format.
      std::string feedback_id =
          e.feedback_id.empty() ? NewMessageId(e.timestamp_ms) : e.feedback_id;
      if (notifications && !e.meta.mail_from.empty() &&
          (e.type == delivery::MessageEvent::Type::kBounce ||
           e.type == delivery::MessageEvent::Type::kComplaint ||
           e.type == delivery::MessageEvent::Type::kDelivery)) {
        const IdentityNotifications& n = NotificationsFor(e.meta.mail_from);
        auto it = n.topics.find(EventTypeName(e.type));
        if (it != n.topics.end() && registry.HasSubscribers(it->second)) {
          fresh.push_back(outbox.NewRecord(
              it->second,
              SesNotificationJson(
                  e, MailHeaders{HeadersOf(e)}, opt.who, feedback_id,
                  n.with_headers.count(EventTypeName(e.type)) > 0),
              now));
        }
      }
      if (topics.empty()) continue;
      // One record body per event, whatever the number of topics and
      // subscribers.
      std::string body =
          SesEventJson(e, MailHeaders{HeadersOf(e)}, opt.who, feedback_id);
      for (const auto& topic : topics)
        fresh.push_back(outbox.NewRecord(topic, body, now));
    }
    if (fresh.empty()) return;
    (void)outbox.Append(fresh);  // a failure is logged; delivery goes on
    published += fresh.size();
    // The subscribers of each record, fixed now: what the outbox counts as owed
    // is exactly what the delivery thread will settle.
    std::vector<std::pair<RecordPtr, Sub*>> for_http;
    std::vector<Ack> file_acks;
    std::map<Sub*, std::string> file_out;
    for (const auto& r : fresh) {
      for (Sub* sub : registry.ForTopic(r->topic)) {
        outbox.AddOwed(1);
        if (sub->config.protocol == "file") {
          file_out[sub] += r->json + "\n";
          file_acks.push_back({sub->id, r->seq, AckKind::kDelivered});
        } else {
          for_http.emplace_back(r, sub);
        }
      }
    }
    WriteFiles(file_out, file_acks);
    asio::post(loop, [this, for_http = std::move(for_http)] {
      for (const auto& [r, sub] : for_http) {
        if (sub->removed) {
          PostAck(sub->id, r->seq, AckKind::kDelivered);  // settled: gone
          continue;
        }
        sub->pending.push_back(r);
      }
      PumpAll();
    });
  }

  // File subscriptions, written on the ingest thread; a removed one keeps
  // its descriptor until exit, so a write never races its close.
  void WriteFiles(const std::map<Sub*, std::string>& out,
                  const std::vector<Ack>& acks) {
    std::set<std::string> failed;
    for (const auto& [sub, text] : out) {
      if (::write(sub->file_fd, text.data(), text.size()) !=
              static_cast<ssize_t>(text.size()) ||
          ::fdatasync(sub->file_fd) != 0) {
        SESAME_LOG(kError, kLog)
            << "file subscription " << sub->config.endpoint << ": write failed";
        failed.insert(sub->id);
        continue;
      }
      sub->delivered += std::count(text.begin(), text.end(), '\n');
    }
    std::vector<Ack> ok;
    for (const auto& a : acks) {
      if (!failed.count(a.sub)) ok.push_back(a);
    }
    outbox.WriteAcks(ok);
  }

  // Acks are written lazily (a lost one costs one redelivery): they wait for
  // the ingest thread's next pass (at most 200 ms) instead of waking it for
  // every delivered event.
  void PostAck(const std::string& sub, uint64_t seq, AckKind kind) {
    std::lock_guard<std::mutex> lock(mu);
    acks_in.push_back({sub, seq, kind});
  }

  // --- delivery (its own thread) ------------------------------------------
  // The SNS JSON envelope. `sig` carries MessageId, Timestamp and Signature:
  // filled on first use, then reused, so that one record is signed once for
  // all the topic's subscribers and its retries keep their MessageId (none
  // of the signed fields is per subscription).
  // The notification envelope up to its per-subscriber tail: the same JSON
  // and signature as SignedEnvelope's, built once per record with one
  // buffer (no map, no intermediate copies) — this runs for every event.
  const std::string& NotificationEnvelope(const Sub& sub,
                                          const std::string& message,
                                          SnsSignature* sig) {
    if (!sig->envelope.empty()) return sig->envelope;
    // A raw subscriber of the topic may have given the record its id first.
    if (sig->id.empty()) sig->id = Uuid();
    if (sig->timestamp.empty()) sig->timestamp = IsoTime(Now());
    const std::string topic_arn = TopicArn(sub.topic);
    static const std::string kSesEventSubject =
        "Amazon SES Email Event Notification";
    const std::string& subject =
        sig->subject.empty() ? kSesEventSubject : sig->subject;
    if (sig->signature.empty()) {
      std::string to_sign;
      to_sign.reserve(message.size() + 256);
      to_sign.append("Message\n").append(message);
      to_sign.append("\nMessageId\n").append(sig->id);
      to_sign.append("\nSubject\n").append(subject);
      to_sign.append("\nTimestamp\n").append(sig->timestamp);
      to_sign.append("\nTopicArn\n").append(topic_arn);
      to_sign.append("\nType\nNotification\n");
      sig->signature = signer.Sign(to_sign);
    }
    std::string& out = sig->envelope;
    out.reserve(message.size() * 11 / 10 + 1024);
    auto field = [&out](std::string_view key, std::string_view value,
                        bool first = false) {
      if (!first) out += ',';
      out += '"';
      out += key;
      out += "\":\"";
      AppendJsonEscaped(out, value);
      out += '"';
    };
    out += '{';
    field("Type", "Notification", true);
    field("MessageId", sig->id);
    field("TopicArn", topic_arn);
    field("Subject", subject);
    field("Message", message);
    field("Timestamp", sig->timestamp);
    field("SignatureVersion", "2");
    field("Signature", sig->signature);
    field("SigningCertURL", opt.public_base + cert_path);
    return out;
  }

  // `,"UnsubscribeURL":"..."}`: what ends a notification for `sub`.
  std::string EnvelopeTail(const Sub& sub) {
    return ",\"UnsubscribeURL\":" +
           Q(opt.public_base + "/sns/unsubscribe?SubscriptionArn=" + sub.arn) +
           "}";
  }

  // The SubscriptionConfirmation message (signed like a notification, with
  // its own fields: Token and SubscribeURL, no Subject).
  std::string ConfirmationEnvelope(const Sub& sub, const std::string& message) {
    std::string id = Uuid(), ts = IsoTime(Now());
    std::string topic_arn = TopicArn(sub.topic);
    std::string subscribe_url = opt.public_base +
                                "/sns/confirm?SubscriptionArn=" + sub.arn +
                                "&Token=" + sub.token;
    // The string to sign: "Name\nValue\n" for each key, in byte order.
    std::string to_sign = "Message\n" + message + "\nMessageId\n" + id +
                          "\nSubscribeURL\n" + subscribe_url + "\nTimestamp\n" +
                          ts + "\nToken\n" + sub.token + "\nTopicArn\n" +
                          topic_arn + "\nType\nSubscriptionConfirmation\n";
    return "{\"Type\":\"SubscriptionConfirmation\",\"MessageId\":" + Q(id) +
           ",\"Token\":" + Q(sub.token) + ",\"TopicArn\":" + Q(topic_arn) +
           ",\"Message\":" + Q(message) +
           ",\"SubscribeURL\":" + Q(subscribe_url) + ",\"Timestamp\":" + Q(ts) +
           ",\"SignatureVersion\":\"2\",\"Signature\":" +
           Q(signer.Sign(to_sign)) +
           ",\"SigningCertURL\":" + Q(opt.public_base + cert_path) + "}";
  }

  awaitable<void> Confirm(Sub* sub) {
    while (!sub->confirmed && !loop.stopped()) {
      const std::string topic_arn = TopicArn(sub->topic);
      std::string body = ConfirmationEnvelope(
          *sub, "You have chosen to subscribe to the topic " + topic_arn +
                    ".\nTo confirm the subscription, visit the SubscribeURL "
                    "included in this message.");
      std::string wire;
      WebhookClient::AppendRequest(
          wire, *sub->url,
          {{"x-amz-sns-message-type", "SubscriptionConfirmation"},
           {"x-amz-sns-topic-arn", topic_arn}},
          body);
      // GCC 12: no temporaries in a co_await operand.
      Url url = *sub->url;
      std::vector<int> codes =
          co_await webhooks.PostBatch(&sub->idle, sub->config.max_concurrency,
                                      std::move(url), std::move(wire), 1);
      if (codes[0] >= 200 && codes[0] < 300)
        break;  // now waiting for the visit
      asio::steady_timer t(loop);
      t.expires_after(std::chrono::seconds(opt.events.max_retry_seconds));
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    sub->confirming = false;
  }

  awaitable<void> Deliver(Sub* sub, std::vector<RecordPtr> rs) {
    std::string wire;
    const std::string topic_arn = TopicArn(sub->topic);
    const std::string tail = sub->config.raw ? "" : EnvelopeTail(*sub);
    for (RecordPtr& r : rs) {
      std::string_view body = r->json;
      if (!sub->config.raw) body = NotificationEnvelope(*sub, r->json, &r->sns);
      if (r->sns.id.empty()) r->sns.id = Uuid();  // raw deliveries too
      if (wire.empty()) wire.reserve(rs.size() * (600 + body.size()));
      WebhookClient::AppendRequest(wire, *sub->url,
                                   {{"x-amz-sns-message-type", "Notification"},
                                    {"x-amz-sns-message-id", r->sns.id},
                                    {"x-amz-sns-topic-arn", topic_arn},
                                    {"x-amz-sns-subscription-arn", sub->arn}},
                                   body, tail);
    }
    Url url = *sub->url;
    size_t count = rs.size();
    std::vector<int> codes =
        co_await webhooks.PostBatch(&sub->idle, sub->config.max_concurrency,
                                    std::move(url), std::move(wire), count);
    --sub->inflight;
    int64_t now = Now();
    std::vector<RecordPtr> again;  // back to the front of the queue, in order
    bool failed = false;
    for (size_t i = 0; i < rs.size(); ++i) {
      RecordPtr& r = rs[i];
      int code = codes[i];
      if (code >= 200 && code < 300) {
        ++sub->delivered;
        PostAck(sub->id, r->seq, AckKind::kDelivered);
      } else if (code == WebhookClient::kUnanswered) {
        again.push_back(r);
      } else {
        ++sub->failed_attempts;
        failed = true;
        if (now - r->created_ms >
            int64_t(opt.events.retry_for_seconds) * 1000) {
          ++sub->dead_lettered;
          sub->dead[r->seq] = r;
          PostAck(sub->id, r->seq, AckKind::kDead);
          SESAME_LOG(kWarn, kLog) << "event " << r->seq << " for " << sub->arn
                                  << " dead-lettered after "
                                  << opt.events.retry_for_seconds << " s";
        } else {
          again.push_back(r);
        }
      }
    }
    for (auto it = again.rbegin(); it != again.rend(); ++it)
      sub->pending.push_front(*it);
    if (!failed) {
      sub->delay_s = 0;
      sub->next_try_ms = 0;
    } else {
      // Exponential back-off with full jitter, per subscription: one probe
      // at a time until the endpoint answers again.
      double base = std::max<double>(
          opt.events.min_retry_seconds,
          std::min<double>(opt.events.max_retry_seconds,
                           sub->delay_s ? sub->delay_s * 2 : 0));
      sub->delay_s = base;
      std::uniform_real_distribution<double> jitter(0.5, 1.0);
      sub->next_try_ms = now + int64_t(base * jitter(rng) * 1000);
    }
    PumpAll();
  }

  void Pump(Sub* sub) {
    if (!sub->url || sub->config.protocol == "file") return;
    if (!sub->confirmed) {
      if (!sub->confirming) {
        sub->confirming = true;
        asio::co_spawn(loop, Confirm(sub), asio::detached);
      }
      return;
    }
    int64_t now = Now();
    int limit =
        sub->delay_s > 0 ? 1 : static_cast<int>(sub->config.max_concurrency);
    if (sub->next_try_ms > now) return;
    // Up to `pipeline` records per request batch; one while probing.
    size_t depth =
        sub->delay_s > 0 ? 1 : std::max<size_t>(1, sub->config.pipeline);
    while (sub->inflight < limit && !sub->pending.empty()) {
      std::vector<RecordPtr> rs;
      while (rs.size() < depth && !sub->pending.empty()) {
        rs.push_back(std::move(sub->pending.front()));
        sub->pending.pop_front();
      }
      ++sub->inflight;
      asio::co_spawn(loop, Deliver(sub, std::move(rs)), asio::detached);
    }
  }

  void PumpAll() {
    int64_t next = 0;
    for (const auto& sub : registry.all()) {
      Pump(sub.get());
      if (!sub->pending.empty() && sub->next_try_ms > Now() &&
          (next == 0 || sub->next_try_ms < next))
        next = sub->next_try_ms;
    }
    if (next) {
      auto when = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(std::max<int64_t>(1, next - Now()));
      if (pump_timer.expiry() <= std::chrono::steady_clock::now() ||
          pump_timer.expiry() > when) {
        pump_timer.expires_at(when);
        pump_timer.async_wait([this](boost::system::error_code ec) {
          if (!ec) PumpAll();
        });
      }
    }
  }

  template <typename F>
  auto RunOnLoop(F f) -> decltype(f()) {
    // Already on the delivery thread (a call posted through Run()): answer
    // at once.
    if (loop.get_executor().running_in_this_thread()) return f();
    std::promise<decltype(f())> p;
    auto fut = p.get_future();
    asio::post(loop, [&] { p.set_value(f()); });
    return fut.get();
  }
};

Publisher::Publisher(PublisherOptions options, DestinationLookup destinations,
                     HeaderReader headers, NotificationLookup notifications)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->destinations = std::move(destinations);
  impl_->read_headers = std::move(headers);
  impl_->notifications = std::move(notifications);
}

Publisher::~Publisher() { Stop(); }

Status Publisher::Start() {
  Impl* d = impl_.get();
  Status s = d->LoadState();
  if (!s.ok()) return s;
  d->tls.set_default_verify_paths();
  d->tls.set_verify_mode(ssl::verify_peer);
  d->guard.emplace(d->loop.get_executor());
  // Events are asynchronous: under CPU contention the mail path goes first
  // and the events catch up (Linux applies nice per thread).
  int nice = static_cast<int>(d->opt.events.nice);
  auto lower = [nice] {
    if (nice > 0)
      (void)::setpriority(PRIO_PROCESS,
                          static_cast<id_t>(::syscall(SYS_gettid)), nice);
  };
  d->ingest_thread = std::thread([d, lower] {
    lower();
    d->IngestLoop();
  });
  d->delivery_thread = std::thread([d, lower] {
    lower();
    d->loop.run();
  });
  asio::post(d->loop, [d] { d->PumpAll(); });
  return Ok{};
}

void Publisher::Stop() {
  Impl* d = impl_.get();
  if (!d->ingest_thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(d->mu);
    d->stopping = true;
  }
  d->cv.notify_one();
  d->ingest_thread.join();
  d->guard.reset();
  d->loop.stop();
  if (d->delivery_thread.joinable()) d->delivery_thread.join();
}

void Publisher::Publish(delivery::MessageEvent event) {
  Impl* d = impl_.get();
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(d->mu);
    was_empty = d->inbox.empty();
    d->inbox.push_back(std::move(event));
  }
  // Only the first event of a batch wakes the ingest thread.
  if (was_empty) d->cv.notify_one();
}

std::optional<net::HttpResponse> Publisher::Http(const net::HttpRequest& req) {
  Impl* d = impl_.get();
  if (req.path.rfind("/sns/", 0) != 0) return std::nullopt;
  net::HttpResponse r;
  if (req.method == "GET" && req.path == d->cert_path) {
    r.content_type = "application/x-x509-ca-cert";
    r.body = d->signer.cert_pem();
    return r;
  }
  auto param = [&](const std::string& name) -> std::string {
    std::string q = "&" + req.query;
    size_t p = q.find("&" + name + "=");
    if (p == std::string::npos) return "";
    size_t b = p + name.size() + 2, e = q.find('&', b);
    return q.substr(b, e == std::string::npos ? std::string::npos : e - b);
  };
  if (req.method == "GET" && req.path == "/sns/confirm") {
    std::string arn = param("SubscriptionArn"), token = param("Token");
    bool ok = d->RunOnLoop([d, &arn, &token] {
      for (const auto& sub : d->registry.all()) {
        if (sub->arn != arn || !auth::SafeEquals(sub->token, token)) continue;
        if (!sub->confirmed) {
          sub->confirmed = true;
          (void)d->registry.SaveState();
          d->PumpAll();
        }
        return true;
      }
      return false;
    });
    r.content_type = "text/xml";
    if (!ok) {
      r.status = 400;
      r.body =
          "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</"
          "Code><Message>Invalid token</Message></Error></ErrorResponse>";
      return r;
    }
    r.body =
        "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult>"
        "<SubscriptionArn>" +
        arn +
        "</SubscriptionArn></ConfirmSubscriptionResult>"
        "</ConfirmSubscriptionResponse>";
    return r;
  }
  r.status = 404;
  r.content_type = "text/plain";
  r.body = "not found\n";
  return r;
}

void Publisher::Run(std::function<void()> fn) {
  asio::post(impl_->loop, std::move(fn));
}

void Publisher::RegisterMetrics(metrics::Registry* registry) {
  Impl* d = impl_.get();
  registry->Add([d](metrics::Writer& w) {
    w.Counter("sesame_events_published_total",
              "SES event records written to the outbox (one per topic).",
              d->published.load());
  });
  // Subscriptions belong to the delivery thread: written there.
  registry->AddOwned(
      [d](std::function<void()> f) { asio::post(d->loop, std::move(f)); },
      [d](metrics::Writer& w) {
        struct Family {
          const char* name;
          const char* help;
          const char* type;
          std::function<double(const Sub&)> value;
        };
        const Family families[] = {
            {"sesame_events_backlog", "Records waiting for a subscriber.",
             "gauge",
             [](const Sub& s) {
               return static_cast<double>(s.pending.size() + s.inflight);
             }},
            {"sesame_events_delivered_total",
             "Records a subscriber acknowledged.", "counter",
             [](const Sub& s) {
               return static_cast<double>(s.delivered.load());
             }},
            {"sesame_events_failed_attempts_total",
             "Delivery attempts that failed.", "counter",
             [](const Sub& s) {
               return static_cast<double>(s.failed_attempts);
             }},
            {"sesame_events_dead_letters",
             "Records in a subscription's dead-letter store.", "gauge",
             [](const Sub& s) { return static_cast<double>(s.dead.size()); }},
        };
        for (const auto& f : families) {
          w.Family(f.name, f.help, f.type);
          for (const auto& sub : d->registry.all()) {
            std::string label = sub->topic + ":" + sub->id.substr(0, 8);
            w.Sample(f.name, {{"subscription", label}}, f.value(*sub));
          }
        }
      });
}

std::string Publisher::SubscriptionsJson() {
  Impl* d = impl_.get();
  return d->RunOnLoop([d] {
    std::string out = "[";
    for (const auto& sub : d->registry.all()) {
      if (sub->removed) continue;
      out += std::string(out.size() > 1 ? "," : "") +
             "{\"subscription\":" + Q(sub->id) +
             ",\"subscriptionArn\":" + Q(sub->arn) +
             ",\"topic\":" + Q(sub->topic) +
             ",\"protocol\":" + Q(sub->config.protocol) +
             ",\"endpoint\":" + Q(sub->config.endpoint) +
             ",\"raw\":" + (sub->config.raw ? "true" : "false") +
             ",\"confirmed\":" + (sub->confirmed ? "true" : "false") +
             ",\"backlog\":" + std::to_string(sub->pending.size()) +
             ",\"inflight\":" + std::to_string(sub->inflight) +
             ",\"delivered\":" + std::to_string(sub->delivered.load()) +
             ",\"failedAttempts\":" + std::to_string(sub->failed_attempts) +
             ",\"deadLetters\":" + std::to_string(sub->dead.size()) +
             ",\"retryingUntil\":" +
             (sub->next_try_ms > 0 ? Q(IsoTime(sub->next_try_ms)) : "null") +
             "}";
    }
    return out + "]";
  });
}

std::string Publisher::DeadLettersJson() {
  Impl* d = impl_.get();
  return d->RunOnLoop([d] {
    std::string out = "[";
    for (const auto& sub : d->registry.all()) {
      for (const auto& [seq, r] : sub->dead) {
        out += std::string(out.size() > 1 ? "," : "") +
               "{\"subscription\":" + Q(sub->id) +
               ",\"subscriptionArn\":" + Q(sub->arn) +
               ",\"seq\":" + std::to_string(seq) + ",\"topic\":" + Q(r->topic) +
               ",\"event\":" + r->json + "}";
      }
    }
    return out + "]";
  });
}

int Publisher::Redrive(const std::string& subscription) {
  Impl* d = impl_.get();
  return d->RunOnLoop([d, &subscription] {
    int n = 0;
    for (const auto& sub : d->registry.all()) {
      if (!subscription.empty() && sub->id != subscription &&
          sub->arn != subscription)
        continue;
      for (auto& [seq, r] : sub->dead) {
        // A fresh retry window from now.
        auto copy = std::make_shared<Record>(*r);
        copy->created_ms = Now();
        sub->pending.push_back(std::move(copy));
        d->PostAck(sub->id, seq, AckKind::kRedriven);
        ++n;
      }
      sub->dead.clear();
      sub->delay_s = 0;
      sub->next_try_ms = 0;
    }
    d->PumpAll();
    return n;
  });
}

Result<std::string> Publisher::CreateTopic(const std::string& name) {
  Impl* d = impl_.get();
  if (name.empty() || name.size() > 256 ||
      name.find_first_not_of(
          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
          "0123456789-_") != std::string::npos)
    return Error::Permanent(
        "InvalidParameter",
        "Topic names are 1 to 256 letters, digits, - and _");
  return d->RunOnLoop([d, &name]() -> Result<std::string> {
    if (d->registry.AddTopic(name)) {  // else idempotent
      Status s = d->registry.SaveApiState();
      if (!s.ok()) return s.error();
    }
    return d->TopicArn(name);
  });
}

Status Publisher::DeleteTopic(const std::string& arn) {
  Impl* d = impl_.get();
  std::string name = d->registry.TopicOf(arn);
  return d->RunOnLoop([d, &name]() -> Status {
    if (Status s = d->registry.CheckDeletable(name); !s.ok()) return s;
    for (Sub* sub : d->registry.ForTopic(name)) (void)d->RemoveSub(sub->arn);
    d->registry.EraseTopic(name);
    return d->registry.SaveApiState();
  });
}

namespace {

// The account field of arn:aws:sns:<region>:<account>:<name>.
std::string AccountOf(const std::string& arn) {
  size_t pos = 0;
  for (int i = 0; i < 4 && pos != std::string::npos; ++i)
    pos = arn.find(':', pos + (i ? 1 : 0));
  if (pos == std::string::npos) return "";
  size_t end = arn.find(':', pos + 1);
  return arn.substr(pos + 1, end == std::string::npos ? end : end - pos - 1);
}

// SNS's policy for a topic nobody has set one on: the owner account only.
std::string DefaultTopicPolicy(const std::string& arn) {
  json::object statement{
      {"Sid", "__default_statement_ID"},
      {"Effect", "Allow"},
      {"Principal", {{"AWS", "*"}}},
      {"Action",
       {"SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
        "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
        "SNS:ListSubscriptionsByTopic", "SNS:Publish"}},
      {"Resource", arn},
      {"Condition", {{"StringEquals", {{"AWS:SourceOwner", AccountOf(arn)}}}}}};
  return json::serialize(json::object{{"Version", "2008-10-17"},
                                      {"Id", "__default_policy_ID"},
                                      {"Statement", json::array{statement}}});
}

Error InvalidAttribute(const std::string& name) {
  return Error::Permanent("InvalidParameter",
                          "Invalid parameter: AttributeName: " + name +
                              " is not an attribute Sesame can set");
}

}  // namespace

Result<Publisher::Attributes> Publisher::TopicAttributes(
    const std::string& topic_arn) {
  Impl* d = impl_.get();
  std::string topic = d->registry.TopicOf(topic_arn);
  if (topic.empty() || !d->registry.HasTopic(topic))
    return Error::Permanent("NotFound", "Topic does not exist");
  Attributes a{{"TopicArn", topic_arn},
               {"Owner", AccountOf(topic_arn)},
               {"DisplayName", ""},
               {"Policy", DefaultTopicPolicy(topic_arn)},
               {"SubscriptionsDeleted", "0"}};
  for (auto& [k, v] : d->registry.TopicAttributes(topic)) a[k] = v;
  int confirmed = 0, pending = 0;
  for (const auto& sub : Subscriptions(topic_arn))
    ++(sub.confirmed ? confirmed : pending);
  a["SubscriptionsConfirmed"] = std::to_string(confirmed);
  a["SubscriptionsPending"] = std::to_string(pending);
  return a;
}

Status Publisher::SetTopicAttribute(const std::string& topic_arn,
                                    const std::string& name,
                                    const std::string& value) {
  Impl* d = impl_.get();
  std::string topic = d->registry.TopicOf(topic_arn);
  if (topic.empty() || !d->registry.HasTopic(topic))
    return Error::Permanent("NotFound", "Topic does not exist");
  if (name == "Policy") {
    boost::system::error_code ec;
    json::value v = json::parse(value, ec);
    if (ec || !v.is_object())
      return Error::Permanent("InvalidParameter",
                              "Invalid parameter: Policy: not a JSON object");
  } else if (name != "DisplayName") {
    return InvalidAttribute(name);
  }
  if (name == "DisplayName" && value.size() > 100)
    return Error::Permanent(
        "InvalidParameter",
        "Invalid parameter: DisplayName: at most 100 characters");
  return d->RunOnLoop([d, &topic, &name, &value] {
    d->registry.SetTopicAttribute(topic, name, value);
    return d->registry.SaveApiState();
  });
}

Result<Publisher::Attributes> Publisher::SubscriptionAttributes(
    const std::string& arn) {
  Impl* d = impl_.get();
  return d->RunOnLoop([d, &arn]() -> Result<Attributes> {
    for (const auto& sub : d->registry.all()) {
      if (sub->arn != arn || sub->removed) continue;
      std::string topic_arn = d->TopicArn(sub->topic);
      return Attributes{
          {"SubscriptionArn", sub->arn},
          {"TopicArn", topic_arn},
          {"Owner", AccountOf(topic_arn)},
          {"Protocol", sub->config.protocol},
          {"Endpoint", sub->config.endpoint},
          {"PendingConfirmation", sub->confirmed ? "false" : "true"},
          {"ConfirmationWasAuthenticated", sub->confirmed ? "true" : "false"},
          {"RawMessageDelivery", sub->config.raw ? "true" : "false"}};
    }
    return Error::Permanent("NotFound", "Subscription does not exist");
  });
}

Status Publisher::SetSubscriptionAttribute(const std::string& arn,
                                           const std::string& name,
                                           const std::string& value) {
  if (name != "RawMessageDelivery") return InvalidAttribute(name);
  if (value != "true" && value != "false")
    return Error::Permanent(
        "InvalidParameter",
        "Invalid parameter: RawMessageDelivery: must be true or false");
  Impl* d = impl_.get();
  return d->RunOnLoop([d, &arn, &value]() -> Status {
    for (const auto& sub : d->registry.all()) {
      if (sub->arn != arn || sub->removed) continue;
      if (!sub->from_api)
        return Error::Permanent("AuthorizationError",
                                "Subscriptions from the configuration file "
                                "are changed there");
      sub->config.raw = value == "true";  // read by this thread only
      return d->registry.SaveApiState();
    }
    return Error::Permanent("NotFound", "Subscription does not exist");
  });
}

std::vector<Publisher::TopicInfo> Publisher::Topics() {
  Impl* d = impl_.get();
  std::vector<TopicInfo> out;
  for (const auto& t : d->registry.Topics())
    out.push_back({t.name, d->TopicArn(t.name), t.from_api});
  return out;
}

Result<Publisher::SubscriptionInfo> Publisher::Subscribe(
    const std::string& topic_arn, const std::string& protocol,
    const std::string& endpoint, bool raw) {
  Impl* d = impl_.get();
  std::string topic = d->registry.TopicOf(topic_arn);
  // File subscriptions exist only in the configuration file: through the
  // API they would make Sesame write any path its user can.
  if (protocol == "file")
    return Error::Permanent(
        "InvalidParameter",
        "Invalid parameter: Protocol: file subscriptions are defined in the "
        "configuration file (events.topics[].subscriptions), not through the "
        "API");
  if (protocol != "http" && protocol != "https")
    return Error::Permanent("InvalidParameter",
                            "Invalid parameter: Protocol (http or https)");
  auto url = endpoint.rfind(protocol + "://", 0) == 0 ? ParseUrl(endpoint)
                                                      : std::nullopt;
  if (!url)
    return Error::Permanent(
        "InvalidParameter",
        "Invalid parameter: Endpoint must be a " + protocol + ":// URL");
  for (unsigned char c : endpoint) {
    if (c <= 0x20 || c == 0x7f)
      return Error::Permanent("InvalidParameter",
                              "Invalid parameter: Endpoint contains a space or "
                              "control character");
  }
  uint16_t port = 0;
  const char* end = url->port.data() + url->port.size();
  if (auto [p, err] = std::from_chars(url->port.data(), end, port);
      err != std::errc() || p != end || port == 0)
    return Error::Permanent("InvalidParameter",
                            "Invalid parameter: Endpoint port");
  for (const auto& a : LiteralAddresses(url->host)) {
    if (IsOwnListener({a, port}, impl_->opt.own_listeners))
      return Error::Permanent(
          "InvalidParameter",
          "Invalid parameter: Endpoint names one of this server's own "
          "listeners");
  }
  return d->RunOnLoop([&]() -> Result<SubscriptionInfo> {
    if (!d->registry.HasTopic(topic))
      return Error::Permanent("NotFound", "Topic does not exist");
    config::Subscription sc;
    sc.protocol = protocol;
    sc.endpoint = endpoint;
    sc.raw = raw;
    Sub* sub = d->registry.Add(topic, sc, true, d->outbox.next_seq());
    Status s = d->registry.SaveApiState();
    if (s.ok()) s = d->registry.SaveState();
    if (!s.ok()) return s.error();
    d->PumpAll();  // http(s): the SubscriptionConfirmation goes out now
    return SubscriptionInfo{sub->arn,
                            d->TopicArn(sub->topic),
                            sub->config.protocol,
                            sub->config.endpoint,
                            sub->confirmed,
                            sub->config.raw};
  });
}

Status Publisher::Unsubscribe(const std::string& arn) {
  Impl* d = impl_.get();
  return d->RunOnLoop([d, &arn] { return d->RemoveSub(arn); });
}

std::vector<Publisher::SubscriptionInfo> Publisher::Subscriptions(
    const std::string& topic_arn) {
  Impl* d = impl_.get();
  return d->RunOnLoop([d, &topic_arn] {
    std::vector<SubscriptionInfo> out;
    for (const auto& sub : d->registry.all()) {
      std::string t = d->TopicArn(sub->topic);
      if (!topic_arn.empty() && t != topic_arn) continue;
      out.push_back({sub->arn, t, sub->config.protocol, sub->config.endpoint,
                     sub->confirmed, sub->config.raw});
    }
    return out;
  });
}

Result<std::string> Publisher::ConfirmSubscription(const std::string& topic_arn,
                                                   const std::string& token) {
  Impl* d = impl_.get();
  return d->RunOnLoop([&]() -> Result<std::string> {
    for (const auto& sub : d->registry.all()) {
      if (d->TopicArn(sub->topic) != topic_arn ||
          !auth::SafeEquals(sub->token, token))
        continue;
      if (!sub->confirmed) {
        sub->confirmed = true;
        (void)d->registry.SaveState();
        d->PumpAll();
      }
      return sub->arn;
    }
    return Error::Permanent("InvalidParameter", "Invalid token");
  });
}

void Publisher::PublishMessage(const std::string& topic,
                               const std::string& subject,
                               const std::string& message) {
  Impl* d = impl_.get();
  {
    std::lock_guard<std::mutex> lock(d->mu);
    d->messages_in.push_back({topic, subject, message});
  }
  d->cv.notify_one();
}

bool Publisher::HasSubscribers() { return !impl_->registry.Empty(); }

size_t Publisher::Backlog() {
  int64_t n = impl_->outbox.owed();
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace sesame::events
