// SES v2: the route table for sends, the account and template rendering;
// SendEmail and SendBulkEmail.
#include "api/impl.h"
#include "api/v2_resource_routes.h"

namespace sesame::api {

void Api::Impl::V2SendEmail(const HttpRequest& req, Caller caller,
                            std::function<void(HttpResponse)> done) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    done(V2Error(BadRequest("Request body is not a valid JSON object: " +
                            (ec ? ec.message() : "not an object"))));
    return;
  }
  const json::object& o = v.as_object();
  auto* content_v = o.if_contains("Content");
  if (!content_v || !content_v->is_object()) {
    done(V2Error(BadRequest("Missing required field Content")));
    return;
  }
  const json::object& content = content_v->as_object();
  int kinds = content.contains("Simple") + content.contains("Raw") +
              content.contains("Template");
  if (kinds != 1) {
    done(V2Error(BadRequest(
        "Content must contain exactly one of Simple, Raw or Template")));
    return;
  }
  Outgoing out;
  out.caller = std::move(caller);
  // Sending authorization names the v1 action of the content; IAM knows
  // the v2 operation's own, ses:SendEmail.
  out.caller.action = out.caller.iam_user          ? "ses:SendEmail"
                      : content.contains("Simple") ? "ses:SendEmail"
                      : content.contains("Raw")    ? "ses:SendRawEmail"
                                                   : "ses:SendTemplatedEmail";
  out.caller.identity_arn = JsonString(o, "FromEmailAddressIdentityArn");
  out.config_set = JsonString(o, "ConfigurationSetName");
  auto tags = V2MessageTags(o.if_contains("EmailTags"));
  if (auto* e = std::get_if<ApiError>(&tags)) {
    done(V2Error(*e));
    return;
  }
  out.tags = std::move(std::get<MessageTags>(tags));
  if (auto e = CheckMessageTags(out.tags)) {
    done(V2Error(*e));
    return;
  }
  std::string from = JsonString(o, "FromEmailAddress");
  std::vector<std::string> rcpts;
  bool destination_given = false;
  if (auto* d = o.if_contains("Destination")) {
    if (!d->is_object()) {
      done(V2Error(BadRequest("Destination must be an object")));
      return;
    }
    destination_given = true;
    for (const char* k : {"ToAddresses", "CcAddresses", "BccAddresses"}) {
      auto l = StrList(d->as_object(), k);
      if (l.index() == 1) {
        done(V2Error(std::get<1>(l)));
        return;
      }
      for (auto& a : std::get<0>(l)) rcpts.push_back(a);
    }
  }
  std::string id = NewMessageId(NowMillis());
  // Simple and Template content end the same way: SES's Message-ID and
  // Date, the envelope from the From address.
  auto build = [&](mime::SimpleMessage& m) {
    auto built = BuildSesMessage(m, id, config.api_message_id_domain);
    if (!built.ok()) {
      done(V2Error(BadRequest(built.error().message())));
      return false;
    }
    out.content = std::move(*built);
    out.envelope_from = mime::AddrSpec(from);
    out.sender = out.envelope_from;
    return true;
  };
  if (content.contains("Simple")) {
    if (!content.at("Simple").is_object()) {
      done(V2Error(BadRequest("Content.Simple must be an object")));
      return;
    }
    const json::object& s = content.at("Simple").as_object();
    mime::SimpleMessage m;
    m.from = from;
    if (auto e = CheckSender(from)) {
      done(V2Error(*e));
      return;
    }
    const json::object* d = o.if_contains("Destination")
                                ? &o.at("Destination").as_object()
                                : nullptr;
    if (d) {
      m.to = std::get<0>(StrList(*d, "ToAddresses"));
      m.cc = std::get<0>(StrList(*d, "CcAddresses"));
    }
    auto reply_to = StrList(o, "ReplyToAddresses");
    if (reply_to.index() == 1) {
      done(V2Error(std::get<1>(reply_to)));
      return;
    }
    m.reply_to = std::get<0>(reply_to);
    auto* subj = s.if_contains("Subject");
    if (!subj || !subj->is_object() || !subj->as_object().contains("Data")) {
      done(V2Error(
          BadRequest("Missing required field Content.Simple.Subject.Data")));
      return;
    }
    m.subject = JsonString(subj->as_object(), "Data");
    if (auto* body = s.if_contains("Body"); body && body->is_object()) {
      const auto& b = body->as_object();
      if (auto* t = b.if_contains("Text"); t && t->is_object())
        m.text = JsonString(t->as_object(), "Data");
      if (auto* h = b.if_contains("Html"); h && h->is_object())
        m.html = JsonString(h->as_object(), "Data");
    }
    if (auto* hs = s.if_contains("Headers"); hs && hs->is_array()) {
      for (const auto& h : hs->as_array()) {
        if (!h.is_object()) continue;
        std::string name = JsonString(h.as_object(), "Name"),
                    value = JsonString(h.as_object(), "Value");
        if (name.empty() || name.size() > 126 || value.empty() ||
            value.size() > 995) {
          done(V2Error(BadRequest(
              "Header names must be 1-126 characters and values 1-995")));
          return;
        }
        m.headers.emplace_back(name, value);
      }
    }
    if (auto* as = s.if_contains("Attachments"); as && as->is_array()) {
      for (const auto& a : as->as_array()) {
        if (!a.is_object()) continue;
        const auto& ao = a.as_object();
        auto bytes = Base64Decode(JsonString(ao, "RawContent"));
        if (!bytes) {
          done(V2Error(
              BadRequest("Attachments[].RawContent is not valid base64")));
          return;
        }
        mime::Attachment att;
        att.filename = JsonString(ao, "FileName");
        att.content_type = JsonString(ao, "ContentType").empty()
                               ? "application/octet-stream"
                               : JsonString(ao, "ContentType");
        att.content = std::move(*bytes);
        att.inline_disposition =
            JsonString(ao, "ContentDisposition") == "INLINE";
        att.content_id = JsonString(ao, "ContentId");
        m.attachments.push_back(std::move(att));
      }
    }
    if (!build(m)) return;
  } else if (content.contains("Raw")) {
    const json::value& raw_v = content.at("Raw");
    std::string data =
        raw_v.is_object() ? JsonString(raw_v.as_object(), "Data") : "";
    auto raw = Base64Decode(data);
    if (!raw || raw->empty()) {
      done(V2Error(BadRequest(
          "Content.Raw.Data must be the base64 of an RFC 5322 message")));
      return;
    }
    if (auto e = PrepareRawOutgoing(std::move(*raw), id, !destination_given,
                                    from, &rcpts, &out)) {
      done(V2Error(*e));
      return;
    }
  } else {
    // Template: by name (or ARN) or inline content.
    const json::value& tv = content.at("Template");
    if (!tv.is_object()) {
      done(V2Error(BadRequest("Content.Template must be an object")));
      return;
    }
    const json::object& t = tv.as_object();
    auto tc = TemplateOf(t);
    if (!tc.ok()) {
      done(Fail(tc.error()));
      return;
    }
    const std::string& name = tc->name;
    if (auto e = CheckSender(from)) {
      done(V2Error(*e));
      return;
    }
    auto rendered = Render(*tc, JsonString(t, "TemplateData"));
    if (rendered.index() == 1) {
      const ApiError& e = std::get<1>(rendered);
      if (e.v1_code == "MissingRenderingAttribute") {
        RecordRenderingFailure(id, name, e.message, from, out.config_set, rcpts,
                               req.remote_ip);
        done(JsonOk("{\"MessageId\":\"" + id + "\"}"));
      } else {
        done(V2Error(e));
      }
      return;
    }
    mime::SimpleMessage m;
    m.from = from;
    if (auto* d = o.if_contains("Destination")) {
      m.to = std::get<0>(StrList(d->as_object(), "ToAddresses"));
      m.cc = std::get<0>(StrList(d->as_object(), "CcAddresses"));
    }
    m.reply_to = std::get<0>(StrList(o, "ReplyToAddresses"));
    m.subject = std::get<0>(rendered).subject;
    m.text = std::get<0>(rendered).text;
    m.html = std::get<0>(rendered).html;
    if (auto* hs = t.if_contains("Headers"); hs && hs->is_array()) {
      for (const auto& h : hs->as_array()) {
        if (h.is_object())
          m.headers.emplace_back(JsonString(h.as_object(), "Name"),
                                 JsonString(h.as_object(), "Value"));
      }
    }
    if (!build(m)) return;
  }
  // Bounces and complaints go to the feedback address: it is the return
  // path, so it must be a valid mailbox like any other.
  if (std::string fb = JsonString(o, "FeedbackForwardingEmailAddress");
      !fb.empty()) {
    auto spec = FieldMailbox(fb);
    if (!spec.ok()) {
      done(V2Error(InvalidAddress("Invalid FeedbackForwardingEmailAddress", fb,
                                  spec.error())));
      return;
    }
    out.envelope_from = *spec;
  }
  if (auto e = CheckConfigSet(out.config_set)) {
    done(V2Error(*e));
    return;
  }
  if (auto e = CheckRecipients(rcpts)) {
    done(V2Error(*e));
    return;
  }
  if (out.content.size() > config.limits.max_message_bytes) {
    done(V2Error(Rejected("Message length is more than " +
                          std::to_string(config.limits.max_message_bytes) +
                          " bytes long.")));
    return;
  }
  out.recipients = std::move(rcpts);
  Commit(std::move(out), id, req.remote_ip,
         [done, id](std::optional<ApiError> e) {
           done(e ? V2Error(*e) : JsonOk("{\"MessageId\":\"" + id + "\"}"));
         });
}

