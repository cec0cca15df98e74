#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "events/publisher.h"
#include "net/http.h"

namespace sesame::events {

// The SNS Query API subset for topics and subscriptions (CreateTopic,
// DeleteTopic, ListTopics, Subscribe, Unsubscribe, ListSubscriptions,
// ListSubscriptionsByTopic, ConfirmSubscription, Get/SetTopicAttributes,
// Get/SetSubscriptionAttributes), answered in SNS's XML, on
// the publisher's topics. nullopt when `action` is not one of them.
// Authentication is the caller's. Thread-safe (the publisher is).
// True when `action` is one of them (HandleSnsAction then answers it).
bool IsSnsAction(const std::string& action);
// All of them, sorted (the coverage table lists them).
const std::set<std::string>& SnsActions();

std::optional<net::HttpResponse> HandleSnsAction(
    Publisher* publisher, const std::string& action,
    const std::map<std::string, std::string>& form);

}  // namespace sesame::events
