#include "api/api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "auth/sigv4.h"
#include "base/base64.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "mime/mime.h"

namespace sesame::api {
namespace json = boost::json;
using net::HttpRequest;
using net::HttpResponse;

namespace {

constexpr char kLog[] = "api";
constexpr char kXmlns[] = "http://ses.amazonaws.com/doc/2010-12-01/";
constexpr size_t kMaxRecipients = 50;

std::string NewRequestId() {
  std::string id = NewMessageId(NowMillis());  // a random UUID lives inside it
  return id.substr(17, 36);
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A failed request, in neutral terms; each API flavour renders it.
struct ApiError {
  int status;
  std::string v2_name;
  std::string v1_code;
  std::string message;
};

ApiError BadRequest(const std::string& m) {
  return {400, "BadRequestException", "InvalidParameterValue", m};
}
ApiError Rejected(const std::string& m) {
  return {400, "MessageRejected", "MessageRejected", m};
}

HttpResponse V2Error(const ApiError& e) {
  HttpResponse r;
  r.status = e.status;
  r.headers = {{"x-amzn-ErrorType", e.v2_name},
               {"x-amzn-RequestId", NewRequestId()}};
  r.body = "{\"message\":\"" + JsonEscape(e.message) + "\"}";
  return r;
}

HttpResponse V1Error(const ApiError& e) {
  HttpResponse r;
  r.status = e.status;
  r.content_type = "text/xml";
  std::string rid = NewRequestId();
  r.headers = {{"x-amzn-RequestId", rid}};
  r.body = std::string("<ErrorResponse xmlns=\"") + kXmlns +
           "\">\n  <Error>\n    <Type>" +
           (e.status >= 500 ? "Receiver" : "Sender") + "</Type>\n    <Code>" +
           e.v1_code + "</Code>\n    <Message>" + XmlEscape(e.message) +
           "</Message>\n  </Error>\n  <RequestId>" + rid +
           "</RequestId>\n</ErrorResponse>\n";
  return r;
}

HttpResponse V1Ok(const std::string& action, const std::string& result_xml) {
  HttpResponse r;
  r.content_type = "text/xml";
  std::string rid = NewRequestId();
  r.headers = {{"x-amzn-RequestId", rid}};
  r.body = "<" + action + "Response xmlns=\"" + kXmlns + "\">\n  <" + action +
           "Result>" + result_xml + "</" + action +
           "Result>\n  <ResponseMetadata>\n    <RequestId>" + rid +
           "</RequestId>\n  </ResponseMetadata>\n</" + action + "Response>\n";
  return r;
}

HttpResponse JsonOk(const std::string& body) {
  HttpResponse r;
  r.headers = {{"x-amzn-RequestId", NewRequestId()}};
  r.body = body;
  return r;
}

// application/x-www-form-urlencoded: '+' is a space here (unlike SigV4
// queries).
std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= body.size()) {
    size_t amp = body.find('&', start);
    std::string_view pair = body.substr(start, amp == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : amp - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string k(pair.substr(0, eq)),
          v(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
      for (char& c : k) c = c == '+' ? ' ' : c;
      for (char& c : v) c = c == '+' ? ' ' : c;
      out[auth::PercentDecode(k)] = auth::PercentDecode(v);
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

std::vector<std::string> Members(const std::map<std::string, std::string>& form,
                                 const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 1;; ++i) {
    auto it = form.find(prefix + ".member." + std::to_string(i));
    if (it == form.end()) break;
    out.push_back(it->second);
  }
  return out;
}

bool HasCrLf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// An address SES would accept as a destination or sender.
bool PlausibleAddress(const std::string& a) {
  std::string spec = mime::AddrSpec(a);
  size_t at = spec.rfind('@');
  if (HasCrLf(a) || at == std::string::npos || at == 0 || at + 1 >= spec.size())
    return false;
  std::string domain = spec.substr(at + 1);
  if (domain.front() == '[') return domain.back() == ']';
  return domain.find('.') != std::string::npos && domain.front() != '.' &&
         domain.back() != '.';
}

// What a send needs after API-specific parsing.
struct Outgoing {
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
    if (!PlausibleAddress(r)) return Rejected("Illegal address: " + r);
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
  // Accept bare LF from clients; the spool and the wire want CRLF.
  std::string crlf;
  crlf.reserve(raw.size() + raw.size() / 50);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) crlf += '\r';
    crlf += raw[i];
  }
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

}  // namespace

struct Api::Impl : std::enable_shared_from_this<Api::Impl> {
  const config::Config& config;
  spool::Spool* spool;
  auth::KeyStore* keys;
  Services services;
  std::mutex mu;  // guards identities
  std::set<std::string>
      identities;  // verified identities (local profile: auto-verified)
  std::atomic<uint64_t> sent{0};

