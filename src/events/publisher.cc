#include "events/publisher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
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
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "events/files.h"
#include "events/signer.h"
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

std::string RandomHex(size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = static_cast<unsigned>(rng() & 0xff);
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

std::string Uuid() {
  std::string h = RandomHex(16);
  h[12] = '4';
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
         h.substr(16, 4) + "-" + h.substr(20, 12);
}

std::string Q(std::string_view s) { return "\"" + JsonEscape(s) + "\""; }

struct SnsSignature {
  std::string subject;  // "" = SES's event subject
  std::string id, timestamp, signature;
  std::string envelope;  // the notification JSON up to UnsubscribeURL
};

// One outbox record: a SES event for one topic.
struct Record {
  uint64_t seq = 0;
  std::string topic;
  std::string json;  // the SES event
  int64_t created_ms = 0;
  // Computed by the delivery thread on first delivery (only it touches it).
  mutable SnsSignature sns;
};
using RecordPtr = std::shared_ptr<const Record>;

struct Sub {
  std::string id;  // stable: hash of topic, protocol and endpoint
  std::string arn;
  std::string topic;
  config::Subscription config;
  std::optional<Url> url;
  // Persistent state.
  bool confirmed = false;
  std::string token;
  uint64_t start_seq = 0;  // records before it were published before it
  // Delivery state (delivery thread).
  std::deque<RecordPtr> pending;
  std::map<uint64_t, RecordPtr> dead;
  int inflight = 0;
  int64_t next_try_ms = 0;
  double delay_s = 0;  // 0: healthy
  bool confirming = false;
  WebhookClient::Pool idle;  // kept-alive connections
  // File subscriptions are written by the ingest thread, http ones by the
  // delivery thread, and metrics read them there: relaxed atomics.
  std::atomic<uint64_t> delivered{0};
  uint64_t failed_attempts = 0, dead_lettered = 0;  // delivery thread only
  bool from_api = false;  // made by Subscribe (persisted in api.json)
  bool removed = false;   // unsubscribed: kept alive for in-flight deliveries
};

enum class AckKind : char { kDelivered = 'A', kDead = 'D', kRedriven = 'R' };
struct Ack {
  std::string sub;
  uint64_t seq;
  AckKind kind;
};

}  // namespace

struct Publisher::Impl {
  PublisherOptions opt;
  DestinationLookup destinations;
  HeaderReader read_headers;
  NotificationLookup notifications;
  Signer signer;
  std::string cert_path;  // "/sns/SimpleNotificationService-<hash>.pem"
  // Topics and subscriptions change through the SNS API: the delivery thread
  // changes them, under subs_mu, which the ingest thread takes to read them.
  // A Sub is never freed while Sesame runs (in-flight deliveries point to it).
  std::mutex subs_mu;
  std::vector<std::unique_ptr<Sub>> subs;
  std::vector<std::unique_ptr<Sub>> retired;
  std::map<std::string, Sub*> subs_by_id;
  std::map<std::string, std::vector<Sub*>> subs_by_topic;
  std::set<std::string> topic_names;  // config and API topics
  std::set<std::string> api_topics;   // made by CreateTopic
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
  int outbox_fd = -1, acks_fd = -1;
  std::atomic<uint64_t> next_seq{1};
  std::map<std::string, int> file_fds;  // file subscriptions by sub id
  // Header blocks by message id, so later events of a message carry them.
  std::unordered_map<std::string, std::string> header_cache;
  std::deque<std::string> header_order;
  std::map<std::string, std::pair<int64_t, std::vector<Destination>>>
      dest_cache;
  std::unordered_map<std::string, std::pair<int64_t, IdentityNotifications>>
      notification_cache;
  std::atomic<int64_t> outstanding{0};  // records x subscribers not settled
  std::atomic<int64_t> dead_total{0};
  std::atomic<uint64_t> published{0};
  int64_t last_ack_sync_ms = 0;
  int64_t last_outbox_sync_ms = 0;
  bool acks_dirty = false;

