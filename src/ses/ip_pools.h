#pragma once

#include <map>
#include <string>
#include <vector>

#include "ses/documents.h"

namespace sesame::ses {

// A dedicated IP pool (SES DedicatedIpPool).
struct IpPool {
  std::string name;
  std::string scaling_mode;  // STANDARD or MANAGED
};

// A dedicated IP address (SES DedicatedIp): one of delivery.dedicated_ips.
struct DedicatedIp {
  std::string ip;
  std::string pool;  // kDefaultPool until moved
  int warmup_percentage = 100;
  std::string WarmupStatus() const {
    return warmup_percentage >= 100 ? "DONE" : "IN_PROGRESS";
  }
};

// The account's dedicated IP pools (kind "ip-pool") and the host's dedicated
// addresses with their pool and warm-up (kind "dedicated-ip"; an address
// never moved is in kDefaultPool), kept in the state store. The addresses
// come from the configuration (SetAddresses, before any use). Owned by
// Resources; thread-safe (the store is; the address list is fixed first).
class IpPools {
 public:
  explicit IpPools(store::Store* store) : store_(store) {}

  // "invalid" name or scaling mode, "exists".
  Status Create(const IpPool& pool);
  // "not_found" when there is none.
  Result<IpPool> Get(const std::string& name);
  Status Delete(const std::string& name);
  Result<Page<std::string>> List(const std::string& after, size_t limit);

  static constexpr char kDefaultPool[] = "ses-default-dedicated-pool";
  void SetAddresses(std::vector<std::string> ips) { ips_ = std::move(ips); }
  // "not_found" for an address that is not one of the host's.
  Result<DedicatedIp> GetIp(const std::string& ip);
  // Every address, or a pool's ("not_found" for an unknown pool), in the
  // configuration's order, from index `start`.
  Result<std::vector<DedicatedIp>> ListIps(const std::string& pool);
  // The pool must exist ("not_found"), or be kDefaultPool.
  Status MoveIp(const std::string& ip, const std::string& pool);
  Status SetWarmup(const std::string& ip, int percentage);
  // The addresses mail of `pool` leaves from (empty: none, use the default
  // source).
  std::vector<std::string> Addresses(const std::string& pool);

 private:
  Status SaveIp(const DedicatedIp& d);

  store::Store* store_;
  std::vector<std::string> ips_;
};

}  // namespace sesame::ses