  Impl(const config::Config& c, spool::Spool* s, auth::KeyStore* k, Services sv)
      : config(c), spool(s), keys(k), services(std::move(sv)) {}

  // --- authentication ------------------------------------------------------
  std::optional<ApiError> Authenticate(const HttpRequest& req) {
    auth::SignedRequest sr{req.method, req.path, req.query, req.headers,
                           req.body};
    auto r = auth::Verify(
        sr, [this](const std::string& id) { return keys->Lookup(id); },
        NowMillis() / 1000, config.api_max_clock_skew_seconds);
    if (r.index() == 0) return std::nullopt;
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
        return ApiError{400, "RequestExpired", "RequestExpired", e.message};
      case auth::AuthFailure::kBadSignature:
      case auth::AuthFailure::kBadPayloadHash:
        return ApiError{403, "InvalidSignatureException",
                        "SignatureDoesNotMatch", e.message};
    }
    return ApiError{403, "AccessDeniedException", "AccessDenied", e.message};
  }

  // --- the one path to disk ------------------------------------------------
  void Commit(Outgoing out, const std::string& id, const std::string& client_ip,
              std::function<void(std::optional<ApiError>)> done) {
    spool::MessageMeta meta;
    meta.id = id;
    meta.created_ms = NowMillis();
    meta.mail_from = out.envelope_from;
    for (auto& r : out.recipients) {
      spool::Recipient rc;
      rc.address = mime::AddrSpec(r);
      meta.recipients.push_back(std::move(rc));
    }
    for (unsigned char c : out.content) {
      if (c >= 0x80) {
        meta.eight_bit = true;
        break;
      }
    }
    for (const auto& r : meta.recipients) {
      for (unsigned char c : r.address) meta.smtputf8 |= c >= 0x80;
    }
    meta.source = "api";
    meta.config_set = out.config_set;
    meta.client_ip = client_ip;
    auto self = shared_from_this();
    spool->Commit(
        std::move(meta), std::move(out.content),
        [self, done = std::move(done)](Status s) {
          if (s.ok()) {
            ++self->sent;
            done(std::nullopt);
          } else {
            done(ApiError{
                500, "InternalServiceErrorException", "InternalFailure",
                "Temporary service failure: the message was not stored (" +
                    s.error().message() + ")"});
          }
        });
  }

