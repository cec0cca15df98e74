#pragma once

// Internal to src/api: the API's state and operations, shared by its
// translation units (one per operation group: api.cc the front door and
// authentication, v1_send.cc, v1_resources.cc, v2_send.cc,
// v2_resources.cc, sending.cc for what every send shares, admin.cc).

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "admission/admission.h"
#include "api/api.h"
#include "api/common.h"
#include "api/form.h"
#include "api/router.h"
#include "api/v2_resources.h"
#include "auth/iam.h"
#include "auth/keys.h"
#include "auth/login_throttle.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/thread_pool.h"
#include "mime/mime.h"
#include "mime/template.h"
#include "ses/dns_records.h"
#include "ses/names.h"
#include "ses/resources.h"
#include "smtp/address.h"
#include "smtp/message_check.h"

namespace sesame::api {
using ses::CheckIdentityName;
using ses::CheckResourceName;
using ses::DkimKeys;
using ses::DnsRecord;
using ses::FieldMailbox;
using ses::JsonString;
using ses::RecordsJson;
using ses::RecordStatus;
using ses::Resources;
using ses::VerificationToken;
namespace json = boost::json;
using net::HttpRequest;
using net::HttpResponse;

inline constexpr char kLog[] = "api";

using admission::Caller;

// What a send needs after API-specific parsing.
struct Outgoing {
  Caller caller;
  std::string sender;  // whose identity must be verified (Source, From)
  std::string envelope_from;
  std::vector<std::string> recipients;
  std::string content;
  std::string config_set;
  // The send's message tags (v1 Tags, v2 EmailTags), checked; they reach
  // the events as mail.tags through an X-SES-MESSAGE-TAGS header.
  std::vector<std::pair<std::string, std::string>> tags;
};

bool HasCrLf(std::string_view s);

// Message tags as SES takes them: at most 50, names and values of ASCII
// letters, digits, '_' and '-', names of 1 to 255 characters and values of
// at most 255, no name starting "ses:" (SES's own), no name twice.
using MessageTags = std::vector<std::pair<std::string, std::string>>;
std::optional<ApiError> CheckMessageTags(const MessageTags& tags);
// v1: <prefix>.member.N.Name / .Value.
MessageTags V1MessageTags(const std::map<std::string, std::string>& form,
                          const std::string& prefix);
// v2: [{"Name", "Value"}...]; an entry that is not an object with string
// members is refused.
std::variant<MessageTags, ApiError> V2MessageTags(const boost::json::value* v);
// Default tags overlaid by an entry's replacement tags (bulk sends).
MessageTags MergeTags(MessageTags defaults, const MessageTags& replacements);

// The 400 for an address field that is not a valid mailbox, naming the
// field and quoting the value (it may hold control characters).
ApiError InvalidAddress(std::string_view what, std::string_view value,
                        const Error& e);

// An address SES would accept as a destination or sender.
bool PlausibleAddress(const std::string& a);

// Destinations SES accepts: 1 to 50 plausible addresses.
std::optional<ApiError> CheckRecipients(const std::vector<std::string>& rcpts);

// Validates a raw message and prepares it: Bcc removed, Date and Message-ID
// added when missing.
std::variant<std::string, ApiError> PrepareRaw(
    std::string raw, const std::string& id, const std::string& mid_domain,
    bool use_headers, std::vector<std::string>* rcpts, std::string* from);

// The RFC 5322 message of a send, with the Message-ID <id@mid_domain>
// (api.message_id_domain) and the current date.
Result<std::string> BuildSesMessage(mime::SimpleMessage& m,
                                    const std::string& id,
                                    const std::string& mid_domain);

// The tags a v1/IAM form (Tags.member.N.Key) or a v2 JSON body ("Tags")
// would set (aws:RequestTag/...).
MessageTags FormTags(const std::map<std::string, std::string>& form);
MessageTags BodyTags(const std::string& body);

struct Api::Impl : std::enable_shared_from_this<Api::Impl> {
  const config::Config& config;
  spool::Spool* spool;
  auth::KeyStore* keys;
  auth::IamStore* iam;
  Services services;
  DkimKeys& dkim_keys;
  Resources& resources;
  admission::Admission* admission;
  capture::Mailbox* mailbox;
  std::mutex failures_mu;  // guards appends to rendering_failures.jsonl
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> throttled{0};
  std::atomic<uint64_t> denied{0};  // requests IAM policies refused
  // Failed SigV4 signatures per client address and access key id: past a
  // few, an address is locked out for a while (other addresses are not).
  // Generous next to SMTP AUTH's: SDKs retry a bad signature themselves.
  static auth::LoginThrottle::Limits SignatureLimits() {
    auth::LoginThrottle::Limits l;
    l.free_failures = 20;
    l.lockout_failures = 100;
    l.lockout_ms = 5 * 60 * 1000;
    l.window_ms = 10 * 60 * 1000;
    return l;
  }
  auth::LoginThrottle signature_throttle{SignatureLimits()};

