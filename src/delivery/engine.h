#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "config/config.h"
#include "dns/resolver.h"
#include "spool/spool.h"

namespace sesame::delivery {

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

  // Loads the spool's backlog and starts the engine thread.
  Status Start();
  void Stop();

  // A newly durable message (called from the spool writer thread).
  void Submit(const spool::MessageInfo& info);

  // Admin operations (blocking until the engine thread answers).
  std::string DeadLettersJson();
  // Re-queues dead-lettered recipients with fresh attempts; "" = all.
  // Returns how many recipients were re-queued.
  int Redrive(const std::string& id);
  // Drops dead-lettered recipients for good; "" = all. Returns how many.
  int Purge(const std::string& id);
  // Prometheus text for the delivery counters and queues.
  std::string Metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sesame::delivery