  std::optional<ApiError> CheckSender(const std::string& from) {
    if (!PlausibleAddress(from)) return Rejected("Illegal address: " + from);
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

  void V2SendEmail(const HttpRequest& req,
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
      m.message_id = "<" + id + "@email.amazonses.com>";
      m.date_ms = NowMillis();
      auto built = mime::Build(m);
      if (!built.ok()) {
        done(V2Error(BadRequest(built.error().message())));
        return;
      }
      out.content = std::move(*built);
      out.envelope_from = mime::AddrSpec(from);
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
      std::string envelope_from = mime::AddrSpec(from);
      auto prepared = PrepareRaw(std::move(*raw), id, !destination_given,
                                 &rcpts, &envelope_from);
      if (prepared.index() == 1) {
        done(V2Error(std::get<1>(prepared)));
        return;
      }
      if (auto e = CheckSender(envelope_from)) {
        done(V2Error(*e));
        return;
      }
      out.content = std::move(std::get<0>(prepared));
      out.envelope_from = envelope_from;
    } else {
      done(V2Error(BadRequest(
          "Template content is not supported yet by this Sesame version")));
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

  void V2(const HttpRequest& req, std::function<void(HttpResponse)> done) {
    if (auto e = Authenticate(req)) {
      done(V2Error(*e));
      return;
    }
    if (req.method == "POST" && req.path == "/v2/email/outbound-emails") {
      V2SendEmail(req, std::move(done));
      return;
    }
    if (req.method == "GET" && req.path == "/v2/email/account") {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "{\"SendQuota\":{\"Max24HourSend\":-1.0,\"MaxSendRate\":%."
                    "1f,\"SentLast24Hours\":%llu.0},"
                    "\"SendingEnabled\":true,\"ProductionAccessEnabled\":true,"
                    "\"EnforcementStatus\":\"HEALTHY\","
                    "\"DedicatedIpAutoWarmupEnabled\":false,"
                    "\"SuppressionAttributes\":{\"SuppressedReasons\":[]}}",
                    1000.0, static_cast<unsigned long long>(sent.load()));
      done(JsonOk(buf));
      return;
    }
    done(V2Error({404, "NotFoundException", "InvalidAction",
                  "Operation " + req.method + " " + req.path +
                      " is not supported by this Sesame version"}));
  }

  // --- SES v1 ----------------------------------------------------------------
  void V1(const HttpRequest& req, std::function<void(HttpResponse)> done) {
    if (auto e = Authenticate(req)) {
      done(V1Error(*e));
      return;
    }
    auto form = ParseForm(req.body);
    std::string action = form.count("Action") ? form["Action"] : "";
    if (action.empty()) {
      done(V1Error({400, "", "MissingAction", "Missing Action parameter"}));
      return;
    }
    if (action == "SendEmail" || action == "SendRawEmail") {
      V1Send(req, action, form, std::move(done));
      return;
    }
    if (action == "GetSendQuota") {
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "\n    <Max24HourSend>-1.0</Max24HourSend>\n    "
                    "<MaxSendRate>1000.0</MaxSendRate>\n"
                    "    <SentLast24Hours>%llu.0</SentLast24Hours>\n  ",
                    static_cast<unsigned long long>(sent.load()));
      done(V1Ok(action, buf));
      return;
    }
    if (action == "GetSendStatistics") {
      done(V1Ok(action, "\n    <SendDataPoints/>\n  "));
      return;
    }
    if (action == "VerifyEmailIdentity" || action == "VerifyEmailAddress" ||
        action == "VerifyDomainIdentity") {
      std::string key = action == "VerifyDomainIdentity" ? "Domain"
                        : action == "VerifyEmailAddress" ? "EmailAddress"
                                                         : "EmailAddress";
      std::string identity = form.count(key) ? form[key] : "";
      if (identity.empty() || HasCrLf(identity)) {
        done(V1Error(BadRequest("Missing or invalid " + key)));
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        identities.insert(identity);
      }
      if (action == "VerifyDomainIdentity") {
        std::string token =
            Base64Encode(auth::HmacSha256("sesame-verification", identity))
                .substr(0, 44);
        done(V1Ok(action, "\n    <VerificationToken>" + XmlEscape(token) +
                              "</VerificationToken>\n  "));
      } else {
        done(V1Ok(action, ""));
      }
      return;
    }
    if (action == "ListIdentities") {
      std::string members;
      {
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& i : identities)
          members += "\n      <member>" + XmlEscape(i) + "</member>";
      }
      done(V1Ok(action,
                "\n    <Identities>" + members + "\n    </Identities>\n  "));
      return;
    }
    done(V1Error(
        {400, "", "InvalidAction",
         "The action " + action + " is not valid for this web service."}));
  }