  auth::SendQuota* quota;
  std::string admin_token;  // local tools' bearer token for /admin/*
  // Operations that read or write the state store (resources, admin,
  // verification links) run here, one at a time, so no network loop waits
  // on SQLite; declared last, so it drains and joins before the rest goes.
  ThreadPool store_thread{1};

  Impl(const config::Config& c, const Deps& d, Services sv)
      : config(c),
        spool(d.spool),
        keys(d.keys),
        iam(d.iam),
        services(std::move(sv)),
        dkim_keys(*d.dkim),
        resources(*d.resources),
        admission(d.admission),
        mailbox(d.mailbox),
        quota(d.quota) {
    if (auto t = auth::LoadOrCreateToken(c.AdminTokenFile()); t.ok()) {
      admin_token = *t;
    } else {
      SESAME_LOG(kWarn, kLog) << "admin token: " << t.error().message()
                              << "; /admin/* is open to dashboard sessions "
                                 "and owner signatures only";
    }
    resources.identities().OnEmailIdentity(
        [this](const std::string& address, const std::string& token) {
          SendVerification(address, token);
        });
  }

  // The message that verifies an address identity: a link to this server,
  // in a custom verification template's words when `custom` is given.
  // Returns its message id ("" when it could not be built).
  std::string SendVerification(
      const std::string& address, const std::string& token,
      const ses::VerificationTemplate* custom = nullptr);

  // --- bulk sends (v1 SendBulkTemplatedEmail, v2 SendBulkEmail) -------------
  enum class EntryOutcome {
    kSuccess,
    kRejected,
    kInvalid,
    kTransient,
    kThrottled
  };
  struct BulkEntry {
    std::vector<std::string> to, cc, bcc;
    std::string replacement_data;  // a JSON object as text, or ""
    std::vector<std::pair<std::string, std::string>> headers;
    MessageTags tags;  // defaults and the entry's replacements, checked
  };
  using EntryDone = std::function<void(EntryOutcome, const std::string& id,
                                       const std::string& error)>;

  // Collects one result per entry from any thread; answers once all arrived.
  struct Gather {
    std::mutex mu;
    std::vector<std::string> results;
    size_t pending;
    std::function<void(const std::vector<std::string>&)> done;
    void Set(size_t i, std::string result) {
      std::lock_guard<std::mutex> lock(mu);
      results[i] = std::move(result);
      if (--pending == 0) done(results);
    }
  };

  // Renders the template with defaults overlaid by the entry's replacement
  // data, builds the message and commits it. Each entry is its own message;
  // the entries share the spool's group commits.
  void SendBulkEntry(const ses::Template& tc, const std::string& template_name,
                     const json::object& defaults, const BulkEntry& e,
                     const std::string& from, const std::string& config_set,
                     const std::string& client_ip, const Caller& caller,
                     EntryDone done);

  // SendBulkTemplatedEmail (v1).
  void V1SendBulk(const HttpRequest& req, Caller caller,
                  std::map<std::string, std::string>& form,
                  std::function<void(HttpResponse)> done);

