#include "ses/configuration_sets.h"

#include <boost/json.hpp>

#include "ses/names.h"

namespace sesame::ses {
namespace json = boost::json;
namespace {

constexpr char kKind[] = "configuration-set";
constexpr char kPaused[] = "paused";

Error Missing(const std::string& name) {
  return NotFound("Configuration set <" + name + "> does not exist.");
}
Error MissingDestination(const std::string& dest) {
  return NotFound("Event destination <" + dest + "> does not exist.");
}

Status CheckDeliveryOptions(const json::object& options) {
  auto* d = options.if_contains("DeliveryOptions");
  if (!d || !d->is_object()) return Ok{};
  auto* mds = d->as_object().if_contains("MaxDeliverySeconds");
  if (!mds || !mds->is_number()) return Ok{};
  double v = mds->to_number<double>();
  if (v < 300 || v > 50400)
    return Invalid("MaxDeliverySeconds must be between 300 and 50400");
  return Ok{};
}

}  // namespace

Status ConfigurationSets::Create(const std::string& name,
                                 json::object options) {
  if (Status v = CheckResourceName("configuration set", name); !v.ok())
    return v;
  if (Status v = CheckDeliveryOptions(options); !v.ok()) return v;
  options["ConfigurationSetName"] = name;
  options["EventDestinations"] = json::object();
  Status s = store_->Put(kKind, name, json::serialize(options), true);
  if (!s.ok() && s.error().code() == "exists")
    return ses::Exists("Configuration set " + name + " already exists.");
  return s;
}

Result<ConfigurationSet> ConfigurationSets::Get(const std::string& name) {
  auto doc = store_->Get(kKind, name);
  if (!doc.ok()) return doc.error();
  if (!doc->has_value()) return Missing(name);
  ConfigurationSet cs{name, DocumentObject(**doc), {}};
  if (auto* d = cs.options.if_contains("EventDestinations");
      d && d->is_object()) {
    for (const auto& [dest, body] : d->as_object()) {
      if (body.is_object()) cs.destinations[dest] = body.as_object();
    }
  }
  cs.options.erase("EventDestinations");
  return cs;
}

bool ConfigurationSets::Exists(const std::string& name) {
  auto d = store_->Get(kKind, name);
  return d.ok() && d->has_value();
}

Result<Page<std::string>> ConfigurationSets::List(const std::string& after,
                                                  size_t limit) {
  return ListNames(store_, kKind, after, limit);
}

Status ConfigurationSets::Delete(const std::string& name) {
  auto gone = store_->Delete(kKind, name);
  if (!gone.ok()) return gone.error();
  if (!*gone) return Missing(name);
  (void)store_->Delete(kPaused, name);
  return Ok{};
}

Status ConfigurationSets::PutOption(const std::string& name,
                                    const std::string& field,
                                    json::object value) {
  auto cs = Get(name);
  if (!cs.ok()) return cs.error();
  cs->options[field] = std::move(value);
  return Save(*cs);
}

Status ConfigurationSets::RemoveOption(const std::string& name,
                                       const std::string& field) {
  auto cs = Get(name);
  if (!cs.ok()) return cs.error();
  cs->options.erase(field);
  return Save(*cs);
}

Status ConfigurationSets::AddDestination(const std::string& name,
                                         const std::string& dest,
                                         json::object destination) {
  auto cs = Get(name);
  if (!cs.ok()) return cs.error();
  if (cs->destinations.count(dest))
    return ses::Exists("Event destination " + dest + " already exists.");
  cs->destinations[dest] = std::move(destination);
  return Save(*cs);
}

Status ConfigurationSets::UpdateDestination(const std::string& name,
                                            const std::string& dest,
                                            json::object destination) {
  auto cs = Get(name);
  if (!cs.ok()) return cs.error();
  if (!cs->destinations.count(dest)) return MissingDestination(dest);
  cs->destinations[dest] = std::move(destination);
  return Save(*cs);
}

Status ConfigurationSets::DeleteDestination(const std::string& name,
                                            const std::string& dest) {
  auto cs = Get(name);
  if (!cs.ok()) return cs.error();
  if (!cs->destinations.erase(dest)) return MissingDestination(dest);
  return Save(*cs);
}

std::vector<SnsDestination> ConfigurationSets::SnsDestinations(
    const std::string& name) {
  std::vector<SnsDestination> out;
  if (name.empty()) return out;
  auto cs = Get(name);
  if (!cs.ok()) return out;
  for (const auto& [dest, o] : cs->destinations) {
    auto* enabled = o.if_contains("Enabled");
    if (enabled && enabled->is_bool() && !enabled->as_bool()) continue;
    auto* sns = o.if_contains("SnsDestination");
    if (!sns || !sns->is_object()) continue;
    std::string arn = JsonString(sns->as_object(), "TopicArn");
    if (arn.empty()) continue;
    SnsDestination d{arn, {}};
    if (auto* t = o.if_contains("MatchingEventTypes"); t && t->is_array()) {
      for (const auto& x : t->as_array())
        if (x.is_string()) d.event_types.emplace_back(x.as_string());
    }
    out.push_back(std::move(d));
  }
  return out;
}

Status ConfigurationSets::SetSendingEnabled(const std::string& name,
                                            bool enabled) {
  auto cs = Get(name);
  if (!cs.ok() &&
      !(cs.error().code() == "not_found" && config_file_sets_.count(name)))
    return cs.error();
  // The pause marker is what sends read (a snapshot kind, never a parse).
  Status marker = SetPauseMarker(name, !enabled);
  if (!marker.ok() || !cs.ok()) return marker;
  json::object so;
  so["SendingEnabled"] = enabled;
  cs->options["SendingOptions"] = std::move(so);
  return Save(*cs);
}

bool ConfigurationSets::SendingEnabled(const std::string& name) {
  auto paused = store_->Get(kPaused, name);
  if (paused.ok() && paused->has_value()) return false;
  auto cs = Get(name);
  if (!cs.ok()) return true;
  auto* so = cs->options.if_contains("SendingOptions");
  if (!so || !so->is_object()) return true;
  auto* en = so->as_object().if_contains("SendingEnabled");
  return !en || !en->is_bool() || en->as_bool();
}

std::optional<std::vector<std::string>> ConfigurationSets::SuppressedReasons(
    const std::string& name) {
  if (name.empty()) return std::nullopt;
  auto cs = Get(name);
  if (!cs.ok()) return std::nullopt;
  auto* so = cs->options.if_contains("SuppressionOptions");
  if (!so || !so->is_object()) return std::nullopt;
  auto* r = so->as_object().if_contains("SuppressedReasons");
  if (!r || !r->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& x : r->as_array())
    if (x.is_string()) out.emplace_back(x.as_string());
  return out;
}

Status ConfigurationSets::SetPauseMarker(const std::string& name, bool paused) {
  if (paused) return store_->Put(kPaused, name, "{}", false);
  auto gone = store_->Delete(kPaused, name);
  if (!gone.ok()) return gone.error();
  return Ok{};
}

Status ConfigurationSets::Save(const ConfigurationSet& cs) {
  json::object doc = cs.options;
  json::object dests;
  for (const auto& [dest, body] : cs.destinations) dests[dest] = body;
  doc["EventDestinations"] = std::move(dests);
  return store_->Put(kKind, cs.name, json::serialize(doc), false);
}

std::vector<std::string> ConfigurationSets::Names() {
  return DocumentNames(store_, kKind);
}

}  // namespace sesame::ses
