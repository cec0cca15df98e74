#include "events/destinations.h"

namespace sesame::events {

DestinationLookup ConfigSetDestinations(const config::Config& config,
                                        ses::Resources* resources,
                                        std::string topic_arn_prefix) {
  return [&config, resources,
          prefix = std::move(topic_arn_prefix)](const std::string& config_set) {
    std::vector<Destination> out;
    for (const auto& cs : config.delivery.configuration_sets) {
      if (cs.name != config_set) continue;
      for (const auto& d : cs.event_destinations) {
        if (d.enabled) out.push_back({d.topic, d.matching_event_types});
      }
    }
    for (auto& [arn, types] :
         resources->configuration_sets().SnsDestinations(config_set)) {
      if (arn.rfind(prefix, 0) == 0)
        out.push_back({arn.substr(prefix.size()), types});
    }
    return out;
  };
}

NotificationLookup IdentityNotificationTopics(ses::Resources* resources,
                                              std::string topic_arn_prefix) {
  return [resources,
          prefix = std::move(topic_arn_prefix)](const std::string& sender) {
    IdentityNotifications out;
    std::string identity = resources->identities().IdentityFor(sender);
    if (identity.empty()) return out;
    auto n = resources->identities().Notifications(identity);
    for (const auto& [type, arn] : n.topics) {
      if (arn.rfind(prefix, 0) == 0)
        out.topics[type] = arn.substr(prefix.size());
    }
    out.with_headers = n.with_headers;
    return out;
  };
}

HeaderReader SpoolHeaders(spool::Spool* spool) {
  return [spool](const std::string& id) -> std::string {
    auto body = spool->ReadBody(id);
    if (!body.ok()) return "";
    size_t end = body->find("\r\n\r\n");
    return body->substr(0, end == std::string::npos ? 64 * 1024 : end);
  };
}

}  // namespace sesame::events
