#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "delivery/sent_index.h"
#include "delivery/verp.h"
#include "events/fanout.h"
#include "feedback/classifier.h"
#include "feedback/report.h"
#include "inbound/receiver.h"
#include "metrics/registry.h"
#include "spool/spool.h"

namespace sesame::inbound {

// Mail that arrived at the MX: feedback about our mail, never relayed and
// never seen by the delivery engine. Each message is analyzed
// (feedback::Analyze: DSNs, ARF complaints, auto-replies), mapped to the
// message and recipient it is about (the VERP token of its address, else
// the quoted original's Return-Path or Message-ID; a forged token is
// ignored), turned into Bounce / Complaint / DeliveryDelay events for the
// fan-out, recorded in outcomes.jsonl, and removed from the spool. The
// original's metadata comes from the spool while it is queued, else from
// the sent index.
//
// Owned by the app. Submit() is thread-safe (the spool's commit listener
// calls it on the writer thread); the work runs on the processor's own
// thread, so a large report never stalls delivery.
class Processor {
 public:
  struct Options {
    std::string outcomes_path;  // <data_dir>/outcomes.jsonl (shared, O_APPEND)
    std::string verp_domain;
    std::string verp_key;
    // Keys of earlier master keys (kept until `sesame keys rotate-master
    // --retire-previous`): tokens sealed before a rotation still verify.
    std::vector<std::string> earlier_verp_keys;
    // delivery.mode: hold — maintenance: MX mail stays queued too, untouched,
    // until a start without hold processes it.
    bool hold = false;
  };
  Processor(Options options, spool::Spool* spool,
            delivery::SentIndex* sent_index, events::FanOut* fanout);
  ~Processor();

  void SetClassifier(feedback::Classifier classifier);
  // Mail for a receiving address (SES email receiving) goes to `receiver`
  // instead of the feedback analysis. Before Start().
  void SetReceiver(Receiver* receiver) { receiver_ = receiver; }
  // Queues the MX mail the spool recovered, then starts the thread.
  Status Start();
  void Stop();

  // A newly durable message from the MX.
  void Submit(const spool::MessageInfo& info);

  // sesame_feedback_inbound_total{kind}.
  void RegisterMetrics(metrics::Registry* registry) const;

 private:
  void Run();
  void Count(const std::string& kind);
  void Process(const spool::MessageInfo& info);
  std::optional<delivery::VerpTarget> VerpOf(const std::string& address,
                                             bool* forged) const;
  std::string EmitFeedback(const feedback::Report& report,
                           const std::string& message_id,
                           const std::optional<delivery::VerpTarget>& target,
                           const std::string& inbound_id);
  std::string EmitBounces(const feedback::Report& report,
                          delivery::MessageEvent base);
  static void SetBounce(const feedback::ReportRecipient& about,
                        const std::string& address, delivery::MessageEvent* e);

  const Options options_;
  spool::Spool* spool_;
  delivery::SentIndex* sent_index_;  // may be null (not opened)
  events::FanOut* fanout_;
  feedback::Classifier classifier_ = feedback::Classifier::Default();
  Receiver* receiver_ = nullptr;
  int outcomes_fd_ = -1;

  std::mutex mu_;  // guards queue_, stopping_; held to push or pop
  std::condition_variable cv_;
  std::deque<spool::MessageInfo> queue_;
  bool stopping_ = false;
  std::thread thread_;

  mutable std::mutex counts_mu_;  // guards counts_ (the thread and /metrics)
  std::map<std::string, uint64_t> counts_;  // by kind
};

}  // namespace sesame::inbound
