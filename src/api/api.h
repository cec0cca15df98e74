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

#include "auth/keys.h"
#include "auth/quota.h"
#include "config/config.h"
#include "net/http.h"
#include "ses/dkim_keys.h"
#include "ses/resources.h"
#include "spool/spool.h"
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
struct Services {
  std::function<std::string()> metrics;  // Prometheus text of everything else
  std::function<bool()> listeners_up;    // for /ready
  std::function<std::string()> dead_letters_json;
  std::function<int(const std::string& id)> redrive;
  std::function<int(const std::string& id)> purge;
  // The SNS Query API for topics and subscriptions: the response, or
  // nullopt when `action` is not an SNS action.
  std::function<std::optional<net::HttpResponse>(
      const std::string& action,
      const std::map<std::string, std::string>& form)>
      sns;
  // Reputation enforcement status for GetAccount (HEALTHY, PROBATION,
  // SHUTDOWN); sending statistics for GetSendStatistics:
  // [{timestamp_ms, attempts, bounces, complaints, rejects}] in 15-minute
  // buckets over two weeks; the admin statistics, alarms and history JSON.
  std::function<std::string()> enforcement_status;
  struct SendDataPoint {
    int64_t timestamp_ms;
    uint64_t attempts, bounces, complaints, rejects;
  };
  std::function<std::vector<SendDataPoint>()> send_statistics;
  std::function<std::string(const std::string& resolution,
                            const std::string& scope)>
      statistics_json;
  std::function<std::string()> alarms_json;
  std::function<std::string()> alarm_history_json;
  // Publishes SES's "Rendering Failure" event.
  std::function<void(const RenderingFailure&)> rendering_failure;
  // The event publisher's per-subscription dead-letter store.
  std::function<std::string()> event_dead_letters_json;
  std::function<int(const std::string& subscription)> event_redrive;
  // The dashboard's data: delivery queues per site and the reputation of
  // each scope (JSON); TXT lookups for the identities' record status.
  std::function<std::string()> queues_json;
  std::function<std::string()> event_subscriptions_json;
  std::function<std::string()> reputation_json;
  std::function<void(const std::string& name,
                     std::function<void(Result<std::vector<std::string>>)>)>
      resolve_txt;
  // True when a request to /admin/* carries a dashboard session (and its
  // CSRF token when it changes something). Without one, /admin/* needs the
  // bearer token of <data_dir>/admin.token or an owner's SigV4 signature;
  // loopback alone is no credential.
  std::function<bool(const net::HttpRequest&)> admin_session;
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
  Api(const config::Config& config, spool::Spool* spool, auth::KeyStore* keys,
      store::Store* store, auth::Quota* quota, Services services);

  void Handle(net::HttpRequest req,
              std::function<void(net::HttpResponse)> done);

  // The DKIM key service (the identity verifier reads the published keys).
  ses::DkimKeys* dkim_keys();

  // Signs with the From domain's DKIM key when it has one (SMTP submissions use
  // this).
  std::string Sign(const std::string& message);

  // True when an identity uses `domain` as its custom MAIL FROM domain (the MX
  // accepts it).
  bool IsMailFromDomain(const std::string& domain);

  // Sending authorization of an SMTP submission by access key `user` (needs
  // ses:SendRawEmail when the key belongs to another account): the reason it
  // is refused, or nullopt.
  std::optional<std::string> AuthorizeSmtp(
      const std::string& user, const std::string& mail_from,
      const std::vector<std::string>& recipients, const std::string& content);

  // The SES resources (identities, suppression list, ...) for the delivery
  // engine and the feedback loop; thread-safe.
  ses::Resources* resources();

  // Prometheus text for the API's own counters.
  std::string Metrics();

  // True when (user, password) is an access key id and its SES SMTP password.
  bool SmtpAuthenticate(std::string_view user, std::string_view password);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace sesame::api
