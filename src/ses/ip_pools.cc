#include "ses/ip_pools.h"

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

}  // namespace sesame::ses