  // <Wrapper><member><Name>n</Name></member>...</Wrapper> (v1 list shapes).
  static std::string NamedMembers(const std::string& wrapper,
                                  const std::vector<std::string>& names);

  // (Max24HourSend, MaxSendRate, SentLast24Hours) as SES reports them.
  std::tuple<double, double, double> QuotaFigures();

  // A template that cannot render: SES accepts the request, sends nothing,
  // and reports a Rendering Failure (published by the events work).
  // Accepted, then not sent: SES's Rendering Failure event.
  void RecordRenderingFailure(const std::string& id,
                              const std::string& template_name,
                              const std::string& error, const std::string& from,
                              const std::string& config_set,
                              const std::vector<std::string>& destinations,
                              const std::string& client_ip);

  struct Rendered {
    std::string subject, text, html;
  };

  // The MIME text TestRenderTemplate / TestRenderEmailTemplate return.
  static Result<std::string> BuildRendered(const Rendered& r);
  // Renders template content with TemplateData (a JSON string).
  std::variant<Rendered, ApiError> Render(const ses::Template& t,
                                          const std::string& data_json);

  std::optional<ApiError> CheckConfigSet(const std::string& name);

  // --- authentication ------------------------------------------------------
  // Verifies req's signature and fills caller; `service`, when given, gets
  // the credential scope's service ("ses", "sns" or "iam").
  std::optional<ApiError> Authenticate(const HttpRequest& req, Caller* caller,
                                       std::string* service = nullptr);

  // --- authorization (api/authorize.cc) ---------------------------------
  // The SigV4 Authorization header's credential scope (SES's "email"
  // service read as "ses"); all fields empty when the header is malformed.
  static auth::Authorization SignedScope(const HttpRequest& req);
  // An ARN in this account and region: Arn("ses", "identity/example.com").
  std::string Arn(const std::string& service, const std::string& rest) const;
  // The IAM action ("ses:GetEmailIdentity") and resource ARN of a SESv2
  // request; an empty action for a path the model does not know.
  std::pair<std::string, std::string> V2Action(const HttpRequest& req) const;
  // The resource ARN a v1 Query request (SES, SNS or IAM) acts on, or "*".
  std::string QueryResource(const std::string& service,
                            const std::string& action,
                            std::map<std::string, std::string>& form) const;
  // IAM's gate: nullopt when the caller may perform `action` on
  // `resource` (the root always may; an IAM user as its policies say);
  // otherwise AWS's AccessDenied (SNS: AuthorizationError), logged and
  // counted. `request_tags`: the tags the request would set.
  // The same decision without the denial's log line and count (what the
  // dashboard may show).
  bool Allowed(const Caller& c, const HttpRequest& req,
               const std::string& action, const std::string& resource,
               const MessageTags& request_tags = {});
  std::optional<ApiError> Authorize(const Caller& c, const HttpRequest& req,
                                    const std::string& action,
                                    const std::string& resource,
                                    const MessageTags& request_tags = {});
  // The tags a v1/IAM form (Tags.member.N.Key) or a v2 JSON body ("Tags")
  // would set.

  // --- the IAM Query API (api/iam.cc) ----------------------------------
  // Answers an IAM action (already authorized); on the store thread, since
  // IAM writes fsync.
  HttpResponse Iam(const Caller& caller, const std::string& action,
                   std::map<std::string, std::string>& form);
  void IamQuery(const HttpRequest& req, const Caller& caller,
                const std::string& action,
                std::map<std::string, std::string> form,
                std::function<void(HttpResponse)> done);

  // --- the one path to disk: admission ------------------------------------
  void Commit(Outgoing out, const std::string& id, const std::string& client_ip,
              std::function<void(std::optional<ApiError>)> done);

  // A refusal in SES's words, for both APIs.
  static ApiError ErrorFor(const admission::Refusal& r);

  static ApiError NotAuthorized(const Caller& c, const std::string& action,
                                const std::string& resource);

