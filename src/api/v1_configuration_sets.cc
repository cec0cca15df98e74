// SES v1 Query API: configuration sets' event destinations, tracking and
// delivery options, sending and reputation switches, the account's sending
// switch, a domain's DKIM switch, and the v1 listings' paging (MaxItems,
// NextToken).
// Event destinations are stored in SESv2's shape, so either API reads what
// the other wrote and the event publisher reads one form.
#include <boost/json.hpp>

#include "api/impl.h"
#include "base/base64.h"
#include "ses/names.h"

namespace sesame::api {
namespace json = boost::json;

namespace {

// AWS's Query-protocol validation failure, as SES words it.
ApiError Invalid(const std::string& value, const std::string& member,
                 const std::string& constraint) {
  return {400, "BadRequestException", "ValidationError",
          "1 validation error detected: Value '" + value + "' at '" + member +
              "' failed to satisfy constraint: " + constraint};
}

// v1 event type names (SES v1's EventType) and SESv2's, in SES's order.
constexpr std::pair<const char*, const char*> kEventTypes[] = {
    {"send", "SEND"},         {"reject", "REJECT"},
    {"bounce", "BOUNCE"},     {"complaint", "COMPLAINT"},
    {"delivery", "DELIVERY"}, {"open", "OPEN"},
    {"click", "CLICK"},       {"renderingFailure", "RENDERING_FAILURE"},
};

std::string V2EventType(const std::string& v1) {
  for (const auto& [a, b] : kEventTypes)
    if (v1 == a) return b;
  return "";
}
std::string V1EventType(std::string_view v2) {
  for (const auto& [a, b] : kEventTypes)
    if (v2 == b) return a;
  return "";
}

// SES's rule for event destination names: ASCII letters, digits, '_' and
// '-', 1 to 64 characters.
bool ValidDestinationName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      return false;
  return true;
}

std::optional<bool> ParseBool(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return std::nullopt;
}

// The Enabled member of the v1 switches (UpdateConfigurationSet*Enabled).
std::variant<bool, ApiError> EnabledOf(std::map<std::string, std::string>& f) {
  auto b = ParseBool(f["Enabled"]);
  if (!b)
    return Invalid(f["Enabled"], "enabled", "Member must be true or false");
  return *b;
}

}  // namespace

// MaxItems (1–1000; absent: 1000) and NextToken (base64 of the last name
// returned) of a v1 listing.
std::variant<Api::Impl::V1Page, ApiError> Api::Impl::ParseV1Page(
    std::map<std::string, std::string>& form) {
  V1Page p;
  if (auto it = form.find("MaxItems"); it != form.end()) {
    char* end = nullptr;
    long n = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || n < 1 || n > 1000)
      return Invalid(it->second, "maxItems",
                     "Member must have value between 1 and 1000");
    p.max_items = static_cast<size_t>(n);
  }
  if (auto it = form.find("NextToken"); it != form.end()) {
    auto after = Base64Decode(it->second);
    if (!after || after->empty())
      return ApiError{400, "BadRequestException", "InvalidParameterValue",
                      "Invalid NextToken: " + it->second};
    p.after = *after;
  }
  return p;
}

std::string Api::Impl::V1NextToken(const std::string& last) {
  return "\n    <NextToken>" + XmlEscape(Base64Encode(last)) + "</NextToken>";
}

void Api::Impl::V1ListConfigurationSets(V1Call& c) {
  auto page = ParseV1Page(c.form);
  if (auto* e = std::get_if<ApiError>(&page)) return c.done(V1Error(*e));
  const V1Page& p = std::get<V1Page>(page);
  auto sets = resources.configuration_sets().List(p.after, p.max_items);
  if (!sets.ok()) return c.done(V1Error(StoreError(sets.error(), "", "")));
  std::string body = NamedMembers("ConfigurationSets", sets->items);
  if (!sets->next.empty()) body += V1NextToken(sets->next) + "\n  ";
  c.done(V1Ok(c.action, body));
}

