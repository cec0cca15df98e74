// SES v1 email receiving: receipt rule sets, receipt rules and receipt
// filters (ses::ReceiptRules), one handler per action over a small table.
#include <boost/json.hpp>

#include "api/impl.h"

namespace sesame::api {
namespace json = boost::json;
namespace {

using Form = std::map<std::string, std::string>;

ApiError ReceiptError(const Error& e) {
  static const std::map<std::string, std::string> kCodes = {
      {"rule_set_not_found", "RuleSetDoesNotExist"},
      {"rule_not_found", "RuleDoesNotExist"},
      {"exists", "AlreadyExists"},
      {"cannot_delete", "CannotDelete"},
      {"limit", "LimitExceeded"},
      {"invalid", "InvalidParameterValue"}};
  auto it = kCodes.find(e.code());
  if (it == kCodes.end()) return InternalError(e);
  return {400, "", it->second, e.message()};
}

std::string MetadataXml(const ses::ReceiptRules::RuleSet& set) {
  return "<Name>" + XmlEscape(set.name) + "</Name><CreatedTimestamp>" +
         IsoTime(set.created_ms) + "</CreatedTimestamp>";
}

std::string RulesXml(const ses::ReceiptRules::RuleSet& set) {
  std::string out = "<Rules>";
  for (const auto& r : set.rules) out += "<member>" + QueryXml(r) + "</member>";
  return out + "</Rules>";
}

}  // namespace

// The outside parts a rule's actions name must exist: SNS topics, a function
// URL for each Lambda function, and an S3 endpoint.
std::optional<ApiError> Api::Impl::CheckReceiptActions(
    const json::object& rule) {
  auto* actions = rule.if_contains("Actions");
  if (!actions || !actions->is_array()) return std::nullopt;
  for (const auto& a : actions->as_array()) {
    if (!a.is_object() || a.as_object().empty()) continue;
    const auto& [type, body] = *a.as_object().begin();
    if (!body.is_object()) continue;
    const json::object& o = body.as_object();
    std::string topic = ses::JsonString(o, "TopicArn");
    if (!topic.empty() &&
        (!services.topic_exists || !services.topic_exists(topic)))
      return ApiError{400, "", "InvalidSnsTopic",
                      "Could not find SNS topic: " + topic};
    if (type == "LambdaAction" && !config.receiving.lambda_function_urls.count(
                                      ses::JsonString(o, "FunctionArn")))
      return ApiError{400, "", "InvalidLambdaFunction",
                      "Could not invoke Lambda function: " +
                          ses::JsonString(o, "FunctionArn") +
                          " (no URL configured in "
                          "receiving.lambda_function_urls)"};
    if (type == "S3Action" && config.receiving.s3_endpoint.empty())
      return ApiError{
          400, "", "InvalidS3Configuration",
          "Could not write to bucket: " + ses::JsonString(o, "BucketName") +
              " (receiving.s3_endpoint is not configured)"};
  }
  return std::nullopt;
}

void Api::Impl::V1ReceiptRules(V1Call& c) {
  auto& rr = resources.receipt_rules();
  Form& f = c.form;
  const std::string& a = c.action;
  auto answer = [&](const Status& s, const std::string& xml = "") {
    c.done(s.ok() ? V1Ok(a, xml) : V1Error(ReceiptError(s.error())));
  };
  auto rule_of = [&]() -> std::variant<json::object, ApiError> {
    json::value tree = FormTree(f, "Rule");
    if (!tree.is_object()) return BadRequest("Rule is required");
    auto r = ses::ReceiptRules::NormalizeRule(tree.as_object());
    if (!r.ok()) return ReceiptError(r.error());
    if (auto e = CheckReceiptActions(*r)) return *e;
    return std::move(*r);
  };
  if (a == "CreateReceiptRuleSet")
    return answer(rr.CreateRuleSet(f["RuleSetName"]));
  if (a == "DeleteReceiptRuleSet")
    return answer(rr.DeleteRuleSet(f["RuleSetName"]));
  if (a == "CloneReceiptRuleSet")
    return answer(rr.CloneRuleSet(f["RuleSetName"], f["OriginalRuleSetName"]));
  if (a == "SetActiveReceiptRuleSet")
    return answer(rr.SetActive(f["RuleSetName"]));
  if (a == "ReorderReceiptRuleSet")
    return answer(rr.Reorder(f["RuleSetName"], Members(f, "RuleNames")));
  if (a == "DescribeReceiptRuleSet") {
    auto set = rr.GetRuleSet(f["RuleSetName"]);
    if (!set.ok()) return answer(set.error());
    return answer(Ok{}, "<Metadata>" + MetadataXml(*set) + "</Metadata>" +
                            RulesXml(*set));
  }
  if (a == "DescribeActiveReceiptRuleSet") {
    auto set = rr.Active();
    if (!set.ok()) return answer(set.error());
    if (!*set) return answer(Ok{});
    return answer(Ok{}, "<Metadata>" + MetadataXml(**set) + "</Metadata>" +
                            RulesXml(**set));
  }
  if (a == "ListReceiptRuleSets") {
    auto sets = rr.ListRuleSets();
    if (!sets.ok()) return answer(sets.error());
    std::string xml = "<RuleSets>";
    for (const auto& s : *sets)
      xml += "<member>" + MetadataXml(s) + "</member>";
    return answer(Ok{}, xml + "</RuleSets>");
  }
  if (a == "CreateReceiptRule" || a == "UpdateReceiptRule") {
    auto rule = rule_of();
    if (auto* e = std::get_if<ApiError>(&rule)) return c.done(V1Error(*e));
    auto& r = std::get<json::object>(rule);
    return answer(a == "CreateReceiptRule"
                      ? rr.CreateRule(f["RuleSetName"], r, f["After"])
                      : rr.UpdateRule(f["RuleSetName"], r));
  }
  if (a == "DeleteReceiptRule")
    return answer(rr.DeleteRule(f["RuleSetName"], f["RuleName"]));
  if (a == "DescribeReceiptRule") {
    auto r = rr.GetRule(f["RuleSetName"], f["RuleName"]);
    if (!r.ok()) return answer(r.error());
    return answer(Ok{}, "<Rule>" + QueryXml(*r) + "</Rule>");
  }
  if (a == "SetReceiptRulePosition")
    return answer(
        rr.SetRulePosition(f["RuleSetName"], f["RuleName"], f["After"]));
  if (a == "CreateReceiptFilter") {
    json::value tree = FormTree(f, "Filter");
    if (!tree.is_object())
      return c.done(V1Error(BadRequest("Filter is required")));
    return answer(rr.CreateFilter(tree.as_object()));
  }
  if (a == "DeleteReceiptFilter")
    return answer(rr.DeleteFilter(f["FilterName"]));
  if (a == "ListReceiptFilters") {
    auto filters = rr.ListFilters();
    if (!filters.ok()) return answer(filters.error());
    std::string xml = "<Filters>";
    for (const auto& x : *filters)
      xml += "<member>" + QueryXml(x) + "</member>";
    return answer(Ok{}, xml + "</Filters>");
  }
  c.done(V1Error({500, "", "InternalFailure", "no handler for " + a}));
}

namespace {

// SendBounce's bounce types as enhanced status codes.
std::string StatusOfBounceType(const std::string& type) {
  static const std::map<std::string, std::string> kStatus = {
      {"DoesNotExist", "5.1.1"},  {"MessageTooLarge", "5.3.4"},
      {"ExceededQuota", "5.2.2"}, {"ContentRejected", "5.6.1"},
      {"Undefined", "5.0.0"},     {"TemporaryFailure", "4.0.0"}};
  auto it = kStatus.find(type);
  return it == kStatus.end() ? "" : it->second;
}

std::string Upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A DSN field's value: one line of printable ASCII (it becomes a header of
// the report).
bool OneLine(const std::string& v) {
  for (char c : v)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return v.size() <= 998;
}

}  // namespace

void Api::Impl::V1SendBounce(V1Call& c) {
  Form& f = c.form;
  ses::BounceRequest req;
  req.original_message_id = f["OriginalMessageId"];
  auto sender = FieldMailbox(f["BounceSender"]);
  if (!sender.ok())
    return c.done(V1Error(
        BadRequest("Invalid BounceSender: " + sender.error().message())));
  if (!resources.identities().Verified(*sender))
    return c.done(V1Error(Rejected(
        "Email address is not verified. The following identities failed the "
        "check in region " +
        Upper(config.api_region) + ": " + *sender)));
  req.sender = *sender;
  req.explanation = f["Explanation"];
  std::string mta = f["MessageDsn.ReportingMta"];
  if (size_t semi = mta.find(';'); semi != std::string::npos)
    mta = TrimCopy(mta.substr(semi + 1));
  req.reporting_mta = mta;
  if (!OneLine(mta) || mta.find(' ') != std::string::npos)
    return c.done(V1Error(BadRequest("Invalid MessageDsn.ReportingMta")));
  json::value list = FormTree(f, "BouncedRecipientInfoList");
  if (!list.is_array() || list.as_array().empty())
    return c.done(V1Error(BadRequest("BouncedRecipientInfoList is empty")));
  for (const auto& item : list.as_array()) {
    if (!item.is_object()) continue;
    const json::object& o = item.as_object();
    auto address = FieldMailbox(ses::JsonString(o, "Recipient"));
    if (!address.ok())
      return c.done(V1Error(
          BadRequest("Invalid Recipient: " + ses::JsonString(o, "Recipient"))));
    ses::BounceRequest::Recipient r;
    r.address = *address;
    std::string type = ses::JsonString(o, "BounceType");
    json::object dsn;
    if (auto* d = o.if_contains("RecipientDsnFields"); d && d->is_object())
      dsn = d->as_object();
    if (type.empty() && dsn.empty())
      return c.done(V1Error(BadRequest(
          "Either BounceType or RecipientDsnFields must be given for " +
          r.address)));
    if (!type.empty() && StatusOfBounceType(type).empty())
      return c.done(V1Error(BadRequest("Invalid BounceType: " + type)));
    r.status = ses::JsonString(dsn, "Status");
    if (r.status.empty()) r.status = StatusOfBounceType(type);
    if (r.status.size() < 5 || (r.status[0] != '4' && r.status[0] != '5') ||
        r.status.find_first_not_of("0123456789.") != std::string::npos)
      return c.done(V1Error(BadRequest("Invalid Status: " + r.status)));
    r.diagnostic = ses::JsonString(dsn, "DiagnosticCode");
    r.remote_mta = ses::JsonString(dsn, "RemoteMta");
    if (!OneLine(r.diagnostic) || !OneLine(r.remote_mta))
      return c.done(V1Error(BadRequest(
          "RecipientDsnFields values must be one line of printable ASCII")));
    req.recipients.push_back(std::move(r));
  }
  if (!OneLine(req.original_message_id))
    return c.done(V1Error(BadRequest("Invalid OriginalMessageId")));
  if (!services.send_bounce)
    return c.done(
        V1Error({500, "", "InternalFailure", "receiving is not running"}));
  services.send_bounce(req, [done = std::move(c.done)](Result<std::string> id) {
    if (id.ok())
      return done(
          V1Ok("SendBounce", "<MessageId>" + XmlEscape(*id) + "</MessageId>"));
    if (id.error().code() == "not_found")
      return done(V1Error(Rejected(id.error().message())));
    if (id.error().code() == "invalid")
      return done(V1Error(BadRequest(id.error().message())));
    done(V1Error({500, "", "InternalFailure", id.error().message()}));
  });
}

// The receipt actions' rows of the v1 route table, with the members SES's
// model requires.
void Api::Impl::AddReceiptRoutes(Router<V1Handler>& r) {
  auto add = [&r](const char* action, std::vector<std::string> required) {
    r.Action(action, true, &Impl::V1ReceiptRules, std::move(required));
  };
  add("CreateReceiptRuleSet", {"RuleSetName"});
  add("DeleteReceiptRuleSet", {"RuleSetName"});
  add("DescribeReceiptRuleSet", {"RuleSetName"});
  add("ListReceiptRuleSets", {});
  add("CloneReceiptRuleSet", {"RuleSetName", "OriginalRuleSetName"});
  add("SetActiveReceiptRuleSet", {});
  add("DescribeActiveReceiptRuleSet", {});
  add("ReorderReceiptRuleSet", {"RuleSetName", "RuleNames"});
  add("CreateReceiptRule", {"RuleSetName", "Rule"});
  add("UpdateReceiptRule", {"RuleSetName", "Rule"});
  add("DeleteReceiptRule", {"RuleSetName", "RuleName"});
  add("DescribeReceiptRule", {"RuleSetName", "RuleName"});
  add("SetReceiptRulePosition", {"RuleSetName", "RuleName"});
  add("CreateReceiptFilter", {"Filter"});
  add("DeleteReceiptFilter", {"FilterName"});
  add("ListReceiptFilters", {});
  r.Action("SendBounce", true, &Impl::V1SendBounce,
           {"OriginalMessageId", "BounceSender", "BouncedRecipientInfoList"});
}

}  // namespace sesame::api
