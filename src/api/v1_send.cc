// SES v1 sends: SendEmail, SendRawEmail, SendTemplatedEmail,
// SendBulkTemplatedEmail.
#include "api/impl.h"

namespace sesame::api {

// SendBulkTemplatedEmail (v1).
void Api::Impl::V1SendBulk(const HttpRequest& req, Caller caller,
                           std::map<std::string, std::string>& form,
                           std::function<void(HttpResponse)> done) {
  std::string name = form["Template"];
  auto tc = resources.templates().Get(name);
  if (!tc) {
    done(V1Error({400, "", "TemplateDoesNotExist",
                  "Template <" + name + "> does not exist."}));
    return;
  }
  std::string from = form["Source"];
  if (auto e = CheckSender(from)) {
    done(V1Error(*e));
    return;
  }
  boost::system::error_code ec;
  json::value defaults = json::parse(
      form["DefaultTemplateData"].empty() ? "{}" : form["DefaultTemplateData"],
      ec);
  if (ec || !defaults.is_object()) {
    done(V1Error({400, "", "InvalidRenderingParameter",
                  "DefaultTemplateData is not a JSON object"}));
    return;
  }
  MessageTags default_tags = V1MessageTags(form, "DefaultTags");
  if (auto e = CheckMessageTags(default_tags)) {
    done(V1Error(*e));
    return;
  }
  std::vector<BulkEntry> entries;
  for (int i = 1;; ++i) {
    std::string p = "Destinations.member." + std::to_string(i);
    BulkEntry e{Members(form, p + ".Destination.ToAddresses"),
                Members(form, p + ".Destination.CcAddresses"),
                Members(form, p + ".Destination.BccAddresses"),
                form[p + ".ReplacementTemplateData"],
                {},
                {}};
    MessageTags replacements = V1MessageTags(form, p + ".ReplacementTags");
    if (e.to.empty() && e.cc.empty() && e.bcc.empty() &&
        e.replacement_data.empty() && replacements.empty())
      break;
    e.tags = MergeTags(default_tags, replacements);
    if (auto err = CheckMessageTags(e.tags)) {
      done(V1Error(*err));
      return;
    }
    entries.push_back(std::move(e));
  }
  if (entries.empty() || entries.size() > 50) {
    done(V1Error(BadRequest("Destinations must hold 1 to 50 entries")));
    return;
  }
  auto gather = std::make_shared<Gather>();
  gather->results.resize(entries.size());
  gather->pending = entries.size();
  gather->done =
      [done = std::move(done)](const std::vector<std::string>& results) {
        std::string body;
        for (const auto& r : results) body += r;
        done(V1Ok("SendBulkTemplatedEmail",
                  "\n    <Status>" + body + "\n    </Status>\n  "));
      };
  for (size_t i = 0; i < entries.size(); ++i) {
    SendBulkEntry(
        *tc, name, defaults.as_object(), entries[i], from,
        form["ConfigurationSetName"], req.remote_ip, caller,
        [gather, i](EntryOutcome o, const std::string& id,
                    const std::string& error) {
          static const char* kNames[] = {"Success", "MessageRejected",
                                         "InvalidParameter", "TransientFailure",
                                         "AccountThrottled"};
          gather->Set(
              i,
              "\n      <member><Status>" +
                  std::string(kNames[static_cast<int>(o)]) + "</Status>" +
                  (error.empty() ? "<Error/>"
                                 : "<Error>" + XmlEscape(error) + "</Error>") +
                  (id.empty() ? "" : "<MessageId>" + id + "</MessageId>") +
                  "</member>");
        });
  }
}

// SendEmail, SendRawEmail and SendTemplatedEmail: V1Send tells them apart.
void Api::Impl::V1SendEmail(V1Call& c) {
  V1Send(c.req, c.caller, c.action, c.form, std::move(c.done));
}

void Api::Impl::V1SendBulkTemplatedEmail(V1Call& c) {
  V1SendBulk(c.req, c.caller, c.form, std::move(c.done));
}

void Api::Impl::V1Send(const HttpRequest& req, Caller caller,
                       const std::string& action,
                       std::map<std::string, std::string>& form,
                       std::function<void(HttpResponse)> done) {
  std::string id = NewMessageId(NowMillis());
  Outgoing out;
  out.caller = std::move(caller);
  out.config_set = form["ConfigurationSetName"];
  out.tags = V1MessageTags(form, "Tags");
  if (auto e = CheckMessageTags(out.tags)) {
    done(V1Error(*e));
    return;
  }
  std::vector<std::string> rcpts;
  if (action == "SendEmail" || action == "SendTemplatedEmail") {
    mime::SimpleMessage m;
    m.from = form["Source"];
    if (action == "SendTemplatedEmail") {
      std::string name = form["Template"];
      if (name.empty() && !form["TemplateArn"].empty())
        name = form["TemplateArn"].substr(form["TemplateArn"].rfind('/') + 1);
      auto t = resources.templates().Get(name);
      if (!t) {
        done(V1Error({400, "", "TemplateDoesNotExist",
                      "Template <" + name + "> does not exist."}));
        return;
      }
      auto rendered = Render(*t, form["TemplateData"]);
      if (rendered.index() == 1) {
        if (std::get<1>(rendered).v1_code == "MissingRenderingAttribute") {
          std::vector<std::string> dests =
              Members(form, "Destination.ToAddresses");
          for (const char* k :
               {"Destination.CcAddresses", "Destination.BccAddresses"}) {
            auto more = Members(form, k);
            dests.insert(dests.end(), more.begin(), more.end());
          }
          RecordRenderingFailure(id, name, std::get<1>(rendered).message,
                                 form["Source"], out.config_set, dests,
                                 req.remote_ip);
          done(V1Ok(action, "\n    <MessageId>" + id + "</MessageId>\n  "));
        } else {
          done(V1Error(std::get<1>(rendered)));
        }
        return;
      }
      form["Message.Subject.Data"] = std::get<0>(rendered).subject;
      form["Message.Body.Text.Data"] = std::get<0>(rendered).text;
      form["Message.Body.Html.Data"] = std::get<0>(rendered).html;
    }
    if (m.from.empty()) {
      done(V1Error(BadRequest("Missing required parameter Source")));
      return;
    }
    if (auto e = CheckSender(m.from)) {
      done(V1Error(*e));
      return;
    }
    m.to = Members(form, "Destination.ToAddresses");
    m.cc = Members(form, "Destination.CcAddresses");
    auto bcc = Members(form, "Destination.BccAddresses");
    m.reply_to = Members(form, "ReplyToAddresses");
    m.subject = form["Message.Subject.Data"];
    m.text = form["Message.Body.Text.Data"];
    m.html = form["Message.Body.Html.Data"];
    auto built = BuildSesMessage(m, id, config.api_message_id_domain);
    if (!built.ok()) {
      done(V1Error(BadRequest(built.error().message())));
      return;
    }
    out.content = std::move(*built);
    out.envelope_from = mime::AddrSpec(m.from);
    out.sender = out.envelope_from;
    if (form.count("ReturnPath") && !form["ReturnPath"].empty()) {
      auto rp = FieldMailbox(form["ReturnPath"]);
      if (!rp.ok()) {
        done(V1Error(InvalidAddress("Invalid ReturnPath", form["ReturnPath"],
                                    rp.error())));
        return;
      }
      out.envelope_from = *rp;
    }
    rcpts = m.to;
    rcpts.insert(rcpts.end(), m.cc.begin(), m.cc.end());
    rcpts.insert(rcpts.end(), bcc.begin(), bcc.end());
  } else {
    auto raw = Base64Decode(form["RawMessage.Data"]);
    if (!raw || raw->empty()) {
      done(V1Error(BadRequest(
          "RawMessage.Data must be the base64 of an RFC 5322 message")));
      return;
    }
    rcpts = Members(form, "Destinations");
    bool from_headers = rcpts.empty();
    if (auto e = PrepareRawOutgoing(std::move(*raw), id, from_headers,
                                    form["Source"], &rcpts, &out)) {
      done(V1Error(*e));
      return;
    }
  }
  if (auto e = CheckRecipients(rcpts)) {
    done(V1Error(*e));
    return;
  }
  if (auto e = CheckConfigSet(out.config_set)) {
    done(V1Error(*e));
    return;
  }
  constexpr size_t kV1Max = 10 * 1024 * 1024;
  if (out.content.size() > kV1Max) {
    done(V1Error(Rejected("Message length is more than 10485760 bytes long.")));
    return;
  }
  out.recipients = std::move(rcpts);
  Commit(
      std::move(out), id, req.remote_ip,
      [done, id, action](std::optional<ApiError> e) {
        done(e ? V1Error(*e)
               : V1Ok(action, "\n    <MessageId>" + id + "</MessageId>\n  "));
      });
}

}  // namespace sesame::api
