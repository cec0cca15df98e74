#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "delivery/engine.h"
#include "events/event_json.h"
#include "metrics/registry.h"
#include "net/http.h"

namespace sesame::events {

// A configuration set's enabled destinations: topic name and matching types
// (SEND, BOUNCE, ...).
struct Destination {
  std::string topic;
  std::vector<std::string> types;
};
using DestinationLookup =
    std::function<std::vector<Destination>(const std::string& config_set)>;
// An identity's notification topics (SetIdentityNotificationTopic): type
// ("Bounce", "Complaint", "Delivery") -> topic name, and the types that
// include headers; looked up by the sender's address.
struct IdentityNotifications {
  std::map<std::string, std::string> topics;
  std::set<std::string> with_headers;
};
using NotificationLookup =
    std::function<IdentityNotifications(const std::string& sender)>;
// The header block of a queued message, "" when it is gone.
using HeaderReader = std::function<std::string(const std::string& message_id)>;

struct PublisherOptions {
  std::string dir;  // <data_dir>/events: the outbox, apart from the spool
  Identity who;     // region and account, for ARNs
  std::string public_base;  // "http://host:port", for SigningCertURL etc.
  config::Events events;    // topics, subscriptions, retry policy
  // This server's own listeners (address, port): a subscription may not
  // point at them, or the publisher would POST to Sesame's own admin API
  // with the trust of a local client (server-side request forgery).
  std::vector<std::pair<std::string, uint16_t>> own_listeners;
};

// SNS-style topics and subscriptions fed by SES events.
//
// Publish() takes an engine event; the ingest thread turns it into one SES
// event record (built once, whatever the number of subscribers) per topic
// whose destination matches, appends it to a durable outbox (its own files,
// group-committed with fdatasync, never the mail spool) and hands it to the
// delivery thread. File subscriptions are written by the ingest thread too.
// The delivery thread POSTs the SNS envelope (signed, SignatureVersion 2;
// the certificate is served at SigningCertURL) to http/https subscribers,
// at most max_concurrency at a time each, after the SubscriptionConfirmation
// handshake; failures back the subscription off exponentially with jitter,
// and a record still failing after events.retry_for_seconds moves to the
// subscription's dead-letter store, from which it can be redriven. Acks are
// logged, so a restart resends only what was not acknowledged
// (at-least-once).
//
// Owned by the app. Publish(), Http(), Metrics() and the admin calls are
// thread-safe; everything else runs on the two threads it owns.
class Publisher {
 public:
  Publisher(PublisherOptions options, DestinationLookup destinations,
            HeaderReader headers, NotificationLookup notifications = nullptr);
  ~Publisher();

  // Loads the outbox and subscription state, starts the threads.
  Status Start();
  void Stop();

  void Publish(delivery::MessageEvent event);
  // Publishes a message of our own (an alarm notification) to a topic.
  void PublishMessage(const std::string& topic, const std::string& subject,
                      const std::string& message);

  // /sns/... : the signing certificate and subscription confirmation links.
  std::optional<net::HttpResponse> Http(const net::HttpRequest& req);

  // Runs `fn` on the delivery thread, later; never blocks the caller. The
  // HTTP front end calls everything below through it, so that a network
  // loop never waits for the publisher (the calls are immediate there).
  void Run(std::function<void()> fn);

  // The events families; per-subscription ones are written on the delivery
  // thread when /metrics renders.
  void RegisterMetrics(metrics::Registry* registry);
  // The dead-letter store: [{"subscription","seq","topic","event"}...].
  // Each subscription's delivery state: backlog, in flight, delivered,
  // failed attempts, dead letters, and when a backed-off one tries again.
  std::string SubscriptionsJson();
  std::string DeadLettersJson();
  // Re-queues dead-lettered records of a subscription (by id; "" = all).
  int Redrive(const std::string& subscription);

  // Topics and subscriptions through the SNS API (the config file's are
  // listed too, but only API-made ones can be deleted). Errors carry SNS
  // error codes (NotFound, InvalidParameter, AuthorizationError).
  struct TopicInfo {
    std::string name, arn;
    bool from_api = false;
  };
  struct SubscriptionInfo {
    std::string arn, topic_arn, protocol, endpoint;
    bool confirmed = false, raw = false;
  };
  Result<std::string> CreateTopic(const std::string& name);
  Status DeleteTopic(const std::string& topic_arn);
  std::vector<TopicInfo> Topics();
  // http(s) subscriptions start with the SubscriptionConfirmation handshake.
  Result<SubscriptionInfo> Subscribe(const std::string& topic_arn,
                                     const std::string& protocol,
                                     const std::string& endpoint, bool raw);
  Status Unsubscribe(const std::string& subscription_arn);
  std::vector<SubscriptionInfo> Subscriptions(const std::string& topic_arn);
  Result<std::string> ConfirmSubscription(const std::string& topic_arn,
                                          const std::string& token);
  // Get/SetTopicAttributes and Get/SetSubscriptionAttributes, as SNS names
  // them. Settable: a topic's DisplayName and Policy (a JSON document, kept;
  // only owner keys reach the SNS API, so it grants nothing more), an
  // API-made subscription's RawMessageDelivery. Anything else is
  // InvalidParameter rather than accepted and ignored.
  using Attributes = std::map<std::string, std::string>;
  Result<Attributes> TopicAttributes(const std::string& topic_arn);
  Status SetTopicAttribute(const std::string& topic_arn,
                           const std::string& name, const std::string& value);
  Result<Attributes> SubscriptionAttributes(const std::string& arn);
  Status SetSubscriptionAttribute(const std::string& arn,
                                  const std::string& name,
                                  const std::string& value);

  // True when any topic has a subscriber (the engine then reads header
  // blocks for the events).
  bool HasSubscribers();

  // Records not yet acknowledged by every subscriber (for tests and /ready).
  size_t Backlog();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sesame::events