// UpdateConfigurationSetSendingEnabled: the same switch as SESv2's
// PutConfigurationSetSendingOptions (sends check it at admission).
void Api::Impl::V1UpdateConfigurationSetSendingEnabled(V1Call& c) {
  const std::string& name = c.form["ConfigurationSetName"];
  auto enabled = EnabledOf(c.form);
  if (auto* e = std::get_if<ApiError>(&enabled)) return c.done(V1Error(*e));
  if (!resources.configuration_sets().Exists(name))
    return c.done(V1Error(MissingConfigurationSet(name)));
  Status s = resources.configuration_sets().SetSendingEnabled(
      name, std::get<bool>(enabled));
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

// UpdateConfigurationSetReputationMetricsEnabled: SESv2's
// ReputationOptions.ReputationMetricsEnabled, kept with the set.
void Api::Impl::V1UpdateConfigurationSetReputationMetricsEnabled(V1Call& c) {
  const std::string& name = c.form["ConfigurationSetName"];
  auto enabled = EnabledOf(c.form);
  if (auto* e = std::get_if<ApiError>(&enabled)) return c.done(V1Error(*e));
  auto cs = resources.configuration_sets().Get(name);
  if (!cs.ok()) return c.done(V1Error(MissingConfigurationSet(name)));
  json::object rep;
  if (auto* old = cs->options.if_contains("ReputationOptions");
      old && old->is_object())
    rep = old->as_object();
  rep["ReputationMetricsEnabled"] = std::get<bool>(enabled);
  Status s = resources.configuration_sets().PutOption(name, "ReputationOptions",
                                                      std::move(rep));
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

// Create/Update/DeleteConfigurationSetTrackingOptions. SES keeps at most
// one TrackingOptions per set: Create refuses a second, Update and Delete
// refuse when there is none.
void Api::Impl::V1TrackingOptions(V1Call& c) {
  const std::string& name = c.form["ConfigurationSetName"];
  auto cs = resources.configuration_sets().Get(name);
  if (!cs.ok()) return c.done(V1Error(MissingConfigurationSet(name)));
  bool exists = cs->options.contains("TrackingOptions");
  bool create = c.action.rfind("Create", 0) == 0;
  bool remove = c.action.rfind("Delete", 0) == 0;
  if (create && exists)
    return c.done(V1Error({400, "AlreadyExistsException",
                           "TrackingOptionsAlreadyExistsException",
                           "Tracking options for configuration set <" + name +
                               "> already exist."}));
  if (!create && !exists)
    return c.done(V1Error({400, "NotFoundException",
                           "TrackingOptionsDoesNotExistException",
                           "Tracking options for configuration set <" + name +
                               "> do not exist."}));
  if (remove) {
    Status s =
        resources.configuration_sets().RemoveOption(name, "TrackingOptions");
    if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
    return c.done(V1Ok(c.action, ""));
  }
  json::object tracking;
  const std::string& domain = c.form["TrackingOptions.CustomRedirectDomain"];
  if (!domain.empty()) {
    if (domain.find('@') != std::string::npos ||
        !ses::CheckIdentityName(domain).ok())
      return c.done(
          V1Error({400, "BadRequestException", "InvalidTrackingOptions",
                   "Invalid custom redirect domain <" + domain + ">."}));
    tracking["CustomRedirectDomain"] = domain;
  }
  Status s = resources.configuration_sets().PutOption(name, "TrackingOptions",
                                                      std::move(tracking));
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

// PutConfigurationSetDeliveryOptions: TlsPolicy Require or Optional (absent:
// Optional); SESv2's other delivery options (the pool) are kept.
void Api::Impl::V1PutDeliveryOptions(V1Call& c) {
  const std::string& name = c.form["ConfigurationSetName"];
  auto cs = resources.configuration_sets().Get(name);
  if (!cs.ok()) return c.done(V1Error(MissingConfigurationSet(name)));
  std::string tls = c.form["DeliveryOptions.TlsPolicy"];
  if (tls.empty()) tls = "Optional";
  if (tls != "Require" && tls != "Optional")
    return c.done(V1Error(Invalid(tls, "deliveryOptions.tlsPolicy",
                                  "Member must satisfy enum value set: "
                                  "[Require, Optional]")));
  json::object delivery;
  if (auto* old = cs->options.if_contains("DeliveryOptions");
      old && old->is_object())
    delivery = old->as_object();
  delivery["TlsPolicy"] = tls == "Require" ? "REQUIRE" : "OPTIONAL";
  Status s = resources.configuration_sets().PutOption(name, "DeliveryOptions",
                                                      std::move(delivery));
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

// GetAccountSendingEnabled / UpdateAccountSendingEnabled: the switch that
// SESv2's PutAccountSendingAttributes sets and alarms pause.
void Api::Impl::V1AccountSendingEnabled(V1Call& c) {
  if (c.action == "GetAccountSendingEnabled")
    return c.done(
        V1Ok(c.action,
             std::string("\n    <Enabled>") +
                 (resources.account().SendingEnabled() ? "true" : "false") +
                 "</Enabled>\n  "));
  // Enabled is optional here: absent means false, as in SES's model.
  bool enabled = false;
  if (c.form.count("Enabled")) {
    auto e = EnabledOf(c.form);
    if (auto* err = std::get_if<ApiError>(&e)) return c.done(V1Error(*err));
    enabled = std::get<bool>(e);
  }
  Status s = resources.account().SetSendingEnabled(enabled);
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

// SetIdentityDkimEnabled. Sesame signs per domain: a domain identity's
// switch is its key's; an address identity signs with its domain's key, so
// the call is accepted only when that domain has one.
void Api::Impl::V1SetIdentityDkimEnabled(V1Call& c) {
  const std::string& identity = c.form["Identity"];
  auto b = ParseBool(c.form["DkimEnabled"]);
  if (!b)
    return c.done(V1Error(Invalid(c.form["DkimEnabled"], "dkimEnabled",
                                  "Member must be true or false")));
  if (!resources.identities().Exists(identity))
    return c.done(
        V1Error(BadRequest("Identity <" + identity + "> does not exist.")));
  size_t at = identity.rfind('@');
  std::string domain =
      at == std::string::npos ? identity : identity.substr(at + 1);
  if (!dkim_keys.Find(domain))
    return c.done(V1Error(BadRequest("Domain <" + domain +
                                     "> is not verified for DKIM signing.")));
  if (at != std::string::npos) return c.done(V1Ok(c.action, ""));
  Status s = dkim_keys.SetSigning(domain, *b);
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

// EventDestination.* of a v1 request, in SESv2's stored shape; or the error.
std::variant<json::object, ApiError> Api::Impl::V1EventDestination(
    std::map<std::string, std::string>& form) {
  const std::string p = "EventDestination.";
  json::object d;
  const std::string& name = form[p + "Name"];
  if (!ValidDestinationName(name))
    return BadRequest(
        "Invalid event destination name <" + name +
        ">: it must contain only ASCII letters, numbers, underscores and "
        "dashes, and be at most 64 characters.");
  if (auto it = form.find(p + "Enabled"); it != form.end()) {
    auto b = ParseBool(it->second);
    if (!b)
      return Invalid(it->second, "eventDestination.enabled",
                     "Member must be true or false");
    d["Enabled"] = *b;
  } else {
    d["Enabled"] = false;  // SES v1's default
  }
  json::array types;
  auto v1_types = Members(form, p + "MatchingEventTypes");
  if (v1_types.empty())
    return Invalid("null", "eventDestination.matchingEventTypes",
                   "Member must not be null");
  for (size_t i = 0; i < v1_types.size(); ++i) {
    std::string t = V2EventType(v1_types[i]);
    if (t.empty())
      return Invalid(v1_types[i],
                     "eventDestination.matchingEventTypes." +
                         std::to_string(i + 1) + ".member",
                     "Member must satisfy enum value set: [send, reject, "
                     "bounce, complaint, delivery, open, click, "
                     "renderingFailure]");
    types.push_back(json::string(t));
  }
  d["MatchingEventTypes"] = std::move(types);
  int kinds = 0;
  if (form.count(p + "SNSDestination.TopicARN")) {
    ++kinds;
    const std::string& arn = form[p + "SNSDestination.TopicARN"];
    if (!services.topic_exists || !services.topic_exists(arn))
      return ApiError{400, "BadRequestException", "InvalidSNSDestination",
                      "SNS topic <" + arn + "> not found."};
    d["SnsDestination"] = json::object{{"TopicArn", arn}};
  }
  if (form.count(p + "KinesisFirehoseDestination.DeliveryStreamARN")) {
    ++kinds;
    d["KinesisFirehoseDestination"] = json::object{
        {"IamRoleArn", form[p + "KinesisFirehoseDestination.IAMRoleARN"]},
        {"DeliveryStreamArn",
         form[p + "KinesisFirehoseDestination.DeliveryStreamARN"]}};
  }
  const std::string cw = p + "CloudWatchDestination.DimensionConfigurations";
  if (form.count(cw + ".member.1.DimensionName")) {
    ++kinds;
    json::array dims;
    for (int i = 1;
         form.count(cw + ".member." + std::to_string(i) + ".DimensionName");
         ++i) {
      std::string m = cw + ".member." + std::to_string(i) + ".";
      dims.push_back(json::object{
          {"DimensionName", form[m + "DimensionName"]},
          {"DimensionValueSource", form[m + "DimensionValueSource"]},
          {"DefaultDimensionValue", form[m + "DefaultDimensionValue"]}});
    }
    d["CloudWatchDestination"] =
        json::object{{"DimensionConfigurations", std::move(dims)}};
  }
  if (kinds != 1)
    return BadRequest(
        "An event destination needs exactly one of SNSDestination, "
        "CloudWatchDestination and KinesisFirehoseDestination.");
  return d;
}

// Create and UpdateConfigurationSetEventDestination.
void Api::Impl::V1PutEventDestination(V1Call& c) {
  const std::string& set = c.form["ConfigurationSetName"];
  if (!resources.configuration_sets().Exists(set))
    return c.done(V1Error(MissingConfigurationSet(set)));
  auto d = V1EventDestination(c.form);
  if (auto* e = std::get_if<ApiError>(&d)) return c.done(V1Error(*e));
  const std::string& name = c.form["EventDestination.Name"];
  auto& sets = resources.configuration_sets();
  bool create = c.action == "CreateConfigurationSetEventDestination";
  Status s = create
                 ? sets.AddDestination(set, name, std::get<json::object>(d))
                 : sets.UpdateDestination(set, name, std::get<json::object>(d));
  if (!s.ok() && s.error().code() == "exists")
    return c.done(
        V1Error({400, "", "EventDestinationAlreadyExists",
                 "Event destination <" + name +
                     "> already exists in configuration set <" + set + ">."}));
  if (!s.ok() && s.error().code() == "not_found")
    return c.done(V1Error(MissingEventDestination(set, name)));
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

void Api::Impl::V1DeleteEventDestination(V1Call& c) {
  const std::string& set = c.form["ConfigurationSetName"];
  const std::string& name = c.form["EventDestinationName"];
  if (!resources.configuration_sets().Exists(set))
    return c.done(V1Error(MissingConfigurationSet(set)));
  Status s = resources.configuration_sets().DeleteDestination(set, name);
  if (!s.ok() && s.error().code() == "not_found")
    return c.done(V1Error(MissingEventDestination(set, name)));
  if (!s.ok()) return c.done(V1Error(StoreError(s.error(), "", "")));
  c.done(V1Ok(c.action, ""));
}

ApiError Api::Impl::MissingConfigurationSet(const std::string& name) {
  return {400, "NotFoundException", "ConfigurationSetDoesNotExist",
          "Configuration set <" + name + "> does not exist."};
}

ApiError Api::Impl::MissingEventDestination(const std::string& set,
                                            const std::string& name) {
  return {400, "NotFoundException", "EventDestinationDoesNotExist",
          "No EventDestination found for " + name + " in configuration set <" +
              set + ">."};
}

// DescribeConfigurationSet's EventDestinations member, from the stored form.
std::string Api::Impl::V1EventDestinationsXml(
    const std::map<std::string, json::object>& destinations) {
  std::string out = "\n    <EventDestinations>";
  for (const auto& [name, d] : destinations) {
    out += "\n      <member><Name>" + XmlEscape(name) + "</Name><Enabled>";
    auto* en = d.if_contains("Enabled");
    out += en && en->is_bool() && en->as_bool() ? "true" : "false";
    out += "</Enabled><MatchingEventTypes>";
    if (auto* t = d.if_contains("MatchingEventTypes"); t && t->is_array())
      for (const auto& x : t->as_array())
        if (x.is_string())
          out += "<member>" + V1EventType(x.as_string()) + "</member>";
    out += "</MatchingEventTypes>";
    if (auto* sns = d.if_contains("SnsDestination"); sns && sns->is_object())
      out += "<SNSDestination><TopicARN>" +
             XmlEscape(ses::JsonString(sns->as_object(), "TopicArn")) +
             "</TopicARN></SNSDestination>";
    if (auto* f = d.if_contains("KinesisFirehoseDestination");
        f && f->is_object())
      out += "<KinesisFirehoseDestination><IAMRoleARN>" +
             XmlEscape(ses::JsonString(f->as_object(), "IamRoleArn")) +
             "</IAMRoleARN><DeliveryStreamARN>" +
             XmlEscape(ses::JsonString(f->as_object(), "DeliveryStreamArn")) +
             "</DeliveryStreamARN></KinesisFirehoseDestination>";
    if (auto* cw = d.if_contains("CloudWatchDestination");
        cw && cw->is_object()) {
      out += "<CloudWatchDestination><DimensionConfigurations>";
      if (auto* dims = cw->as_object().if_contains("DimensionConfigurations");
          dims && dims->is_array())
        for (const auto& x : dims->as_array()) {
          if (!x.is_object()) continue;
          const auto& o = x.as_object();
          out += "<member><DimensionName>" +
                 XmlEscape(ses::JsonString(o, "DimensionName")) +
                 "</DimensionName><DimensionValueSource>" +
                 XmlEscape(ses::JsonString(o, "DimensionValueSource")) +
                 "</DimensionValueSource><DefaultDimensionValue>" +
                 XmlEscape(ses::JsonString(o, "DefaultDimensionValue")) +
                 "</DefaultDimensionValue></member>";
        }
      out += "</DimensionConfigurations></CloudWatchDestination>";
    }
    out += "</member>";
  }
  return out + "\n    </EventDestinations>";
}

}  // namespace sesame::api
