#pragma once

#include <string>

#include "ses/account_settings.h"
#include "ses/configuration_sets.h"
#include "ses/dkim_keys.h"
#include "ses/documents.h"
#include "ses/identities.h"
#include "ses/ip_pools.h"
#include "ses/receipt_rules.h"
#include "ses/suppression_list.h"
#include "ses/tags.h"
#include "ses/templates.h"
#include "ses/verification_templates.h"

namespace sesame::ses {

// The SES domain as one object: each kind of resource is its own small class
// over the state store, with typed results (shapes follow spec/ses.md
// section 1.3). Resources owns them and wires the few that read each other
// (the suppression list reads the account's and configuration sets'
// reasons). Built once by the app; thread-safe as its parts are.
class Resources {
 public:
  Resources(store::Store* store, bool auto_verify, DkimKeys* dkim)
      : store_(store),
        auto_verify_(auto_verify),
        dkim_(dkim),
        identities_(store, auto_verify, dkim),
        templates_(store),
        account_(store),
        configuration_sets_(store),
        suppression_(store, &account_, &configuration_sets_),
        ip_pools_(store),
        tags_(store),
        verification_templates_(store),
        receipt_rules_(store) {}

  Identities& identities() { return identities_; }
  Templates& templates() { return templates_; }
  AccountSettings& account() { return account_; }
  ConfigurationSets& configuration_sets() { return configuration_sets_; }
  SuppressionList& suppression() { return suppression_; }
  IpPools& ip_pools() { return ip_pools_; }
  Tags& tags() { return tags_; }
  VerificationTemplates& verification_templates() {
    return verification_templates_;
  }
  ReceiptRules& receipt_rules() { return receipt_rules_; }
  DkimKeys* dkim() { return dkim_; }
  bool auto_verify() const { return auto_verify_; }

  // True when the state store answers a read (for /ready).
  bool StoreReachable() { return store_->Reachable(); }
  int64_t StoreUnreachableSinceMs() { return store_->UnreachableSinceMs(); }

 private:
  store::Store* store_;
  bool auto_verify_;
  DkimKeys* dkim_;
  Identities identities_;
  Templates templates_;
  AccountSettings account_;
  ConfigurationSets configuration_sets_;
  SuppressionList suppression_;
  IpPools ip_pools_;
  Tags tags_;
  VerificationTemplates verification_templates_;
  ReceiptRules receipt_rules_;
};

}  // namespace sesame::ses
