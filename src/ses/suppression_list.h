#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "ses/account_settings.h"
#include "ses/configuration_sets.h"
#include "ses/documents.h"

namespace sesame::ses {

// An entry of the account-level suppression list (SES
// SuppressedDestination). Automatic entries carry the message and feedback
// that caused them.
struct SuppressedDestination {
  std::string address;
  std::string reason;       // BOUNCE or COMPLAINT
  int64_t last_update = 0;  // seconds since the epoch
  std::string message_id, feedback_id;
};

// The account-level suppression list, kept in the state store (kind
// "suppressed", keyed by the lower-cased address). Which reasons are in
// effect comes from the configuration set's SuppressionOptions, else the
// account's. Owned by Resources; thread-safe (the store is).
class SuppressionList {
 public:
  SuppressionList(store::Store* store, AccountSettings* account,
                  ConfigurationSets* sets)
      : store_(store), account_(account), sets_(sets) {}

  // PutSuppressedDestination: "invalid" without an address or a reason.
  Status Put(const std::string& address, const std::string& reason);
  // "not_found" when the address is not on the list.
  Result<SuppressedDestination> Get(const std::string& address);
  Status Delete(const std::string& address);
  Result<Page<SuppressedDestination>> List(const std::string& after,
                                           size_t limit);
  // Entries whose address contains `query`, scanning in chunks so a large
  // list is never held at once.
  Result<Page<SuppressedDestination>> Search(const std::string& query,
                                             const std::string& after,
                                             size_t limit);

  // On the list for any reason.
  bool Contains(const std::string& address);
  // On the list for a reason in effect for the configuration set.
  bool ContainsFor(const std::string& address, const std::string& config_set);
  std::set<std::string> ReasonsFor(const std::string& config_set);
  // Adds an address automatically (hard bounce, complaint) when `reason` is
  // in effect for the configuration set (an existing entry is refreshed);
  // true when the address was not on the list before.
  Result<bool> AddAutomatic(const std::string& address,
                            const std::string& reason,
                            const std::string& config_set,
                            const std::string& message_id,
                            const std::string& feedback_id);

 private:
  Status Write(const SuppressedDestination& d);

  store::Store* store_;
  AccountSettings* account_;
  ConfigurationSets* sets_;
};

}  // namespace sesame::ses
