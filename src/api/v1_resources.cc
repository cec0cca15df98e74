// SES v1 Query API: the route table and its non-send operations
// (identities, templates, configuration sets, MAIL FROM, notifications,
// policies, DKIM).
#include "api/impl.h"

namespace sesame::api {

// --- SES v1 ----------------------------------------------------------------
// The IAM Query API (service "iam" in the signature): authorized here,
// answered on the store thread.
void Api::Impl::IamQuery(const HttpRequest& req, const Caller& caller,
                         const std::string& action,
                         std::map<std::string, std::string> form,
                         std::function<void(HttpResponse)> done) {
  if (!caller.owner && !caller.iam_user) {
    done(V1Error({403, "", "AccessDenied",
                  auth::DeniedMessage(caller.who.Arn(), "iam:" + action, "*")},
                 kIamXmlns));
    return;
  }
  if (auto e = Authorize(caller, req, "iam:" + action,
                         QueryResource("iam", action, form), FormTags(form))) {
    done(V1Error(*e, kIamXmlns));
    return;
  }
  auto owned =
      std::make_shared<std::map<std::string, std::string>>(std::move(form));
  store_thread.Post([this, caller, action, owned, done = std::move(done)] {
    done(Iam(caller, action, *owned));
  });
}

void Api::Impl::V1(const HttpRequest& req,
                   std::function<void(HttpResponse)> done) {
  Caller caller;
  caller.api = "1";
  std::string service;
  if (auto e = Authenticate(req, &caller, &service)) {
    done(V1Error(*e));
    return;
  }
  auto form = ParseForm(req.body);
  std::string action = form.count("Action") ? form["Action"] : "";
  if (action.empty()) {
    done(V1Error({400, "", "MissingAction", "Missing Action parameter"}));
    return;
  }
  if (service == "iam") {
    IamQuery(req, caller, action, std::move(form), std::move(done));
    return;
  }
  if (service == "sns" && caller.iam_user) {
    if (auto e =
            Authorize(caller, req, "sns:" + action,
                      QueryResource("sns", action, form), FormTags(form))) {
      done(V1Error(*e));
      return;
    }
  }
  if (services.sns && (caller.owner || caller.iam_user) &&
      services.sns(action, form, done))
    return;
  caller.action = "ses:" + action;
  // SourceArn (SendEmail, templated) or FromArn (SendRawEmail) names the
  // identity a delegate sends for.
  caller.identity_arn =
      !form["SourceArn"].empty() ? form["SourceArn"] : form["FromArn"];
  const auto* route = V1Routes().FindAction(action);
  if (!route && (route = SnsRoutes().FindAction(action)))
    caller.action = "sns:" + action;
  if (!route) {
    done(V1Error(
        {400, "", "InvalidAction",
         "The action " + action + " is not valid for this web service."}));
    return;
  }
  // An IAM user's sends are authorized by admission (the identity is the
  // From address's); everything else here.
  if (caller.iam_user && route->owner_only) {
    std::string prefix = caller.action.substr(0, caller.action.find(':'));
    if (auto e =
            Authorize(caller, req, caller.action,
                      QueryResource(prefix, action, form), FormTags(form))) {
      done(V1Error(*e));
      return;
    }
  } else if (!caller.owner && !caller.iam_user && route->owner_only) {
    done(V1Error(
        NotAuthorized(caller, "ses:" + action, "the account's resources")));
    return;
  }
  if (std::string m = Router<V1Handler>::MissingMember(*route, form);
      !m.empty()) {
    done(V1Error(MissingMemberError(m)));
    return;
  }
  if (!route->owner_only) {  // the sends: admission, then the spool
    V1Call call{req, caller, action, form, std::move(done)};
    (this->*(route->handler))(call);
    return;
  }
  // Everything else reads or writes the state store: on the store thread,
  // never the network loop (a write waits on SQLite's fsync).
  struct Owned {
    HttpRequest req;
    Caller caller;
    std::string action;
    std::map<std::string, std::string> form;
  };
  auto owned = std::make_shared<Owned>(Owned{req, caller, action, form});
  store_thread.Post([this, owned, handler = route->handler,
                     done = std::move(done)]() mutable {
    V1Call call{owned->req, owned->caller, owned->action, owned->form,
                std::move(done)};
    (this->*handler)(call);
  });
}

// AWS's answer to a Query request without a required member: the member in
// lowerCamelCase, as AWS's validator names it.
ApiError Api::Impl::MissingMemberError(const std::string& member) {
  std::string camel = member;
  if (!camel.empty()) camel[0] = static_cast<char>(std::tolower(camel[0]));
  return {400, "ValidationException", "ValidationError",
          "1 validation error detected: Value null at '" + camel +
              "' failed to satisfy constraint: Member must not be null"};
}

// The v1 Query API's operations: Action, owner only?, handler, required
// members. Keys of
// other accounts may call the send operations only.
const Router<Api::Impl::V1Handler>& Api::Impl::V1Routes() {
  static const Router<V1Handler> routes = [] {
    Router<V1Handler> r;
    r.Action("SendEmail", false, &Impl::V1SendEmail,
             {"Source", "Destination", "Message"});
    r.Action("SendRawEmail", false, &Impl::V1SendEmail, {"RawMessage"});
    r.Action("GetSendQuota", true, &Impl::V1GetSendQuota);
    r.Action("GetSendStatistics", true, &Impl::V1GetSendStatistics);
    r.Action("VerifyEmailIdentity", true, &Impl::V1VerifyIdentity,
             {"EmailAddress"});
    r.Action("VerifyEmailAddress", true, &Impl::V1VerifyIdentity,
             {"EmailAddress"});
    r.Action("VerifyDomainIdentity", true, &Impl::V1VerifyIdentity, {"Domain"});
    r.Action("ListIdentities", true, &Impl::V1ListIdentities);
    r.Action("GetIdentityVerificationAttributes", true,
             &Impl::V1GetIdentityVerificationAttributes, {"Identities"});
    r.Action("DeleteIdentity", true, &Impl::V1DeleteIdentity, {"Identity"});
    r.Action("CreateTemplate", true, &Impl::V1PutTemplate, {"Template"});
    r.Action("UpdateTemplate", true, &Impl::V1PutTemplate, {"Template"});
    r.Action("GetTemplate", true, &Impl::V1GetTemplate, {"TemplateName"});
    r.Action("DeleteTemplate", true, &Impl::V1DeleteTemplate, {"TemplateName"});
    r.Action("ListTemplates", true, &Impl::V1ListTemplates);
    r.Action("TestRenderTemplate", true, &Impl::V1TestRenderTemplate,
             {"TemplateName", "TemplateData"});
    r.Action("SendTemplatedEmail", false, &Impl::V1SendEmail,
             {"Source", "Destination", "Template", "TemplateData"});
    r.Action("SendBulkTemplatedEmail", false, &Impl::V1SendBulkTemplatedEmail,
             {"Source", "Template", "Destinations"});
    r.Action("CreateConfigurationSet", true, &Impl::V1CreateConfigurationSet,
             {"ConfigurationSet"});
    r.Action("DeleteConfigurationSet", true,
             &Impl::V1DeleteOrDescribeConfigurationSet,
             {"ConfigurationSetName"});
    r.Action("DescribeConfigurationSet", true,
             &Impl::V1DeleteOrDescribeConfigurationSet,
             {"ConfigurationSetName"});
    r.Action("ListConfigurationSets", true, &Impl::V1ListConfigurationSets);
    r.Action("UpdateConfigurationSetSendingEnabled", true,
             &Impl::V1UpdateConfigurationSetSendingEnabled,
             {"ConfigurationSetName", "Enabled"});
    r.Action("UpdateConfigurationSetReputationMetricsEnabled", true,
             &Impl::V1UpdateConfigurationSetReputationMetricsEnabled,
             {"ConfigurationSetName", "Enabled"});
    r.Action("CreateConfigurationSetEventDestination", true,
             &Impl::V1PutEventDestination,
             {"ConfigurationSetName", "EventDestination"});
    r.Action("UpdateConfigurationSetEventDestination", true,
             &Impl::V1PutEventDestination,
             {"ConfigurationSetName", "EventDestination"});
    r.Action("DeleteConfigurationSetEventDestination", true,
             &Impl::V1DeleteEventDestination,
             {"ConfigurationSetName", "EventDestinationName"});
    r.Action("ListVerifiedEmailAddresses", true,
             &Impl::V1ListVerifiedEmailAddresses);
    r.Action("DeleteVerifiedEmailAddress", true,
             &Impl::V1DeleteVerifiedEmailAddress, {"EmailAddress"});
    // TrackingOptions is required too, but its one member is optional: an
    // empty structure does not appear in a Query request at all.
    for (const char* a : {"CreateConfigurationSetTrackingOptions",
                          "UpdateConfigurationSetTrackingOptions",
                          "DeleteConfigurationSetTrackingOptions"})
      r.Action(a, true, &Impl::V1TrackingOptions, {"ConfigurationSetName"});
    r.Action("PutConfigurationSetDeliveryOptions", true,
             &Impl::V1PutDeliveryOptions, {"ConfigurationSetName"});
    r.Action("GetAccountSendingEnabled", true, &Impl::V1AccountSendingEnabled);
    r.Action("UpdateAccountSendingEnabled", true,
             &Impl::V1AccountSendingEnabled);
    r.Action(
        "CreateCustomVerificationEmailTemplate", true,
        &Impl::V1VerificationTemplates,
        {"TemplateName", "FromEmailAddress", "TemplateSubject",
         "TemplateContent", "SuccessRedirectionURL", "FailureRedirectionURL"});
    r.Action("UpdateCustomVerificationEmailTemplate", true,
             &Impl::V1VerificationTemplates, {"TemplateName"});
    r.Action("GetCustomVerificationEmailTemplate", true,
             &Impl::V1VerificationTemplates, {"TemplateName"});
    r.Action("DeleteCustomVerificationEmailTemplate", true,
             &Impl::V1VerificationTemplates, {"TemplateName"});
    r.Action("ListCustomVerificationEmailTemplates", true,
             &Impl::V1VerificationTemplates);
    r.Action("SendCustomVerificationEmail", true,
             &Impl::V1SendCustomVerificationEmail,
             {"EmailAddress", "TemplateName"});
    r.Action("SetIdentityDkimEnabled", true, &Impl::V1SetIdentityDkimEnabled,
             {"Identity", "DkimEnabled"});
    r.Action("VerifyDomainDkim", true, &Impl::V1VerifyDomainDkim, {"Domain"});
    r.Action("SetIdentityMailFromDomain", true,
             &Impl::V1SetIdentityMailFromDomain, {"Identity"});
    r.Action("GetIdentityMailFromDomainAttributes", true,
             &Impl::V1GetIdentityMailFromDomainAttributes, {"Identities"});
    r.Action("SetIdentityNotificationTopic", true,
             &Impl::V1SetNotificationAttribute,
             {"Identity", "NotificationType"});
    r.Action("SetIdentityHeadersInNotificationsEnabled", true,
             &Impl::V1SetNotificationAttribute,
             {"Identity", "NotificationType", "Enabled"});
    r.Action("SetIdentityFeedbackForwardingEnabled", true,
             &Impl::V1SetNotificationAttribute,
             {"Identity", "ForwardingEnabled"});
    r.Action("GetIdentityNotificationAttributes", true,
             &Impl::V1GetIdentityNotificationAttributes, {"Identities"});
    r.Action("PutIdentityPolicy", true, &Impl::V1IdentityPolicy,
             {"Identity", "PolicyName", "Policy"});
    r.Action("DeleteIdentityPolicy", true, &Impl::V1IdentityPolicy,
             {"Identity", "PolicyName"});
    r.Action("GetIdentityPolicies", true, &Impl::V1IdentityPolicy,
             {"Identity", "PolicyNames"});
    r.Action("ListIdentityPolicies", true, &Impl::V1IdentityPolicy,
             {"Identity"});
    r.Action("GetIdentityDkimAttributes", true,
             &Impl::V1GetIdentityDkimAttributes, {"Identities"});
    AddReceiptRoutes(r);
    return r;
  }();
  return routes;
}

void Api::Impl::V1GetSendQuota(V1Call& c) {
  const std::string& action = c.action;
  std::function<void(HttpResponse)>& done = c.done;
  auto [max24, rate, sent24] = QuotaFigures();
  char buf[300];
  std::snprintf(buf, sizeof buf,
                "\n    <Max24HourSend>%.1f</Max24HourSend>\n    "
                "<MaxSendRate>%.1f</MaxSendRate>\n"
                "    <SentLast24Hours>%.1f</SentLast24Hours>\n  ",
                max24, rate, sent24);
  done(V1Ok(action, buf));
}

void Api::Impl::V1GetSendStatistics(V1Call& c) {
  const std::string& action = c.action;
  std::function<void(HttpResponse)>& done = c.done;
  std::string points;
  if (services.send_statistics) {
    for (const auto& p : services.send_statistics()) {
      points += "\n      <member><Timestamp>" + IsoTime(p.timestamp_ms) +
                "</Timestamp><DeliveryAttempts>" + std::to_string(p.attempts) +
                "</DeliveryAttempts><Bounces>" + std::to_string(p.bounces) +
                "</Bounces><Complaints>" + std::to_string(p.complaints) +
                "</Complaints><Rejects>" + std::to_string(p.rejects) +
                "</Rejects></member>";
    }
  }
  done(V1Ok(action,
            "\n    <SendDataPoints>" + points + "\n    </SendDataPoints>\n  "));
}

void Api::Impl::V1VerifyIdentity(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string key = action == "VerifyDomainIdentity" ? "Domain"
                    : action == "VerifyEmailAddress" ? "EmailAddress"
                                                     : "EmailAddress";
  std::string identity = form.count(key) ? form[key] : "";
  if (identity.empty() || HasCrLf(identity)) {
    done(V1Error(BadRequest("Missing or invalid " + key)));
    return;
  }
  Status added = resources.identities().Add(identity);
  if (!added.ok()) {
    done(V1Error(StoreError(added.error(), "", "")));
    return;
  }
  if (action == "VerifyDomainIdentity") {
    std::string token = VerificationToken(identity);
    done(V1Ok(action, "\n    <VerificationToken>" + XmlEscape(token) +
                          "</VerificationToken>\n  "));
  } else {
    done(V1Ok(action, ""));
  }
}

// ListIdentities: IdentityType (EmailAddress or Domain; absent: both),
// MaxItems and NextToken, walking the store's pages until one of ours is
// full; NextToken only when another identity of the type follows.
void Api::Impl::V1ListIdentities(V1Call& c) {
  std::string type;
  if (auto it = c.form.find("IdentityType"); it != c.form.end()) {
    if (it->second == "EmailAddress") {
      type = "EMAIL_ADDRESS";
    } else if (it->second == "Domain") {
      type = "DOMAIN";
    } else {
      return c.done(V1Error(
          {400, "", "ValidationError",
           "1 validation error detected: Value '" + it->second +
               "' at 'identityType' failed to satisfy constraint: Member "
               "must satisfy enum value set: [EmailAddress, Domain]"}));
    }
  }
  auto page = ParseV1Page(c.form);
  if (auto* e = std::get_if<ApiError>(&page)) return c.done(V1Error(*e));
  const V1Page& p = std::get<V1Page>(page);
  std::vector<std::string> names;
  bool more = false;
  std::string cursor = p.after;
  while (!more) {
    auto ids = resources.identities().List(cursor, 1000);
    if (!ids.ok()) return c.done(V1Error(StoreError(ids.error(), "", "")));
    for (const auto& id : ids->items) {
      if (!type.empty() && id.type != type) continue;
      if (names.size() == p.max_items) {
        more = true;
        break;
      }
      names.push_back(id.name);
    }
    if (ids->next.empty()) break;
    cursor = ids->next;
  }
  std::string members;
  for (const auto& n : names)
    members += "\n      <member>" + XmlEscape(n) + "</member>";
  std::string body = "\n    <Identities>" + members + "\n    </Identities>";
  if (more) body += V1NextToken(names.back());
  c.done(V1Ok(c.action, body + "\n  "));
}

// ListVerifiedEmailAddresses (SES's older call): the verified addresses.
void Api::Impl::V1ListVerifiedEmailAddresses(V1Call& c) {
  std::string members;
  std::string cursor;
  while (true) {
    auto ids = resources.identities().List(cursor, 1000);
    if (!ids.ok()) return c.done(V1Error(StoreError(ids.error(), "", "")));
    for (const auto& id : ids->items)
      if (id.type == "EMAIL_ADDRESS" && id.verification_status == "SUCCESS")
        members += "\n      <member>" + XmlEscape(id.name) + "</member>";
    if (ids->next.empty()) break;
    cursor = ids->next;
  }
  c.done(V1Ok(c.action, "\n    <VerifiedEmailAddresses>" + members +
                            "\n    </VerifiedEmailAddresses>\n  "));
}

void Api::Impl::V1GetIdentityVerificationAttributes(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string entries;
  for (const auto& i : Members(form, "Identities")) {
    std::string status = resources.identities().VerificationStatus(i);
    if (status.empty()) continue;
    entries += "\n      <entry><key>" + XmlEscape(i) +
               "</key><value><VerificationStatus>" + V1Status(status) +
               "</VerificationStatus>" +
               (i.find('@') == std::string::npos
                    ? "<VerificationToken>" + XmlEscape(VerificationToken(i)) +
                          "</VerificationToken>"
                    : "") +
               "</value></entry>";
  }
  done(V1Ok(action, "\n    <VerificationAttributes>" + entries +
                        "\n    </VerificationAttributes>\n  "));
}

void Api::Impl::V1DeleteIdentity(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  auto r = resources.identities().Delete(form["Identity"]);
  if (!r.ok()) {
    done(V1Error(InternalError(r.error())));
    return;
  }
  done(V1Ok(action, ""));
}

void Api::Impl::V1DeleteVerifiedEmailAddress(V1Call& c) {
  c.form["Identity"] = c.form["EmailAddress"];
  V1DeleteIdentity(c);
}

void Api::Impl::V1PutTemplate(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string name = form["Template.TemplateName"];
  if (name.empty()) {
    done(V1Error(BadRequest("Template.TemplateName is required")));
    return;
  }
  ses::Template t{name, form["Template.SubjectPart"], form["Template.TextPart"],
                  form["Template.HtmlPart"]};
  Status st = action == "CreateTemplate" ? resources.templates().Create(t)
                                         : resources.templates().Update(t);
  if (!st.ok() && st.error().code() == "not_found") {
    done(V1Error({400, "", "TemplateDoesNotExist", st.error().message()}));
    return;
  }
  if (!st.ok()) {
    done(V1Error(StoreError(st.error(), "AlreadyExists",
                            "Template " + name + " already exists.")));
    return;
  }
  done(V1Ok(action, ""));
}

void Api::Impl::V1GetTemplate(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string name = form["TemplateName"];
  auto t = resources.templates().Get(name);
  if (!t) {
    done(V1Error({400, "", "TemplateDoesNotExist",
                  "Template <" + name + "> does not exist."}));
    return;
  }
  done(V1Ok(action,
            "\n    <Template>\n      <TemplateName>" + XmlEscape(name) +
                "</TemplateName>\n      <SubjectPart>" + XmlEscape(t->subject) +
                "</SubjectPart>\n      <TextPart>" + XmlEscape(t->text) +
                "</TextPart>\n      <HtmlPart>" + XmlEscape(t->html) +
                "</HtmlPart>\n    </Template>\n  "));
}

void Api::Impl::V1DeleteTemplate(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  auto r = resources.templates().Delete(form["TemplateName"]);
  (void)r;
  done(V1Ok(action, ""));
}

// ListTemplates: SES pages templates 10 at a time unless MaxItems asks for
// up to 100 (more is read as 100), each with its CreatedTimestamp.
void Api::Impl::V1ListTemplates(V1Call& c) {
  if (auto it = c.form.find("MaxItems"); it != c.form.end()) {
    char* end = nullptr;
    long n = std::strtol(it->second.c_str(), &end, 10);
    if (!it->second.empty() && *end == '\0' && n > 100) it->second = "100";
  } else {
    c.form["MaxItems"] = "10";
  }
  auto page = ParseV1Page(c.form);
  if (auto* e = std::get_if<ApiError>(&page)) return c.done(V1Error(*e));
  const V1Page& p = std::get<V1Page>(page);
  auto list = resources.templates().List(p.after, p.max_items);
  if (!list.ok()) return c.done(V1Error(StoreError(list.error(), "", "")));
  std::string members;
  for (const auto& t : list->items)
    members += "\n      <member><Name>" + XmlEscape(t.name) +
               "</Name><CreatedTimestamp>" + IsoTime(t.created * 1000) +
               "</CreatedTimestamp></member>";
  std::string body =
      "\n    <TemplatesMetadata>" + members + "\n    </TemplatesMetadata>";
  if (!list->next.empty()) body += V1NextToken(list->next);
  c.done(V1Ok(c.action, body + "\n  "));
}

void Api::Impl::V1TestRenderTemplate(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string name = form["TemplateName"];
  auto t = resources.templates().Get(name);
  if (!t) {
    done(V1Error({400, "", "TemplateDoesNotExist",
                  "Template <" + name + "> does not exist."}));
    return;
  }
  auto rendered = Render(*t, form["TemplateData"]);
  if (rendered.index() == 1) {
    done(V1Error(std::get<1>(rendered)));
    return;
  }
  auto built = BuildRendered(std::get<0>(rendered));
  done(built.ok()
           ? V1Ok(action, "\n    <RenderedTemplate>" + XmlEscape(*built) +
                              "</RenderedTemplate>\n  ")
           : V1Error(BadRequest(built.error().message())));
}

void Api::Impl::V1CreateConfigurationSet(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string name = form["ConfigurationSet.Name"];
  if (name.empty()) {
    done(V1Error(BadRequest("ConfigurationSet.Name is required")));
    return;
  }
  Status st = resources.configuration_sets().Create(name, {});
  if (!st.ok() && st.error().code() == "invalid") {
    done(V1Error({400, "", "InvalidConfigurationSet", st.error().message()}));
    return;
  }
  if (!st.ok()) {
    done(V1Error(
        StoreError(st.error(), "ConfigurationSetAlreadyExists",
                   "Configuration set <" + name + "> already exists.")));
    return;
  }
  done(V1Ok(action, ""));
}

void Api::Impl::V1DeleteOrDescribeConfigurationSet(V1Call& c) {
  const std::string& action = c.action;
  std::string name = c.form["ConfigurationSetName"];
  auto cs = resources.configuration_sets().Get(name);
  if (!cs.ok()) return c.done(V1Error(MissingConfigurationSet(name)));
  if (action == "DeleteConfigurationSet") {
    auto r = resources.configuration_sets().Delete(name);
    (void)r;
    return c.done(V1Ok(action, ""));
  }
  std::string body = "\n    <ConfigurationSet><Name>" + XmlEscape(name) +
                     "</Name></ConfigurationSet>";
  // What ConfigurationSetAttributeNames asks for, from the stored options.
  auto option = [&cs](const char* field,
                      const char* key) -> std::optional<std::string> {
    auto* o = cs->options.if_contains(field);
    if (!o || !o->is_object()) return std::nullopt;
    auto* v = o->as_object().if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_bool()) return v->as_bool() ? "true" : "false";
    if (v->is_string()) return std::string(v->as_string());
    return std::nullopt;
  };
  for (const auto& attr : Members(c.form, "ConfigurationSetAttributeNames")) {
    if (attr == "eventDestinations") {
      body += V1EventDestinationsXml(cs->destinations);
    } else if (attr == "trackingOptions") {
      auto d = option("TrackingOptions", "CustomRedirectDomain");
      body += "\n    <TrackingOptions>" +
              (d ? "<CustomRedirectDomain>" + XmlEscape(*d) +
                       "</CustomRedirectDomain>"
                 : "") +
              "</TrackingOptions>";
    } else if (attr == "deliveryOptions") {
      // Stored in SESv2's spelling (REQUIRE, OPTIONAL); v1 says Require.
      auto tls = option("DeliveryOptions", "TlsPolicy");
      body += "\n    <DeliveryOptions><TlsPolicy>" +
              std::string(tls == "REQUIRE" || tls == "Require" ? "Require"
                                                               : "Optional") +
              "</TlsPolicy></DeliveryOptions>";
    } else if (attr == "reputationOptions") {
      bool sending = resources.configuration_sets().SendingEnabled(name);
      auto metrics = option("ReputationOptions", "ReputationMetricsEnabled");
      body += std::string("\n    <ReputationOptions><SendingEnabled>") +
              (sending ? "true" : "false") +
              "</SendingEnabled><ReputationMetricsEnabled>" +
              metrics.value_or("false") +
              "</ReputationMetricsEnabled></ReputationOptions>";
    } else {
      return c.done(V1Error(
          {400, "", "ValidationError",
           "1 validation error detected: Value '" + attr +
               "' at 'configurationSetAttributeNames' failed to satisfy "
               "constraint: Member must satisfy enum value set: "
               "[eventDestinations, trackingOptions, deliveryOptions, "
               "reputationOptions]"}));
    }
  }
  c.done(V1Ok(action, body + "\n  "));
}

