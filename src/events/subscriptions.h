#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "events/event_json.h"
#include "events/outbox.h"
#include "events/webhook_client.h"
#include "events/webhook_target.h"

namespace sesame::events {

// One subscription: its identity and configuration, its persistent state
// (confirmation, token, the first record it is owed) and its delivery state.
struct Sub {
  std::string id;  // stable: hash of topic, protocol and endpoint
  std::string arn;
  std::string topic;
  config::Subscription config;
  std::optional<Url> url;
  int file_fd = -1;  // file subscriptions: opened at load, closed at exit
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
  std::atomic<bool> removed{false};  // unsubscribed: kept for in-flight work
};

// The SNS topics and subscriptions: the config file's and those made through
// the SNS API (persisted in <dir>/api.json), with each subscription's state
// (<dir>/subscriptions.json). A Sub is never freed while Sesame runs:
// in-flight deliveries point to it.
//
// Owned by the Publisher. Load runs before its threads start. The delivery
// thread alone changes the registry (Add, Remove, topics), under the
// registry's lock; the ingest thread and API callers read through the
// locking calls (HasSubscribers, ForTopic, Topics, …); `all()` is for the
// delivery thread only.
class SubscriptionRegistry {
 public:
  SubscriptionRegistry(std::string dir, Identity who)
      : dir_(std::move(dir)), who_(std::move(who)) {}
  ~SubscriptionRegistry();
  SubscriptionRegistry(const SubscriptionRegistry&) = delete;
  SubscriptionRegistry& operator=(const SubscriptionRegistry&) = delete;

  // The config file's topics, then api.json's, then subscriptions.json's
  // state; a subscription without saved state is owed records from
  // `next_seq` on. Opens the file subscriptions.
  Status Load(const config::Events& events, uint64_t next_seq);

  std::string TopicArn(const std::string& topic) const;
  // The topic name of one of our topic ARNs; "" when it is not one.
  std::string TopicOf(const std::string& arn) const;

  // --- any thread -----------------------------------------------------------
  bool HasSubscribers(const std::string& topic);
  bool Empty();
  std::vector<Sub*> ForTopic(const std::string& topic);
  bool HasTopic(const std::string& topic);
  struct TopicEntry {
    std::string name;
    bool from_api;
  };
  std::vector<TopicEntry> Topics();
  // SetTopicAttributes' values by name (DisplayName, Policy), persisted in
  // api.json with the API-made topics.
  std::map<std::string, std::string> TopicAttributes(const std::string& topic);

  // --- delivery thread ------------------------------------------------------
  const std::vector<std::unique_ptr<Sub>>& all() const { return subs_; }
  // Registers a subscription; the existing one for the same endpoint if any.
  // A new one is owed records from `next_seq` on.
  Sub* Add(const std::string& topic, const config::Subscription& sc,
           bool from_api, uint64_t next_seq);
  // Unlinks a subscription (it stays alive, marked removed); nullptr when
  // there is none.
  Sub* Remove(const std::string& arn);
  // CreateTopic: true when it is new.
  bool AddTopic(const std::string& name);
  // NotFound, or AuthorizationError for a config file topic.
  Status CheckDeletable(const std::string& name);
  void EraseTopic(const std::string& name);
  void SetTopicAttribute(const std::string& topic, const std::string& name,
                         const std::string& value);
  Status SaveApiState();
  Status SaveState();

 private:
  Sub* AddLocked(const std::string& topic, const config::Subscription& sc,
                 bool from_api);
  std::string SubscriptionArn(const std::string& topic,
                              const std::string& id) const;
  Status LoadApiState();
  Status LoadSavedState(uint64_t next_seq);

  const std::string dir_;
  const Identity who_;
  std::mutex mu_;  // guards the containers below against the readers
  std::vector<std::unique_ptr<Sub>> subs_;
  std::vector<std::unique_ptr<Sub>> retired_;
  std::map<std::string, Sub*> by_id_;
  std::map<std::string, std::vector<Sub*>> by_topic_;
  std::set<std::string> topics_;      // config and API topics
  std::set<std::string> api_topics_;  // made by CreateTopic
  std::map<std::string, std::map<std::string, std::string>> topic_attributes_;
};

// 2 × `bytes` random hex digits (tokens, ids).
std::string RandomHex(size_t bytes);

}  // namespace sesame::events
