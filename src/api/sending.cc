// What every API send shares: the commit through admission and the mapping
// of its refusals, sending authorization errors, raw-message preparation,
// template rendering, bulk entries, verification mail.
#include <algorithm>
#include <cctype>
#include <set>

#include "api/impl.h"

namespace sesame::api {

// The message that verifies an address identity: a link to this server,
// in Sesame's words or in a custom verification template's.
std::string Api::Impl::SendVerification(
    const std::string& address, const std::string& token,
    const ses::VerificationTemplate* custom) {
  std::string base = config.api_public_url;
  if (base.empty()) {
    base = std::string(config.http.tls ? "https" : "http") + "://" +
           (config.http.address == "0.0.0.0" ? config.hostname
                                             : config.http.address) +
           ":" + std::to_string(config.http.port);
  }
  std::string link =
      base + "/verify-email?identity=" + auth::UriEncode(address, false) +
      "&token=" + token;
  int64_t now = NowMillis();
  std::string id = NewMessageId(now);
  mime::SimpleMessage m;
  m.to = {address};
  if (custom) {
    // SES sends the template's HTML and adds the link at its end.
    m.from = custom->from;
    m.subject = custom->subject;
    m.html = custom->content + "\n<p><a href=\"" + XmlEscape(link) + "\">" +
             XmlEscape(link) + "</a></p>\n";
    m.text = custom->subject + "\n\n" + link + "\n";
  } else {
    m.from = "Sesame <no-reply@" + config.hostname + ">";
    m.subject = "Verify your email address for sending with Sesame";
    m.text = "Someone asked to send email from " + address + " through " +
             config.hostname +
             ".\nIf it was you, follow this link to confirm:\n\n" + link +
             "\n\nOtherwise ignore this message.\n";
  }
  m.message_id = "<" + id + "@" + config.hostname + ">";
  m.date_ms = now;
  auto built = mime::Build(m);
  if (!built.ok()) return "";
  admission::Submission s;
  s.source = admission::Source::kInternal;
  s.meta.id = id;
  s.meta.created_ms = now;
  s.meta.mail_from = "";  // like a DSN: nothing bounces back to a sender
  spool::Recipient r;
  r.address = address;
  s.meta.recipients.push_back(r);
  s.meta.source = "verification";
  s.meta.client_ip = "127.0.0.1";
  s.content = std::move(*built);
  admission->Submit(
      std::move(s), [address](std::optional<admission::Refusal> r) {
        if (r)
          SESAME_LOG(kWarn, kLog) << "verification mail to " << address
                                  << " not stored: " << r->message;
      });
  return id;
}

// Renders the template with defaults overlaid by the entry's replacement
// data, builds the message and commits it. Each entry is its own message;
// the entries share the spool's group commits.
void Api::Impl::SendBulkEntry(const ses::Template& tc,
                              const std::string& template_name,
                              const json::object& defaults, const BulkEntry& e,
                              const std::string& from,
                              const std::string& config_set,
                              const std::string& client_ip,
                              const Caller& caller, EntryDone done) {
  std::string id = NewMessageId(NowMillis());
  std::vector<std::string> rcpts = e.to;
  rcpts.insert(rcpts.end(), e.cc.begin(), e.cc.end());
  rcpts.insert(rcpts.end(), e.bcc.begin(), e.bcc.end());
  if (auto err = CheckRecipients(rcpts)) {
    done(err->v2_name == "MessageRejected" ? EntryOutcome::kRejected
                                           : EntryOutcome::kInvalid,
         "", err->message);
    return;
  }
  json::object data = defaults;
  if (!e.replacement_data.empty()) {
    boost::system::error_code ec;
    json::value r = json::parse(e.replacement_data, ec);
    if (ec || !r.is_object()) {
      done(EntryOutcome::kInvalid, "",
           "ReplacementTemplateData is not a JSON object");
      return;
    }
    for (auto& [k, v] : r.as_object()) data[k] = v;
  }
  auto rendered = Render(tc, json::serialize(data));
  if (rendered.index() == 1) {
    RecordRenderingFailure(id, template_name, std::get<1>(rendered).message,
                           from, config_set, rcpts, client_ip);
    done(EntryOutcome::kSuccess, id,
         "");  // as SES: accepted, then a Rendering Failure
    return;
  }
  mime::SimpleMessage m;
  m.from = from;
  m.to = e.to;
  m.cc = e.cc;
  m.subject = std::get<0>(rendered).subject;
  m.text = std::get<0>(rendered).text;
  m.html = std::get<0>(rendered).html;
  m.headers = e.headers;
  auto built = BuildSesMessage(m, id, config.api_message_id_domain);
  if (!built.ok()) {
    done(EntryOutcome::kInvalid, "", built.error().message());
    return;
  }
  Outgoing out;
  out.caller = caller;
  out.envelope_from = mime::AddrSpec(from);
  out.sender = out.envelope_from;
  out.recipients = std::move(rcpts);
  out.content = std::move(*built);
  out.config_set = config_set;
  out.tags = e.tags;
  Commit(std::move(out), id, client_ip,
         [done, id](std::optional<ApiError> err) {
           if (!err) {
             done(EntryOutcome::kSuccess, id, "");
           } else {
             done(err->status == 429 ? EntryOutcome::kThrottled
                                     : EntryOutcome::kTransient,
                  "", err->message);
           }
         });
}

// A template that cannot render: SES accepts the request, sends nothing,
// and reports a Rendering Failure (published by the events work).
// Accepted, then not sent: SES's Rendering Failure event.
void Api::Impl::RecordRenderingFailure(
    const std::string& id, const std::string& template_name,
    const std::string& error, const std::string& from,
    const std::string& config_set, const std::vector<std::string>& destinations,
    const std::string& client_ip) {
  if (services.rendering_failure)
    services.rendering_failure(RenderingFailure{
        id, template_name, error, from, config_set, destinations, client_ip});
  std::lock_guard<std::mutex> lock(failures_mu);
  std::ofstream f(config.data_dir + "/rendering_failures.jsonl", std::ios::app);
  f << "{\"timestamp\":\"" << IsoTime(NowMillis()) << "\",\"messageId\":\""
    << id << "\",\"templateName\":\"" << JsonEscape(template_name)
    << "\",\"errorMessage\":\"" << JsonEscape(error) << "\"}\n";
}

// The MIME text TestRenderTemplate / TestRenderEmailTemplate return.
Result<std::string> Api::Impl::BuildRendered(const Rendered& r) {
  mime::SimpleMessage m;
  m.from = "sender@example.com";
  m.subject = r.subject;
  m.text = r.text;
  m.html = r.html;
  m.message_id = "<render@email.amazonses.com>";
  m.date_ms = NowMillis();
  return mime::Build(m);
}

// Renders template content with TemplateData (a JSON string).
std::variant<Api::Impl::Rendered, ApiError> Api::Impl::Render(
    const ses::Template& t, const std::string& data_json) {
  boost::system::error_code ec;
  json::value data =
      json::parse(data_json.empty() ? std::string("{}") : data_json, ec);
  if (ec || !data.is_object()) {
    return ApiError{400, "BadRequestException", "InvalidRenderingParameter",
                    "TemplateData is not a JSON object"};
  }
  Rendered out;
  struct Part {
    const std::string* src;
    std::string* dst;
    bool escape;
  } parts[] = {{&t.subject, &out.subject, false},
               {&t.text, &out.text, false},
               {&t.html, &out.html, true}};
  for (auto& p : parts) {
    auto tpl = mime::Template::Parse(*p.src);
    if (!tpl.ok())
      return ApiError{400, "BadRequestException", "InvalidTemplate",
                      tpl.error().message()};
    auto r = tpl->Render(data, p.escape);
    if (!r.ok()) {
      return ApiError{400, "BadRequestException", "MissingRenderingAttribute",
                      r.error().message()};
    }
    *p.dst = std::move(*r);
  }
  return out;
}

// --- message tags ---------------------------------------------------------
namespace {

bool TagChars(const std::string& s) {
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '_' && c != '-') return false;
  return true;
}

}  // namespace