// Content.Template (or a bulk send's DefaultContent.Template): its inline
// TemplateContent, else the stored template named by TemplateName or
// TemplateArn.
Result<ses::Template> Api::Impl::TemplateOf(const json::object& t) {
  std::string name = JsonString(t, "TemplateName");
  if (std::string arn = JsonString(t, "TemplateArn");
      name.empty() && !arn.empty())
    name = arn.substr(arn.rfind('/') + 1);
  if (auto* inl = t.if_contains("TemplateContent"); inl && inl->is_object()) {
    const json::object& c = inl->as_object();
    return ses::Template{name, JsonString(c, "Subject"), JsonString(c, "Text"),
                         JsonString(c, "Html")};
  }
  if (name.empty())
    return ses::Invalid(
        "Content.Template needs TemplateName, TemplateArn or TemplateContent");
  return resources.templates().Get(name);
}

// The v2 operations this file answers: method, path, owner only?,
// handler. The resource operations (identities, configuration sets,
// templates, suppression, pools, tags) are api/v2_resources.cc's.
const Router<Api::Impl::V2Handler>& Api::Impl::V2Routes() {
  static const Router<V2Handler> routes = [] {
    Router<V2Handler> r;
    r.Rest("POST", "/v2/email/outbound-emails", false, &Impl::V2OpSendEmail);
    r.Rest("POST", "/v2/email/outbound-bulk-emails", false,
           &Impl::V2OpSendBulkEmail);
    r.Rest("GET", "/v2/email/account", true, &Impl::V2OpGetAccount);
    r.Rest("POST", "/v2/email/outbound-custom-verification-emails", true,
           &Impl::V2OpSendCustomVerificationEmail);
    r.Rest("POST", "/v2/email/templates/{name}/render", true,
           &Impl::V2OpTestRenderEmailTemplate);
    return r;
  }();
  return routes;
}

