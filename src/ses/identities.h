#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ses/dkim_keys.h"
#include "ses/documents.h"

namespace sesame::ses {

// An email identity (an address or a domain) as SES describes it.
struct Identity {
  std::string name;
  std::string type;                 // DOMAIN or EMAIL_ADDRESS
  std::string verification_status;  // PENDING, SUCCESS, FAILED, …
  // The DKIM record's own status (the verifier's; "" before its first
  // check of a domain with a key).
  std::string dkim_status;
  int64_t last_checked = 0, last_success = 0;  // seconds; 0: never
  // Custom MAIL FROM ("" domain: none).
  std::string mail_from_domain;
  std::string mail_from_status = "PENDING";
  std::string behavior_on_mx_failure = "USE_DEFAULT_VALUE";
  std::map<std::string, std::string> policies;  // name -> JSON document
  // The configuration set sends from this identity use when they name none
  // (CreateEmailIdentity, PutEmailIdentityConfigurationSetAttributes).
  std::string configuration_set;
};

// The custom MAIL FROM that applies to an address (its identity's, or its
// domains').
struct MailFrom {
  std::string domain;  // empty: none
  bool verified = false;
  bool reject_on_failure = false;
  std::string status;  // PENDING, SUCCESS, FAILED, TEMPORARY_FAILURE
};

// Identity notifications (v1 SetIdentityNotificationTopic and friends): a
// topic ARN per type (Bounce, Complaint, Delivery), whether each includes
// headers, and feedback forwarding.
struct NotificationSettings {
  std::map<std::string, std::string> topics;  // type -> topic ARN
  std::set<std::string> with_headers;         // types
  bool forwarding = true;
};

// The account's email identities, with their verification, MAIL FROM,
// sending-authorization policies and notification settings, kept in the
// state store (kind "identity", keyed by the lower-cased name). Domain
// identities get an Easy DKIM key from DkimKeys on creation. The verifier
// (ses/verifier.h) updates verification results in the same documents.
// Owned by Resources; thread-safe (the store is), except the setters
// SetArnPrefix and OnEmailIdentity, called once before serving.
class Identities {
 public:
  Identities(store::Store* store, bool auto_verify, DkimKeys* dkim)
      : store_(store), auto_verify_(auto_verify), dkim_(dkim) {}

  // "arn:aws:ses:<region>:<account>:identity/".
  void SetArnPrefix(std::string prefix) { arn_prefix_ = std::move(prefix); }
  std::string Arn(const std::string& identity) const {
    return arn_prefix_ + identity;
  }
  // An address identity created outside auto-verify gets a token; this
  // callback sends the verification message with the link.
  void OnEmailIdentity(
      std::function<void(const std::string& address, const std::string& token)>
          fn) {
    on_email_identity_ = std::move(fn);
  }

  // v1 Verify*: adds the identity unless it exists ("invalid" name).
  Status Add(const std::string& identity);
  // v2 CreateEmailIdentity: "exists" when it does; a domain gets its Easy
  // DKIM key.
  Status Create(const std::string& identity);
  // "not_found" when there is none.
  Result<Identity> Get(const std::string& identity);
  Result<Page<Identity>> List(const std::string& after, size_t limit);
  std::vector<std::string> Names();
  Status Delete(const std::string& identity);
  bool Exists(const std::string& identity);
  // Follows the verification link: true when the token matches.
  bool ConfirmEmail(const std::string& identity, const std::string& token);
  // SendCustomVerificationEmail: the address identity, created if need be
  // (without Sesame's own verification mail), gets a fresh token and
  // remembers the custom template whose link carries it. Returns the token;
  // "invalid" for a name that is not an address.
  Result<std::string> BeginCustomVerification(const std::string& address,
                                              const std::string& template_name);
  // The custom template that address's pending verification used ("" if
  // none), for the link's redirect.
  std::string CustomVerificationTemplate(const std::string& address);

  // The identity's own VerificationStatus (SUCCESS under auto-verify), or ""
  // when it does not exist.
  std::string VerificationStatus(const std::string& identity);
  // True when the address, its domain or a parent domain is a SUCCESS
  // identity.
  bool Verified(const std::string& address);
  // The most specific existing identity for an address: the address itself,
  // else its domain, else the nearest parent domain; empty when none.
  std::string IdentityFor(const std::string& address);

  // Sending-authorization policies (v1 and v2). Errors: "not_found"
  // (identity or policy), "exists", "invalid_policy", "limit".
  // kCreate: "exists" if the name is taken. kUpsert: v1 PutIdentityPolicy
  // and v2 UpdateEmailIdentityPolicy (the API reference: it creates the
  // policy when the name is new).
  enum class PolicyWrite { kCreate, kUpsert };
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
  MailFrom MailFromFor(const std::string& address);
  // The default configuration set of an identity ("" removes it); and the
  // one a send from `address` uses when it names none: its address
  // identity's, else its domain's, else "".
  Status SetConfigurationSet(const std::string& identity,
                             const std::string& name);
  std::string DefaultConfigurationSetFor(const std::string& address);
  // True when some identity uses `domain` as its custom MAIL FROM domain.
  bool IsMailFromDomain(const std::string& domain);

  NotificationSettings Notifications(const std::string& identity);
  // `field`: "topic:<Type>" (value: ARN, "" removes), "headers:<Type>"
  // (value "true"/"false"), "forwarding" ("true"/"false").
  Status SetNotification(const std::string& identity, const std::string& field,
                         const std::string& value);

 private:
  store::Store* store_;
  bool auto_verify_;
  DkimKeys* dkim_;
  std::string arn_prefix_ = "arn:aws:ses:us-east-1:000000000000:identity/";
  std::function<void(const std::string&, const std::string&)>
      on_email_identity_;
};

// An identity's store document; "not_found" when there is none, "corrupt"
// when it is not a JSON object.
Result<boost::json::object> LoadIdentityDocument(store::Store* store,
                                                 const std::string& identity);

}  // namespace sesame::ses