std::optional<ApiError> CheckMessageTags(const MessageTags& tags) {
  constexpr size_t kMaxTags = 50, kMaxLength = 255;
  if (tags.size() > kMaxTags)
    return BadRequest("Too many message tags: at most 50 are allowed.");
  std::set<std::string> seen;
  for (const auto& [name, value] : tags) {
    if (name.rfind("ses:", 0) == 0)
      return BadRequest("Invalid tag name <" + name +
                        ">: names beginning with 'ses:' are reserved.");
    if (name.empty() || name.size() > kMaxLength || !TagChars(name))
      return BadRequest("Invalid tag name <" + name +
                        ">: only alphanumeric ASCII characters, '_', and '-' "
                        "are allowed, up to 255 characters.");
    if (value.size() > kMaxLength || !TagChars(value))
      return BadRequest("Invalid tag value <" + value +
                        ">: only alphanumeric ASCII characters, '_', and '-' "
                        "are allowed, up to 255 characters.");
    if (!seen.insert(name).second)
      return BadRequest("Duplicate tag name <" + name + ">.");
  }
  return std::nullopt;
}

MessageTags V1MessageTags(const std::map<std::string, std::string>& form,
                          const std::string& prefix) {
  MessageTags out;
  for (int i = 1;; ++i) {
    std::string p = prefix + ".member." + std::to_string(i) + ".";
    auto name = form.find(p + "Name");
    auto value = form.find(p + "Value");
    if (name == form.end() && value == form.end()) break;
    out.emplace_back(name == form.end() ? "" : name->second,
                     value == form.end() ? "" : value->second);
  }
  return out;
}

