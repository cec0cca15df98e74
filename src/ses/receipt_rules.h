#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ses/documents.h"

namespace sesame::ses {

// A SendBounce request as the API checked it: a bounce, from a verified
// `sender`, for a message received within 24 hours.
struct BounceRequest {
  std::string original_message_id;
  std::string sender;  // BounceSender, an addr-spec
  std::string explanation;
  std::string reporting_mta;  // MessageDsn.ReportingMta ("" = ours)
  struct Recipient {
    std::string address;
    std::string status;      // enhanced code, "5.1.1"
    std::string diagnostic;  // "" = from the status
    std::string remote_mta;
  };
  std::vector<Recipient> recipients;
};

// SES email receiving's configuration: receipt rule sets (at most one
// active), their ordered rules, and the account's IP receipt filters, kept in
// the state store (kinds "receipt-rule-set", "receipt-filter" and
// "receipt"). A rule and a filter are kept as JSON objects with SES's member
// names (Name, Enabled, TlsPolicy, Recipients, Actions, ScanEnabled;
// Name, IpFilter{Policy, Cidr}), validated and normalized here, so that the
// API renders them as they are and the MX reads them without a second
// schema.
//
// Errors, by code: "invalid" (the message says what), "exists",
// "rule_set_not_found", "rule_not_found", "cannot_delete" (the active set),
// "limit", and the store's own.
//
// Owned by Resources; thread-safe (the store is; every kind is a snapshot
// kind, so the MX's per-recipient reads never wait on the disk).
class ReceiptRules {
 public:
  struct RuleSet {
    std::string name;
    int64_t created_ms = 0;
    std::vector<boost::json::object> rules;  // in evaluation order
  };

  explicit ReceiptRules(store::Store* store) : store_(store) {}

  // --- rule sets ------------------------------------------------------------
  Status CreateRuleSet(const std::string& name);
  Status CloneRuleSet(const std::string& name, const std::string& original);
  // Deleting one that does not exist succeeds, as in SES.
  Status DeleteRuleSet(const std::string& name);
  Result<RuleSet> GetRuleSet(const std::string& name);
  // Every rule set (SES keeps at most 40), in name order.
  Result<std::vector<RuleSet>> ListRuleSets();
  // "" deactivates.
  Status SetActive(const std::string& name);
  // The active rule set, nullopt when none is.
  Result<std::optional<RuleSet>> Active();
  // `names` must name every rule of the set exactly once.
  Status Reorder(const std::string& set, const std::vector<std::string>& names);

  // --- rules ----------------------------------------------------------------
  // `after` "" puts the rule first.
  Status CreateRule(const std::string& set, const boost::json::object& rule,
                    const std::string& after);
  Status UpdateRule(const std::string& set, const boost::json::object& rule);
  Status DeleteRule(const std::string& set, const std::string& name);
  Result<boost::json::object> GetRule(const std::string& set,
                                      const std::string& name);
  Status SetRulePosition(const std::string& set, const std::string& name,
                         const std::string& after);

  // --- filters --------------------------------------------------------------
  Status CreateFilter(const boost::json::object& filter);
  Status DeleteFilter(const std::string& name);
  Result<std::vector<boost::json::object>> ListFilters();
  // Whether mail from `ip` is refused at connect: a Block filter covering it,
  // unless an Allow filter covers it too (Allow wins, as in SES).
  bool Blocked(const std::string& ip);

  // --- the MX ---------------------------------------------------------------
  // The MX's answer to RCPT TO `address` (email receiving): nullopt when it
  // is no receiving address (no active rule set, or no verified identity
  // covers it: `verified`); "" to accept; else the refusal ("550 5.1.1
  // ..."): no enabled rule matches, the first matching rule requires TLS on a
  // plain session, or its first effective action is a Bounce (answered with
  // the Bounce's own reply, before any data is taken).
  std::optional<std::string> RecipientReply(
      const std::string& address, bool tls,
      const std::function<bool(const std::string&)>& verified);
  // The active set's enabled rules matching `address`, in order.
  static std::vector<const boost::json::object*> MatchingRules(
      const RuleSet& set, const std::string& address);

  // --- the rules, checked ---------------------------------------------------
  // A rule as given (values may be strings, as a Query request's are), made
  // canonical: booleans typed, defaults filled, every action checked.
  static Result<boost::json::object> NormalizeRule(
      const boost::json::object& rule);
  static Result<boost::json::object> NormalizeFilter(
      const boost::json::object& filter);
  // Whether a rule's Recipients entry list matches an address: empty matches
  // every address; "user@example.com" that address; "example.com" every
  // address at that domain; ".example.com" every address at a subdomain.
  // Case-insensitive. Pure.
  static bool RecipientMatches(const boost::json::object& rule,
                               const std::string& address);

 private:
  Result<RuleSet> Load(const std::string& name);
  Status Save(const RuleSet& set, bool create);

  store::Store* store_;
};

}  // namespace sesame::ses