  void V1Send(const HttpRequest& req, const std::string& action,
              std::map<std::string, std::string>& form,
              std::function<void(HttpResponse)> done) {
    std::string id = NewMessageId(NowMillis());
    Outgoing out;
    out.config_set = form["ConfigurationSetName"];
    std::vector<std::string> rcpts;
    if (action == "SendEmail") {
      mime::SimpleMessage m;
      m.from = form["Source"];
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
      m.message_id = "<" + id + "@email.amazonses.com>";
      m.date_ms = NowMillis();
      auto built = mime::Build(m);
      if (!built.ok()) {
        done(V1Error(BadRequest(built.error().message())));
        return;
      }
      out.content = std::move(*built);
      out.envelope_from =
          mime::AddrSpec(form.count("ReturnPath") && !form["ReturnPath"].empty()
                             ? form["ReturnPath"]
                             : m.from);
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
      std::string envelope_from = mime::AddrSpec(form["Source"]);
      auto prepared = PrepareRaw(std::move(*raw), id, rcpts.empty(), &rcpts,
                                 &envelope_from);
      if (prepared.index() == 1) {
        done(V1Error(std::get<1>(prepared)));
        return;
      }
      if (auto e = CheckSender(envelope_from)) {
        done(V1Error(*e));
        return;
      }
      out.content = std::move(std::get<0>(prepared));
      out.envelope_from = envelope_from;
    }
    if (auto e = CheckRecipients(rcpts)) {
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

  // --- LocalStack-style captured mail (/_aws/ses) ---------------------------
  std::string MailboxDir() const { return config.data_dir + "/mailbox"; }

  std::vector<json::object> MailboxIndex() {
    std::vector<json::object> out;
    std::ifstream f(MailboxDir() + "/index.jsonl");
    std::string line;
    while (std::getline(f, line)) {
      boost::system::error_code ec;
      json::value v = json::parse(line, ec);
      if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
  }

  HttpResponse AwsSes(const HttpRequest& req) {
    std::map<std::string, std::string> q = ParseForm(req.query);
    std::string only_id = q["id"], only_email = q["email"];
    std::vector<json::object> index = MailboxIndex();
    if (req.method == "DELETE") {
      std::string kept;
      for (auto& e : index) {
        std::string id(e["MessageId"].as_string());
        if (only_id.empty() || id == only_id) {
          ::unlink((MailboxDir() + "/" + id + ".eml").c_str());
        } else {
          kept += json::serialize(e) + "\n";
        }
      }
      std::ofstream f(MailboxDir() + "/index.jsonl", std::ios::trunc);
      f << kept;
      HttpResponse r;
      r.status = 204;
      return r;
    }
    json::array messages;
    for (auto& e : index) {
      std::string id(e["MessageId"].as_string());
      std::string from(e["From"].as_string());
      if (!only_id.empty() && id != only_id) continue;
      if (!only_email.empty() && mime::AddrSpec(from) != only_email) continue;
      std::ifstream f(MailboxDir() + "/" + id + ".eml", std::ios::binary);
      std::string raw((std::istreambuf_iterator<char>(f)), {});
      json::object m;
      m["Id"] = id;
      m["Region"] = config.api_region;
      m["Timestamp"] = e["Timestamp"];
      m["Source"] = from;
      json::object dest;
      dest["ToAddresses"] = e["Destination"];
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

  // --- dispatch
  // ----------------------------------------------------------------
  void Handle(HttpRequest req, std::function<void(HttpResponse)> done) {
    const std::string& p = req.path;
    if (p.rfind("/v2/email", 0) == 0) {
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
      r.body =
          "{\"status\":\"ready\",\"queued\":" + std::to_string(spool->size()) +
          "}";
    } else if (p == "/metrics" && req.method == "GET") {
      r.content_type = "text/plain; version=0.0.4";
      r.body = services.metrics ? services.metrics() : "";
      r.body +=
          "# HELP sesame_api_messages_accepted_total Messages accepted through "
          "the SES APIs.\n"
          "# TYPE sesame_api_messages_accepted_total "
          "counter\nsesame_api_messages_accepted_total " +
          std::to_string(sent.load()) + "\n";
    } else if (p == "/_aws/ses" && config.api_local_mailbox &&
               (req.method == "GET" || req.method == "DELETE")) {
      r = AwsSes(req);
    } else if (admin && !req.loopback) {
      // Until signed admin credentials exist, the admin API answers loopback
      // only.
      r.status = 403;
      r.body = "{\"message\":\"admin endpoints answer loopback clients only\"}";
    } else if (p == "/admin/dlq" && req.method == "GET" &&
               services.dead_letters_json) {
      r.body = services.dead_letters_json();
    } else if (p == "/admin/dlq/redrive" && req.method == "POST" &&
               services.redrive) {
      r.body =
          "{\"Redriven\":" + std::to_string(services.redrive(param("id"))) +
          "}";
    } else if (p == "/admin/dlq/purge" && req.method == "POST" &&
               services.purge) {
      r.body =
          "{\"Purged\":" + std::to_string(services.purge(param("id"))) + "}";
    } else {
      r.status = 404;
      r.body = "{\"message\":\"not found: " + JsonEscape(req.method + " " + p) +
               "\"}";
    }
    done(std::move(r));
  }
};

Api::Api(const config::Config& config, spool::Spool* spool,
         auth::KeyStore* keys, Services services)
    : impl_(std::make_shared<Impl>(config, spool, keys, std::move(services))) {}

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

bool Api::SmtpAuthenticate(std::string_view user, std::string_view password) {
  auto secret = impl_->keys->Lookup(std::string(user));
  return secret &&
         auth::SafeEquals(auth::SmtpPassword(*secret, impl_->config.api_region),
                          password);
}

}  // namespace sesame::api
