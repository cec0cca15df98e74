#include "ses/ip_pools.h"

#include <algorithm>
#include <boost/json.hpp>

#include "ses/names.h"

namespace sesame::ses {
namespace json = boost::json;
namespace {

constexpr char kPoolKind[] = "ip-pool";

Error MissingPool(const std::string& name) {
  return NotFound("Pool <" + name + "> does not exist.");
}

}  // namespace

Status IpPools::Create(const IpPool& pool) {
  if (Status v = CheckResourceName("dedicated IP pool", pool.name); !v.ok())
    return v;
  std::string mode = pool.scaling_mode.empty() ? "STANDARD" : pool.scaling_mode;
  if (mode != "STANDARD" && mode != "MANAGED")
    return Invalid("ScalingMode must be STANDARD or MANAGED");
  json::object d;
  d["PoolName"] = pool.name;
  d["ScalingMode"] = mode;
  Status s = store_->Put(kPoolKind, pool.name, json::serialize(d), true);
  if (!s.ok() && s.error().code() == "exists")
    return Exists("Pool " + pool.name + " already exists.");
  return s;
}

Result<IpPool> IpPools::Get(const std::string& name) {
  auto doc = store_->Get(kPoolKind, name);
  if (!doc.ok()) return doc.error();
  if (!doc->has_value()) return MissingPool(name);
  return IpPool{name, JsonString(DocumentObject(**doc), "ScalingMode")};
}

Status IpPools::Delete(const std::string& name) {
  auto gone = store_->Delete(kPoolKind, name);
  if (!gone.ok()) return gone.error();
  if (!*gone) return MissingPool(name);
  return Ok{};
}

Result<Page<std::string>> IpPools::List(const std::string& after,
                                        size_t limit) {
  return ListNames(store_, kPoolKind, after, limit);
}

namespace {
constexpr char kIpKind[] = "dedicated-ip";
}  // namespace

Result<DedicatedIp> IpPools::GetIp(const std::string& ip) {
  if (std::find(ips_.begin(), ips_.end(), ip) == ips_.end())
    return NotFound("Dedicated IP <" + ip + "> does not exist.");
  DedicatedIp d{ip, kDefaultPool, 100};
  auto doc = store_->Get(kIpKind, ip);
  if (!doc.ok()) return doc.error();
  if (doc->has_value()) {
    json::object o = DocumentObject(**doc);
    if (std::string p = JsonString(o, "PoolName"); !p.empty()) d.pool = p;
    if (auto* w = o.if_contains("WarmupPercentage"); w && w->is_int64())
      d.warmup_percentage = static_cast<int>(w->as_int64());
  }
  return d;
}

Result<std::vector<DedicatedIp>> IpPools::ListIps(const std::string& pool) {
  if (!pool.empty() && pool != kDefaultPool) {
    auto p = Get(pool);
    if (!p.ok()) return p.error();
  }
  std::vector<DedicatedIp> out;
  for (const auto& ip : ips_) {
    auto d = GetIp(ip);
    if (!d.ok()) return d.error();
    if (pool.empty() || d->pool == pool) out.push_back(std::move(*d));
  }
  return out;
}

Status IpPools::SaveIp(const DedicatedIp& d) {
  json::object o{{"Ip", d.ip},
                 {"PoolName", d.pool},
                 {"WarmupPercentage", d.warmup_percentage}};
  return store_->Put(kIpKind, d.ip, json::serialize(o), false);
}

Status IpPools::MoveIp(const std::string& ip, const std::string& pool) {
  auto d = GetIp(ip);
  if (!d.ok()) return d.error();
  if (pool != kDefaultPool) {
    auto p = Get(pool);
    if (!p.ok()) return p.error();
  }
  d->pool = pool;
  return SaveIp(*d);
}

Status IpPools::SetWarmup(const std::string& ip, int percentage) {
  if (percentage < 0 || percentage > 100)
    return Invalid("WarmupPercentage must be between 0 and 100");
  auto d = GetIp(ip);
  if (!d.ok()) return d.error();
  d->warmup_percentage = percentage;
  return SaveIp(*d);
}

std::vector<std::string> IpPools::Addresses(const std::string& pool) {
  std::vector<std::string> out;
  if (pool.empty()) return out;
  auto ips = ListIps(pool);
  if (!ips.ok()) return out;
  for (const auto& d : *ips) out.push_back(d.ip);
  return out;
}

}  // namespace sesame::ses
