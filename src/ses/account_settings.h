#pragma once

#include <string>
#include <vector>

#include "ses/documents.h"

namespace sesame::ses {

// Account-level settings (PutAccountSendingAttributes,
// PutAccountSuppressionAttributes), kept in the state store (kind
// "account"). Alarms and reputation enforcement pause sending here too.
// Owned by Resources; thread-safe (the store is).
class AccountSettings {
 public:
  explicit AccountSettings(store::Store* store) : store_(store) {}

  bool SendingEnabled();
  Status SetSendingEnabled(bool enabled);
  // PutAccountDedicatedIpWarmupAttributes' switch (default false).
  bool DedicatedIpAutoWarmupEnabled();
  Status SetDedicatedIpAutoWarmupEnabled(bool enabled);
  // BOUNCE and/or COMPLAINT, in the order they were given; both by default,
  // as SES for every account created since 2019.
  std::vector<std::string> SuppressedReasons();
  // "invalid" for a reason other than BOUNCE or COMPLAINT.
  Status SetSuppressedReasons(const std::vector<std::string>& reasons);

 private:
  store::Store* store_;
};

// True for BOUNCE and COMPLAINT, the suppression reasons SES knows.
bool IsSuppressionReason(const std::string& reason);

}  // namespace sesame::ses
