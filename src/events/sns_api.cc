#include "events/sns_api.h"

#include <cctype>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "base/strings.h"

namespace sesame::events {

namespace {

std::string Xml(const std::string& s) { return XmlEscape(s); }

std::string RequestId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-4%03llx-a%03llx-%012llx",
                static_cast<unsigned long long>(rng() & 0xffffffff),
                static_cast<unsigned long long>(rng() & 0xffff),
                static_cast<unsigned long long>(rng() & 0xfff),
                static_cast<unsigned long long>(rng() & 0xfff),
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
  return buf;
}

net::HttpResponse Ok(const std::string& action, const std::string& result) {
  net::HttpResponse r;
  r.content_type = "text/xml";
  r.body = "<" + action +
           "Response xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">" +
           (result.empty() ? ""
                           : "<" + action + "Result>" + result + "</" + action +
                                 "Result>") +
           "<ResponseMetadata><RequestId>" + RequestId() +
           "</RequestId></ResponseMetadata></" + action + "Response>";
  return r;
}

net::HttpResponse Fail(const Error& e) {
  net::HttpResponse r;
  std::string code = e.code();
  r.status = code == "NotFound"             ? 404
             : code == "AuthorizationError" ? 403
                                            : 400;
  if (code != "NotFound" && code != "AuthorizationError" &&
      code != "InvalidParameter") {
    code = "InternalError";
    r.status = 500;
  }
  r.content_type = "text/xml";
  r.body =
      "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
      "<Error><Type>" +
      std::string(r.status >= 500 ? "Receiver" : "Sender") + "</Type><Code>" +
      code + "</Code><Message>" + Xml(e.message()) +
      "</Message></Error><RequestId>" + RequestId() +
      "</RequestId></ErrorResponse>";
  return r;
}

std::string Get(const std::map<std::string, std::string>& form,
                const std::string& key) {
  auto it = form.find(key);
  return it == form.end() ? "" : it->second;
}

std::string SubscriptionsXml(
    const std::vector<Publisher::SubscriptionInfo>& list,
    const std::string& owner) {
  std::string out = "<Subscriptions>";
  for (const auto& s : list) {
    out += "<member><TopicArn>" + Xml(s.topic_arn) + "</TopicArn><Protocol>" +
           Xml(s.protocol) + "</Protocol><SubscriptionArn>" +
           (s.confirmed ? Xml(s.arn) : "PendingConfirmation") +
           "</SubscriptionArn><Owner>" + owner + "</Owner><Endpoint>" +
           Xml(s.endpoint) + "</Endpoint></member>";
  }
  return out + "</Subscriptions>";
}

std::string AttributesXml(const Publisher::Attributes& a) {
  std::string out = "<Attributes>";
  for (const auto& [k, v] : a)
    out +=
        "<entry><key>" + Xml(k) + "</key><value>" + Xml(v) + "</value></entry>";
  return out + "</Attributes>";
}

// Get/Set{Topic,Subscription}Attributes.
std::optional<net::HttpResponse> HandleAttributes(
    Publisher* p, const std::string& action,
    const std::map<std::string, std::string>& form) {
  if (action == "GetTopicAttributes" || action == "GetSubscriptionAttributes") {
    auto a = action == "GetTopicAttributes"
                 ? p->TopicAttributes(Get(form, "TopicArn"))
                 : p->SubscriptionAttributes(Get(form, "SubscriptionArn"));
    if (!a.ok()) return Fail(a.error());
    return Ok(action, AttributesXml(*a));
  }
  std::string name = Get(form, "AttributeName");
  if (name.empty())
    return Fail(Error::Permanent("InvalidParameter",
                                 "Invalid parameter: AttributeName"));
  Status s =
      action == "SetTopicAttributes"
          ? p->SetTopicAttribute(Get(form, "TopicArn"), name,
                                 Get(form, "AttributeValue"))
          : p->SetSubscriptionAttribute(Get(form, "SubscriptionArn"), name,
                                        Get(form, "AttributeValue"));
  return s.ok() ? Ok(action, "") : Fail(s.error());
}

}  // namespace

