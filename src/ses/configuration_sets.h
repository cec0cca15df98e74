#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ses/documents.h"

namespace sesame::ses {

// A configuration set: its options in SES's shapes (ConfigurationSetName,
// SendingOptions, SuppressionOptions, TrackingOptions, DeliveryOptions,
// ReputationOptions, Tags …) and its event destinations by name (each an SES
// EventDestination object).
struct ConfigurationSet {
  std::string name;
  boost::json::object options;
  std::map<std::string, boost::json::object> destinations;
};

// An enabled event destination that publishes to an SNS topic.
struct SnsDestination {
  std::string topic_arn;
  std::vector<std::string> event_types;  // MatchingEventTypes
};

// The account's configuration sets, kept in the state store (kind
// "configuration-set"; a pause by an alarm is kind "paused"). Sets declared
// in the config file have no document but can be paused and re-enabled.
// Owned by Resources; thread-safe (the store is), except SetConfigFileSets,
// which is called once before serving.
class ConfigurationSets {
 public:
  explicit ConfigurationSets(store::Store* store) : store_(store) {}

  void SetConfigFileSets(std::set<std::string> names) {
    config_file_sets_ = std::move(names);
  }

  // `options` as CreateConfigurationSet takes them. "invalid" (name,
  // MaxDeliverySeconds), "exists".
  Status Create(const std::string& name, boost::json::object options);
  // "not_found" when there is none.
  Result<ConfigurationSet> Get(const std::string& name);
  bool Exists(const std::string& name);
  Result<Page<std::string>> List(const std::string& after, size_t limit);
  // Every name, for the v1 listings (SES caps an account at 10,000).
  std::vector<std::string> Names();
  // "not_found" when there is none.
  Status Delete(const std::string& name);
  // Put<field>: one of the option objects ("SuppressionOptions", …).
  Status PutOption(const std::string& name, const std::string& field,
                   boost::json::object value);
  // Drops one of them (v1 DeleteConfigurationSetTrackingOptions).
  Status RemoveOption(const std::string& name, const std::string& field);

  // Event destinations: "not_found" (set or destination), "exists".
  Status AddDestination(const std::string& name, const std::string& dest,
                        boost::json::object destination);
  Status UpdateDestination(const std::string& name, const std::string& dest,
                           boost::json::object destination);
  Status DeleteDestination(const std::string& name, const std::string& dest);
  std::vector<SnsDestination> SnsDestinations(const std::string& name);

  // PutConfigurationSetSendingOptions, and pauses by alarms and reputation
  // enforcement; "not_found" unless the set exists or is the config file's.
  Status SetSendingEnabled(const std::string& name, bool enabled);
  // False when paused or SendingOptions.SendingEnabled is false.
  bool SendingEnabled(const std::string& name);
  // The set's SuppressionOptions.SuppressedReasons, if it has them.
  std::optional<std::vector<std::string>> SuppressedReasons(
      const std::string& name);

 private:
  Status SetPauseMarker(const std::string& name, bool paused);
  Status Save(const ConfigurationSet& cs);

  store::Store* store_;
  std::set<std::string> config_file_sets_;
};

}  // namespace sesame::ses
