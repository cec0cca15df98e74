#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "auth/iam.h"
#include "auth/keys.h"
#include "auth/policy.h"
#include "auth/quota.h"
#include "base/result.h"
#include "base/thread_pool.h"
#include "capture/mailbox.h"
#include "metrics/registry.h"
#include "ses/dkim_keys.h"
#include "ses/resources.h"
#include "spool/spool.h"

namespace sesame::admission {

// How a message entered.
enum class Source {
  kSubmission,  // SMTP submission (587 with STARTTLS, 465): SES's SMTP
  kApi,         // SES v1 and v2 sends
  kInternal,    // mail Sesame writes itself: DSNs, verification links
  kInbound,     // the MX: feedback for us, not a send
};

// Who sends, for sending authorization: the key's principal, and what the
// request names (API version, action, FromEmailAddressIdentityArn/SourceArn).
struct Caller {
  auth::Principal who;
  bool owner = true;  // the account root: no policy checks
  // An IAM user of this account (who.user): its identity policies decide,
  // with the identity's sending-authorization policies (IAM's same-account
  // logic). Neither owner nor iam_user: another account's key.
  bool iam_user = false;
  std::string source_ip;     // aws:SourceIp
  bool secure = false;       // aws:SecureTransport
  std::string api;           // "1", "2" or "smtp" (ses:ApiVersion)
  std::string action;        // ses:SendEmail, ses:SendRawEmail, ...
  std::string identity_arn;  // empty: the From address's own identity
};

// Who holds access key `key_id`: the account root (owner), an IAM user of
// `account_id` (iam_user), or another account's key (neither), for both the
// API's SigV4 callers and SMTP's AUTH users. An unknown key is the root's.
Caller CallerForKey(auth::KeyStore& keys, const std::string& key_id,
                    const std::string& account_id);

// One message to admit. meta.recipients hold addr-specs; meta.id is set.
struct Submission {
  Source source = Source::kApi;
  Caller caller;
  // The address whose identity must be verified (v1 Source, v2
  // FromEmailAddress); empty: the From header's address.
  std::string sender;
  spool::MessageMeta meta;
  std::string content;
};

// Why a message was not admitted: a value each front end maps to its own
// answer (SMTP reply codes through ToStatus, SES error names in api/).
struct Refusal {
  enum class Kind {
    kInvalidAddress,       // an envelope path that is no RFC 5321 mailbox
    kInvalidContent,       // bare CR/LF, NUL, duplicate unique headers
    kStorageFull,          // the spool refuses new mail (disk nearly full)
    kAccountPaused,        // PutAccountSendingAttributes / enforcement
    kConfigSetPaused,      // the configuration set's SendingEnabled
    kNotAuthorized,        // sending authorization denied
    kRejected,             // unverified sender / recipient (sandbox), ...
    kThrottled,            // MaxSendRate or Max24HourSend
    kMailFromNotVerified,  // custom MAIL FROM under REJECT_MESSAGE
    kNotStored,            // the spool commit failed
    kStoreUnavailable,     // the shared store away past its grace period
    kDraining,             // this node is draining (sesame node drain)
  };
  Kind kind;
  std::string message;
  bool transient = false;  // kNotStored only: try again later
};

// The SMTP-side view of a refusal, as smtp::ServerSession::OnCommitResult
// reads it: "throttled" → 454 4.7.0, "denied" → 554 5.7.1, "unavailable"
// → 451 4.3.0, other transient → 452 4.3.1, anything else → 554 5.3.0.
Status ToStatus(const Refusal& r);

// The one way mail enters Sesame. Every front end (SMTP submission, both SES
// APIs, internal mail, the MX) hands a Submission to Submit(), which runs
// the checks in this fixed order and commits:
//   1. content and envelope well-formed (API; SMTP's session checked them)
//   2. spool accepting (free space)
//   3. sending paused (account, then configuration set; a send naming no
//      set takes its identity's default set first)
//   4. caller's authorization (sending-authorization policies)
//   5. sender identity verified (production) / recipients verified (sandbox)
//   6. quota (taken now, given back if the commit fails)
//   7. MAIL FROM behaviour (custom domain, or REJECT_MESSAGE)
//   8. DKIM signing (on the signing pool when a key will sign)
//   9. spool commit; in capture mode the message is listed at once
// Internal and inbound mail skip 3–7. Suppressed recipients are admitted
// and then not delivered (the engine's Bounce OnAccountSuppressionList), as
// SES does.
//
// Owned by the app. Submit() is thread-safe and never blocks on I/O: `done`
// runs on the spool writer thread, a signing thread, the cluster quota's
// Redis thread, or the caller's thread for refusals before the commit.
class Admission {
 public:
  struct Options {
    std::string account_id = "000000000000";
    std::string region = "us-east-1";
    bool sandbox = false;      // recipients must be verified too
    bool auto_verify = false;  // every sender counts as verified
    // Sends go on from the snapshots while a shared store is unreachable,
    // for this long (store.outage_grace_seconds); 0 = the whole outage.
    int64_t store_outage_grace_ms = 0;
  };
  // quota, mailbox and pool may be null (unlimited, no capture, sign
  // inline).
  Admission(Options options, spool::Spool* spool, ses::Resources* resources,
            ses::DkimKeys* dkim, auth::KeyStore* keys, auth::IamStore* iam,
            auth::SendQuota* quota, capture::Mailbox* mailbox,
            ThreadPool* signing_pool);