void Api::Impl::V2(const HttpRequest& req,
                   std::function<void(HttpResponse)> done) {
  Caller caller;
  caller.api = "2";
  if (auto e = Authenticate(req, &caller)) {
    done(V2Error(*e));
    return;
  }
  auto match = V2Routes().FindRest(req.method, PathSegments(req.path));
  bool send = match && !match->route->owner_only;
  if (caller.iam_user && !send) {
    // Sends are admission's to authorize (the identity is the From's).
    auto [action, resource] = V2Action(req);
    if (action.empty()) action = "ses:" + req.method + " " + req.path;
    if (auto e = Authorize(caller, req, action, resource, BodyTags(req.body))) {
      done(V2Error(*e));
      return;
    }
  } else if (!caller.owner && !caller.iam_user && !send) {
    // Keys of other accounts only send, as identity policies allow.
    done(V2Error(NotAuthorized(caller, req.method + " " + req.path,
                               "the account's resources")));
    return;
  }
  if (match) {
    V2Call call{req, std::move(caller), std::move(match->params),
                std::move(done)};
    (this->*(match->route->handler))(call);
    return;
  }
  // Resource operations read and write the state store: on the store
  // thread, never the network loop (a write waits on SQLite's fsync).
  auto owned = std::make_shared<HttpRequest>(req);
  store_thread.Post([this, owned, done = std::move(done)] {
    if (auto r = HandleV2Resources(&resources, *owned)) {
      done(std::move(*r));
      return;
    }
    done(V2Error({404, "NotFoundException", "InvalidAction",
                  "Operation " + owned->method + " " + owned->path +
                      " is not supported by this Sesame version"}));
  });
}

