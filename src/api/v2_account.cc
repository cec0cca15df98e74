// SES v2 account settings, resource tags and dedicated IP pools.

#include "api/v2_resource_routes.h"

namespace sesame::api {
namespace json = boost::json;
using ses::JsonString;

namespace {

// PutAccountSendingAttributes.
HttpResponse PutAccountSending(ResourceCall& c, json::object& o) {
  auto* en = o.if_contains("SendingEnabled");
  if (en && !en->is_bool())
    return Fail(BadRequest("SendingEnabled must be a boolean"));
  return Done(c.resources.account().SetSendingEnabled(!en || en->as_bool()));
}

// PutAccountSuppressionAttributes.
HttpResponse PutAccountSuppression(ResourceCall& c, json::object& o) {
  auto* r = o.if_contains("SuppressedReasons");
  if (!r || !r->is_array())
    return Fail(BadRequest("SuppressedReasons must be a list"));
  std::vector<std::string> reasons;
  for (const auto& x : r->as_array()) {
    if (!x.is_string())
      return Fail(
          BadRequest("SuppressedReasons may hold BOUNCE and COMPLAINT"));
    reasons.emplace_back(x.as_string());
  }
  return Done(c.resources.account().SetSuppressedReasons(reasons));
}

// ListTagsForResource.
HttpResponse ListTags(ResourceCall& c) {
  std::string arn = QueryParam(c.req.query, "ResourceArn");
  if (arn.empty()) return Fail(BadRequest("ResourceArn is required"));
  auto tags = c.resources.tags().Get(arn);
  if (!tags.ok()) return Fail(tags.error());
  json::array list;
  for (const auto& [k, v] : *tags) list.push_back({{"Key", k}, {"Value", v}});
  return Reply({{"Tags", std::move(list)}});
}

// TagResource.
HttpResponse TagResource(ResourceCall& c, json::object& o) {
  std::string arn = JsonString(o, "ResourceArn");
  auto* t = o.if_contains("Tags");
  if (arn.empty() || !t)
    return Fail(BadRequest("ResourceArn and Tags are required"));
  auto tags = ParseTags(*t);
  if (auto* e = std::get_if<HttpResponse>(&tags)) return std::move(*e);
  return Done(c.resources.tags().Tag(arn, std::get<TagList>(tags)));
}

// UntagResource: ?ResourceArn=…&TagKeys=a&TagKeys=b.
HttpResponse UntagResource(ResourceCall& c) {
  std::string arn = QueryParam(c.req.query, "ResourceArn");
  if (arn.empty()) return Fail(BadRequest("ResourceArn is required"));
  auto keys = QueryParams(c.req.query, "TagKeys");
  if (keys.empty()) return Fail(BadRequest("TagKeys is required"));
  return Done(c.resources.tags().Untag(arn, keys));
}

// CreateDedicatedIpPool.
HttpResponse CreateIpPool(ResourceCall& c, json::object& o) {
  std::string name = JsonString(o, "PoolName");
  if (name.empty()) return Fail(BadRequest("PoolName is required"));
  return Done(
      c.resources.ip_pools().Create({name, JsonString(o, "ScalingMode")}));
}

// ListDedicatedIpPools.
HttpResponse ListIpPools(ResourceCall& c, const PageRequest& p) {
  return ListReply(c.resources.ip_pools().List(p.after, p.size),
                   "DedicatedIpPools", Name);
}

// GetDedicatedIpPool.
HttpResponse GetIpPool(ResourceCall& c) {
  auto pool = c.resources.ip_pools().Get(c.params[0]);
  if (!pool.ok()) return Fail(pool.error());
  return Reply(
      {{"DedicatedIpPool",
        {{"PoolName", pool->name}, {"ScalingMode", pool->scaling_mode}}}});
}

// DeleteDedicatedIpPool.
HttpResponse DeleteIpPool(ResourceCall& c) {
  return Done(c.resources.ip_pools().Delete(c.params[0]));
}

}  // namespace

void AddAccountRoutes(ResourceRouter& r) {
  r.Rest("PUT", "/v2/email/account/sending", true, WithBody<PutAccountSending>);
  r.Rest("PUT", "/v2/email/account/suppression", true,
         WithBody<PutAccountSuppression>);
  r.Rest("GET", "/v2/email/tags", true, ListTags);
  r.Rest("POST", "/v2/email/tags", true, WithBody<TagResource>);
  r.Rest("DELETE", "/v2/email/tags", true, UntagResource);
  r.Rest("POST", "/v2/email/dedicated-ip-pools", true, WithBody<CreateIpPool>);
  r.Rest("GET", "/v2/email/dedicated-ip-pools", true, WithPage<ListIpPools>);
  r.Rest("GET", "/v2/email/dedicated-ip-pools/{name}", true, GetIpPool);
  r.Rest("DELETE", "/v2/email/dedicated-ip-pools/{name}", true, DeleteIpPool);
}

}  // namespace sesame::api
