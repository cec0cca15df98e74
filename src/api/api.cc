#include "api/api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "admission/admission.h"
#include "api/common.h"
#include "api/form.h"
#include "api/router.h"
#include "api/v2_resources.h"
#include "auth/keys.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "mime/mime.h"
#include "mime/template.h"
#include "ses/dns_records.h"
#include "ses/names.h"
#include "ses/resources.h"
#include "smtp/address.h"
#include "smtp/message_check.h"

namespace sesame::api {
using ses::CheckIdentityName;
using ses::CheckResourceName;
using ses::DkimKeys;
using ses::DnsRecord;
using ses::FieldMailbox;
using ses::RecordsJson;
using ses::RecordStatus;
using ses::Resources;
using ses::VerificationToken;
namespace json = boost::json;
using net::HttpRequest;
using net::HttpResponse;

namespace {

constexpr char kLog[] = "api";

bool HasCrLf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// The 400 for an address field that is not a valid mailbox, naming the
// field and quoting the value (it may hold control characters).
ApiError InvalidAddress(std::string_view what, std::string_view value,
                        const Error& e) {
  return BadRequest(std::string(what) + " " + Quoted(value) + ": " +
                    e.message());
}

// An address SES would accept as a destination or sender.
bool PlausibleAddress(const std::string& a) {
  auto spec = FieldMailbox(a);
  if (!spec.ok()) return false;
  std::string domain = spec->substr(spec->rfind('@') + 1);
  if (domain.front() == '[') return true;
  return domain.find('.') != std::string::npos && domain.back() != '.';
}

using admission::Caller;

// What a send needs after API-specific parsing.
struct Outgoing {
  Caller caller;
  std::string sender;  // whose identity must be verified (Source, From)
  std::string envelope_from;
  std::vector<std::string> recipients;
  std::string content;
  std::string config_set;
};

std::optional<ApiError> CheckRecipients(const std::vector<std::string>& rcpts) {
  if (rcpts.empty())
    return BadRequest(
        "Missing required field Destination: at least one recipient is "
        "needed.");
  if (rcpts.size() > kMaxRecipients)
    return Rejected("Recipient count exceeds 50.");
  for (const auto& r : rcpts) {
    if (!PlausibleAddress(r)) return Rejected("Illegal address: " + Quoted(r));
  }
  return std::nullopt;
}

// Validates a raw message and prepares it: Bcc removed, Date and Message-ID
// added when missing.
std::variant<std::string, ApiError> PrepareRaw(std::string raw,
                                               const std::string& id,
                                               bool use_headers,
                                               std::vector<std::string>* rcpts,
                                               std::string* from) {
  // Accept bare LF from clients (as SES does); the spool and the wire want
  // CRLF. Bare CR and NUL are refused by CheckMessage.
  std::string crlf = smtp::CanonicalLineEndings(std::move(raw));
  if (Status s = smtp::CheckMessage(crlf); !s.ok())
    return Rejected("Illegal message content: " + s.error().message());
  auto parsed = mime::Parse(crlf);
  if (!parsed.ok())
    return Rejected("Invalid raw message: " + parsed.error().message());
  if (from->empty())
    *from = mime::AddrSpec(mime::DecodeWords(parsed->Header("From")));
  if (use_headers) {
    for (const char* h : {"To", "Cc", "Bcc"}) {
      for (const auto& a : mime::AddressList(parsed->Header(h)))
        rcpts->push_back(a);
    }
  }
  // Drop Bcc header lines (and their continuations).
  size_t hdr_end = crlf.find("\r\n\r\n");
  std::string head = crlf.substr(0, hdr_end + 2),
              body = crlf.substr(hdr_end + 2), kept;
  bool skipping = false;
  bool has_date = false, has_mid = false;
  for (size_t pos = 0; pos < head.size();) {
    size_t eol = head.find("\r\n", pos);
    std::string line = head.substr(pos, eol - pos + 2);
    pos = eol + 2;
    bool cont = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (!cont) {
      std::string name = line.substr(0, line.find(':'));
      for (char& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      skipping = name == "bcc";
      has_date |= name == "date";
      has_mid |= name == "message-id";
    }
    if (!skipping) kept += line;
  }
  if (!has_date) kept += "Date: " + Rfc5322Date(NowMillis()) + "\r\n";
  if (!has_mid) kept += "Message-ID: <" + id + "@email.amazonses.com>\r\n";
  return kept + body;
}

// The RFC 5322 message of a send, with SES's Message-ID for `id` and the
// current date.
Result<std::string> BuildSesMessage(mime::SimpleMessage& m,
                                    const std::string& id) {
  m.message_id = "<" + id + "@email.amazonses.com>";
  m.date_ms = NowMillis();
  return mime::Build(m);
}

}  // namespace

struct Api::Impl : std::enable_shared_from_this<Api::Impl> {
  const config::Config& config;
  spool::Spool* spool;
  auth::KeyStore* keys;
  Services services;
  DkimKeys& dkim_keys;
  Resources& resources;
  admission::Admission* admission;
  capture::Mailbox* mailbox;
  std::mutex failures_mu;  // guards appends to rendering_failures.jsonl
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> throttled{0};

  auth::Quota* quota;
  std::string admin_token;  // local tools' bearer token for /admin/*

  Impl(const config::Config& c, const Deps& d, Services sv)
      : config(c),
        spool(d.spool),
        keys(d.keys),
        services(std::move(sv)),
        dkim_keys(*d.dkim),
        resources(*d.resources),
        admission(d.admission),
        mailbox(d.mailbox),
        quota(d.quota) {
    if (auto t = auth::LoadOrCreateToken(c.AdminTokenFile()); t.ok()) {
      admin_token = *t;
    } else {
      SESAME_LOG(kWarn, kLog) << "admin token: " << t.error().message()
                              << "; /admin/* is open to dashboard sessions "
                                 "and owner signatures only";
    }
    resources.OnEmailIdentity(
        [this](const std::string& address, const std::string& token) {
          SendVerification(address, token);
        });
  }

  // The message that verifies an address identity: a link to this server.
  void SendVerification(const std::string& address, const std::string& token) {
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
    m.from = "Sesame <no-reply@" + config.hostname + ">";
    m.to = {address};
    m.subject = "Verify your email address for sending with Sesame";
    m.text = "Someone asked to send email from " + address + " through " +
             config.hostname +
             ".\nIf it was you, follow this link to confirm:\n\n" + link +
             "\n\nOtherwise ignore this message.\n";
    m.message_id = "<" + id + "@" + config.hostname + ">";
    m.date_ms = now;
    auto built = mime::Build(m);
    if (!built.ok()) return;
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
  }

  // --- bulk sends (v1 SendBulkTemplatedEmail, v2 SendBulkEmail) -------------
  enum class EntryOutcome {
    kSuccess,
    kRejected,
    kInvalid,
    kTransient,
    kThrottled
  };
  struct BulkEntry {
    std::vector<std::string> to, cc, bcc;
    std::string replacement_data;  // a JSON object as text, or ""
    std::vector<std::pair<std::string, std::string>> headers;
  };
  using EntryDone = std::function<void(EntryOutcome, const std::string& id,
                                       const std::string& error)>;

  // Collects one result per entry from any thread; answers once all arrived.
  struct Gather {
    std::mutex mu;
    std::vector<std::string> results;
    size_t pending;
    std::function<void(const std::vector<std::string>&)> done;
    void Set(size_t i, std::string result) {
      std::lock_guard<std::mutex> lock(mu);
      results[i] = std::move(result);
      if (--pending == 0) done(results);
    }
  };

