#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "delivery/engine.h"
#include "feedback/classifier.h"

namespace sesame::delivery {

// How delivery outcomes become SES events, and the SES mailbox simulator.
// Pure: the engine gathers the inputs on its thread and emits what these
// return.

// The simulator's answer for one recipient at simulator.amazonses.com:
// success@, ooto@ and complaint@ are delivered (complaint@ then complains:
// see AttemptEvents), suppressionlist@ and everything else bounce hard.
struct SimulatorReply {
  int code;
  std::string response;
};
SimulatorReply SimulatorVerdict(const std::string& address);
inline constexpr char kSimulatorHost[] = "simulator.amazonses.com";

// One recipient's result in an attempt.
struct AttemptRecipient {
  std::string address;
  int code = 0;               // the reply code (0: no peer answered)
  std::string last_response;  // "550 5.1.1 ..."
  std::string outcome;        // delivered, failed, expired, deferred, ...
  int64_t expires_ms = 0;     // when the recipient's lifetime ends
};

// Where and when an attempt happened.
struct Attempt {
  spool::MessageMeta meta;
  std::string remote_host, remote_ip, reporting_mta;
  int64_t now_ms = 0;
  int64_t processing_ms = 0;
};

// The events of one attempt: a Delivery for the delivered, Bounces for the
// failed and expired grouped by classification (an expiry is never a
// Permanent bounce), a DeliveryDelay for the deferred, and the simulator's
// Complaint for complaint@. Mail of our own (DSNs, the MX) has none.
std::vector<MessageEvent> AttemptEvents(const Attempt& a,
                                        const std::vector<AttemptRecipient>& rs,
                                        const feedback::Classifier& classifier);

}  // namespace sesame::delivery