void Api::Impl::V1VerifyDomainDkim(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string domain = form["Domain"];
  if (domain.empty() || HasCrLf(domain)) {
    done(V1Error(BadRequest("Domain is required")));
    return;
  }
  if (Status added = resources.identities().Add(domain); !added.ok()) {
    done(V1Error(StoreError(added.error(), "", "")));
    return;
  }
  auto key = dkim_keys.Ensure(domain);
  if (!key.ok()) {
    done(V1Error(InternalError(key.error())));
    return;
  }
  done(V1Ok(action, "\n    <DkimTokens>\n      <member>" + key->selector +
                        "</member>\n    </DkimTokens>\n  "));
}

void Api::Impl::V1SetIdentityMailFromDomain(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string behavior = "USE_DEFAULT_VALUE";
  if (auto it = form.find("BehaviorOnMXFailure"); it != form.end()) {
    if (it->second == "RejectMessage") {
      behavior = "REJECT_MESSAGE";
    } else if (it->second != "UseDefaultValue") {
      done(V1Error(
          {400, "", "ValidationError",
           "1 validation error detected: Value '" + it->second +
               "' at 'behaviorOnMXFailure' failed to satisfy constraint: "
               "Member must satisfy enum value set: [RejectMessage, "
               "UseDefaultValue]"}));
      return;
    }
  }
  Status s = resources.identities().SetMailFrom(
      form["Identity"], form["MailFromDomain"], behavior);
  if (!s.ok()) {
    done(V1Error(BadRequest(s.error().message())));
    return;
  }
  done(V1Ok(action, ""));
}

