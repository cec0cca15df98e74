#include "delivery/policy.h"

#include <algorithm>
#include <cmath>

#include "base/strings.h"

namespace sesame::delivery {
namespace {}  // namespace

bool DomainMatches(const std::string& pattern, const std::string& domain) {
  std::string p = AsciiLowerCopy(pattern), d = AsciiLowerCopy(domain);
  if (p == "*") return true;
  if (p.size() > 2 && p[0] == '*' && p[1] == '.') {
    std::string suffix = p.substr(1);
    return d.size() > suffix.size() &&
           d.compare(d.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return p == d;
}

const config::Route* Policy::RouteFor(const std::string& domain) const {
  for (const auto& r : d_.routes) {
    if (DomainMatches(r.match, domain)) return &r;
  }
  return nullptr;
}

config::Shaping Policy::ShapingFor(
    const std::string& domain, const std::vector<std::string>& hosts) const {
  config::Shaping s = d_.shaping_default;
  for (const auto& rule : d_.shaping) {
    bool match = DomainMatches(rule.match, domain);
    for (const auto& h : hosts) match |= DomainMatches(rule.match, h);
    if (!match) continue;
    if (rule.max_connections) s.max_connections = rule.max_connections;
    if (rule.messages_per_connection)
      s.messages_per_connection = rule.messages_per_connection;
    if (rule.rate_per_second > 0) s.rate_per_second = rule.rate_per_second;
    if (rule.rate_per_hour > 0) s.rate_per_hour = rule.rate_per_hour;
    s.match = rule.match;
    break;
  }
  return s;
}

const config::BackoffRule* Policy::BackoffFor(const std::string& reply) const {
  std::string r = AsciiLowerCopy(reply);
  for (const auto& b : d_.backoff) {
    if (r.find(b.pattern) != std::string::npos) return &b;
  }
  return nullptr;
}

double Policy::RetryDelaySeconds(uint32_t attempt, std::mt19937_64& rng) const {
  double ceiling = d_.retry_first_seconds *
                   std::pow(d_.retry_factor, attempt > 0 ? attempt - 1 : 0);
  ceiling = std::min(ceiling, static_cast<double>(d_.retry_max_seconds));
  ceiling = std::max(ceiling, 1.0);
  return std::uniform_real_distribution<double>(1.0,
                                                std::max(1.0, ceiling))(rng);
}

const config::ConfigurationSet* Policy::Set(const std::string& name) const {
  for (const auto& cs : d_.configuration_sets) {
    if (cs.name == name) return &cs;
  }
  return nullptr;
}

uint32_t Policy::MaxDeliverySeconds(const std::string& config_set) const {
  const auto* cs = Set(config_set);
  return cs ? cs->max_delivery_seconds : d_.max_delivery_seconds;
}

bool Policy::TlsRequired(const std::string& config_set) const {
  const auto* cs = Set(config_set);
  return d_.tls_required || (cs && cs->tls_required);
}

}  // namespace sesame::delivery