  // The sender's syntax; whether its identity is verified is admission's
  // check, in its fixed order.
  static std::optional<ApiError> CheckSender(const std::string& from);

  // A raw message for both APIs: validated and prepared (PrepareRaw), its
  // sender checked; recipients come from the headers when `use_headers`.
  std::optional<ApiError> PrepareRawOutgoing(
      std::string raw, const std::string& id, bool use_headers,
      const std::string& from, std::vector<std::string>* rcpts, Outgoing* out);

  // --- SES v2 ----------------------------------------------------------------
  static std::variant<std::vector<std::string>, ApiError> StrList(
      const json::object& o, const char* key);

  // A send's template: inline TemplateContent, or stored by name or ARN.
  Result<ses::Template> TemplateOf(const json::object& t);

  void V2SendEmail(const HttpRequest& req, Caller caller,
                   std::function<void(HttpResponse)> done);

  // One v2 request on its way to its operation.
  struct V2Call {
    const HttpRequest& req;
    Caller caller;
    std::vector<std::string> params;  // the route pattern's {name} segments
    std::function<void(HttpResponse)> done;
  };
  using V2Handler = void (Impl::*)(V2Call&);

  // The v2 operations this file answers: method, path, owner only?,
  // handler. The resource operations (identities, configuration sets,
  // templates, suppression, pools, tags) are api/v2_resources.cc's.
  static const Router<V2Handler>& V2Routes();

  void V2(const HttpRequest& req, std::function<void(HttpResponse)> done);

  void V2OpSendEmail(V2Call& c);

  void V2OpSendBulkEmail(V2Call& c);

  void V2OpGetAccount(V2Call& c);

  void V2OpTestRenderEmailTemplate(V2Call& c);

  // SendBulkEmail: one message per entry, each committed on its own (they
  // share group commits), one result per entry in input order.
  void V2SendBulk(const HttpRequest& req, Caller caller,
                  std::function<void(HttpResponse)> done);

  // --- SES v1 ----------------------------------------------------------------
  void V1(const HttpRequest& req, std::function<void(HttpResponse)> done);

  // One v1 request on its way to its operation.
  struct V1Call {
    const HttpRequest& req;
    Caller& caller;
    const std::string& action;
    std::map<std::string, std::string>& form;
    std::function<void(HttpResponse)> done;
  };
  using V1Handler = void (Impl::*)(V1Call&);

  // The v1 Query API's operations: Action, owner only?, handler. Keys of
  // other accounts may call the send operations only.
  static const Router<V1Handler>& V1Routes();
  // The SNS actions the API answers itself (tags on topics, kept with the
  // account's other tags); the rest of SNS is Services::sns.
  static const Router<V1Handler>& SnsRoutes();
  static ApiError MissingMemberError(const std::string& member);
  // TagResource, UntagResource, ListTagsForResource on an SNS topic.
  void SnsTags(V1Call& c);

  void V1SendEmail(V1Call& c);

  void V1GetSendQuota(V1Call& c);

  void V1GetSendStatistics(V1Call& c);

  void V1VerifyIdentity(V1Call& c);

  void V1ListIdentities(V1Call& c);

  void V1GetIdentityVerificationAttributes(V1Call& c);

  void V1DeleteIdentity(V1Call& c);

  void V1PutTemplate(V1Call& c);

  void V1GetTemplate(V1Call& c);

  void V1DeleteTemplate(V1Call& c);

  void V1ListTemplates(V1Call& c);

  void V1TestRenderTemplate(V1Call& c);

  void V1SendBulkTemplatedEmail(V1Call& c);

  void V1CreateConfigurationSet(V1Call& c);

  void V1DeleteOrDescribeConfigurationSet(V1Call& c);

  void V1ListConfigurationSets(V1Call& c);

  void V1UpdateConfigurationSetSendingEnabled(V1Call& c);

  void V1UpdateConfigurationSetReputationMetricsEnabled(V1Call& c);