void Api::Impl::V1GetIdentityMailFromDomainAttributes(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string entries;
  for (const auto& i : Members(form, "Identities")) {
    ses::MailFrom mf = resources.identities().MailFromFor(i);
    std::string status = V1Status(mf.status);
    entries += "\n      <entry><key>" + XmlEscape(i) +
               "</key><value><MailFromDomain>" + XmlEscape(mf.domain) +
               "</MailFromDomain><MailFromDomainStatus>" + status +
               "</MailFromDomainStatus><BehaviorOnMXFailure>" +
               (mf.reject_on_failure ? "RejectMessage" : "UseDefaultValue") +
               "</BehaviorOnMXFailure></value></entry>";
  }
  done(V1Ok(action, "\n    <MailFromDomainAttributes>" + entries +
                        "\n    </MailFromDomainAttributes>\n  "));
}

void Api::Impl::V1SetNotificationAttribute(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string identity = form["Identity"];
  // SES refuses notification settings on an identity it cannot send for.
  if (resources.identities().VerificationStatus(identity) != "SUCCESS") {
    done(V1Error(Rejected("Identity <" + identity +
                          "> is not verified or does not exist.")));
    return;
  }
  Status s =
      action == "SetIdentityNotificationTopic"
          ? resources.identities().SetNotification(
                identity, "topic:" + form["NotificationType"], form["SnsTopic"])
      : action == "SetIdentityHeadersInNotificationsEnabled"
          ? resources.identities().SetNotification(
                identity, "headers:" + form["NotificationType"],
                form["Enabled"])
          : resources.identities().SetNotification(identity, "forwarding",
                                                   form["ForwardingEnabled"]);
  done(s.ok() ? V1Ok(action, "") : V1Error(BadRequest(s.error().message())));
}