  // Renders the template with defaults overlaid by the entry's replacement
  // data, builds the message and commits it. Each entry is its own message;
  // the entries share the spool's group commits.
  void SendBulkEntry(const Resources::TemplateContent& tc,
                     const std::string& template_name,
                     const json::object& defaults, const BulkEntry& e,
                     const std::string& from, const std::string& config_set,
                     const std::string& client_ip, const Caller& caller,
                     EntryDone done) {
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
    auto built = BuildSesMessage(m, id);
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

  // SendBulkTemplatedEmail (v1).
  void V1SendBulk(const HttpRequest& req, Caller caller,
                  std::map<std::string, std::string>& form,
                  std::function<void(HttpResponse)> done) {
    std::string name = form["Template"];
    auto tc = resources.GetTemplate(name);
    if (!tc) {
      done(V1Error({400, "", "TemplateDoesNotExist",
                    "Template " + name + " does not exist."}));
      return;
    }
    std::string from = form["Source"];
    if (auto e = CheckSender(from)) {
      done(V1Error(*e));
      return;
    }
    boost::system::error_code ec;
    json::value defaults = json::parse(form["DefaultTemplateData"].empty()
                                           ? "{}"
                                           : form["DefaultTemplateData"],
                                       ec);
    if (ec || !defaults.is_object()) {
      done(V1Error({400, "", "InvalidRenderingParameter",
                    "DefaultTemplateData is not a JSON object"}));
      return;
    }
    std::vector<BulkEntry> entries;
    for (int i = 1;; ++i) {
      std::string p = "Destinations.member." + std::to_string(i);
      BulkEntry e{Members(form, p + ".Destination.ToAddresses"),
                  Members(form, p + ".Destination.CcAddresses"),
                  Members(form, p + ".Destination.BccAddresses"),
                  form[p + ".ReplacementTemplateData"],
                  {}};
      if (e.to.empty() && e.cc.empty() && e.bcc.empty() &&
          e.replacement_data.empty())
        break;
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
            static const char* kNames[] = {
                "Success", "MessageRejected", "InvalidParameter",
                "TransientFailure", "AccountThrottled"};
            gather->Set(
                i, "\n      <member><Status>" +
                       std::string(kNames[static_cast<int>(o)]) + "</Status>" +
                       (error.empty()
                            ? "<Error/>"
                            : "<Error>" + XmlEscape(error) + "</Error>") +
                       (id.empty() ? "" : "<MessageId>" + id + "</MessageId>") +
                       "</member>");
          });
    }
  }

  // <Wrapper><member><Name>n</Name></member>...</Wrapper> (v1 list shapes).
  static std::string NamedMembers(const std::string& wrapper,
                                  const std::vector<std::string>& names) {
    std::string members;
    for (const auto& n : names)
      members += "\n      <member><Name>" + XmlEscape(n) + "</Name></member>";
    return "\n    <" + wrapper + ">" + members + "\n    </" + wrapper + ">\n  ";
  }

  // (Max24HourSend, MaxSendRate, SentLast24Hours) as SES reports them.
  std::tuple<double, double, double> QuotaFigures() {
    if (!quota) return {-1.0, 0.0, static_cast<double>(sent.load())};
    return {quota->max_24_hour_send(), quota->max_send_rate(),
            quota->SentLast24Hours(NowMillis())};
  }

  // A template that cannot render: SES accepts the request, sends nothing,
  // and reports a Rendering Failure (published by the events work).
  // Accepted, then not sent: SES's Rendering Failure event.
  void RecordRenderingFailure(const std::string& id,
                              const std::string& template_name,
                              const std::string& error, const std::string& from,
                              const std::string& config_set,
                              const std::vector<std::string>& destinations,
                              const std::string& client_ip) {
    if (services.rendering_failure)
      services.rendering_failure(RenderingFailure{
          id, template_name, error, from, config_set, destinations, client_ip});
    std::lock_guard<std::mutex> lock(failures_mu);
    std::ofstream f(config.data_dir + "/rendering_failures.jsonl",
                    std::ios::app);
    f << "{\"timestamp\":\"" << IsoTime(NowMillis()) << "\",\"messageId\":\""
      << id << "\",\"templateName\":\"" << JsonEscape(template_name)
      << "\",\"errorMessage\":\"" << JsonEscape(error) << "\"}\n";
  }

  struct Rendered {
    std::string subject, text, html;
  };

