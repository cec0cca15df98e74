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

// The account's dedicated IP pools, kept in the state store (kind
// "ip-pool"). Owned by Resources; thread-safe (the store is).
class IpPools {
 public:
  explicit IpPools(store::Store* store) : store_(store) {}

  // "invalid" name or scaling mode, "exists".
  Status Create(const IpPool& pool);
  // "not_found" when there is none.
  Result<IpPool> Get(const std::string& name);
  Status Delete(const std::string& name);
  Result<Page<std::string>> List(const std::string& after, size_t limit);

 private:
  store::Store* store_;
};

}  // namespace sesame::ses