void Api::Impl::V1GetIdentityNotificationAttributes(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string entries;
  for (const auto& i : Members(form, "Identities")) {
    if (!resources.identities().Exists(i)) continue;
    auto n = resources.identities().Notifications(i);
    auto topic = [&](const char* t) {
      auto it = n.topics.find(t);
      return it == n.topics.end()
                 ? std::string()
                 : "<" + std::string(t) + "Topic>" + XmlEscape(it->second) +
                       "</" + t + "Topic>";
    };
    auto headers = [&](const char* t) {
      return "<HeadersIn" + std::string(t) + "NotificationsEnabled>" +
             (n.with_headers.count(t) ? "true" : "false") + "</HeadersIn" + t +
             "NotificationsEnabled>";
    };
    entries += "\n      <entry><key>" + XmlEscape(i) + "</key><value>" +
               topic("Bounce") + topic("Complaint") + topic("Delivery") +
               "<ForwardingEnabled>" + (n.forwarding ? "true" : "false") +
               "</ForwardingEnabled>" + headers("Bounce") +
               headers("Complaint") + headers("Delivery") + "</value></entry>";
  }
  done(V1Ok(action, "\n    <NotificationAttributes>" + entries +
                        "\n    </NotificationAttributes>\n  "));
}

void Api::Impl::V1IdentityPolicy(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  V1Policy(action, form, std::move(done));
}

