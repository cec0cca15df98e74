#pragma once

#include <atomic>

#include "api/api.h"
#include "config/config.h"
#include "dashboard/dashboard.h"
#include "delivery/engine.h"
#include "dns/resolver.h"
#include "events/publisher.h"
#include "metrics/registry.h"
#include "stats/alarms.h"
#include "stats/stats.h"

namespace sesame::app {

// What the HTTP API asks of the rest of Sesame (api::Services), wired to
// the parts `sesame serve` built: the engine's and the publisher's answers
// come from their own threads, the statistics from stats/. Everything
// passed must outlive the returned services; `dashboard` is null when the
// dashboard is disabled.
struct ServiceParts {
  const config::Config& config;
  delivery::Engine& engine;
  events::Publisher& publisher;
  stats::Stats& stats;
  stats::Alarms& alarms;
  metrics::Registry& registry;
  dns::Resolver* resolver;
  dashboard::Dashboard* dashboard;
  std::atomic<bool>& listening;
};
api::Services WireServices(ServiceParts parts);

}  // namespace sesame::app