std::variant<MessageTags, ApiError> V2MessageTags(const json::value* v) {
  MessageTags out;
  if (!v) return out;
  if (!v->is_array()) return BadRequest("EmailTags must be a list");
  for (const auto& t : v->as_array()) {
    const json::value* name =
        t.is_object() ? t.as_object().if_contains("Name") : nullptr;
    const json::value* value =
        t.is_object() ? t.as_object().if_contains("Value") : nullptr;
    if (!name || !name->is_string() || !value || !value->is_string())
      return BadRequest("Each message tag needs a Name and a Value");
    out.emplace_back(std::string(name->as_string()),
                     std::string(value->as_string()));
  }
  return out;
}

MessageTags MergeTags(MessageTags defaults, const MessageTags& replacements) {
  for (const auto& [name, value] : replacements) {
    auto it = std::find_if(defaults.begin(), defaults.end(),
                           [&](const auto& d) { return d.first == name; });
    if (it != defaults.end())
      it->second = value;
    else
      defaults.emplace_back(name, value);
  }
  return defaults;
}

// --- the one path to disk: admission ------------------------------------
void Api::Impl::Commit(Outgoing out, const std::string& id,
                       const std::string& client_ip,
                       std::function<void(std::optional<ApiError>)> done) {
  admission::Submission s;
  s.source = admission::Source::kApi;
  s.caller = std::move(out.caller);
  s.sender = std::move(out.sender);
  s.meta.id = id;
  s.meta.created_ms = NowMillis();
  s.meta.mail_from = std::move(out.envelope_from);
  for (auto& r : out.recipients) {
    spool::Recipient rc;
    rc.address = mime::AddrSpec(r);
    s.meta.recipients.push_back(std::move(rc));
  }
  s.meta.source = "api";
  s.meta.config_set = std::move(out.config_set);
  s.meta.client_ip = client_ip;
  if (!out.tags.empty()) {
    // The tags travel with the message, as they do in SMTP mail; the event
    // publisher reads them from the header block. Checked: no separators,
    // no line breaks. A raw message's own tags header is merged in, under
    // the request's, so there is one.
    MessageTags tags = std::move(out.tags);
    if (std::string own = smtp::HeaderValue(out.content, "X-SES-MESSAGE-TAGS");
        !own.empty()) {
      tags = MergeTags(smtp::MessageTagPairs(own), tags);
      out.content =
          smtp::WithoutHeaders(std::move(out.content), {"X-SES-MESSAGE-TAGS"});
    }
    std::string header = "X-SES-MESSAGE-TAGS: ";
    for (size_t i = 0; i < tags.size(); ++i)
      header += (i ? ", " : "") + tags[i].first + "=" + tags[i].second;
    s.content = header + "\r\n" + out.content;
  } else {
    s.content = std::move(out.content);
  }
  admission->Submit(std::move(s),
                    [self = shared_from_this(), done = std::move(done)](
                        std::optional<admission::Refusal> r) {
                      if (!r) {
                        ++self->sent;
                        done(std::nullopt);
                        return;
                      }
                      if (r->kind == admission::Refusal::Kind::kThrottled)
                        ++self->throttled;
                      done(ErrorFor(*r));
                    });
}