void Api::Impl::V1GetIdentityDkimAttributes(V1Call& c) {
  const std::string& action = c.action;
  std::map<std::string, std::string>& form = c.form;
  std::function<void(HttpResponse)>& done = c.done;
  std::string entries;
  for (const auto& i : Members(form, "Identities")) {
    std::optional<DkimKeys::Info> info;
    if (i.find('@') == std::string::npos) info = dkim_keys.Find(i);
    entries += "\n      <entry><key>" + XmlEscape(i) +
               "</key><value><DkimEnabled>" +
               std::string(info && info->signing_enabled ? "true" : "false") +
               "</DkimEnabled><DkimVerificationStatus>" +
               (!info                    ? std::string("NotStarted")
                : config.api_auto_verify ? std::string("Success")
                                         : V1Status(DkimStatusOf(i))) +
               "</DkimVerificationStatus><DkimTokens>" +
               (info ? "<member>" + info->selector + "</member>" : "") +
               "</DkimTokens></value></entry>";
  }
  done(V1Ok(action, "\n    <DkimAttributes>" + entries +
                        "\n    </DkimAttributes>\n  "));
}

// The verifier's status of a domain's DKIM record ("" before its first
// check, read as pending).
std::string Api::Impl::DkimStatusOf(const std::string& domain) {
  auto id = resources.identities().Get(domain);
  return id.ok() ? id->dkim_status : "";
}