  // Create and UpdateConfigurationSetEventDestination.
  void V1PutEventDestination(V1Call& c);

  void V1DeleteEventDestination(V1Call& c);

  void V1ListVerifiedEmailAddresses(V1Call& c);
  // DeleteVerifiedEmailAddress: DeleteIdentity under v1's older name.
  void V1DeleteVerifiedEmailAddress(V1Call& c);

  // Create/Update/DeleteConfigurationSetTrackingOptions: SESv2's
  // TrackingOptions.CustomRedirectDomain, kept with the set.
  void V1TrackingOptions(V1Call& c);
  // PutConfigurationSetDeliveryOptions: DeliveryOptions.TlsPolicy.
  void V1PutDeliveryOptions(V1Call& c);
  // Get/UpdateAccountSendingEnabled: the account's sending switch.
  void V1AccountSendingEnabled(V1Call& c);
  // SetIdentityDkimEnabled: Easy DKIM signing on or off for a domain.
  void V1SetIdentityDkimEnabled(V1Call& c);

  // Custom verification email templates, v1 (one handler per action
  // family) and v2 (SendCustomVerificationEmail; the CRUD operations are
  // resource routes).
  // Email receiving: receipt rule sets, rules and filters (one handler for
  // the family; its route rows come from AddReceiptRoutes).
  void V1ReceiptRules(V1Call& c);
  // SendBounce: a DSN for a received message (Services::send_bounce).
  void V1SendBounce(V1Call& c);
  static void AddReceiptRoutes(Router<V1Handler>& r);
  std::optional<ApiError> CheckReceiptActions(const boost::json::object& rule);
  void V1VerificationTemplates(V1Call& c);
  void V1SendCustomVerificationEmail(V1Call& c);
  void V2OpSendCustomVerificationEmail(V2Call& c);
  // Starts the verification and sends it; the message id or the error.
  std::variant<std::string, ApiError> StartCustomVerification(
      const std::string& address, const std::string& template_name,
      const std::string& config_set);

  // A v1 listing's MaxItems (1-1000, default 1000) and NextToken.
  struct V1Page {
    std::string after;
    size_t max_items = 1000;
  };
  static std::variant<V1Page, ApiError> ParseV1Page(
      std::map<std::string, std::string>& form);
  static std::string V1NextToken(const std::string& last);
  // EventDestination.* of a v1 request in SESv2's stored shape.
  std::variant<boost::json::object, ApiError> V1EventDestination(
      std::map<std::string, std::string>& form);
  static std::string V1EventDestinationsXml(
      const std::map<std::string, boost::json::object>& destinations);
  static ApiError MissingConfigurationSet(const std::string& name);
  static ApiError MissingEventDestination(const std::string& set,
                                          const std::string& name);

  void V1VerifyDomainDkim(V1Call& c);

  void V1SetIdentityMailFromDomain(V1Call& c);

  void V1GetIdentityMailFromDomainAttributes(V1Call& c);

  void V1SetNotificationAttribute(V1Call& c);

  void V1GetIdentityNotificationAttributes(V1Call& c);

  void V1IdentityPolicy(V1Call& c);

  void V1GetIdentityDkimAttributes(V1Call& c);
  std::string DkimStatusOf(const std::string& domain);

  // A v1 answer to a failed store write: the named 400 when the document
  // exists already, else 500 InternalFailure.
  static ApiError StoreError(const Error& e, const std::string& exists_code,
                             const std::string& exists_message);

  // Message search (/admin/messages): the outcome records of a message id
  // or of a recipient address, oldest first, from the tail of
  // outcomes.jsonl (the last 64 MB; at most 1,000 records).
  std::string MessageTimeline(const std::string& id,
                              const std::string& recipient);

  // v2's SUCCESS/PENDING/FAILED/TEMPORARY_FAILURE as v1 spells them.
  static std::string V1Status(const std::string& v2);

  // Sending-authorization policies, v1 flavour.
  void V1Policy(const std::string& action,
                std::map<std::string, std::string>& form,
                std::function<void(HttpResponse)> done);