namespace {

// The actions answered here and the members SNS's model marks required: a
// request without one is refused before the publisher is asked.
const std::map<std::string, std::vector<std::string>>& Required() {
  static const std::map<std::string, std::vector<std::string>> kActions = {
      {"CreateTopic", {"Name"}},
      {"DeleteTopic", {"TopicArn"}},
      {"ListTopics", {}},
      {"Subscribe", {"TopicArn", "Protocol"}},
      {"Unsubscribe", {"SubscriptionArn"}},
      {"ConfirmSubscription", {"TopicArn", "Token"}},
      {"ListSubscriptionsByTopic", {"TopicArn"}},
      {"ListSubscriptions", {}},
      {"GetTopicAttributes", {"TopicArn"}},
      {"SetTopicAttributes", {"TopicArn", "AttributeName"}},
      {"GetSubscriptionAttributes", {"SubscriptionArn"}},
      {"SetSubscriptionAttributes", {"SubscriptionArn", "AttributeName"}}};
  return kActions;
}

}  // namespace

const std::set<std::string>& SnsActions() {
  static const std::set<std::string> names = [] {
    std::set<std::string> out;
    for (const auto& [action, required] : Required()) out.insert(action);
    return out;
  }();
  return names;
}

bool IsSnsAction(const std::string& action) {
  return SnsActions().count(action) > 0;
}

std::optional<net::HttpResponse> HandleSnsAction(
    Publisher* p, const std::string& action,
    const std::map<std::string, std::string>& form) {
  auto row = Required().find(action);
  if (row == Required().end()) return std::nullopt;
  for (const auto& m : row->second) {
    if (form.count(m)) continue;
    std::string camel = m;
    camel[0] = static_cast<char>(std::tolower(camel[0]));
    return Fail(Error::Permanent(
        "InvalidParameter",
        "1 validation error detected: Value null at '" + camel +
            "' failed to satisfy constraint: Member must not be null"));
  }
  if (action.find("Attributes") != std::string::npos)
    return HandleAttributes(p, action, form);
  if (action == "CreateTopic") {
    auto arn = p->CreateTopic(Get(form, "Name"));
    if (!arn.ok()) return Fail(arn.error());
    return Ok(action, "<TopicArn>" + Xml(*arn) + "</TopicArn>");
  }
  if (action == "DeleteTopic") {
    Status s = p->DeleteTopic(Get(form, "TopicArn"));
    return s.ok() ? Ok(action, "") : Fail(s.error());
  }
  if (action == "ListTopics") {
    std::string out = "<Topics>";
    for (const auto& t : p->Topics())
      out += "<member><TopicArn>" + Xml(t.arn) + "</TopicArn></member>";
    return Ok(action, out + "</Topics>");
  }
  if (action == "Subscribe") {
    // Attributes.entry.N.key / .value: RawMessageDelivery.
    bool raw = false;
    for (int i = 1; i < 20; ++i) {
      std::string k =
          Get(form, "Attributes.entry." + std::to_string(i) + ".key");
      if (k.empty()) break;
      if (k == "RawMessageDelivery")
        raw = Get(form, "Attributes.entry." + std::to_string(i) + ".value") ==
              "true";
    }
    auto sub = p->Subscribe(Get(form, "TopicArn"), Get(form, "Protocol"),
                            Get(form, "Endpoint"), raw);
    if (!sub.ok()) return Fail(sub.error());
    bool show = sub->confirmed || Get(form, "ReturnSubscriptionArn") == "true";
    return Ok(action, "<SubscriptionArn>" +
                          (show ? Xml(sub->arn) : "pending confirmation") +
                          "</SubscriptionArn>");
  }
  if (action == "Unsubscribe") {
    Status s = p->Unsubscribe(Get(form, "SubscriptionArn"));
    return s.ok() ? Ok(action, "") : Fail(s.error());
  }
  if (action == "ConfirmSubscription") {
    auto arn =
        p->ConfirmSubscription(Get(form, "TopicArn"), Get(form, "Token"));
    if (!arn.ok()) return Fail(arn.error());
    return Ok(action, "<SubscriptionArn>" + Xml(*arn) + "</SubscriptionArn>");
  }
  if (action == "ListSubscriptions" || action == "ListSubscriptionsByTopic") {
    std::string topic =
        action == "ListSubscriptions" ? "" : Get(form, "TopicArn");
    auto list = p->Subscriptions(topic);
    std::string owner;
    if (!list.empty()) {
      // arn:aws:sns:<region>:<account>:...
      std::string a = list[0].topic_arn;
      size_t c3 = a.find(':', a.find(':', a.find(':') + 1) + 1);
      size_t c4 = a.find(':', c3 + 1);
      c4 = a.find(':', c4 + 1);
      size_t c5 = a.find(':', c4 + 1);
      owner = a.substr(c4 + 1, c5 - c4 - 1);
    }
    return Ok(action, SubscriptionsXml(list, owner));
  }
  return std::nullopt;
}

}  // namespace sesame::events