  using Done = std::function<void(std::optional<Refusal>)>;
  void Submit(Submission s, Done done);

  // A draining node (sesame node drain) refuses new sends, transiently, so
  // clients retry through the load balancer on another node; its queue is
  // still delivered, and internal and inbound mail still enter.
  void SetDraining(bool draining) { draining_.store(draining); }
  bool Draining() const { return draining_.load(); }

  // sesame_admission_* families: admitted by source, refused by reason,
  // quota given back (relaxed atomics, any thread).
  void RegisterMetrics(metrics::Registry* registry) const;

 private:
  struct From {
    std::string address, display;
  };
  static From FromOf(const std::string& content);
  std::optional<Refusal> Check(Submission& s, const From& from);
  static std::string SenderOf(const Submission& s, const From& from);
  void UseDefaultConfigurationSet(Submission& s, const From& from);
  std::optional<Refusal> CheckStoreGrace();
  std::optional<Refusal> CheckPaused(const Submission& s);
  std::optional<Refusal> Authorize(const Submission& s, const From& from);
  std::optional<Refusal> CheckVerified(const Submission& s, const From& from);
  std::optional<Refusal> ApplyMailFrom(Submission& s);
  void AfterQuota(Submission s, const std::string& from, int64_t taken_ms,
                  Done done);
  void SignAndCommit(Submission s, const std::string& from,
                     int64_t quota_taken_ms, Done done);
  void Commit(Submission s, int64_t quota_taken_ms, Done done);

  const Options options_;
  spool::Spool* spool_;
  ses::Resources* resources_;
  ses::DkimKeys* dkim_;
  auth::KeyStore* keys_;
  auth::IamStore* iam_;  // null: no IAM users (tests)
  auth::SendQuota* quota_;
  capture::Mailbox* mailbox_;
  ThreadPool* pool_;  // the signing pool
  void Count(const Refusal& r) {
    refused_[static_cast<int>(r.kind)].fetch_add(1, std::memory_order_relaxed);
  }
  static constexpr int kKinds = 12;
  static constexpr int kSources = 4;
  std::atomic<uint64_t> admitted_[kSources] = {};
  std::atomic<uint64_t> refused_[kKinds] = {};
  std::atomic<uint64_t> quota_returned_{0};
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> signed_{0};
};

}  // namespace sesame::admission
