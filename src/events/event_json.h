#pragma once

#include <map>
#include <string>
#include <vector>

#include "delivery/engine.h"

namespace sesame::events {

// Who Sesame is, for ARNs and the sendingAccountId field.
struct Identity {
  std::string region = "us-east-1";
  std::string account = "000000000000";
};

// The parts of the `mail` object that come from the message itself: its
// header block (for `headers`, `commonHeaders` and X-SES-MESSAGE-TAGS).
struct MailHeaders {
  std::string header_block;  // raw, up to the blank line; "" when unknown
};

// SES event type names as they appear in `eventType` ("Send", "Bounce",
// "DeliveryDelay", ...) and in MatchingEventTypes ("SEND", "BOUNCE",
// "DELIVERY_DELAY", ...).
const char* EventTypeName(delivery::MessageEvent::Type t);
const char* MatchingTypeName(delivery::MessageEvent::Type t);

// The SES event-publishing record (spec section 5) for an engine event:
// eventType, the mail object (with headers, commonHeaders and tags,
// including the automatic ses: tags) and the type's own object. Pure.
std::string SesEventJson(const delivery::MessageEvent& e,
                         const MailHeaders& headers, const Identity& who,
                         const std::string& feedback_id);

// The identity notification (SetIdentityNotificationTopic) for a Bounce,
// Complaint or Delivery: `notificationType` instead of `eventType`, no tags,
// headers only when the identity asks for them. Pure.
std::string SesNotificationJson(const delivery::MessageEvent& e,
                                const MailHeaders& headers, const Identity& who,
                                const std::string& feedback_id,
                                bool include_headers);

// Message tags from an X-SES-MESSAGE-TAGS header ("k=v, k2=v2").
std::map<std::string, std::string> ParseMessageTags(const std::string& value);

}  // namespace sesame::events
