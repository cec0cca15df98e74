// SES v2 account-level suppression list.

#include "api/v2_resource_routes.h"

namespace sesame::api {
namespace json = boost::json;
using ses::JsonString;

namespace {

json::object Summary(const ses::SuppressedDestination& d) {
  return {{"EmailAddress", d.address},
          {"Reason", d.reason},
          {"LastUpdateTime", d.last_update}};
}

// PutSuppressedDestination.
HttpResponse PutSuppressed(ResourceCall& c, json::object& o) {
  return Done(c.resources.suppression().Put(JsonString(o, "EmailAddress"),
                                            JsonString(o, "Reason")));
}

// ListSuppressedDestinations.
HttpResponse ListSuppressed(ResourceCall& c, const PageRequest& p) {
  return ListReply(c.resources.suppression().List(p.after, p.size),
                   "SuppressedDestinationSummaries", Summary);
}

// GetSuppressedDestination.
HttpResponse GetSuppressed(ResourceCall& c) {
  auto d = c.resources.suppression().Get(c.params[0]);
  if (!d.ok()) return Fail(d.error());
  json::object entry = Summary(*d);
  json::object attributes;
  if (!d->message_id.empty()) attributes["MessageId"] = d->message_id;
  if (!d->feedback_id.empty()) attributes["FeedbackId"] = d->feedback_id;
  if (!attributes.empty()) entry["Attributes"] = std::move(attributes);
  return Reply({{"SuppressedDestination", std::move(entry)}});
}

// DeleteSuppressedDestination.
HttpResponse DeleteSuppressed(ResourceCall& c) {
  return Done(c.resources.suppression().Delete(c.params[0]));
}

}  // namespace

void AddSuppressionRoutes(ResourceRouter& r) {
  r.Rest("PUT", "/v2/email/suppression/addresses", true,
         WithBody<PutSuppressed>);
  r.Rest("GET", "/v2/email/suppression/addresses", true,
         WithPage<ListSuppressed>);
  r.Rest("GET", "/v2/email/suppression/addresses/{address}", true,
         GetSuppressed);
  r.Rest("DELETE", "/v2/email/suppression/addresses/{address}", true,
         DeleteSuppressed);
}

}  // namespace sesame::api