// v2's SUCCESS/PENDING/FAILED/TEMPORARY_FAILURE as v1 spells them.
std::string Api::Impl::V1Status(const std::string& v2) {
  if (v2 == "SUCCESS") return "Success";
  if (v2 == "FAILED") return "Failed";
  if (v2 == "TEMPORARY_FAILURE") return "TemporaryFailure";
  return "Pending";
}

// Sending-authorization policies, v1 flavour.
void Api::Impl::V1Policy(const std::string& action,
                         std::map<std::string, std::string>& form,
                         std::function<void(HttpResponse)> done) {
  const std::string& identity = form["Identity"];
  auto fail = [&](const Error& e) {
    if (e.code() == "invalid_policy")
      return V1Error({400, "", "InvalidPolicy", e.message()});
    if (e.code() == "not_found" || e.code() == "limit")
      return V1Error(BadRequest(e.message()));
    return V1Error(InternalError(e));
  };
  if (identity.empty()) {
    done(V1Error(BadRequest("Identity is required")));
    return;
  }
  if (action == "PutIdentityPolicy" || action == "DeleteIdentityPolicy") {
    Status s =
        action == "PutIdentityPolicy"
            ? resources.identities().PutPolicy(
                  identity, form["PolicyName"], form["Policy"],
                  ses::Identities::PolicyWrite::kUpsert)
            : resources.identities().DeletePolicy(identity, form["PolicyName"]);
    done(s.ok() ? V1Ok(action, "") : fail(s.error()));
    return;
  }
  auto policies = resources.identities().Policies(identity);
  if (!policies.ok()) {
    done(fail(policies.error()));
    return;
  }
  std::string body;
  if (action == "ListIdentityPolicies") {
    for (const auto& [name, doc] : *policies)
      body += "\n      <member>" + XmlEscape(name) + "</member>";
    done(V1Ok(action,
              "\n    <PolicyNames>" + body + "\n    </PolicyNames>\n  "));
    return;
  }
  for (const auto& name : Members(form, "PolicyNames")) {
    auto it = policies->find(name);
    if (it == policies->end()) continue;
    body += "\n      <entry><key>" + XmlEscape(name) + "</key><value>" +
            XmlEscape(it->second) + "</value></entry>";
  }
  done(V1Ok(action, "\n    <Policies>" + body + "\n    </Policies>\n  "));
}

}  // namespace sesame::api