void Api::Impl::V2OpSendEmail(V2Call& c) {
  V2SendEmail(c.req, std::move(c.caller), std::move(c.done));
}

void Api::Impl::V2OpSendBulkEmail(V2Call& c) {
  c.caller.action =
      c.caller.iam_user ? "ses:SendBulkEmail" : "ses:SendBulkTemplatedEmail";
  V2SendBulk(c.req, std::move(c.caller), std::move(c.done));
}

void Api::Impl::V2OpGetAccount(V2Call& c) {
  auto [max24, rate, sent24] = QuotaFigures();
  std::string enforcement =
      services.enforcement_status ? services.enforcement_status() : "HEALTHY";
  char buf[400];
  std::snprintf(
      buf, sizeof buf,
      "{\"SendQuota\":{\"Max24HourSend\":%.1f,\"MaxSendRate\":%."
      "1f,\"SentLast24Hours\":%.1f},"
      "\"SendingEnabled\":%s,\"ProductionAccessEnabled\":%s,"
      "\"EnforcementStatus\":\"%s\","
      "\"DedicatedIpAutoWarmupEnabled\":%s,"
      "\"SuppressionAttributes\":{\"SuppressedReasons\":",
      max24, rate, sent24,
      resources.account().SendingEnabled() ? "true" : "false",
      config.api_sandbox ? "false" : "true", enforcement.c_str(),
      resources.account().DedicatedIpAutoWarmupEnabled() ? "true" : "false");
  json::array reasons;
  for (const auto& r : resources.account().SuppressedReasons())
    reasons.push_back(json::string(r));
  c.done(JsonOk(std::string(buf) + json::serialize(reasons) + "}}"));
}

void Api::Impl::V2OpTestRenderEmailTemplate(V2Call& c) {
  const std::string& name = c.params[0];
  boost::system::error_code ec;
  json::value body = json::parse(c.req.body, ec);
  const json::value* given = !ec && body.is_object()
                                 ? body.as_object().if_contains("TemplateData")
                                 : nullptr;
  if (!given || !given->is_string()) {
    c.done(V2Error(BadRequest("TemplateData is required")));
    return;
  }
  std::string data(given->as_string());
  auto tc = resources.templates().Get(name);
  if (!tc.ok()) {
    c.done(Fail(tc.error()));
    return;
  }
  auto rendered = Render(*tc, data);
  if (rendered.index() == 1) {
    c.done(V2Error(std::get<1>(rendered)));
    return;
  }
  auto built = BuildRendered(std::get<0>(rendered));
  if (!built.ok()) {
    c.done(V2Error(BadRequest(built.error().message())));
    return;
  }
  json::object out;
  out["RenderedTemplate"] = *built;
  c.done(JsonOk(json::serialize(out)));
}

