// SES v2 configuration sets, their options and event destinations.

#include "api/v2_resource_routes.h"

namespace sesame::api {
namespace json = boost::json;
using ses::JsonString;

namespace {

// CreateConfigurationSet.
HttpResponse CreateSet(ResourceCall& c, json::object& o) {
  std::string name = JsonString(o, "ConfigurationSetName");
  if (name.empty()) return Fail(BadRequest("ConfigurationSetName is required"));
  return Done(c.resources.configuration_sets().Create(name, std::move(o)));
}

// ListConfigurationSets.
HttpResponse ListSets(ResourceCall& c, const PageRequest& p) {
  return ListReply(c.resources.configuration_sets().List(p.after, p.size),
                   "ConfigurationSets", Name);
}

// GetConfigurationSet: its options as they were put.
HttpResponse GetSet(ResourceCall& c) {
  auto cs = c.resources.configuration_sets().Get(c.params[0]);
  if (!cs.ok()) return Fail(cs.error());
  // A set made through v1 (or the config file) was put with no options: it
  // still has a name and, as SES answers, an empty tag list.
  json::object out = cs->options;
  out["ConfigurationSetName"] = cs->name;
  if (!out.contains("Tags")) out["Tags"] = json::array();
  return Reply(out);
}

// DeleteConfigurationSet.
HttpResponse DeleteSet(ResourceCall& c) {
  return Done(c.resources.configuration_sets().Delete(c.params[0]));
}

// PutConfigurationSetSendingOptions: also for the config file's sets, and it
// lifts a pause by an alarm or reputation enforcement.
HttpResponse PutSending(ResourceCall& c, json::object& o) {
  auto* en = o.if_contains("SendingEnabled");
  if (en && !en->is_bool())
    return Fail(BadRequest("SendingEnabled must be a boolean"));
  return Done(c.resources.configuration_sets().SetSendingEnabled(
      c.params[0], !en || en->as_bool()));
}

// PutConfigurationSet{Suppression,Tracking,Delivery,Reputation}Options: the
// request body is the option object, kept as given.
template <const char* kField>
HttpResponse PutOption(ResourceCall& c, json::object& o) {
  return Done(
      c.resources.configuration_sets().PutOption(c.params[0], kField, o));
}
constexpr char kSuppression[] = "SuppressionOptions";
constexpr char kTracking[] = "TrackingOptions";
constexpr char kDelivery[] = "DeliveryOptions";
constexpr char kReputation[] = "ReputationOptions";

// CreateConfigurationSetEventDestination.
HttpResponse AddDestination(ResourceCall& c, json::object& o) {
  std::string dest = JsonString(o, "EventDestinationName");
  auto* ed = o.if_contains("EventDestination");
  if (dest.empty() || !ed || !ed->is_object())
    return Fail(
        BadRequest("EventDestinationName and EventDestination are required"));
  return Done(c.resources.configuration_sets().AddDestination(c.params[0], dest,
                                                              ed->as_object()));
}

// GetConfigurationSetEventDestinations.
HttpResponse ListDestinations(ResourceCall& c) {
  auto cs = c.resources.configuration_sets().Get(c.params[0]);
  if (!cs.ok()) return Fail(cs.error());
  json::array list;
  for (const auto& [dest, body] : cs->destinations) {
    json::object e = body;
    e["Name"] = dest;
    if (!e.contains("Enabled")) e["Enabled"] = false;
    list.push_back(std::move(e));
  }
  return Reply({{"EventDestinations", std::move(list)}});
}

// UpdateConfigurationSetEventDestination.
HttpResponse UpdateDestination(ResourceCall& c, json::object& o) {
  auto* ed = o.if_contains("EventDestination");
  if (!ed || !ed->is_object())
    return Fail(BadRequest("EventDestination is required"));
  return Done(c.resources.configuration_sets().UpdateDestination(
      c.params[0], c.params[1], ed->as_object()));
}

// DeleteConfigurationSetEventDestination.
HttpResponse DeleteDestination(ResourceCall& c) {
  return Done(c.resources.configuration_sets().DeleteDestination(c.params[0],
                                                                 c.params[1]));
}

}  // namespace

void AddConfigurationSetRoutes(ResourceRouter& r) {
  const std::string set = "/v2/email/configuration-sets/{name}";
  r.Rest("POST", "/v2/email/configuration-sets", true, WithBody<CreateSet>);
  r.Rest("GET", "/v2/email/configuration-sets", true, WithPage<ListSets>);
  r.Rest("GET", set, true, GetSet);
  r.Rest("DELETE", set, true, DeleteSet);
  r.Rest("PUT", set + "/sending", true, WithBody<PutSending>);
  r.Rest("PUT", set + "/suppression-options", true,
         WithBody<PutOption<kSuppression>>);
  r.Rest("PUT", set + "/tracking-options", true,
         WithBody<PutOption<kTracking>>);
  r.Rest("PUT", set + "/delivery-options", true,
         WithBody<PutOption<kDelivery>>);
  r.Rest("PUT", set + "/reputation-options", true,
         WithBody<PutOption<kReputation>>);
  r.Rest("POST", set + "/event-destinations", true, WithBody<AddDestination>);
  r.Rest("GET", set + "/event-destinations", true, ListDestinations);
  r.Rest("PUT", set + "/event-destinations/{dest}", true,
         WithBody<UpdateDestination>);
  r.Rest("DELETE", set + "/event-destinations/{dest}", true, DeleteDestination);
}

}  // namespace sesame::api
