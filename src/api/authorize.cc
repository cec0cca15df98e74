// Who may do what: the IAM action and resource ARN of every request, and the
// gate that evaluates them for IAM users (docs/security.md lists them).
#include "api/impl.h"

namespace sesame::api {

namespace {

struct V2ActionRow {
  const char* route;  // "METHOD /v2/email/identities/{}"
  const char* operation;
};
constexpr V2ActionRow kV2Actions[] = {
#include "api/v2_action_names.inc"
};

// The path's collection segments and the resource type each names.
struct Collection {
  const char* segment;
  const char* type;
};
constexpr Collection kCollections[] = {
    {"identities", "identity"},
    {"configuration-sets", "configuration-set"},
    {"templates", "template"},
    {"custom-verification-email-templates",
     "custom-verification-email-template"},
    {"dedicated-ip-pools", "dedicated-ip-pool"},
    {"contact-lists", "contact-list"},
    {"export-jobs", "export-job"},
    {"import-jobs", "import-job"},
};

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(
        start, slash == std::string_view::npos ? path.npos : slash - start);
    if (!seg.empty()) out.push_back(seg);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

// Parsed by sigv4's own parser, so the scope read here is the one Verify
// checks; a header it refuses leaves every field empty.
auth::Authorization Api::Impl::SignedScope(const HttpRequest& req) {
  auth::Authorization a;
  std::string why;
  if (!auth::ParseAuthorization(req.Header("Authorization"), &a, &why))
    return auth::Authorization{};
  if (a.service == "email") a.service = "ses";
  a.access_key_id = a.access_key_id.substr(0, 128);
  return a;
}

std::string Api::Impl::Arn(const std::string& service,
                           const std::string& rest) const {
  if (service == "iam")
    return "arn:aws:iam::" + config.api_account_id + ":" + rest;
  return "arn:aws:" + service + ":" + config.api_region + ":" +
         config.api_account_id + ":" + rest;
}

std::pair<std::string, std::string> Api::Impl::V2Action(
    const HttpRequest& req) const {
  std::vector<std::string> segments = PathSegments(req.path);
  for (const auto& row : kV2Actions) {
    std::string_view route = row.route;
    size_t space = route.find(' ');
    if (route.substr(0, space) != req.method) continue;
    std::vector<std::string_view> pattern = Split(route.substr(space + 1));
    if (pattern.size() != segments.size()) continue;
    bool match = true;
    for (size_t i = 0; i < pattern.size() && match; ++i)
      match = pattern[i] == "{}" || pattern[i] == segments[i];
    if (!match) continue;
    std::string resource = "*";
    for (size_t i = 0; i + 1 < pattern.size(); ++i) {
      if (pattern[i + 1] != "{}") continue;
      for (const auto& c : kCollections) {
        if (pattern[i] == c.segment)
          resource = Arn("ses", std::string(c.type) + "/" + segments[i + 1]);
      }
      if (resource != "*") break;
    }
    if (std::string_view(row.operation).find("Tag") != std::string_view::npos) {
      // Tag operations name their resource: ResourceArn in the query
      // (List, Untag) or the body (Tag).
      std::string arn = ParseForm(req.query)["ResourceArn"];
      boost::system::error_code ec;
      auto body = boost::json::parse(req.body, ec);
      if (arn.empty() && !ec && body.is_object()) {
        if (auto* v = body.as_object().if_contains("ResourceArn");
            v && v->is_string())
          arn = std::string(v->as_string());
      }
      if (!arn.empty()) resource = arn;
    }
    return {"ses:" + std::string(row.operation), resource};
  }
  return {};
}

std::string Api::Impl::QueryResource(
    const std::string& service, const std::string& action,
    std::map<std::string, std::string>& form) const {
  auto has = [&form](const char* k) {
    auto it = form.find(k);
    return it != form.end() && !it->second.empty();
  };
  if (service == "sns") {
    if (has("TopicArn")) return form["TopicArn"];
    if (action == "CreateTopic" && has("Name")) return Arn("sns", form["Name"]);
    if (has("SubscriptionArn")) {
      std::string s = form["SubscriptionArn"];
      return s.substr(0, s.rfind(':'));  // the subscription's topic
    }
    if (has("ResourceArn")) return form["ResourceArn"];
    return "*";
  }
  if (service == "iam") {
    if (has("PolicyArn")) return form["PolicyArn"];
    if (has("UserName")) {
      std::string path = "/";
      if (auto u = iam->GetUser(form["UserName"]); u.ok()) path = u->path;
      if (action == "CreateUser" && has("Path")) path = form["Path"];
      return Arn("iam", "user" + path + form["UserName"]);
    }
    if (has("GroupName")) return Arn("iam", "group/" + form["GroupName"]);
    if (has("PolicySourceArn")) return form["PolicySourceArn"];
    if (action == "CreatePolicy" && has("PolicyName"))
      return Arn("iam", "policy" + (has("Path") ? form["Path"] : "/") +
                            form["PolicyName"]);
    return "*";
  }
  for (const char* k : {"Identity", "EmailAddress", "Domain"}) {
    if (has(k)) return Arn("ses", "identity/" + form[k]);
  }
  for (const char* k : {"ConfigurationSetName", "ConfigurationSet.Name"}) {
    if (has(k)) return Arn("ses", "configuration-set/" + form[k]);
  }
  for (const char* k : {"TemplateName", "Template.TemplateName"}) {
    if (has(k))
      return Arn("ses", (action.find("CustomVerification") != std::string::npos
                             ? "custom-verification-email-template/"
                             : "template/") +
                            form[k]);
  }
  if (has("RuleSetName"))
    return Arn("ses", "receipt-rule-set/" + form["RuleSetName"]);
  for (const char* k : {"FilterName", "Filter.Name"}) {
    if (has(k)) return Arn("ses", "receipt-filter/" + form[k]);
  }
  return "*";
}

MessageTags FormTags(const std::map<std::string, std::string>& form) {
  MessageTags out;
  for (int i = 1;; ++i) {
    std::string base = "Tags.member." + std::to_string(i) + ".";
    auto k = form.find(base + "Key");
    if (k == form.end()) break;
    auto v = form.find(base + "Value");
    out.emplace_back(k->second, v == form.end() ? "" : v->second);
  }
  return out;
}

MessageTags BodyTags(const std::string& body) {
  MessageTags out;
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return out;
  auto* tags = v.as_object().if_contains("Tags");
  if (!tags || !tags->is_array()) return out;
  for (const auto& t : tags->as_array()) {
    if (!t.is_object()) continue;
    auto* k = t.as_object().if_contains("Key");
    auto* val = t.as_object().if_contains("Value");
    if (k && k->is_string())
      out.emplace_back(k->as_string(), val && val->is_string()
                                           ? std::string(val->as_string())
                                           : "");
  }
  return out;
}

std::optional<ApiError> Api::Impl::Authorize(const Caller& c,
                                             const HttpRequest& req,
                                             const std::string& action,
                                             const std::string& resource,
                                             const MessageTags& request_tags) {
  if (Allowed(c, req, action, resource, request_tags)) return std::nullopt;
  denied.fetch_add(1, std::memory_order_relaxed);
  SESAME_LOG(kWarn, kLog) << "access denied: " << c.who.Arn() << " " << action
                          << " on " << resource << " from " << req.remote_ip;
  std::string message = auth::DeniedMessage(c.who.Arn(), action, resource);
  if (action.rfind("sns:", 0) == 0)
    return ApiError{403, "AuthorizationErrorException", "AuthorizationError",
                    message};
  return ApiError{403, "AccessDeniedException", "AccessDenied", message};
}

bool Api::Impl::Allowed(const Caller& c, const HttpRequest& req,
                        const std::string& action, const std::string& resource,
                        const MessageTags& request_tags) {
  // The root may do anything; another account's key only what owner-only
  // rows and sending authorization leave it (checked where they apply).
  if (!c.iam_user) return true;
  auth::AuthzRequest r;
  r.principal = c.who;
  r.action = action;
  r.resource = resource;
  r.context["aws:SourceIp"] = {req.remote_ip};
  r.context["aws:SecureTransport"] = {req.secure ? "true" : "false"};
  r.context["aws:RequestedRegion"] = {config.api_region};
  for (const auto& [k, v] : request_tags) {
    r.context["aws:RequestTag/" + k] = {v};
    r.context["aws:TagKeys"].push_back(k);
  }
  return iam && iam->Decide(c.who.user, r) == auth::Decision::kAllow;
}

}  // namespace sesame::api
