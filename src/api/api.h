#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "admission/admission.h"
#include "auth/iam.h"
#include "auth/keys.h"
#include "auth/quota.h"
#include "capture/mailbox.h"
#include "config/config.h"
#include "metrics/registry.h"
#include "net/http.h"
#include "ses/dkim_keys.h"
#include "ses/receipt_rules.h"
#include "ses/resources.h"
#include "spool/spool.h"
#include "stats/report.h"
#include "store/store.h"

namespace sesame::api {

// A templated send that was accepted but could not be rendered.
struct RenderingFailure {
  std::string message_id, template_name, error, from, config_set;
  std::vector<std::string> destinations;
  std::string client_ip;
};

// Operations of other services the HTTP API exposes (delivery's DLQ, the
// SMTP server's metrics); supplied by the app.
//
// What another thread owns (the engine's queues, the publisher's
// subscriptions, the metrics they render) is asked for asynchronously: the
// service posts to its owner and calls back from there, so a network loop
// never waits for it.
using TextDone = std::function<void(std::string)>;
using CountDone = std::function<void(int)>;
struct Services {
  std::function<void(TextDone)> metrics;  // Prometheus text of everything
  std::function<bool()> listeners_up;     // for /ready
  std::function<void(TextDone)> dead_letters_json;
  std::function<void(const std::string& id, CountDone)> redrive;
  std::function<void(const std::string& id, CountDone)> purge;
  // The SNS Query API for topics and subscriptions: false when `action` is
  // not an SNS action; otherwise `done` gets the response.
  std::function<bool(const std::string& action,
                     const std::map<std::string, std::string>& form,
                     std::function<void(net::HttpResponse)> done)>
      sns;
  // SendBounce: a bounce for a received message (the receiver keeps them
  // for 24 hours); `done` gets the bounce's message id, or why not
  // ("not_found" when the message is unknown or too old).
  std::function<void(ses::BounceRequest,
                     std::function<void(Result<std::string>)>)>
      send_bounce;
  // Whether an SNS topic exists (v1 event destinations name one).
  std::function<bool(const std::string& topic_arn)> topic_exists;
  // Reputation enforcement status for GetAccount (HEALTHY, PROBATION,
  // SHUTDOWN); sending statistics for GetSendStatistics:
  // [{timestamp_ms, attempts, bounces, complaints, rejects}] in 15-minute
  // buckets over two weeks; the admin statistics, alarms and history JSON.
  std::function<std::string()> enforcement_status;
  std::function<std::vector<stats::SendDataPoint>()> send_statistics;
  std::function<std::string(const std::string& resolution,
                            const std::string& scope)>
      statistics_json;
  std::function<std::string()> alarms_json;
  std::function<std::string()> alarm_history_json;
  // This node: {"id","version","draining","queued","leader",...}; and
  // drain (true) or resume (false), kept across restarts.
  std::function<std::string()> node_json;
  std::function<Status(bool draining)> set_draining;
  // Publishes SES's "Rendering Failure" event.
  std::function<void(const RenderingFailure&)> rendering_failure;
  // The event publisher's per-subscription dead-letter store.
  std::function<void(TextDone)> event_dead_letters_json;
  std::function<void(const std::string& subscription, CountDone)> event_redrive;
  // The dashboard's data: delivery queues per site and the reputation of
  // each scope (JSON); TXT lookups for the identities' record status.
  std::function<void(TextDone)> queues_json;
  std::function<void(TextDone)> event_subscriptions_json;
  std::function<std::string()> reputation_json;
  std::function<void(const std::string& name,
                     std::function<void(Result<std::vector<std::string>>)>)>
      resolve_txt;
  // The login of the dashboard session a request to /admin/* carries (with
  // its CSRF token when it changes something): an access key id, or "" for
  // the configured admin credentials; nullopt without one. Without a
  // session, /admin/* needs the bearer token of <data_dir>/admin.token or a
  // SigV4 signature; loopback alone is no credential.
  std::function<std::optional<std::string>(const net::HttpRequest&)>
      admin_session;
  // Message search over the sent index (delivery::SentIndex::Search): the
  // messages created in [since_ms, until_ms) after `cursor`, newest first,
  // that `match` accepts, at most `limit`; next: where a later call goes on.
  struct SentMessage {
    std::string id;
    int64_t created_ms = 0;
    std::string mail_from, config_set;
    std::vector<std::string> recipients;
    std::string header_block;
  };
  struct SentPage {
    std::vector<SentMessage> items;
    std::string next;
  };
  std::function<SentPage(int64_t since_ms, int64_t until_ms,
                         const std::string& cursor, size_t limit,
                         const std::function<bool(const SentMessage&)>& match)>
      search_sent;
  // Test hook (SESAME_DEBUG_HOOKS=1 only): keeps the engine thread busy for
  // `ms`, to show that no network loop waits for it.
  std::function<void(int ms)> hold_engine;
};

// The HTTP surface of Sesame: /health, /ready, /metrics, /admin/*, the
// LocalStack-style /_aws/ses mailbox, the SES v2 REST-JSON API under
// /v2/email and the SES v1 Query API at POST /. Every send is built into an
// RFC 5322 message and committed to the same spool as SMTP mail; the answer
// is sent only once the spool reports it durable.
//
// Owned by the app. Handle() may be called from any thread; responses are
// delivered through the callback, possibly from the spool writer thread.
class Api {
 public:
  // What the API works on; owned by the app, outliving the Api.
  struct Deps {
    spool::Spool* spool = nullptr;
    auth::KeyStore* keys = nullptr;
    auth::IamStore* iam = nullptr;
    auth::SendQuota* quota = nullptr;  // null: unlimited
    ses::Resources* resources = nullptr;
    ses::DkimKeys* dkim = nullptr;
    admission::Admission* admission = nullptr;
    capture::Mailbox* mailbox = nullptr;  // null unless api.local_mailbox
  };
  Api(const config::Config& config, Deps deps, Services services);

  void Handle(net::HttpRequest req,
              std::function<void(net::HttpResponse)> done);

  // The API's own families (atomics).
  void RegisterMetrics(metrics::Registry* registry);

  // True when (user, password) is an access key id and its SES SMTP password.
  bool SmtpAuthenticate(std::string_view user, std::string_view password);

  // Every operation the route tables answer, one per line: "ses <Action>"
  // for the v1 Query API, "sesv2 <METHOD> </path/{param}>" for SESv2 (the
  // generated coverage table, docs/ses-api.md, is made from these).
  static std::vector<std::string> Operations();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sesame::api