// A refusal in SES's words, for both APIs.
ApiError Api::Impl::ErrorFor(const admission::Refusal& r) {
  using K = admission::Refusal::Kind;
  switch (r.kind) {
    case K::kInvalidAddress:
      return BadRequest(r.message);
    case K::kInvalidContent:
    case K::kRejected:
      return Rejected(r.message);
    case K::kStorageFull:
      return {503, "ServiceUnavailable", "ServiceUnavailable",
              "Service unavailable: " + r.message};
    case K::kAccountPaused:
      return {400, "SendingPausedException", "AccountSendingPausedException",
              r.message};
    case K::kConfigSetPaused:
      return {400, "SendingPausedException",
              "ConfigurationSetSendingPausedException", r.message};
    case K::kNotAuthorized:
      return {403, "AccessDeniedException", "AccessDenied", r.message};
    case K::kThrottled:
      return {429, "TooManyRequestsException", "Throttling", r.message};
    case K::kMailFromNotVerified:
      return {400, "MailFromDomainNotVerifiedException",
              "MailFromDomainNotVerifiedException", r.message};
    case K::kStoreUnavailable:
    case K::kDraining:
      return {503, "ServiceUnavailable", "ServiceUnavailable",
              "Service unavailable: " + r.message};
    case K::kNotStored:
      if (r.transient)
        return {503, "ServiceUnavailable", "ServiceUnavailable",
                "Service unavailable: the message was not stored (" +
                    r.message + "); retry later"};
      return {500, "InternalServiceErrorException", "InternalFailure",
              "Temporary service failure: the message was not stored (" +
                  r.message + ")"};
  }
  return {500, "InternalServiceErrorException", "InternalFailure", r.message};
}

ApiError Api::Impl::NotAuthorized(const Caller& c, const std::string& action,
                                  const std::string& resource) {
  return {403, "AccessDeniedException", "AccessDenied",
          "User `" + c.who.Arn() + "' is not authorized to perform `" + action +
              "' on resource `" + resource + "'"};
}

// The sender's syntax; whether its identity is verified is admission's
// check, in its fixed order.
std::optional<ApiError> Api::Impl::CheckSender(const std::string& from) {
  if (!PlausibleAddress(from))
    return Rejected("Illegal address: " + Quoted(from));
  return std::nullopt;
}

// A raw message for both APIs: validated and prepared (PrepareRaw), its
// sender checked; recipients come from the headers when `use_headers`.
std::optional<ApiError> Api::Impl::PrepareRawOutgoing(
    std::string raw, const std::string& id, bool use_headers,
    const std::string& from, std::vector<std::string>* rcpts, Outgoing* out) {
  if (!from.empty()) {
    if (auto spec = FieldMailbox(from); !spec.ok())
      return InvalidAddress("Invalid Source", from, spec.error());
  }
  std::string envelope_from = mime::AddrSpec(from);
  auto prepared = PrepareRaw(std::move(raw), id, config.api_message_id_domain,
                             use_headers, rcpts, &envelope_from);
  if (prepared.index() == 1) return std::get<1>(prepared);
  if (auto e = CheckSender(envelope_from)) return e;
  out->content = std::move(std::get<0>(prepared));
  out->envelope_from = envelope_from;
  out->sender = envelope_from;
  return std::nullopt;
}

}  // namespace sesame::api
