#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "events/publisher.h"
#include "ses/resources.h"
#include "spool/spool.h"

namespace sesame::events {

// Where SES events go, from the config file and the SES resources: the
// publisher's lookups (it caches their answers for a second).

// A configuration set's enabled destinations: the config file's, then the
// API's SNS destinations whose topic ARN is one of ours (`topic_arn_prefix`,
// "arn:aws:sns:<region>:<account>:").
DestinationLookup ConfigSetDestinations(const config::Config& config,
                                        ses::Resources* resources,
                                        std::string topic_arn_prefix);

// The sender's identity notification topics (SetIdentityNotificationTopic).
NotificationLookup IdentityNotificationTopics(ses::Resources* resources,
                                              std::string topic_arn_prefix);

// A queued message's header block (up to the blank line, 64 KB at most).
HeaderReader SpoolHeaders(spool::Spool* spool);

}  // namespace sesame::events
