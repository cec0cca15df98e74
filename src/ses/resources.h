#pragma once

#include <boost/json/fwd.hpp>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ses/dkim_keys.h"
#include "store/store.h"

namespace sesame::ses {

// The SES domain: resources kept in the state store: email identities,
// configuration sets (with options and event destinations), templates, the
// suppression list, dedicated IP pools. Request and response shapes follow
// spec/ses.md section 1.3; DKIM and MAIL FROM behaviour arrive with the
// identities work, but their fields are present now. Thread-safe (the store
// is).
class Resources {
 public:
  Resources(store::Store* store, bool auto_verify, DkimKeys* dkim)
      : store_(store), auto_verify_(auto_verify), dkim_(dkim) {}

  // The documents behind the resources, for the v2 REST handlers
  // (api/v2_resources.cc) that edit them in place.
  store::Store* store() { return store_; }
  DkimKeys* dkim() { return dkim_; }
  bool auto_verify() const { return auto_verify_; }
  const std::set<std::string>& config_file_sets() const {
    return config_file_sets_;
  }

  // Template content by name: {Subject, Text, Html}; nullopt if absent.
  struct TemplateContent {
    std::string subject, text, html;
  };
  std::optional<TemplateContent> GetTemplate(const std::string& name);
  Status PutTemplate(const std::string& name, const TemplateContent& c,
                     bool create_only);
  Result<bool> DeleteTemplate(const std::string& name);
  std::vector<std::string> ListTemplates();

  // "arn:aws:ses:<region>:<account>:identity/" (set once by the app).
  void SetIdentityArnPrefix(std::string prefix) {
    identity_arn_prefix_ = std::move(prefix);
  }
  std::string IdentityArn(const std::string& identity) const {
    return identity_arn_prefix_ + identity;
  }

  // Sending-authorization policies of an identity (v1 and v2). Errors carry
  // codes "not_found" (identity or policy), "exists", "invalid_policy" and
  // "limit".
  enum class PolicyWrite { kCreate, kUpdate, kUpsert };
  Status PutPolicy(const std::string& identity, const std::string& name,
                   const std::string& policy, PolicyWrite mode);
  Status DeletePolicy(const std::string& identity, const std::string& name);
  Result<std::map<std::string, std::string>> Policies(
      const std::string& identity);
  // PutEmailIdentityMailFromAttributes / SetIdentityMailFromDomain: an empty
  // domain removes it. Errors: "not_found", "invalid" (not a subdomain, bad
  // behavior).
  Status SetMailFrom(const std::string& identity, const std::string& domain,
                     const std::string& behavior);
  // The most specific existing identity for an address: the address itself,
  // else its domain, else the nearest parent domain; empty when none.
  std::string IdentityFor(const std::string& address);