  // The MIME text TestRenderTemplate / TestRenderEmailTemplate return.
  static Result<std::string> BuildRendered(const Rendered& r) {
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
  std::variant<Rendered, ApiError> Render(const Resources::TemplateContent& t,
                                          const std::string& data_json) {
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

  static std::string Upper(std::string s) {
    for (char& c : s)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  }
  std::optional<ApiError> CheckConfigSet(const std::string& name) {
    if (name.empty() || resources.ConfigurationSetExists(name))
      return std::nullopt;
    for (const auto& cs : config.delivery.configuration_sets) {
      if (cs.name == name) return std::nullopt;
    }
    return ApiError{404, "NotFoundException", "ConfigurationSetDoesNotExist",
                    "Configuration set <" + name + "> does not exist."};
  }

  // --- authentication ------------------------------------------------------
  std::optional<ApiError> Authenticate(const HttpRequest& req, Caller* caller) {
    auth::SignedRequest sr{req.method, req.path, req.query, req.headers,
                           req.body};
    auto r = auth::Verify(
        sr, [this](const std::string& id) { return keys->Lookup(id); },
        NowMillis() / 1000, config.api_max_clock_skew_seconds,
        config.api_region);
    if (r.index() == 0) {
      auto [account, user] = keys->AccountOf(std::get<0>(r));
      caller->owner = account.empty() || account == config.api_account_id;
      caller->who = {account.empty() ? config.api_account_id : account, user};
      return std::nullopt;
    }
    const auth::AuthError& e = std::get<1>(r);
    switch (e.failure) {
      case auth::AuthFailure::kMissing:
        return ApiError{403, "MissingAuthenticationTokenException",
                        "MissingAuthenticationToken", e.message};
      case auth::AuthFailure::kMalformed:
        return ApiError{400, "IncompleteSignatureException",
                        "IncompleteSignature", e.message};
      case auth::AuthFailure::kUnknownKey:
        return ApiError{403, "UnrecognizedClientException",
                        "InvalidClientTokenId", e.message};
      case auth::AuthFailure::kExpired:
        // As AWS: 403, InvalidSignatureException ("Signature expired")
        // for REST-JSON, RequestExpired for the Query API.
        return ApiError{403, "InvalidSignatureException", "RequestExpired",
                        e.message};
      case auth::AuthFailure::kWrongRegion:
        return ApiError{403, "InvalidSignatureException",
                        "SignatureDoesNotMatch", e.message};
      case auth::AuthFailure::kSessionToken:
        return ApiError{403, "UnrecognizedClientException",
                        "InvalidClientTokenId", e.message};
      case auth::AuthFailure::kBadSignature:
      case auth::AuthFailure::kBadPayloadHash:
        return ApiError{403, "InvalidSignatureException",
                        "SignatureDoesNotMatch", e.message};
    }
    return ApiError{403, "AccessDeniedException", "AccessDenied", e.message};
  }

  // --- the one path to disk: admission ------------------------------------
  void Commit(Outgoing out, const std::string& id, const std::string& client_ip,
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
    s.content = std::move(out.content);
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
  static ApiError ErrorFor(const admission::Refusal& r) {
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

  static ApiError NotAuthorized(const Caller& c, const std::string& action,
                                const std::string& resource) {
    return {403, "AccessDeniedException", "AccessDenied",
            "User `" + c.who.Arn() + "' is not authorized to perform `" +
                action + "' on resource `" + resource + "'"};
  }

  // The sender's syntax; whether its identity is verified is admission's
  // check, in its fixed order.
  static std::optional<ApiError> CheckSender(const std::string& from) {
    if (!PlausibleAddress(from))
      return Rejected("Illegal address: " + Quoted(from));
    return std::nullopt;
  }

  // A raw message for both APIs: validated and prepared (PrepareRaw), its
  // sender checked; recipients come from the headers when `use_headers`.
  std::optional<ApiError> PrepareRawOutgoing(
      std::string raw, const std::string& id, bool use_headers,
      const std::string& from, std::vector<std::string>* rcpts, Outgoing* out) {
    if (!from.empty()) {
      if (auto spec = FieldMailbox(from); !spec.ok())
        return InvalidAddress("Invalid Source", from, spec.error());
    }
    std::string envelope_from = mime::AddrSpec(from);
    auto prepared =
        PrepareRaw(std::move(raw), id, use_headers, rcpts, &envelope_from);
    if (prepared.index() == 1) return std::get<1>(prepared);
    if (auto e = CheckSender(envelope_from)) return e;
    out->content = std::move(std::get<0>(prepared));
    out->envelope_from = envelope_from;
    out->sender = envelope_from;
    return std::nullopt;
  }

  // --- SES v2 ----------------------------------------------------------------
  static std::string Str(const json::object& o, const char* key) {
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : "";
  }
  static std::variant<std::vector<std::string>, ApiError> StrList(
      const json::object& o, const char* key) {
    std::vector<std::string> out;
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return out;
    if (!v->is_array())
      return BadRequest(std::string(key) + " must be a list of strings");
    for (const auto& e : v->as_array()) {
      if (!e.is_string())
        return BadRequest(std::string(key) + " must be a list of strings");
      out.emplace_back(e.as_string());
    }
    return out;
  }

  void V2SendEmail(const HttpRequest& req, Caller caller,
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
    out.caller.action = content.contains("Simple") ? "ses:SendEmail"
                        : content.contains("Raw")  ? "ses:SendRawEmail"
                                                   : "ses:SendTemplatedEmail";
    out.caller.identity_arn = Str(o, "FromEmailAddressIdentityArn");
    out.config_set = Str(o, "ConfigurationSetName");
    std::string from = Str(o, "FromEmailAddress");
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
      m.subject = Str(subj->as_object(), "Data");
      if (auto* body = s.if_contains("Body"); body && body->is_object()) {
        const auto& b = body->as_object();
        if (auto* t = b.if_contains("Text"); t && t->is_object())
          m.text = Str(t->as_object(), "Data");
        if (auto* h = b.if_contains("Html"); h && h->is_object())
          m.html = Str(h->as_object(), "Data");
      }
      if (auto* hs = s.if_contains("Headers"); hs && hs->is_array()) {
        for (const auto& h : hs->as_array()) {
          if (!h.is_object()) continue;
          std::string name = Str(h.as_object(), "Name"),
                      value = Str(h.as_object(), "Value");
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
          auto bytes = Base64Decode(Str(ao, "RawContent"));
          if (!bytes) {
            done(V2Error(
                BadRequest("Attachments[].RawContent is not valid base64")));
            return;
          }
          mime::Attachment att;
          att.filename = Str(ao, "FileName");
          att.content_type = Str(ao, "ContentType").empty()
                                 ? "application/octet-stream"
                                 : Str(ao, "ContentType");
          att.content = std::move(*bytes);
          att.inline_disposition = Str(ao, "ContentDisposition") == "INLINE";
          att.content_id = Str(ao, "ContentId");
          m.attachments.push_back(std::move(att));
        }
      }
      auto built = BuildSesMessage(m, id);
      if (!built.ok()) {
        done(V2Error(BadRequest(built.error().message())));
        return;
      }
      out.content = std::move(*built);
      out.envelope_from = mime::AddrSpec(from);
      out.sender = out.envelope_from;
      out.sender = out.envelope_from;
    } else if (content.contains("Raw")) {
      const json::value& raw_v = content.at("Raw");
      std::string data =
          raw_v.is_object() ? Str(raw_v.as_object(), "Data") : "";
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
      std::string name = Str(t, "TemplateName");
      if (name.empty() && !Str(t, "TemplateArn").empty()) {
        std::string arn = Str(t, "TemplateArn");
        name = arn.substr(arn.rfind('/') + 1);
      }
      std::optional<Resources::TemplateContent> tc;
      if (auto* inl = t.if_contains("TemplateContent");
          inl && inl->is_object()) {
        tc = Resources::TemplateContent{Str(inl->as_object(), "Subject"),
                                        Str(inl->as_object(), "Text"),
                                        Str(inl->as_object(), "Html")};
      } else if (!name.empty()) {
        tc = resources.GetTemplate(name);
        if (!tc) {
          done(V2Error({404, "NotFoundException", "TemplateDoesNotExist",
                        "Template " + name + " does not exist."}));
          return;
        }
      } else {
        done(
            V2Error(BadRequest("Content.Template needs TemplateName, "
                               "TemplateArn or TemplateContent")));
        return;
      }
      if (auto e = CheckSender(from)) {
        done(V2Error(*e));
        return;
      }
      auto rendered = Render(*tc, Str(t, "TemplateData"));
      if (rendered.index() == 1) {
        const ApiError& e = std::get<1>(rendered);
        if (e.v1_code == "MissingRenderingAttribute") {
          RecordRenderingFailure(id, name, e.message, from, out.config_set,
                                 rcpts, req.remote_ip);
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
            m.headers.emplace_back(Str(h.as_object(), "Name"),
                                   Str(h.as_object(), "Value"));
        }
      }
      auto built = BuildSesMessage(m, id);
      if (!built.ok()) {
        done(V2Error(BadRequest(built.error().message())));
        return;
      }
      out.content = std::move(*built);
      out.envelope_from = mime::AddrSpec(from);
      out.sender = out.envelope_from;
      out.sender = out.envelope_from;
    }
    // Bounces and complaints go to the feedback address: it is the return
    // path, so it must be a valid mailbox like any other.
    if (std::string fb = Str(o, "FeedbackForwardingEmailAddress");
        !fb.empty()) {
      auto spec = FieldMailbox(fb);
      if (!spec.ok()) {
        done(V2Error(InvalidAddress("Invalid FeedbackForwardingEmailAddress",
                                    fb, spec.error())));
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

  // One v2 request on its way to its operation.
  struct V2Call {
    const HttpRequest& req;
    Caller caller;
    std::vector<std::string> params;  // the route pattern's {name} segments
    std::function<void(HttpResponse)> done;
  };
  using V2Handler = void (Impl::*)(V2Call&);

  // The v2 operations this file answers: method, path, owner only?,
  // handler. The resource operations (identities, configuration sets,
  // templates, suppression, pools, tags) are api/v2_resources.cc's.
  static const Router<V2Handler>& V2Routes() {
    static const Router<V2Handler> routes = [] {
      Router<V2Handler> r;
      r.Rest("POST", "/v2/email/outbound-emails", false, &Impl::V2OpSendEmail);
      r.Rest("POST", "/v2/email/outbound-bulk-emails", false,
             &Impl::V2OpSendBulkEmail);
      r.Rest("GET", "/v2/email/account", true, &Impl::V2OpGetAccount);
      r.Rest("POST", "/v2/email/templates/{name}/render", true,
             &Impl::V2OpTestRenderEmailTemplate);
      return r;
    }();
    return routes;
  }

  void V2(const HttpRequest& req, std::function<void(HttpResponse)> done) {
    Caller caller;
    caller.api = "2";
    if (auto e = Authenticate(req, &caller)) {
      done(V2Error(*e));
      return;
    }
    auto match = V2Routes().FindRest(req.method, PathSegments(req.path));
    if (!caller.owner && (!match || match->route->owner_only)) {
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
    if (auto r = HandleV2Resources(&resources, req)) {
      done(std::move(*r));
      return;
    }
    done(V2Error({404, "NotFoundException", "InvalidAction",
                  "Operation " + req.method + " " + req.path +
                      " is not supported by this Sesame version"}));
  }

  void V2OpSendEmail(V2Call& c) {
    V2SendEmail(c.req, std::move(c.caller), std::move(c.done));
  }

  void V2OpSendBulkEmail(V2Call& c) {
    c.caller.action = "ses:SendBulkTemplatedEmail";
    V2SendBulk(c.req, std::move(c.caller), std::move(c.done));
  }

  void V2OpGetAccount(V2Call& c) {
    auto [max24, rate, sent24] = QuotaFigures();
    std::string enforcement =
        services.enforcement_status ? services.enforcement_status() : "HEALTHY";
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "{\"SendQuota\":{\"Max24HourSend\":%.1f,\"MaxSendRate\":%."
                  "1f,\"SentLast24Hours\":%.1f},"
                  "\"SendingEnabled\":%s,\"ProductionAccessEnabled\":%s,"
                  "\"EnforcementStatus\":\"%s\","
                  "\"DedicatedIpAutoWarmupEnabled\":false,"
                  "\"SuppressionAttributes\":{\"SuppressedReasons\":",
                  max24, rate, sent24,
                  resources.AccountSendingEnabled() ? "true" : "false",
                  config.api_sandbox ? "false" : "true", enforcement.c_str());
    c.done(JsonOk(std::string(buf) + resources.AccountSuppressedReasonsJson() +
                  "}}"));
  }

  void V2OpTestRenderEmailTemplate(V2Call& c) {
    const std::string& name = c.params[0];
    auto tc = resources.GetTemplate(name);
    if (!tc) {
      c.done(V2Error({404, "NotFoundException", "TemplateDoesNotExist",
                      "Template " + name + " does not exist."}));
      return;
    }
    boost::system::error_code ec;
    json::value body = json::parse(c.req.body, ec);
    std::string data =
        !ec && body.is_object() ? Str(body.as_object(), "TemplateData") : "";
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
  void V2SendBulk(const HttpRequest& req, Caller caller,
                  std::function<void(HttpResponse)> done) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body, ec);
    if (ec || !v.is_object()) {
      done(V2Error(BadRequest("Request body is not a valid JSON object")));
      return;
    }
    const json::object& o = v.as_object();
    std::string from = Str(o, "FromEmailAddress");
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
    std::string name = Str(t, "TemplateName");
    std::optional<Resources::TemplateContent> tc;
    if (auto* inl = t.if_contains("TemplateContent"); inl && inl->is_object()) {
      tc = Resources::TemplateContent{Str(inl->as_object(), "Subject"),
                                      Str(inl->as_object(), "Text"),
                                      Str(inl->as_object(), "Html")};
    } else {
      tc = resources.GetTemplate(name);
    }
    if (!tc) {
      done(V2Error({404, "NotFoundException", "TemplateDoesNotExist",
                    "Template " + name + " does not exist."}));
      return;
    }
    if (auto e = CheckSender(from)) {
      done(V2Error(*e));
      return;
    }
    std::string config_set = Str(o, "ConfigurationSetName");
    if (auto e = CheckConfigSet(config_set)) {
      done(V2Error(*e));
      return;
    }
    caller.identity_arn = Str(o, "FromEmailAddressIdentityArn");
    // Default data, overlaid by each entry's replacement data.
    boost::system::error_code dec;
    json::value defaults = json::parse(
        Str(t, "TemplateData").empty() ? "{}" : Str(t, "TemplateData"), dec);
    if (dec || !defaults.is_object()) {
      done(V2Error(BadRequest(
          "DefaultContent.Template.TemplateData is not a JSON object")));
      return;
    }
    const json::array& list = entries->as_array();
    std::vector<BulkEntry> parsed;
    for (const auto& item : list) {
      BulkEntry be;
      if (item.is_object()) {
        const json::object& e = item.as_object();
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
                Str(rt->as_object(), "ReplacementTemplateData");
          }
        }
        if (auto* hs = e.if_contains("ReplacementHeaders");
            hs && hs->is_array()) {
          for (const auto& h : hs->as_array()) {
            if (h.is_object())
              be.headers.emplace_back(Str(h.as_object(), "Name"),
                                      Str(h.as_object(), "Value"));
          }
        }
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
                i, "{\"Status\":\"" + std::string(kNames[static_cast<int>(o)]) +
                       "\"" +
                       (id.empty() ? "" : ",\"MessageId\":\"" + id + "\"") +
                       (error.empty()
                            ? ""
                            : ",\"Error\":\"" + JsonEscape(error) + "\"") +
                       "}");
          });
    }
  }

  // --- SES v1 ----------------------------------------------------------------
  void V1(const HttpRequest& req, std::function<void(HttpResponse)> done) {
    Caller caller;
    caller.api = "1";
    if (auto e = Authenticate(req, &caller)) {
      done(V1Error(*e));
      return;
    }
    auto form = ParseForm(req.body);
    std::string action = form.count("Action") ? form["Action"] : "";
    if (action.empty()) {
      done(V1Error({400, "", "MissingAction", "Missing Action parameter"}));
      return;
    }
    if (services.sns && caller.owner && services.sns(action, form, done))
      return;
    caller.action = "ses:" + action;
    // SourceArn (SendEmail, templated) or FromArn (SendRawEmail) names the
    // identity a delegate sends for.
    caller.identity_arn =
        !form["SourceArn"].empty() ? form["SourceArn"] : form["FromArn"];
    const auto* route = V1Routes().FindAction(action);
    if (!route) {
      done(V1Error(
          {400, "", "InvalidAction",
           "The action " + action + " is not valid for this web service."}));
      return;
    }
    if (!caller.owner && route->owner_only) {
      done(V1Error(
          NotAuthorized(caller, "ses:" + action, "the account's resources")));
      return;
    }
    V1Call call{req, caller, action, form, std::move(done)};
    (this->*(route->handler))(call);
  }

  // One v1 request on its way to its operation.
  struct V1Call {
    const HttpRequest& req;
    Caller& caller;
    const std::string& action;
    std::map<std::string, std::string>& form;
    std::function<void(HttpResponse)> done;
  };
  using V1Handler = void (Impl::*)(V1Call&);

  // The v1 Query API's operations: Action, owner only?, handler. Keys of
  // other accounts may call the send operations only.
  static const Router<V1Handler>& V1Routes() {
    static const Router<V1Handler> routes = [] {
      Router<V1Handler> r;
      r.Action("SendEmail", false, &Impl::V1SendEmail);
      r.Action("SendRawEmail", false, &Impl::V1SendEmail);
      r.Action("GetSendQuota", true, &Impl::V1GetSendQuota);
      r.Action("GetSendStatistics", true, &Impl::V1GetSendStatistics);
      r.Action("VerifyEmailIdentity", true, &Impl::V1VerifyIdentity);
      r.Action("VerifyEmailAddress", true, &Impl::V1VerifyIdentity);
      r.Action("VerifyDomainIdentity", true, &Impl::V1VerifyIdentity);
      r.Action("ListIdentities", true, &Impl::V1ListIdentities);
      r.Action("GetIdentityVerificationAttributes", true,
               &Impl::V1GetIdentityVerificationAttributes);
      r.Action("DeleteIdentity", true, &Impl::V1DeleteIdentity);
      r.Action("CreateTemplate", true, &Impl::V1PutTemplate);
      r.Action("UpdateTemplate", true, &Impl::V1PutTemplate);
      r.Action("GetTemplate", true, &Impl::V1GetTemplate);
      r.Action("DeleteTemplate", true, &Impl::V1DeleteTemplate);
      r.Action("ListTemplates", true, &Impl::V1ListTemplates);
      r.Action("TestRenderTemplate", true, &Impl::V1TestRenderTemplate);
      r.Action("SendTemplatedEmail", false, &Impl::V1SendTemplatedEmail);
      r.Action("SendBulkTemplatedEmail", false,
               &Impl::V1SendBulkTemplatedEmail);
      r.Action("CreateConfigurationSet", true, &Impl::V1CreateConfigurationSet);
      r.Action("DeleteConfigurationSet", true,
               &Impl::V1DeleteOrDescribeConfigurationSet);
      r.Action("DescribeConfigurationSet", true,
               &Impl::V1DeleteOrDescribeConfigurationSet);
      r.Action("ListConfigurationSets", true, &Impl::V1ListConfigurationSets);
      r.Action("VerifyDomainDkim", true, &Impl::V1VerifyDomainDkim);
      r.Action("SetIdentityMailFromDomain", true,
               &Impl::V1SetIdentityMailFromDomain);
      r.Action("GetIdentityMailFromDomainAttributes", true,
               &Impl::V1GetIdentityMailFromDomainAttributes);
      r.Action("SetIdentityNotificationTopic", true,
               &Impl::V1SetNotificationAttribute);
      r.Action("SetIdentityHeadersInNotificationsEnabled", true,
               &Impl::V1SetNotificationAttribute);
      r.Action("SetIdentityFeedbackForwardingEnabled", true,
               &Impl::V1SetNotificationAttribute);
      r.Action("GetIdentityNotificationAttributes", true,
               &Impl::V1GetIdentityNotificationAttributes);
      r.Action("PutIdentityPolicy", true, &Impl::V1IdentityPolicy);
      r.Action("DeleteIdentityPolicy", true, &Impl::V1IdentityPolicy);
      r.Action("GetIdentityPolicies", true, &Impl::V1IdentityPolicy);
      r.Action("ListIdentityPolicies", true, &Impl::V1IdentityPolicy);
      r.Action("GetIdentityDkimAttributes", true,
               &Impl::V1GetIdentityDkimAttributes);
      return r;
    }();
    return routes;
  }

  void V1SendEmail(V1Call& c) {
    const HttpRequest& req = c.req;
    Caller& caller = c.caller;
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    V1Send(req, caller, action, form, std::move(done));
    return;
  }

  void V1GetSendQuota(V1Call& c) {
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
    return;
  }

  void V1GetSendStatistics(V1Call& c) {
    const std::string& action = c.action;
    std::function<void(HttpResponse)>& done = c.done;
    std::string points;
    if (services.send_statistics) {
      for (const auto& p : services.send_statistics()) {
        points += "\n      <member><Timestamp>" + IsoTime(p.timestamp_ms) +
                  "</Timestamp><DeliveryAttempts>" +
                  std::to_string(p.attempts) + "</DeliveryAttempts><Bounces>" +
                  std::to_string(p.bounces) + "</Bounces><Complaints>" +
                  std::to_string(p.complaints) + "</Complaints><Rejects>" +
                  std::to_string(p.rejects) + "</Rejects></member>";
      }
    }
    done(V1Ok(action, "\n    <SendDataPoints>" + points +
                          "\n    </SendDataPoints>\n  "));
    return;
  }

  void V1VerifyIdentity(V1Call& c) {
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
    Status added = resources.AddIdentity(identity);
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
    return;
  }

  void V1ListIdentities(V1Call& c) {
    const std::string& action = c.action;
    std::function<void(HttpResponse)>& done = c.done;
    std::string members;
    for (const auto& i : resources.ListIdentities())
      members += "\n      <member>" + XmlEscape(i) + "</member>";
    done(V1Ok(action,
              "\n    <Identities>" + members + "\n    </Identities>\n  "));
    return;
  }

  void V1GetIdentityVerificationAttributes(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string entries;
    for (const auto& i : Members(form, "Identities")) {
      std::string status = resources.VerificationStatus(i);
      if (status.empty()) continue;
      entries +=
          "\n      <entry><key>" + XmlEscape(i) +
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
    return;
  }

  void V1DeleteIdentity(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    auto r = resources.DeleteIdentity(form["Identity"]);
    if (!r.ok()) {
      done(V1Error({500, "", "InternalFailure", r.error().message()}));
      return;
    }
    done(V1Ok(action, ""));
    return;
  }

  void V1PutTemplate(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string name = form["Template.TemplateName"];
    if (name.empty()) {
      done(V1Error(BadRequest("Template.TemplateName is required")));
      return;
    }
    if (action == "UpdateTemplate" && !resources.GetTemplate(name)) {
      done(V1Error({400, "", "TemplateDoesNotExist",
                    "Template " + name + " does not exist."}));
      return;
    }
    Status st = resources.PutTemplate(
        name,
        {form["Template.SubjectPart"], form["Template.TextPart"],
         form["Template.HtmlPart"]},
        action == "CreateTemplate");
    if (!st.ok()) {
      done(V1Error(StoreError(st.error(), "AlreadyExists",
                              "Template " + name + " already exists.")));
      return;
    }
    done(V1Ok(action, ""));
    return;
  }

  void V1GetTemplate(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string name = form["TemplateName"];
    auto t = resources.GetTemplate(name);
    if (!t) {
      done(V1Error({400, "", "TemplateDoesNotExist",
                    "Template " + name + " does not exist."}));
      return;
    }
    done(V1Ok(action,
              "\n    <Template>\n      <TemplateName>" + XmlEscape(name) +
                  "</TemplateName>\n      <SubjectPart>" +
                  XmlEscape(t->subject) + "</SubjectPart>\n      <TextPart>" +
                  XmlEscape(t->text) + "</TextPart>\n      <HtmlPart>" +
                  XmlEscape(t->html) + "</HtmlPart>\n    </Template>\n  "));
    return;
  }

  void V1DeleteTemplate(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    auto r = resources.DeleteTemplate(form["TemplateName"]);
    (void)r;
    done(V1Ok(action, ""));
    return;
  }

  void V1ListTemplates(V1Call& c) {
    const std::string& action = c.action;
    std::function<void(HttpResponse)>& done = c.done;
    done(V1Ok(action,
              NamedMembers("TemplatesMetadata", resources.ListTemplates())));
    return;
  }

  void V1TestRenderTemplate(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string name = form["TemplateName"];
    auto t = resources.GetTemplate(name);
    if (!t) {
      done(V1Error({400, "", "TemplateDoesNotExist",
                    "Template " + name + " does not exist."}));
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
    return;
  }

  void V1SendTemplatedEmail(V1Call& c) {
    const HttpRequest& req = c.req;
    Caller& caller = c.caller;
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    V1Send(req, caller, action, form, std::move(done));
    return;
  }

  void V1SendBulkTemplatedEmail(V1Call& c) {
    const HttpRequest& req = c.req;
    Caller& caller = c.caller;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    V1SendBulk(req, caller, form, std::move(done));
    return;
  }

  void V1CreateConfigurationSet(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string name = form["ConfigurationSet.Name"];
    if (name.empty()) {
      done(V1Error(BadRequest("ConfigurationSet.Name is required")));
      return;
    }
    Status st = resources.CreateConfigurationSet(name);
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
    return;
  }

  void V1DeleteOrDescribeConfigurationSet(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string name = form["ConfigurationSetName"];
    if (!resources.ConfigurationSetExists(name)) {
      done(V1Error({400, "", "ConfigurationSetDoesNotExist",
                    "Configuration set <" + name + "> does not exist."}));
      return;
    }
    if (action == "DeleteConfigurationSet") {
      auto r = resources.DeleteConfigurationSet(name);
      (void)r;
      done(V1Ok(action, ""));
    } else {
      done(V1Ok(action, "\n    <ConfigurationSet><Name>" + XmlEscape(name) +
                            "</Name></ConfigurationSet>\n  "));
    }
    return;
  }

  void V1ListConfigurationSets(V1Call& c) {
    const std::string& action = c.action;
    std::function<void(HttpResponse)>& done = c.done;
    done(V1Ok(action, NamedMembers("ConfigurationSets",
                                   resources.ListConfigurationSets())));
    return;
  }

  void V1VerifyDomainDkim(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string domain = form["Domain"];
    if (domain.empty() || HasCrLf(domain)) {
      done(V1Error(BadRequest("Domain is required")));
      return;
    }
    if (Status added = resources.AddIdentity(domain); !added.ok()) {
      done(V1Error(StoreError(added.error(), "", "")));
      return;
    }
    auto key = dkim_keys.Ensure(domain);
    if (!key.ok()) {
      done(V1Error({500, "", "InternalFailure", key.error().message()}));
      return;
    }
    done(V1Ok(action, "\n    <DkimTokens>\n      <member>" + key->selector +
                          "</member>\n    </DkimTokens>\n  "));
    return;
  }

  void V1SetIdentityMailFromDomain(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string behavior = form["BehaviorOnMXFailure"] == "RejectMessage"
                               ? "REJECT_MESSAGE"
                               : "USE_DEFAULT_VALUE";
    Status s = resources.SetMailFrom(form["Identity"], form["MailFromDomain"],
                                     behavior);
    if (!s.ok()) {
      done(V1Error(BadRequest(s.error().message())));
      return;
    }
    done(V1Ok(action, ""));
    return;
  }

  void V1GetIdentityMailFromDomainAttributes(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string entries;
    for (const auto& i : Members(form, "Identities")) {
      Resources::MailFrom mf = resources.MailFromFor(i);
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
    return;
  }

  void V1SetNotificationAttribute(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string identity = form["Identity"];
    if (!resources.IdentityExists(identity)) {
      done(V1Error(BadRequest("Identity " + identity + " does not exist.")));
      return;
    }
    Status s = action == "SetIdentityNotificationTopic"
                   ? resources.SetNotification(
                         identity, "topic:" + form["NotificationType"],
                         form["SnsTopic"])
               : action == "SetIdentityHeadersInNotificationsEnabled"
                   ? resources.SetNotification(
                         identity, "headers:" + form["NotificationType"],
                         form["Enabled"])
                   : resources.SetNotification(identity, "forwarding",
                                               form["ForwardingEnabled"]);
    done(s.ok() ? V1Ok(action, "") : V1Error(BadRequest(s.error().message())));
    return;
  }

  void V1GetIdentityNotificationAttributes(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    std::string entries;
    for (const auto& i : Members(form, "Identities")) {
      if (!resources.IdentityExists(i)) continue;
      auto n = resources.Notifications(i);
      auto topic = [&](const char* t) {
        auto it = n.topics.find(t);
        return it == n.topics.end()
                   ? std::string()
                   : "<" + std::string(t) + "Topic>" + XmlEscape(it->second) +
                         "</" + t + "Topic>";
      };
      auto headers = [&](const char* t) {
        return "<HeadersIn" + std::string(t) + "NotificationsEnabled>" +
               (n.with_headers.count(t) ? "true" : "false") + "</HeadersIn" +
               t + "NotificationsEnabled>";
      };
      entries += "\n      <entry><key>" + XmlEscape(i) + "</key><value>" +
                 topic("Bounce") + topic("Complaint") + topic("Delivery") +
                 "<ForwardingEnabled>" + (n.forwarding ? "true" : "false") +
                 "</ForwardingEnabled>" + headers("Bounce") +
                 headers("Complaint") + headers("Delivery") +
                 "</value></entry>";
    }
    done(V1Ok(action, "\n    <NotificationAttributes>" + entries +
                          "\n    </NotificationAttributes>\n  "));
    return;
  }

  void V1IdentityPolicy(V1Call& c) {
    const std::string& action = c.action;
    std::map<std::string, std::string>& form = c.form;
    std::function<void(HttpResponse)>& done = c.done;
    V1Policy(action, form, std::move(done));
    return;
  }

  void V1GetIdentityDkimAttributes(V1Call& c) {
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
                 (info ? (config.api_auto_verify ? "Success" : "Pending")
                       : "NotStarted") +
                 "</DkimVerificationStatus><DkimTokens>" +
                 (info ? "<member>" + info->selector + "</member>" : "") +
                 "</DkimTokens></value></entry>";
    }
    done(V1Ok(action, "\n    <DkimAttributes>" + entries +
                          "\n    </DkimAttributes>\n  "));
    return;
  }

  // A v1 answer to a failed store write: the named 400 when the document
  // exists already, else 500 InternalFailure.
  static ApiError StoreError(const Error& e, const std::string& exists_code,
                             const std::string& exists_message) {
    if (e.code() == "exists") return {400, "", exists_code, exists_message};
    if (e.code() == "invalid") return BadRequest(e.message());
    return {500, "", "InternalFailure", e.message()};
  }

  // Message search (/admin/messages): the outcome records of a message id
  // or of a recipient address, oldest first, from the tail of
  // outcomes.jsonl (the last 64 MB; at most 1,000 records).
  std::string MessageTimeline(const std::string& id,
                              const std::string& recipient) {
    if (id.empty() && recipient.empty()) return "";
    std::string needle = !id.empty() ? "\"" + JsonEscape(id) + "\""
                                     : "\"" + JsonEscape(recipient) + "\"";
    std::ifstream f(config.data_dir + "/outcomes.jsonl", std::ios::binary);
    constexpr std::streamoff kTail = 64 * 1024 * 1024;
    f.seekg(0, std::ios::end);
    std::streamoff size = f.tellg();
    if (size > kTail) {
      f.seekg(size - kTail);
      std::string skip;
      std::getline(f, skip);  // a partial first line
    } else {
      f.seekg(0);
    }
    std::vector<std::string> found;
    std::string line;
    while (std::getline(f, line)) {
      if (line.find(needle) == std::string::npos) continue;
      // The id must be the messageId (or, for mail at the MX, the inbound
      // id); the address the recipient or the inbound "to".
      bool match =
          !id.empty()
              ? line.find("\"messageId\":" + needle) != std::string::npos ||
                    line.find("\"inboundMessageId\":" + needle) !=
                        std::string::npos
              : line.find("\"recipient\":" + needle) != std::string::npos ||
                    line.find("\"to\":" + needle) != std::string::npos;
      if (!match) continue;
      found.push_back(line);
      if (found.size() > 1000) found.erase(found.begin());
    }
    std::string out = "{\"records\":[";
    for (size_t i = 0; i < found.size(); ++i) out += (i ? "," : "") + found[i];
    out += "]";
    if (!id.empty()) {
      // Still queued? Its recipients' current state.
      out +=
          ",\"queued\":" + std::string(spool->Find(id).ok() ? "true" : "false");
    }
    return out + "}";
  }

  // v2's SUCCESS/PENDING/FAILED/TEMPORARY_FAILURE as v1 spells them.
  static std::string V1Status(const std::string& v2) {
    if (v2 == "SUCCESS") return "Success";
    if (v2 == "FAILED") return "Failed";
    if (v2 == "TEMPORARY_FAILURE") return "TemporaryFailure";
    return "Pending";
  }

  // Sending-authorization policies, v1 flavour.
  void V1Policy(const std::string& action,
                std::map<std::string, std::string>& form,
                std::function<void(HttpResponse)> done) {
    const std::string& identity = form["Identity"];
    auto fail = [&](const Error& e) {
      if (e.code() == "invalid_policy")
        return V1Error({400, "", "InvalidPolicy", e.message()});
      if (e.code() == "not_found" || e.code() == "limit")
        return V1Error(BadRequest(e.message()));
      return V1Error({500, "", "InternalFailure", e.message()});
    };
    if (identity.empty()) {
      done(V1Error(BadRequest("Identity is required")));
      return;
    }
    if (action == "PutIdentityPolicy" || action == "DeleteIdentityPolicy") {
      Status s = action == "PutIdentityPolicy"
                     ? resources.PutPolicy(identity, form["PolicyName"],
                                           form["Policy"],
                                           Resources::PolicyWrite::kUpsert)
                     : resources.DeletePolicy(identity, form["PolicyName"]);
      done(s.ok() ? V1Ok(action, "") : fail(s.error()));
      return;
    }
    auto policies = resources.Policies(identity);
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

  void V1Send(const HttpRequest& req, Caller caller, const std::string& action,
              std::map<std::string, std::string>& form,
              std::function<void(HttpResponse)> done) {
    std::string id = NewMessageId(NowMillis());
    Outgoing out;
    out.caller = std::move(caller);
    out.config_set = form["ConfigurationSetName"];
    std::vector<std::string> rcpts;
    if (action == "SendEmail" || action == "SendTemplatedEmail") {
      mime::SimpleMessage m;
      m.from = form["Source"];
      if (action == "SendTemplatedEmail") {
        std::string name = form["Template"];
        if (name.empty() && !form["TemplateArn"].empty())
          name = form["TemplateArn"].substr(form["TemplateArn"].rfind('/') + 1);
        auto t = resources.GetTemplate(name);
        if (!t) {
          done(V1Error({400, "", "TemplateDoesNotExist",
                        "Template " + name + " does not exist."}));
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
      auto built = BuildSesMessage(m, id);
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
      done(V1Error(
          Rejected("Message length is more than 10485760 bytes long.")));
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

  // Answers of services that call back from their own thread.
  static TextDone JsonDone(std::function<void(HttpResponse)> done) {
    return [done = std::move(done)](std::string body) {
      HttpResponse r;
      r.body = std::move(body);
      done(std::move(r));
    };
  }
  static CountDone CountJsonDone(std::string field,
                                 std::function<void(HttpResponse)> done) {
    return [field = std::move(field), done = std::move(done)](int n) {
      HttpResponse r;
      r.body = "{\"" + field + "\":" + std::to_string(n) + "}";
      done(std::move(r));
    };
  }

  // --- LocalStack-style captured mail (/_aws/ses) ---------------------------
  // Read-your-writes: a message is listed once its send has been answered
  // (admission lists it before the answer; capture::Mailbox).
  HttpResponse AwsSes(const HttpRequest& req) {
    std::map<std::string, std::string> q = ParseForm(req.query);
    if (req.method == "DELETE") {
      mailbox->Delete(q["id"]);
      HttpResponse r;
      r.status = 204;
      return r;
    }
    json::array messages;
    for (const auto& e : mailbox->List(q["id"], q["email"])) {
      std::string raw = mailbox->Raw(e);
      json::object m;
      m["Id"] = e.id;
      m["Region"] = config.api_region;
      m["Timestamp"] = e.timestamp;
      m["Source"] = e.from;
      json::array to;
      for (const auto& d : e.destinations) to.emplace_back(d);
      json::object dest;
      dest["ToAddresses"] = std::move(to);
      m["Destination"] = dest;
      std::string subject, text, html;
      auto parsed = mime::Parse(raw);
      if (parsed.ok()) {
        subject = mime::DecodeWords(parsed->Header("Subject"));
        mime::FindBodies(*parsed, &text, &html);
      }
      m["Subject"] = subject;
      json::object body;
      body["text_part"] =
          text.empty() ? json::value(nullptr) : json::value(text);
      body["html_part"] =
          html.empty() ? json::value(nullptr) : json::value(html);
      m["Body"] = body;
      m["RawData"] = raw;
      messages.push_back(m);
    }
    json::object root;
    root["messages"] = messages;
    HttpResponse r;
    r.body = json::serialize(root);
    return r;
  }

  // --- dashboard data -------------------------------------------------------
  // /admin/* for the dashboard (a session), local tools (the bearer token in
  // <data_dir>/admin.token) and owner keys (SigV4). Loopback is no
  // credential: a webhook the server itself calls, or any local process,
  // comes from loopback (server-side request forgery).
  bool AdminAllowed(const HttpRequest& req) {
    if (services.admin_session && services.admin_session(req)) return true;
    std::string authz = req.Header("Authorization");
    if (authz.rfind("Bearer ", 0) == 0)
      return !admin_token.empty() &&
             auth::SafeEquals(TrimCopy(authz.substr(7)), admin_token);
    if (authz.rfind("AWS4-HMAC-SHA256 ", 0) == 0) {
      Caller caller;
      return !Authenticate(req, &caller) && caller.owner;
    }
    return false;
  }

  HttpResponse SearchSuppression(const std::string& q,
                                 const std::string& after) {
    HttpResponse r;
    auto found = resources.SearchSuppressed(q, after, 100);
    if (!found.ok()) {
      r.status = 500;
      r.body = "{\"message\":\"" + JsonEscape(found.error().message()) + "\"}";
      return r;
    }
    r.body = "{\"SuppressedDestinations\":[";
    for (size_t i = 0; i < found->first.size(); ++i)
      r.body += (i ? "," : "") + found->first[i];
    r.body += "],\"Next\":\"" + JsonEscape(found->second) + "\"}";
    return r;
  }

  // Every identity with its v2 GetEmailIdentity attributes (verification,
  // DKIM, MAIL FROM status and when they were last checked).
  std::string IdentitiesJson() {
    std::string out = "{\"Identities\":[";
    bool first = true;
    for (const auto& id : resources.ListIdentities()) {
      HttpRequest get;
      get.method = "GET";
      get.path = "/v2/email/identities/" + auth::UriEncode(id, false);
      get.target = get.path;
      auto answer = HandleV2Resources(&resources, get);
      if (!answer || answer->status != 200) continue;
      out += std::string(first ? "" : ",") + "{\"IdentityName\":\"" +
             JsonEscape(id) + "\",\"Attributes\":" + answer->body + "}";
      first = false;
    }
    return out + "]}";
  }

  // A domain's records, each looked up now (in parallel); answered when the
  // last lookup returns.
  void IdentityRecords(const std::string& domain,
                       std::function<void(HttpResponse)> done) {
    HttpResponse r;
    if (domain.find('@') != std::string::npos || domain.empty() ||
        !resources.IdentityExists(domain)) {
      r.status = 404;
      r.body = "{\"message\":\"no such domain identity: " + JsonEscape(domain) +
               "\"}";
      done(std::move(r));
      return;
    }
    auto key = dkim_keys.Ensure(domain);
    if (!key.ok()) {
      r.status = 500;
      r.body = "{\"message\":\"" + JsonEscape(key.error().message()) + "\"}";
      done(std::move(r));
      return;
    }
    struct Pending {
      std::mutex mu;
      std::vector<DnsRecord> records;
      size_t left = 0;
      std::function<void(HttpResponse)> done;
      std::string domain;
    };
    auto st = std::make_shared<Pending>();
    st->records = ses::RecordsFor(domain, *key, config.hostname);
    st->left = st->records.size();
    st->done = std::move(done);
    st->domain = domain;
    auto finish = [](Pending& s) {
      HttpResponse out;
      out.body = "{\"Domain\":\"" + JsonEscape(s.domain) +
                 "\",\"Records\":" + RecordsJson(s.records) + "}";
      s.done(std::move(out));
    };
    if (!services.resolve_txt) {
      finish(*st);
      return;
    }
    for (size_t i = 0; i < st->records.size(); ++i) {
      services.resolve_txt(
          st->records[i].name,
          [st, i, finish](Result<std::vector<std::string>> txt) {
            std::unique_lock lock(st->mu);
            st->records[i].status = RecordStatus(st->records[i], txt);
            if (--st->left == 0) {
              lock.unlock();
              finish(*st);
            }
          });
    }
  }

  // --- dispatch
  // ----------------------------------------------------------------
  void Handle(HttpRequest req, std::function<void(HttpResponse)> done) {
    const std::string& p = req.path;
    // SES v2 serves PutEmailIdentityDkimSigningAttributes under /v1/email.
    if (p.rfind("/v2/email", 0) == 0 || p.rfind("/v1/email/", 0) == 0) {
      V2(req, std::move(done));
      return;
    }
    if (p == "/" && req.method == "POST") {
      V1(req, std::move(done));
      return;
    }
    HttpResponse r;
    auto param = [&](const std::string& key) {
      return ParseForm(req.query)[key];
    };
    bool admin = p.rfind("/admin/", 0) == 0;
    if (p == "/health" && (req.method == "GET" || req.method == "HEAD")) {
      r.body = "{\"status\":\"ok\"}";
    } else if (p == "/ready" && req.method == "GET") {
      // Ready: the spool directory is writable, the state store answers
      // and the listeners are bound; 503 naming what is not.
      bool spool_ok = ::access((config.data_dir + "/spool").c_str(), W_OK) == 0;
      bool accepting = spool->Accepting();  // false on a full disk
      bool store_ok = resources.StoreReachable();
      bool listeners_ok = !services.listeners_up || services.listeners_up();
      bool ok = spool_ok && accepting && store_ok && listeners_ok;
      r.status = ok ? 200 : 503;
      r.body = std::string("{\"status\":\"") + (ok ? "ready" : "not ready") +
               "\",\"spool\":" + (spool_ok ? "true" : "false") +
               ",\"spoolAccepting\":" + (accepting ? "true" : "false") +
               ",\"store\":" + (store_ok ? "true" : "false") +
               ",\"listeners\":" + (listeners_ok ? "true" : "false") +
               ",\"queued\":" + std::to_string(spool->size()) + "}";
    } else if (p == "/metrics" && req.method == "GET" && services.metrics) {
      services.metrics([done](std::string text) {
        HttpResponse m;
        m.content_type = "text/plain; version=0.0.4";
        m.body = std::move(text);
        done(std::move(m));
      });
      return;
    } else if (p == "/verify-email" && req.method == "GET") {
      auto q = ParseForm(req.query);
      bool ok = resources.ConfirmEmail(q["identity"], q["token"]);
      r.status = ok ? 200 : 400;
      r.content_type = "text/html; charset=utf-8";
      r.body = ok ? "<!doctype html><title>Verified</title><p>" +
                        XmlEscape(q["identity"]) +
                        " is verified for sending.</p>"
                  : "<!doctype html><title>Not verified</title><p>This "
                    "verification link is invalid or was used "
                    "already.</p>";
    } else if (p == "/_aws/ses" && config.api_local_mailbox &&
               (req.method == "GET" || req.method == "DELETE")) {
      r = AwsSes(req);
    } else if (admin && !AdminAllowed(req)) {
      r.status = 403;
      r.body =
          "{\"message\":\"admin endpoints need a dashboard session, the "
          "bearer token in <data_dir>/admin.token, or an owner key's SigV4 "
          "signature\"}";
    } else if (p.rfind("/admin/v2/email/", 0) == 0) {
      // The dashboard edits resources (suppression list, identities) through
      // the v2 operations, as the owner.
      HttpRequest inner = req;
      inner.path = p.substr(6);
      inner.target = req.target.substr(6);
      auto answer = HandleV2Resources(&resources, inner);
      if (answer) {
        r = std::move(*answer);
      } else {
        r.status = 404;
        r.body = "{\"message\":\"not a resource operation\"}";
      }
    } else if (p == "/admin/queues" && req.method == "GET" &&
               services.queues_json) {
      services.queues_json(JsonDone(done));
      return;
    } else if (p == "/admin/events/subscriptions" && req.method == "GET" &&
               services.event_subscriptions_json) {
      services.event_subscriptions_json(JsonDone(done));
      return;
    } else if (p == "/admin/reputation" && req.method == "GET" &&
               services.reputation_json) {
      r.body = services.reputation_json();
    } else if (p == "/admin/suppression" && req.method == "GET") {
      r = SearchSuppression(param("q"), param("after"));
    } else if (p == "/admin/identities" && req.method == "GET") {
      r.body = IdentitiesJson();
    } else if (p == "/admin/identities/records" && req.method == "GET") {
      IdentityRecords(AsciiLowerCopy(param("domain")), std::move(done));
      return;
    } else if (p == "/admin/messages" && req.method == "GET") {
      r.body = MessageTimeline(param("id"), param("recipient"));
      if (r.body.empty()) {
        r.status = 400;
        r.body = "{\"message\":\"give id or recipient\"}";
      }
    } else if (p == "/admin/dlq" && req.method == "GET" &&
               services.dead_letters_json) {
      services.dead_letters_json(JsonDone(done));
      return;
    } else if (p == "/admin/dlq/redrive" && req.method == "POST" &&
               services.redrive) {
      services.redrive(param("id"), CountJsonDone("Redriven", done));
      return;
    } else if (p == "/admin/stats" && req.method == "GET" &&
               services.statistics_json) {
      r.body = services.statistics_json(param("resolution"), param("scope"));
    } else if (p == "/admin/alarms" && req.method == "GET" &&
               services.alarms_json) {
      r.body = services.alarms_json();
    } else if (p == "/admin/alarms/history" && req.method == "GET" &&
               services.alarm_history_json) {
      r.body = services.alarm_history_json();
    } else if (p == "/admin/events/dlq" && req.method == "GET" &&
               services.event_dead_letters_json) {
      services.event_dead_letters_json(JsonDone(done));
      return;
    } else if (p == "/admin/events/dlq/redrive" && req.method == "POST" &&
               services.event_redrive) {
      services.event_redrive(param("subscription"),
                             CountJsonDone("Redriven", done));
      return;
    } else if (p == "/admin/dlq/purge" && req.method == "POST" &&
               services.purge) {
      services.purge(param("id"), CountJsonDone("Purged", done));
      return;
    } else if (p == "/admin/debug/hold-engine" && req.method == "POST" &&
               services.hold_engine) {
      services.hold_engine(std::atoi(param("ms").c_str()));
      r.body = "{}";
    } else {
      r.status = 404;
      r.body = "{\"message\":\"not found: " + JsonEscape(req.method + " " + p) +
               "\"}";
    }
    done(std::move(r));
  }
};

Api::Api(const config::Config& config, Deps deps, Services services)
    : impl_(std::make_shared<Impl>(config, deps, std::move(services))) {}

void Api::Handle(net::HttpRequest req,
                 std::function<void(net::HttpResponse)> done) {
  try {
    impl_->Handle(std::move(req), std::move(done));
  } catch (const std::exception& e) {
    // Exceptions never cross into the event loop: a bug becomes a 500.
    SESAME_LOG(kError, kLog) << "request failed: " << e.what();
    net::HttpResponse r;
    r.status = 500;
    r.headers = {{"x-amzn-ErrorType", "InternalServiceErrorException"}};
    r.body = "{\"message\":\"internal error\"}";
    done(std::move(r));
  }
}

void Api::RegisterMetrics(metrics::Registry* registry) {
  registry->Add([d = impl_.get()](metrics::Writer& w) {
    w.Counter("sesame_api_messages_accepted_total",
              "Messages the SES APIs made durable.", d->sent.load());
    w.Counter("sesame_api_throttled_total",
              "Sends refused by the sending quota (429 Throttling).",
              d->throttled.load());
  });
}

bool Api::SmtpAuthenticate(std::string_view user, std::string_view password) {
  auto secret = impl_->keys->Lookup(std::string(user));
  return secret &&
         auth::SafeEquals(auth::SmtpPassword(*secret, impl_->config.api_region),
                          password);
}

}  // namespace sesame::api