  void V1Send(const HttpRequest& req, Caller caller, const std::string& action,
              std::map<std::string, std::string>& form,
              std::function<void(HttpResponse)> done);

  // Answers of services that call back from their own thread.
  static TextDone JsonDone(std::function<void(HttpResponse)> done);
  static CountDone CountJsonDone(std::string field,
                                 std::function<void(HttpResponse)> done);

  // --- LocalStack-style captured mail (/_aws/ses) ---------------------------
  // Read-your-writes: a message is listed once its send has been answered
  // (admission lists it before the answer; capture::Mailbox).
  HttpResponse AwsSes(const HttpRequest& req);

  // --- dashboard data -------------------------------------------------------
  // Who calls /admin/*: the dashboard session's login (a key of this
  // account, or the configured admin credentials as the root), the bearer
  // token in <data_dir>/admin.token (the root), or a SigV4 signature by a
  // key of this account; nullopt for anyone else. Loopback is no
  // credential: a webhook the server itself calls, or any local process,
  // comes from loopback (server-side request forgery).
  std::optional<Caller> AdminCaller(const HttpRequest& req);
  // The IAM action and resource an admin request needs (admin.cc).
  std::pair<std::string, std::string> AdminAction(const HttpRequest& req) const;

  HttpResponse SearchSuppression(const std::string& q,
                                 const std::string& after);

  // Every identity with its v2 GetEmailIdentity attributes (verification,
  // DKIM, MAIL FROM status and when they were last checked).
  std::string IdentitiesJson();

  // A domain's records, each looked up now (in parallel); answered when the
  // last lookup returns.
  void IdentityRecords(const std::string& domain,
                       std::function<void(HttpResponse)> done);

  // --- dispatch
  // ----------------------------------------------------------------
  void Handle(HttpRequest req, std::function<void(HttpResponse)> done);
  void AdminRequest(HttpRequest req, std::function<void(HttpResponse)> done);

  // /admin/* (admin.cc): one row per endpoint.
  struct AdminCall {
    const HttpRequest& req;
    std::map<std::string, std::string> query;
    std::function<void(HttpResponse)> done;
    Caller caller;  // authorized for the row's action already
    std::string param(const std::string& k) {
      auto it = query.find(k);
      return it == query.end() ? "" : it->second;
    }
    void Json(std::string body, int status = 200) {
      HttpResponse r;
      r.status = status;
      r.body = std::move(body);
      done(std::move(r));
    }
  };
  using AdminHandler = void (Impl::*)(AdminCall&);
  static const Router<AdminHandler>& AdminRoutes();
  void Admin(const HttpRequest& req, const Caller& caller,
             std::function<void(HttpResponse)> done);
  void AdminPermissions(AdminCall& c);
  void AdminV2Resources(AdminCall& c);
  void AdminQueues(AdminCall& c);
  void AdminEventSubscriptions(AdminCall& c);
  void AdminReputation(AdminCall& c);
  void AdminSuppression(AdminCall& c);
  void AdminIdentities(AdminCall& c);
  void AdminIdentityRecords(AdminCall& c);
  void AdminMessages(AdminCall& c);
  void AdminSearchMessages(AdminCall& c);
  void AdminIam(AdminCall& c);
  void AdminDeadLetters(AdminCall& c);
  void AdminRedrive(AdminCall& c);
  void AdminPurge(AdminCall& c);
  void AdminStats(AdminCall& c);
  void AdminAlarms(AdminCall& c);
  void AdminNode(AdminCall& c);
  void AdminDrain(AdminCall& c);
  void AdminResume(AdminCall& c);
  void SetDraining(AdminCall& c, bool draining);
  void AdminAlarmHistory(AdminCall& c);
  void AdminEventDeadLetters(AdminCall& c);
  void AdminEventRedrive(AdminCall& c);
  void AdminHoldEngine(AdminCall& c);
  static void NotWired(AdminCall& c);
};

}  // namespace sesame::api