  // Identities (v1 uses these too).
  Status AddIdentity(const std::string& identity);
  // An address identity created outside auto-verify gets a token; this
  // callback sends the verification message with the link.
  void OnEmailIdentity(
      std::function<void(const std::string& address, const std::string& token)>
          fn) {
    on_email_identity_ = std::move(fn);
  }
  // Follows the verification link: true when the token matches.
  bool ConfirmEmail(const std::string& identity, const std::string& token);
  std::vector<std::string> ListIdentities();
  Result<bool> DeleteIdentity(const std::string& identity);
  bool IdentityExists(const std::string& identity);
  // The identity's own VerificationStatus (PENDING, SUCCESS, FAILED,
  // TEMPORARY_FAILURE), or "" when it does not exist.
  std::string VerificationStatus(const std::string& identity);
  // True when the address, its domain or a parent domain is a SUCCESS identity.
  bool Verified(const std::string& address);
  bool ConfigurationSetExists(const std::string& name);
  // The custom MAIL FROM of the address's identity (or its domains'), if any.
  struct MailFrom {
    std::string domain;  // empty: none
    bool verified = false;
    bool reject_on_failure = false;
    std::string status;  // PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE
  };
  MailFrom MailFromFor(const std::string& address);
  // True when some identity uses `domain` as its custom MAIL FROM domain.
  bool IsMailFromDomain(const std::string& domain);
  // v1 configuration set basics (the same documents as v2).
  Status CreateConfigurationSet(const std::string& name);
  Result<bool> DeleteConfigurationSet(const std::string& name);
  std::vector<std::string> ListConfigurationSets();
  // Account-level settings (PutAccountSendingAttributes,
  // PutAccountSuppressionAttributes).
  bool AccountSendingEnabled();
  std::string AccountSuppressedReasonsJson();  // e.g. ["BOUNCE","COMPLAINT"]
  // Pausing by alarms and reputation enforcement (any thread).
  void SetAccountSendingEnabled(bool enabled);
  void SetConfigurationSetSendingEnabled(const std::string& name, bool enabled);
  // Configuration sets declared in the config file (they have no store
  // document, but can be paused and re-enabled through the API).
  void SetConfigFileSets(std::set<std::string> names) {
    config_file_sets_ = std::move(names);
  }
  // False when the configuration set's SendingOptions.SendingEnabled is false.
  bool ConfigurationSetSendingEnabled(const std::string& name);
  // Identity notifications (v1 SetIdentityNotificationTopic and friends):
  // per identity, a topic ARN per type (Bounce, Complaint, Delivery), whether
  // each includes headers, and feedback forwarding.
  struct NotificationSettings {
    std::map<std::string, std::string> topics;  // type -> topic ARN
    std::set<std::string> with_headers;         // types
    bool forwarding = true;
  };
  NotificationSettings Notifications(const std::string& identity);
  // `field`: "topic:<Type>" (value: ARN, "" removes), "headers:<Type>"
  // (value "true"/"false"), "forwarding" ("true"/"false").
  Status SetNotification(const std::string& identity, const std::string& field,
                         const std::string& value);

  // True when the state store answers a read (for /ready).
  bool StoreReachable() { return store_->Get("account", "sending").ok(); }

  // A configuration set's enabled event destinations that publish to an SNS
  // topic: (TopicArn, MatchingEventTypes).
  std::vector<std::pair<std::string, std::vector<std::string>>>
  SnsEventDestinations(const std::string& config_set);
  // True when `address` is on the account suppression list.
  bool Suppressed(const std::string& address);
  // Suppression entries (their JSON documents) whose address contains `query`,
  // in address order after `after`; up to `limit`, with the address to
  // continue after ("" at the end of the list).
  Result<std::pair<std::vector<std::string>, std::string>> SearchSuppressed(
      const std::string& query, const std::string& after, size_t limit);
  // The reasons (BOUNCE, COMPLAINT) in effect for a configuration set: its
  // SuppressionOptions, else the account's (both by default, as SES).
  std::set<std::string> SuppressedReasonsFor(const std::string& config_set);
  // On the list for a reason in effect for the configuration set.
  bool SuppressedFor(const std::string& address, const std::string& config_set);
  // Adds an address automatically (hard bounce, complaint) when `reason` is
  // in effect for the configuration set (an existing entry is refreshed);
  // true when the address was not on the list before.
  Result<bool> AddSuppression(const std::string& address,
                              const std::string& reason,
                              const std::string& config_set,
                              const std::string& message_id,
                              const std::string& feedback_id);

 private:
  store::Store* store_;
  bool auto_verify_;
  DkimKeys* dkim_;
  std::set<std::string> config_file_sets_;
  std::string identity_arn_prefix_ =
      "arn:aws:ses:us-east-1:000000000000:identity/";
  std::function<void(const std::string&, const std::string&)>
      on_email_identity_;
};

// The string member `key` of `o`; "" when absent or not a string.
std::string JsonString(const boost::json::object& o, const char* key);

// A stored document as a JSON object; an empty object when it is not one.
// Documents are Sesame's own, but a corrupt one must read as missing
// fields, never as an exception on a send path (admission runs on the
// network loops).
boost::json::object DocumentObject(const std::string& text);

// An identity's store document; "not_found" when there is none, "corrupt"
// when it is not a JSON object.
Result<boost::json::object> LoadIdentityDocument(store::Store* store,
                                                 const std::string& identity);

}  // namespace sesame::ses
