#pragma once

#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "admission/admission.h"
#include "config/config.h"
#include "delivery/dsn.h"
#include "dns/resolver.h"
#include "events/publisher.h"
#include "metrics/registry.h"
#include "ses/resources.h"
#include "spool/spool.h"

namespace sesame::inbound {

struct ReceiverOptions {
  config::Receiving receiving;
  std::string region;
  std::string account_id;
  std::string hostname;       // the reporting MTA of Bounce actions' DSNs
  std::string outcomes_path;  // <data_dir>/outcomes.jsonl (O_APPEND)
};

// SES email receiving: runs the active receipt rule set on mail the MX took
// for a receiving address. For each enabled rule in order, the message's
// recipients that the rule matches get its actions, in order: S3 (the
// message written through s3::Client), SNS (the "Received" notification
// with the content, UTF-8 or Base64, up to 150 KB), Lambda (the event
// POSTed to the function's configured URL; RequestResponse honours the
// STOP_RULE / STOP_RULE_SET disposition), Bounce (a DSN to the sender, only
// when SPF or DMARC passed, so a forged sender gets no backscatter),
// AddHeader (later actions see the header), Stop. Every notification
// carries the verdicts, computed once per message: SPF (mailauth, through
// the resolver), DKIM (dkim::Verify), DMARC, and with ScanEnabled, spamd's
// and clamd's.
//
// Durability: the message stays in the spool until every action is done; a
// transient failure (an S3 outage, a function URL down) is retried with
// exponential back-off and jitter, resuming at the failed action, for up to
// receiving.retry_for_seconds; a restart runs the rules again from the
// start (at-least-once).
//
// Owned by the app. Wants() and Submit() are thread-safe; the work runs on
// the receiver's own thread, which may block on the network.
class Receiver {
 public:
  Receiver(ReceiverOptions options, spool::Spool* spool,
           ses::Resources* resources, events::Publisher* publisher,
           dns::Resolver* resolver, admission::Admission* admission);
  ~Receiver();

  Status Start();
  void Stop();

  // Whether a message from the MX has a receiving recipient (one the active
  // rule set takes), rather than being feedback about our mail.
  bool Wants(const spool::MessageMeta& meta);
  void Submit(const spool::MessageInfo& info);

  // SendBounce: a DSN from `request.sender` to the envelope sender of a
  // message received within 24 hours (the last 10,000 are kept, in
  // memory), for recipients it was addressed to; `done` gets the DSN's
  // message id once it is durable. Errors: "not_found" (unknown or older
  // than 24 hours), "invalid" (a recipient it was not addressed to).
  // Thread-safe; `done` runs on the spool's writer thread.
  void SendBounce(const ses::BounceRequest& request,
                  std::function<void(Result<std::string>)> done);

  // sesame_receiving_messages_total{outcome},
  // sesame_receiving_actions_total{action,outcome}.
  void RegisterMetrics(metrics::Registry* registry) const;

 private:
  struct Job;
  struct Verdicts;
  enum class Next { kContinue, kStopRule, kStopRuleSet };

  void Run();
  // Runs what is left of a job; a transient error to retry it later.
  Status Process(Job& job);
  Verdicts ComputeVerdicts(const Job& job, bool scan);
  Result<Next> RunAction(Job& job, const std::string& type,
                         const boost::json::object& action,
                         const std::vector<std::string>& recipients);
  boost::json::object Notification(const Job& job,
                                   const std::vector<std::string>& recipients,
                                   boost::json::object action) const;
  void Publish(const std::string& topic_arn, const boost::json::object& note);
  void BounceAction(const Job& job, const boost::json::object& action,
                    const std::vector<std::string>& recipients);
  // Builds the DSN and hands it to admission (source internal).
  void SubmitDsn(const spool::MessageMeta& original, const std::string& content,
                 const std::vector<delivery::FailedRecipient>& failed,
                 const delivery::DsnText& text,
                 const std::string& reporting_mta,
                 std::function<void(Result<std::string>)> done);
  void Remember(const Job& job);
  void Log(const Job& job, const std::string& what, const std::string& detail);
  void Count(const std::string& family, const std::string& what,
             const std::string& outcome = "");

  const ReceiverOptions options_;
  spool::Spool* spool_;
  ses::Resources* resources_;
  events::Publisher* publisher_;  // may be null
  dns::Resolver* resolver_;       // may be null: verdicts GRAY
  admission::Admission* admission_;
  int outcomes_fd_ = -1;

  std::mutex mu_;  // guards jobs_, stopping_; held to push or pop
  std::condition_variable cv_;
  std::multimap<int64_t, std::unique_ptr<Job>> jobs_;  // by due time
  bool stopping_ = false;
  std::thread thread_;

  // Received messages for SendBounce, oldest first (bounded).
  struct Received {
    spool::MessageMeta meta;
    std::string headers;  // the header block, for the DSN
  };
  std::mutex received_mu_;  // guards received_, received_order_
  std::map<std::string, Received> received_;
  std::deque<std::string> received_order_;

  mutable std::mutex counts_mu_;  // guards counts_ (the thread and /metrics)
  // (family, what, outcome) -> count
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> counts_;
};

}  // namespace sesame::inbound
