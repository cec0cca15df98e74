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

json::object IpJson(const ses::DedicatedIp& d) {
  return {{"Ip", d.ip},
          {"WarmupStatus", d.WarmupStatus()},
          {"WarmupPercentage", d.warmup_percentage},
          {"PoolName", d.pool}};
}

// GetDedicatedIp.
HttpResponse GetIp(ResourceCall& c) {
  auto d = c.resources.ip_pools().GetIp(c.params[0]);
  if (!d.ok()) return Fail(d.error());
  return Reply({{"DedicatedIp", IpJson(*d)}});
}

// GetDedicatedIps: ?PoolName=, paged in the configuration's order.
HttpResponse ListIps(ResourceCall& c, const PageRequest& p) {
  auto ips =
      c.resources.ip_pools().ListIps(QueryParam(c.req.query, "PoolName"));
  if (!ips.ok()) return Fail(ips.error());
  size_t start = 0;
  if (!p.after.empty())
    for (size_t i = 0; i < ips->size(); ++i)
      if ((*ips)[i].ip == p.after) start = i + 1;
  ses::Page<ses::DedicatedIp> page;
  for (size_t i = start; i < ips->size() && page.items.size() < p.size; ++i)
    page.items.push_back((*ips)[i]);
  if (start + page.items.size() < ips->size()) page.next = page.items.back().ip;
  return ListReply(Result<ses::Page<ses::DedicatedIp>>(std::move(page)),
                   "DedicatedIps", IpJson);
}

// PutDedicatedIpInPool.
HttpResponse MoveIp(ResourceCall& c, json::object& o) {
  std::string pool = JsonString(o, "DestinationPoolName");
  if (pool.empty()) return Fail(BadRequest("DestinationPoolName is required"));
  return Done(c.resources.ip_pools().MoveIp(c.params[0], pool));
}

// PutDedicatedIpWarmupAttributes.
HttpResponse PutIpWarmup(ResourceCall& c, json::object& o) {
  auto* w = o.if_contains("WarmupPercentage");
  if (!w || !w->is_int64())
    return Fail(BadRequest("WarmupPercentage must be an integer"));
  return Done(c.resources.ip_pools().SetWarmup(
      c.params[0], static_cast<int>(w->as_int64())));
}

// PutAccountDedicatedIpWarmupAttributes: SES's automatic warm-up switch. The
// addresses are the host's own, so there is no AWS-managed ramp to switch;
// the setting is kept and reported by GetAccount.
HttpResponse PutAccountWarmup(ResourceCall& c, json::object& o) {
  auto* en = o.if_contains("AutoWarmupEnabled");
  if (en && !en->is_bool())
    return Fail(BadRequest("AutoWarmupEnabled must be a boolean"));
  return Done(c.resources.account().SetDedicatedIpAutoWarmupEnabled(
      !en || en->as_bool()));
}

}  // namespace

void AddAccountRoutes(ResourceRouter& r) {
  r.Rest("GET", "/v2/email/dedicated-ips", true, WithPage<ListIps>);
  r.Rest("GET", "/v2/email/dedicated-ips/{ip}", true, GetIp);
  r.Rest("PUT", "/v2/email/dedicated-ips/{ip}/pool", true, WithBody<MoveIp>);
  r.Rest("PUT", "/v2/email/dedicated-ips/{ip}/warmup", true,
         WithBody<PutIpWarmup>);
  r.Rest("PUT", "/v2/email/account/dedicated-ips/warmup", true,
         WithBody<PutAccountWarmup>);
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
