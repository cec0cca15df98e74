#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "config/config.h"

namespace sesame::delivery {

// True when `domain` matches `pattern`: exact, "*.example.com" (any
// subdomain), or "*" (everything). Case-insensitive.
bool DomainMatches(const std::string& pattern, const std::string& domain);

// Delivery policy derived from the configuration: routes, shaping and
// back-off rules, retry timing. Immutable after construction; thread-safe.
class Policy {
 public:
  explicit Policy(const config::Delivery& d) : d_(d) {}

  // The first static route whose pattern matches, or nullptr for MX routing.
  const config::Route* RouteFor(const std::string& domain) const;
  // Shaping for a site: the first rule matching the domain or any MX host,
  // with zero fields filled from the default.
  config::Shaping ShapingFor(const std::string& domain,
                             const std::vector<std::string>& hosts) const;
  // The first back-off rule whose pattern occurs in the reply text.
  const config::BackoffRule* BackoffFor(const std::string& reply) const;
  // Seconds before retry number `attempt` (1 = first retry): exponential
  // with full jitter, uniform in [1, min(max, first * factor^(attempt-1))].
  double RetryDelaySeconds(uint32_t attempt, std::mt19937_64& rng) const;
  // Lifetime and TLS requirement for a configuration set ("" = defaults).
  uint32_t MaxDeliverySeconds(const std::string& config_set) const;
  bool TlsRequired(const std::string& config_set) const;

  const config::Delivery& config() const { return d_; }

 private:
  const config::ConfigurationSet* Set(const std::string& name) const;
  config::Delivery d_;
};

}  // namespace sesame::delivery
