#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admission/admission.h"
#include "base/result.h"
#include "base/shared_limits.h"
#include "capture/mailbox.h"
#include "config/config.h"
#include "delivery/sent_index.h"
#include "dns/resolver.h"
#include "feedback/classifier.h"
#include "metrics/registry.h"
#include "spool/spool.h"

namespace sesame::delivery {

// One recipient an event is about.
struct EventRecipient {
  std::string address;
  std::string action;      // failed, delayed, delivered, complained
  std::string status;      // enhanced status code
  std::string diagnostic;  // "smtp; 550 5.1.1 ..."
};

// What happened to a message: the raw material of SES events and of the
// suppression list. Bounces group recipients that share a classification.
struct MessageEvent {
  enum class Type {
    kSend,
    kDelivery,
    kBounce,
    kDeliveryDelay,
    kComplaint,
    kRenderingFailure  // from the API: accepted, then not renderable
  };
  Type type = Type::kSend;
  int64_t timestamp_ms = 0;
  // The message's metadata; for feedback about a message no longer queued,
  // only id and the recipients the report names are known.
  spool::MessageMeta meta;
  bool meta_complete = true;
  std::vector<EventRecipient> recipients;
  feedback::Classification classification;  // bounces
  std::string smtp_response;                // deliveries
  std::string reporting_mta;
  std::string remote_mta_ip;
  int64_t processing_ms = 0;
  std::string feedback_type, user_agent, arrival_date;  // complaints
  std::string feedback_id;    // the inbound report's id, when there is one
  int64_t expiration_ms = 0;  // delays
  std::string delay_type;
  std::string template_name, error_message;  // rendering failures
  // Send events: the message's header block, when the spool captured it at
  // commit (Spool::SetCaptureHeaders).
  std::string header_block;
};

// How the engine reaches the rest of Sesame; set before Start(). Both are
// called on the engine thread and must not block for long.
struct EngineHooks {
  std::function<void(MessageEvent)> on_event;
  // True when `address` is on the suppression list in effect for the
  // configuration set: it is then not delivered (Bounce
  // OnAccountSuppressionList).
  std::function<bool(const std::string& address, const std::string& config_set)>
      suppressed;
  // True when events are published (someone subscribes): feedback arriving
  // after a message left the queue must then find it, so retired messages
  // go to the sent index. Asked at most once a second.
  std::function<bool()> remember_sent;
  // The dedicated addresses mail of a configuration set leaves from (its
  // SendingPoolName's pool); empty for the default source. Asked on the
  // engine thread, at most every 5 s per set: it must be a memory read.
  std::function<std::vector<std::string>(const std::string& config_set)>
      sending_addresses;
};

// The outbound engine: turns queued recipients into delivery attempts.
//
// Scheduled queues (configuration set x destination domain) hold jobs — one
// message's recipients at one domain — until they are due. Due jobs are
// routed (static route or MX) and moved to a ready queue per egress source x
// site (the set of MX hosts), where traffic shaping applies: connections,
// deliveries per second and per hour, messages per connection, and back-off
// rules that suspend a site and ramp it back up. SMTP client connections
// take jobs from their site's ready queue and are reused.
//
// Memory holds metadata only; bodies are read from the spool for each
// transaction. Every attempt appends an outcome record (JSON line) to
// <data_dir>/outcomes.jsonl; recipient states are persisted to the spool.
//
// Owned by the app. All state lives on the engine's own thread (one
// io_context); the public methods are thread-safe and post to it.
class Engine {
 public:
  // verp_key seals VERP return paths (used when delivery.verp_domain is set).
  Engine(const config::Config& config, spool::Spool* spool,
         dns::Resolver* resolver, std::string verp_key = "");
  ~Engine();

  void SetHooks(EngineHooks hooks);
  // Where the engine's own mail goes (DSNs enter through admission like any
  // other), where capture mode files messages, and the sent index retired
  // messages go to (for late feedback); set before Start().
  void SetOutputs(admission::Admission* admission, capture::Mailbox* mailbox,
                  SentIndex* sent_index);
  // The classifier for synchronous and asynchronous bounces (defaults to the
  // embedded rules); set before Start().
  void SetClassifier(feedback::Classifier classifier);
  // Cluster-wide shaping: connection slots as leases and the sites' rates
  // on `limits` (Redis) instead of in this process; set before Start().
  void SetSharedLimits(SharedLimits* limits);

  // Loads the spool's backlog and starts the engine thread.
  Status Start();
  void Stop();

  // A newly durable message (called from the spool writer thread).
  void Submit(const spool::MessageInfo& info);

  // Runs `fn` on the engine thread, later; never blocks the caller. Network
  // loops ask the admin operations below through it, so they never wait.
  void Run(std::function<void()> fn);
  // Admin operations: immediate on the engine thread (inside Run()),
  // blocking until the engine answers from any other thread (the CLI).
  std::string DeadLettersJson();
  // {"sites":[...],"scheduled":[...],"messages","deadLetters","oldest"}.
  std::string QueuesJson();
  // Re-queues dead-lettered recipients with fresh attempts; "" = all.
  // Returns how many recipients were re-queued.
  int Redrive(const std::string& id);
  // Drops dead-lettered recipients for good; "" = all. Returns how many.
  int Purge(const std::string& id);
  // The delivery families, written on the engine thread when /metrics
  // renders (the registry posts there; nobody waits).
  void RegisterMetrics(metrics::Registry* registry);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sesame::delivery
