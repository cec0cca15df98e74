#include "delivery/ses_events.h"

#include <map>

#include "delivery/dsn.h"
#include "smtp/address.h"

namespace sesame::delivery {

namespace {

feedback::Classification Classify(const feedback::Classifier& classifier,
                                  const std::string& response,
                                  const char* action) {
  std::string status = EnhancedStatus(response, response.rfind('5', 0) == 0);
  return classifier.Classify(response, status, response.substr(0, 3), action);
}

std::string DelayType(const feedback::Classification& c, int code) {
  if (c.reason == "mailbox_full") return "MailboxFull";
  if (c.reason == "content_rejected") return "SpamDetected";
  if (c.reason == "network_error" || c.reason == "domain_not_found")
    return "TransientCommunicationFailure";
  return code == 0 ? "Undetermined" : "RecipientServerError";
}

}  // namespace

SimulatorReply SimulatorVerdict(const std::string& address) {
  std::string local = smtp::AsciiLower(address);
  local = local.substr(0, local.find('@'));
  if (size_t plus = local.find('+'); plus != std::string::npos)
    local = local.substr(0, plus);
  if (local == "success" || local == "ooto" || local == "complaint")
    return {250, "250 2.0.0 Ok (mailbox simulator: " + local + ")"};
  if (local == "suppressionlist")
    return {550,
            "550 5.1.1 Address is on the suppression list (mailbox simulator)"};
  return {550, "550 5.1.1 Mailbox does not exist (mailbox simulator: " + local +
                   ")"};
}

std::vector<MessageEvent> AttemptEvents(
    const Attempt& a, const std::vector<AttemptRecipient>& rs,
    const feedback::Classifier& classifier) {
  std::vector<MessageEvent> out;
  if (a.meta.source == "mx" || a.meta.source == "dsn") return out;
  MessageEvent delivery, delay;
  delivery.type = MessageEvent::Type::kDelivery;
  delay.type = MessageEvent::Type::kDeliveryDelay;
  std::map<std::string, MessageEvent> bounces;  // by type/subtype
  std::vector<std::string> complained;
  for (const auto& r : rs) {
    std::string status = EnhancedStatus(r.last_response, r.code >= 500);
    EventRecipient er{r.address, "", status, "smtp; " + r.last_response};
    if (r.outcome == "delivered") {
      er.action = "delivered";
      delivery.recipients.push_back(er);
      if (delivery.smtp_response.empty())
        delivery.smtp_response = r.last_response;
      if (a.remote_host == kSimulatorHost &&
          smtp::AsciiLower(r.address).rfind("complaint", 0) == 0)
        complained.push_back(r.address);
    } else if (r.outcome == "failed" || r.outcome == "expired") {
      er.action = "failed";
      bool expired = r.outcome == "expired";
      feedback::Classification c =
          Classify(classifier, r.last_response, expired ? "delayed" : "failed");
      if (expired && c.bounce_type == "Permanent")
        c = feedback::ForReason(c.reason, false);
      MessageEvent& b = bounces[c.bounce_type + "/" + c.bounce_subtype];
      b.type = MessageEvent::Type::kBounce;
      b.classification = c;
      b.recipients.push_back(er);
    } else if (r.outcome == "deferred") {
      er.action = "delayed";
      delay.delay_type =
          DelayType(Classify(classifier, r.last_response, "delayed"), r.code);
      delay.expiration_ms = r.expires_ms;
      delay.recipients.push_back(er);
    }
  }
  auto finish = [&](MessageEvent e) {
    e.timestamp_ms = a.now_ms;
    e.meta = a.meta;
    e.reporting_mta = a.reporting_mta;
    e.remote_mta_ip = a.remote_ip;
    e.processing_ms = a.processing_ms;
    out.push_back(std::move(e));
  };
  if (!delivery.recipients.empty()) finish(std::move(delivery));
  for (auto& [key, b] : bounces) finish(std::move(b));
  if (!delay.recipients.empty()) finish(std::move(delay));
  if (!complained.empty()) {
    // The simulator's complaint@: delivered, then a complaint, as SES's
    // simulator does.
    MessageEvent c;
    c.type = MessageEvent::Type::kComplaint;
    c.feedback_type = "abuse";
    c.user_agent = "Sesame mailbox simulator";
    for (const auto& addr : complained)
      c.recipients.push_back({addr, "complained", "", ""});
    finish(std::move(c));
  }
  return out;
}

}  // namespace sesame::delivery