  // --- delivery thread ------------------------------------------------------
  asio::io_context loop{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
      guard;
  std::thread delivery_thread;
  ssl::context tls{ssl::context::tls_client};
  WebhookClient webhooks{&tls, opt.events.timeout_seconds, opt.own_listeners};
  asio::steady_timer pump_timer{loop};

  explicit Impl(PublisherOptions o) : opt(std::move(o)) {}

  std::string SubscriptionArn(const std::string& topic, const std::string& id) {
    return "arn:aws:sns:" + opt.who.region + ":" + opt.who.account + ":" +
           topic + ":" + id.substr(0, 8) + "-" + id.substr(8, 4) + "-" +
           id.substr(12, 4) + "-" + id.substr(16, 4) + "-" + id.substr(20, 12);
  }
  std::string TopicArn(const std::string& topic) {
    return "arn:aws:sns:" + opt.who.region + ":" + opt.who.account + ":" +
           topic;
  }

  // --- state ----------------------------------------------------------------
  Status LoadState() {
    ::mkdir(opt.dir.c_str(), 0700);
    Status s = signer.Load(opt.dir, "sesame", opt.events.signing == "ecdsa");
    if (!s.ok()) return s;
    cert_path = "/sns/SimpleNotificationService-" +
                auth::Sha256Hex(signer.cert_pem()).substr(0, 32) + ".pem";
    for (const auto& t : opt.events.topics) {
      topic_names.insert(t.name);
      for (const auto& sc : t.subscriptions) AddSub(t.name, sc, false);
    }
    // Topics and subscriptions made through the SNS API.
    {
      std::string api = ReadFile(opt.dir + "/api.json");
      boost::system::error_code ec;
      json::value v = json::parse(api.empty() ? "{}" : api, ec);
      if (ec || !v.is_object())
        return Error::Permanent("events", opt.dir + "/api.json is malformed");
      if (auto* t = v.as_object().if_contains("topics"); t && t->is_array()) {
        for (const auto& name : t->as_array()) {
          if (!name.is_string()) continue;
          topic_names.insert(std::string(name.as_string()));
          api_topics.insert(std::string(name.as_string()));
        }
      }
      if (auto* l = v.as_object().if_contains("subscriptions");
          l && l->is_array()) {
        for (const auto& e : l->as_array()) {
          if (!e.is_object()) continue;
          const json::object& o = e.as_object();
          config::Subscription sc;
          sc.protocol = std::string(o.at("protocol").as_string());
          sc.endpoint = std::string(o.at("endpoint").as_string());
          sc.raw = o.contains("raw") && o.at("raw").as_bool();
          AddSub(std::string(o.at("topic").as_string()), sc, true);
        }
      }
    }
    // Subscription state: confirmation and where each one started.
    std::string state = ReadFile(opt.dir + "/subscriptions.json");
    boost::system::error_code ec;
    json::value v = json::parse(state.empty() ? "{}" : state, ec);
    if (ec || !v.is_object())
      return Error::Permanent("events",
                              opt.dir + "/subscriptions.json is malformed");
    // The outbox: records, then acknowledgements.
    std::map<uint64_t, RecordPtr> records;
    {
      std::ifstream f(opt.dir + "/outbox.log");
      std::string line;
      while (std::getline(f, line)) {
        size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1),
               t3 = line.find('\t', t2 + 1);
        if (t3 == std::string::npos) continue;  // a torn last line
        auto r = std::make_shared<Record>();
        r->seq = std::stoull(line.substr(0, t1));
        r->created_ms = std::stoll(line.substr(t1 + 1, t2 - t1 - 1));
        r->topic = line.substr(t2 + 1, t3 - t2 - 1);
        r->json = line.substr(t3 + 1);
        // An optional fifth field: the notification subject (alarms). JSON
        // never holds a raw tab, so a tab after the record separates it.
        if (size_t t4 = r->json.find('\t'); t4 != std::string::npos) {
          r->sns.subject = r->json.substr(t4 + 1);
          r->json.resize(t4);
        }
        next_seq = std::max<uint64_t>(next_seq, r->seq + 1);
        records[r->seq] = std::move(r);
      }
    }
    std::map<std::string, std::set<uint64_t>> acked, dead;
    {
      std::ifstream f(opt.dir + "/acks.log");
      std::string line;
      while (std::getline(f, line)) {
        std::istringstream is(line);
        std::string sub, kind;
        uint64_t seq = 0;
        if (!(is >> sub >> seq >> kind) || kind.size() != 1) continue;
        if (kind[0] == 'A') {
          acked[sub].insert(seq);
          dead[sub].erase(seq);
        } else if (kind[0] == 'D') {
          dead[sub].insert(seq);
        } else if (kind[0] == 'R') {
          dead[sub].erase(seq);
        }
      }
    }
    const json::object& st = v.as_object();
    for (auto& sub : subs) {
      if (auto* e = st.if_contains(sub->id); e && e->is_object()) {
        const json::object& o = e->as_object();
        if (auto* c = o.if_contains("confirmed"); c && c->is_bool())
          sub->confirmed = sub->confirmed || c->as_bool();
        if (auto* tk = o.if_contains("token"); tk && tk->is_string())
          sub->token = std::string(tk->as_string());
        if (auto* ss = o.if_contains("start"); ss && ss->is_int64())
          sub->start_seq = static_cast<uint64_t>(ss->as_int64());
      } else {
        sub->start_seq = next_seq;  // a new subscriber gets new events only
      }
      if (sub->token.empty()) sub->token = RandomHex(32);
      for (const auto& [seq, r] : records) {
        if (r->topic != sub->topic || seq < sub->start_seq ||
            acked[sub->id].count(seq))
          continue;
        if (dead[sub->id].count(seq)) {
          sub->dead[seq] = r;
          ++dead_total;
        } else {
          sub->pending.push_back(r);
          ++outstanding;
        }
      }
    }
    // Not fatal: it is written again on the next change, and a full disk
    // must not keep the server (and its delivery) from starting.
    if (Status saved = SaveSubscriptions(); !saved.ok())
      SESAME_LOG(kWarn, kLog)
          << saved.error().message()
          << " (kept in memory; written on the next change)";
    // Nothing left to deliver: start the files afresh.
    if (outstanding == 0 && dead_total == 0) {
      ::unlink((opt.dir + "/outbox.log").c_str());
      ::unlink((opt.dir + "/acks.log").c_str());
    }
    outbox_fd = ::open((opt.dir + "/outbox.log").c_str(),
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    acks_fd = ::open((opt.dir + "/acks.log").c_str(),
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (outbox_fd < 0 || acks_fd < 0)
      return Error::Permanent("events", "cannot open the outbox in " + opt.dir);
    for (auto& sub : subs) {
      if (sub->config.protocol != "file") continue;
      int fd = ::open(sub->config.endpoint.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0)
        return Error::Permanent("events",
                                "cannot open " + sub->config.endpoint);
      file_fds[sub->id] = fd;
    }
    return Ok{};
  }

  // Registers a subscription (the caller holds subs_mu or runs before the
  // threads start); returns the existing one for the same endpoint.
  Sub* AddSub(const std::string& topic, const config::Subscription& sc,
              bool from_api) {
    std::string id =
        auth::Sha256Hex(topic + "|" + sc.protocol + "|" + sc.endpoint)
            .substr(0, 32);
    if (auto it = subs_by_id.find(id); it != subs_by_id.end())
      return it->second;
    auto sub = std::make_unique<Sub>();
    sub->id = id;
    sub->arn = SubscriptionArn(topic, sub->id);
    sub->topic = topic;
    sub->config = sc;
    sub->from_api = from_api;
    if (sc.protocol != "file") sub->url = ParseUrl(sc.endpoint);
    sub->confirmed = sc.protocol == "file" || !sc.confirm;
    Sub* raw = sub.get();
    subs_by_id[id] = raw;
    subs_by_topic[topic].push_back(raw);
    subs.push_back(std::move(sub));
    return raw;
  }

  // Unsubscribe (delivery thread): what it still had to deliver is settled.
  Status RemoveSub(const std::string& arn) {
    Sub* sub = nullptr;
    {
      std::lock_guard<std::mutex> lock(subs_mu);
      for (auto it = subs.begin(); it != subs.end(); ++it) {
        if ((*it)->arn != arn) continue;
        sub = it->get();
        retired.push_back(std::move(*it));
        subs.erase(it);
        break;
      }
      if (!sub)
        return Error::Permanent("NotFound", "Subscription does not exist");
      sub->removed = true;
      subs_by_id.erase(sub->id);
      auto& list = subs_by_topic[sub->topic];
      list.erase(std::remove(list.begin(), list.end(), sub), list.end());
      if (auto f = file_fds.find(sub->id); f != file_fds.end()) {
        ::close(f->second);
        file_fds.erase(f);
      }
    }
    for (const auto& r : sub->pending)
      PostAck(sub->id, r->seq, AckKind::kDelivered);
    for (const auto& [seq, r] : sub->dead) {
      PostAck(sub->id, seq, AckKind::kRedriven);
      PostAck(sub->id, seq, AckKind::kDelivered);
    }
    sub->pending.clear();
    sub->dead.clear();
    Status s = SaveApiState();
    if (s.ok()) s = SaveSubscriptions();
    return s;
  }

  Status SaveApiState() {
    json::array topics, list;
    for (const auto& t : api_topics) topics.push_back(json::string(t));
    for (const auto& sub : subs) {
      if (!sub->from_api) continue;
      json::object o;
      o["topic"] = sub->topic;
      o["protocol"] = sub->config.protocol;
      o["endpoint"] = sub->config.endpoint;
      o["raw"] = sub->config.raw;
      list.push_back(std::move(o));
    }
    json::object st;
    st["topics"] = std::move(topics);
    st["subscriptions"] = std::move(list);
    return WriteFileAtomic(opt.dir + "/api.json", json::serialize(st), 0600);
  }

  Status SaveSubscriptions() {
    json::object st;
    for (const auto& sub : subs) {
      json::object o;
      o["confirmed"] = sub->confirmed;
      o["token"] = sub->token;
      o["start"] = static_cast<int64_t>(sub->start_seq);
      o["arn"] = sub->arn;
      o["endpoint"] = sub->config.endpoint;
      st[sub->id] = std::move(o);
    }
    return WriteFileAtomic(opt.dir + "/subscriptions.json", json::serialize(st),
                           0600);
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
        int64_t wait =
            last_outbox_sync_ms + int64_t(opt.events.sync_interval_ms) - Now();
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
      if (!acks.empty()) WriteAcks(acks);
      // Acks are synced lazily: one lost on a crash means one redelivery.
      if (acks_dirty && Now() - last_ack_sync_ms > 200) {
        ::fdatasync(acks_fd);
        acks_dirty = false;
        last_ack_sync_ms = Now();
      }
      MaybeCompact();
    }
    if (acks_dirty) ::fdatasync(acks_fd);
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
    std::string out;
    std::vector<RecordPtr> fresh;
    int64_t now = Now();
    for (const auto& m : messages) {
      if (!HasSubscribers(m.topic)) continue;
      auto r = std::make_shared<Record>();
      r->seq = next_seq++;
      r->created_ms = now;
      r->topic = m.topic;
      r->json = m.json;
      r->sns.subject = m.subject;
      out += std::to_string(r->seq) + "\t" + std::to_string(now) + "\t" +
             m.topic + "\t" + m.json + "\t" + m.subject + "\n";
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
        if (!HasSubscribers(d.topic)) continue;
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
        if (it != n.topics.end() && HasSubscribers(it->second)) {
          auto r = std::make_shared<Record>();
          r->seq = next_seq++;
          r->created_ms = now;
          r->topic = it->second;
          r->json = SesNotificationJson(
              e, MailHeaders{HeadersOf(e)}, opt.who, feedback_id,
              n.with_headers.count(EventTypeName(e.type)) > 0);
          out += std::to_string(r->seq) + "\t" + std::to_string(now) + "\t" +
                 r->topic + "\t" + r->json + "\n";
          fresh.push_back(std::move(r));
        }
      }
      if (topics.empty()) continue;
      // One record body per event, whatever the number of topics and
      // subscribers.
      std::string body =
          SesEventJson(e, MailHeaders{HeadersOf(e)}, opt.who, feedback_id);
      for (const auto& topic : topics) {
        auto r = std::make_shared<Record>();
        r->seq = next_seq++;
        r->created_ms = now;
        r->topic = topic;
        r->json = body;
        out += std::to_string(r->seq) + "\t" + std::to_string(now) + "\t" +
               topic + "\t" + body + "\n";
        fresh.push_back(std::move(r));
      }
    }
    if (fresh.empty()) return;
    if (::write(outbox_fd, out.data(), out.size()) !=
            static_cast<ssize_t>(out.size()) ||
        ::fdatasync(outbox_fd) != 0) {
      SESAME_LOG(kError, kLog) << "outbox write failed: events may be lost";
    }
    last_outbox_sync_ms = Now();
    published += fresh.size();
    // The subscribers of each record, fixed now: what `outstanding` counts
    // is exactly what the delivery thread will settle.
    std::vector<std::pair<RecordPtr, Sub*>> for_http;
    std::vector<Ack> file_acks;
    std::map<std::string, std::string> file_out;
    {
      std::lock_guard<std::mutex> lock(subs_mu);
      for (const auto& r : fresh) {
        for (Sub* sub : subs_by_topic[r->topic]) {
          ++outstanding;
          if (sub->config.protocol == "file") {
            file_out[sub->id] += r->json + "\n";
            file_acks.push_back({sub->id, r->seq, AckKind::kDelivered});
          } else {
            for_http.emplace_back(r, sub);
          }
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

  bool HasSubscribers(const std::string& topic) {
    std::lock_guard<std::mutex> lock(subs_mu);
    auto it = subs_by_topic.find(topic);
    return it != subs_by_topic.end() && !it->second.empty();
  }

  void WriteFiles(const std::map<std::string, std::string>& out,
                  const std::vector<Ack>& acks) {
    std::set<std::string> failed;
    for (const auto& [id, text] : out) {
      int fd;
      {
        std::lock_guard<std::mutex> lock(subs_mu);
        fd = file_fds[id];
      }
      Sub* sub;
      {
        std::lock_guard<std::mutex> lock(subs_mu);
        sub = subs_by_id[id];
      }
      if (::write(fd, text.data(), text.size()) !=
              static_cast<ssize_t>(text.size()) ||
          ::fdatasync(fd) != 0) {
        SESAME_LOG(kError, kLog)
            << "file subscription " << sub->config.endpoint << ": write failed";
        failed.insert(id);
        continue;
      }
      sub->delivered += std::count(text.begin(), text.end(), '\n');
    }
    std::vector<Ack> ok;
    for (const auto& a : acks) {
      if (!failed.count(a.sub)) ok.push_back(a);
    }
    WriteAcks(ok);
  }

  void WriteAcks(const std::vector<Ack>& acks) {
    std::string text;
    for (const auto& a : acks) {
      text += a.sub + " " + std::to_string(a.seq) + " " +
              static_cast<char>(a.kind) + "\n";
      if (a.kind == AckKind::kDelivered) --outstanding;
      if (a.kind == AckKind::kDead) {
        --outstanding;
        ++dead_total;
      }
      if (a.kind == AckKind::kRedriven) {
        ++outstanding;
        --dead_total;
      }
    }
    if (text.empty()) return;
    if (::write(acks_fd, text.data(), text.size()) !=
        static_cast<ssize_t>(text.size()))
      SESAME_LOG(kError, kLog) << "ack log write failed";
    acks_dirty = true;
  }

  // When everything written has been settled, the outbox starts afresh
  // instead of growing forever.
  void MaybeCompact() {
    if (outstanding != 0 || dead_total != 0) return;
    struct stat st;
    if (::fstat(outbox_fd, &st) != 0 || st.st_size < 16 * 1024 * 1024) return;
    if (::ftruncate(outbox_fd, 0) == 0 && ::ftruncate(acks_fd, 0) == 0) {
      ::fdatasync(outbox_fd);
      ::fdatasync(acks_fd);
    }
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
    for (auto& sub : subs) {
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
  if (d->outbox_fd >= 0) ::close(d->outbox_fd);
  if (d->acks_fd >= 0) ::close(d->acks_fd);
  for (auto& [id, fd] : d->file_fds) ::close(fd);
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
      for (auto& sub : d->subs) {
        if (sub->arn != arn || !auth::SafeEquals(sub->token, token)) continue;
        if (!sub->confirmed) {
          sub->confirmed = true;
          (void)d->SaveSubscriptions();
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
          for (const auto& sub : d->subs) {
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
    for (const auto& sub : d->subs) {
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
    for (const auto& sub : d->subs) {
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
    for (auto& sub : d->subs) {
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
    {
      std::lock_guard<std::mutex> lock(d->subs_mu);
      if (d->topic_names.count(name)) return d->TopicArn(name);  // idempotent
      d->topic_names.insert(name);
      d->api_topics.insert(name);
    }
    Status s = d->SaveApiState();
    if (!s.ok()) return s.error();
    return d->TopicArn(name);
  });
}

Status Publisher::DeleteTopic(const std::string& arn) {
  Impl* d = impl_.get();
  std::string prefix = d->TopicArn("");
  std::string name = arn.rfind(prefix, 0) == 0 ? arn.substr(prefix.size()) : "";
  return d->RunOnLoop([d, &name]() -> Status {
    std::vector<std::string> subs;
    {
      std::lock_guard<std::mutex> lock(d->subs_mu);
      if (!d->topic_names.count(name))
        return Error::Permanent("NotFound", "Topic does not exist");
      if (!d->api_topics.count(name))
        return Error::Permanent(
            "AuthorizationError",
            "Topic " + name + " is declared in the configuration file");
      for (Sub* sub : d->subs_by_topic[name]) subs.push_back(sub->arn);
    }
    for (const auto& arn : subs) (void)d->RemoveSub(arn);
    {
      std::lock_guard<std::mutex> lock(d->subs_mu);
      d->topic_names.erase(name);
      d->api_topics.erase(name);
      d->subs_by_topic.erase(name);
    }
    return d->SaveApiState();
  });
}

std::vector<Publisher::TopicInfo> Publisher::Topics() {
  Impl* d = impl_.get();
  std::lock_guard<std::mutex> lock(d->subs_mu);
  std::vector<TopicInfo> out;
  for (const auto& t : d->topic_names)
    out.push_back({t, d->TopicArn(t), d->api_topics.count(t) > 0});
  return out;
}

Result<Publisher::SubscriptionInfo> Publisher::Subscribe(
    const std::string& topic_arn, const std::string& protocol,
    const std::string& endpoint, bool raw) {
  Impl* d = impl_.get();
  std::string prefix = d->TopicArn("");
  std::string topic =
      topic_arn.rfind(prefix, 0) == 0 ? topic_arn.substr(prefix.size()) : "";
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
    Sub* sub;
    {
      std::lock_guard<std::mutex> lock(d->subs_mu);
      if (!d->topic_names.count(topic))
        return Error::Permanent("NotFound", "Topic does not exist");
      config::Subscription sc;
      sc.protocol = protocol;
      sc.endpoint = endpoint;
      sc.raw = raw || protocol == "file";
      sub = d->AddSub(topic, sc, true);
      if (sub->token.empty()) {
        sub->token = RandomHex(32);
        sub->start_seq = d->next_seq;
      }
      if (protocol == "file" && !d->file_fds.count(sub->id)) {
        int fd = ::open(endpoint.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
          return Error::Permanent("InvalidParameter",
                                  "cannot open " + endpoint);
        d->file_fds[sub->id] = fd;
      }
    }
    Status s = d->SaveApiState();
    if (s.ok()) s = d->SaveSubscriptions();
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
    std::lock_guard<std::mutex> lock(d->subs_mu);
    for (const auto& sub : d->subs) {
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
    for (auto& sub : d->subs) {
      if (d->TopicArn(sub->topic) != topic_arn ||
          !auth::SafeEquals(sub->token, token))
        continue;
      if (!sub->confirmed) {
        sub->confirmed = true;
        (void)d->SaveSubscriptions();
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

bool Publisher::HasSubscribers() {
  std::lock_guard<std::mutex> lock(impl_->subs_mu);
  return !impl_->subs.empty();
}

size_t Publisher::Backlog() {
  int64_t n = impl_->outstanding.load();
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace sesame::events