// SendBulkEmail: one message per entry, each committed on its own (they
// share group commits), one result per entry in input order.
void Api::Impl::V2SendBulk(const HttpRequest& req, Caller caller,
                           std::function<void(HttpResponse)> done) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    done(V2Error(BadRequest("Request body is not a valid JSON object")));
    return;
  }
  const json::object& o = v.as_object();
  std::string from = JsonString(o, "FromEmailAddress");
  auto* dc = o.if_contains("DefaultContent");
  auto* entries = o.if_contains("BulkEmailEntries");
  if (!dc || !dc->is_object() || !dc->as_object().contains("Template") ||
      !entries || !entries->is_array() || entries->as_array().empty()) {
    done(V2Error(BadRequest(
        "DefaultContent.Template and BulkEmailEntries are required")));
    return;
  }
  if (entries->as_array().size() > 50) {
    done(V2Error(BadRequest("BulkEmailEntries may hold at most 50 entries")));
    return;
  }
  const json::object& t = dc->as_object().at("Template").as_object();
  auto tc = TemplateOf(t);
  if (!tc.ok()) {
    done(Fail(tc.error()));
    return;
  }
  const std::string& name = tc->name;
  if (auto e = CheckSender(from)) {
    done(V2Error(*e));
    return;
  }
  std::string config_set = JsonString(o, "ConfigurationSetName");
  if (auto e = CheckConfigSet(config_set)) {
    done(V2Error(*e));
    return;
  }
  caller.identity_arn = JsonString(o, "FromEmailAddressIdentityArn");
  auto default_tags = V2MessageTags(o.if_contains("DefaultEmailTags"));
  if (auto* e = std::get_if<ApiError>(&default_tags)) {
    done(V2Error(*e));
    return;
  }
  // Default data, overlaid by each entry's replacement data.
  boost::system::error_code dec;
  json::value defaults = json::parse(JsonString(t, "TemplateData").empty()
                                         ? "{}"
                                         : JsonString(t, "TemplateData"),
                                     dec);
  if (dec || !defaults.is_object()) {
    done(V2Error(BadRequest(
        "DefaultContent.Template.TemplateData is not a JSON object")));
    return;
  }
  const json::array& list = entries->as_array();
  std::vector<BulkEntry> parsed;
  for (const auto& item : list) {
    BulkEntry be;
    be.tags = std::get<MessageTags>(default_tags);
    if (item.is_object()) {
      const json::object& e = item.as_object();
      auto replacements = V2MessageTags(e.if_contains("ReplacementTags"));
      if (auto* err = std::get_if<ApiError>(&replacements)) {
        done(V2Error(*err));
        return;
      }
      be.tags =
          MergeTags(std::move(be.tags), std::get<MessageTags>(replacements));
      if (auto* d = e.if_contains("Destination"); d && d->is_object()) {
        be.to = std::get<0>(StrList(d->as_object(), "ToAddresses"));
        be.cc = std::get<0>(StrList(d->as_object(), "CcAddresses"));
        be.bcc = std::get<0>(StrList(d->as_object(), "BccAddresses"));
      }
      if (auto* rc = e.if_contains("ReplacementEmailContent");
          rc && rc->is_object()) {
        if (auto* rt = rc->as_object().if_contains("ReplacementTemplate");
            rt && rt->is_object()) {
          be.replacement_data =
              JsonString(rt->as_object(), "ReplacementTemplateData");
        }
      }
      if (auto* hs = e.if_contains("ReplacementHeaders");
          hs && hs->is_array()) {
        for (const auto& h : hs->as_array()) {
          if (h.is_object())
            be.headers.emplace_back(JsonString(h.as_object(), "Name"),
                                    JsonString(h.as_object(), "Value"));
        }
      }
    }
    if (auto err = CheckMessageTags(be.tags)) {  // defaults and replacements
      done(V2Error(*err));
      return;
    }
    parsed.push_back(std::move(be));
  }
  auto gather = std::make_shared<Gather>();
  gather->results.resize(parsed.size());
  gather->pending = parsed.size();
  gather->done =
      [done = std::move(done)](const std::vector<std::string>& results) {
        std::string body = "{\"BulkEmailEntryResults\":[";
        for (size_t k = 0; k < results.size(); ++k)
          body += (k ? "," : "") + results[k];
        done(JsonOk(body + "]}"));
      };
  for (size_t i = 0; i < parsed.size(); ++i) {
    SendBulkEntry(
        *tc, name, defaults.as_object(), parsed[i], from, config_set,
        req.remote_ip, caller,
        [gather, i](EntryOutcome o, const std::string& id,
                    const std::string& error) {
          static const char* kNames[] = {
              "SUCCESS", "MESSAGE_REJECTED", "INVALID_PARAMETER",
              "TRANSIENT_FAILURE", "ACCOUNT_THROTTLED"};
          gather->Set(
              i,
              "{\"Status\":\"" + std::string(kNames[static_cast<int>(o)]) +
                  "\"" + (id.empty() ? "" : ",\"MessageId\":\"" + id + "\"") +
                  (error.empty() ? ""
                                 : ",\"Error\":\"" + JsonEscape(error) + "\"") +
                  "}");
        });
  }
}

}  // namespace sesame::api
