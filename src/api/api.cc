// The front door: authentication, dispatch to the v1 and v2 operations and
// the admin endpoints, and what they share.
#include "api/impl.h"

namespace sesame::api {

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

std::optional<ApiError> CheckRecipients(const std::vector<std::string>& rcpts) {
  if (rcpts.empty())
    return BadRequest(
        "Missing required field Destination: at least one recipient is "
        "needed.");
  if (rcpts.size() > kMaxRecipients)
    return Rejected("Recipient count exceeds 50.");
  for (const auto& r : rcpts) {
    // SES: a malformed destination is a bad parameter (InvalidParameterValue,
    // BadRequestException), not a refused message.
    if (!PlausibleAddress(r))
      return BadRequest("Illegal address: " + Quoted(r));
  }
  return std::nullopt;
}

// Validates a raw message and prepares it: Bcc removed, Date and Message-ID
// added when missing.
std::variant<std::string, ApiError> PrepareRaw(
    std::string raw, const std::string& id, const std::string& mid_domain,
    bool use_headers, std::vector<std::string>* rcpts, std::string* from) {
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
  if (!has_mid) kept += "Message-ID: <" + id + "@" + mid_domain + ">\r\n";
  return kept + body;
}

// The RFC 5322 message of a send, with the Message-ID <id@mid_domain>
// (api.message_id_domain) and the current date.
Result<std::string> BuildSesMessage(mime::SimpleMessage& m,
                                    const std::string& id,
                                    const std::string& mid_domain) {
  m.message_id = "<" + id + "@" + mid_domain + ">";
  m.date_ms = NowMillis();
  return mime::Build(m);
}

// <Wrapper><member><Name>n</Name></member>...</Wrapper> (v1 list shapes).
std::string Api::Impl::NamedMembers(const std::string& wrapper,
                                    const std::vector<std::string>& names) {
  std::string members;
  for (const auto& n : names)
    members += "\n      <member><Name>" + XmlEscape(n) + "</Name></member>";
  return "\n    <" + wrapper + ">" + members + "\n    </" + wrapper + ">\n  ";
}

// (Max24HourSend, MaxSendRate, SentLast24Hours) as SES reports them.
std::tuple<double, double, double> Api::Impl::QuotaFigures() {
  // SES reports an unlimited quota as -1 (not 0, which clients read as
  // "may not send" or divide by).
  if (!quota) return {-1.0, -1.0, static_cast<double>(sent.load())};
  auto unlimited = [](double v) { return v > 0 ? v : -1.0; };
  return {unlimited(quota->max_24_hour_send()),
          unlimited(quota->max_send_rate()),
          quota->SentLast24Hours(NowMillis())};
}

std::optional<ApiError> Api::Impl::CheckConfigSet(const std::string& name) {
  if (name.empty() || resources.configuration_sets().Exists(name))
    return std::nullopt;
  for (const auto& cs : config.delivery.configuration_sets) {
    if (cs.name == name) return std::nullopt;
  }
  return ApiError{404, "NotFoundException", "ConfigurationSetDoesNotExist",
                  "Configuration set <" + name + "> does not exist."};
}

// --- authentication ------------------------------------------------------
std::optional<ApiError> Api::Impl::Authenticate(const HttpRequest& req,
                                                Caller* caller,
                                                std::string* service) {
  int64_t now_ms = NowMillis();
  if (int64_t locked = signature_throttle.LockedFor(req.remote_ip, now_ms))
    return ApiError{403, "AccessDeniedException", "AccessDenied",
                    "Too many requests with invalid signatures from " +
                        req.remote_ip + "; try again in " +
                        std::to_string((locked + 999) / 1000) + " seconds."};
  auth::SignedRequest sr{req.method, req.path, req.query, req.headers,
                         req.body};
  // IAM is global: SDKs sign it for us-east-1 whatever their region.
  const auth::Authorization scope = SignedScope(req);
  std::string region = config.api_region;
  if (scope.service == "iam" && scope.region == "us-east-1")
    region = "us-east-1";
  auto r = auth::Verify(
      sr, [this](const std::string& id) { return keys->Lookup(id); },
      now_ms / 1000, config.api_max_clock_skew_seconds, region);
  if (r.index() == 0) {
    const std::string& id = std::get<0>(r);
    admission::Caller who =
        admission::CallerForKey(*keys, id, config.api_account_id);
    caller->owner = who.owner;
    caller->iam_user = who.iam_user;
    caller->who = who.who;
    caller->source_ip = req.remote_ip;
    caller->secure = req.secure;
    keys->Touch(id, scope.service, region);
    if (service) *service = scope.service;
    signature_throttle.Succeeded(req.remote_ip, id);
    return std::nullopt;
  }
  const auth::AuthError& e = std::get<1>(r);
  if (e.failure == auth::AuthFailure::kBadSignature ||
      e.failure == auth::AuthFailure::kUnknownKey)
    signature_throttle.Failed(req.remote_ip, scope.access_key_id, now_ms);
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
      return ApiError{403, "InvalidSignatureException", "SignatureDoesNotMatch",
                      e.message};
    case auth::AuthFailure::kSessionToken:
      return ApiError{403, "UnrecognizedClientException",
                      "InvalidClientTokenId", e.message};
    case auth::AuthFailure::kBadSignature:
    case auth::AuthFailure::kBadPayloadHash:
      return ApiError{403, "InvalidSignatureException", "SignatureDoesNotMatch",
                      e.message};
  }
  return ApiError{403, "AccessDeniedException", "AccessDenied", e.message};
}

// --- SES v2 ----------------------------------------------------------------
std::variant<std::vector<std::string>, ApiError> Api::Impl::StrList(
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

// A v1 answer to a failed store write: the named 400 when the document
// exists already, else 500 InternalFailure.
ApiError Api::Impl::StoreError(const Error& e, const std::string& exists_code,
                               const std::string& exists_message) {
  if (e.code() == "exists") return {400, "", exists_code, exists_message};
  if (e.code() == "invalid") return BadRequest(e.message());
  return InternalError(e);
}

// --- dispatch
// ----------------------------------------------------------------
void Api::Impl::Handle(HttpRequest req,
                       std::function<void(HttpResponse)> done) {
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
    bool draining = admission->Draining();
    bool ok = spool_ok && accepting && store_ok && listeners_ok && !draining;
    r.status = ok ? 200 : 503;
    r.body = std::string("{\"status\":\"") + (ok ? "ready" : "not ready") +
             "\",\"spool\":" + (spool_ok ? "true" : "false") +
             ",\"spoolAccepting\":" + (accepting ? "true" : "false") +
             ",\"store\":" + (store_ok ? "true" : "false") +
             ",\"listeners\":" + (listeners_ok ? "true" : "false") +
             ",\"draining\":" + (draining ? "true" : "false") +
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
    // Writes the identity: on the store thread.
    store_thread.Post([this, q = ParseForm(req.query),
                       done = std::move(done)]() mutable {
      // A custom verification template's link redirects to its URLs.
      std::string custom =
          resources.identities().CustomVerificationTemplate(q["identity"]);
      bool ok = resources.identities().ConfirmEmail(q["identity"], q["token"]);
      if (auto t = resources.verification_templates().Get(custom);
          !custom.empty() && t.ok()) {
        HttpResponse v;
        v.status = 302;
        v.headers = {{"Location", ok ? t->success_url : t->failure_url}};
        return done(std::move(v));
      }
      HttpResponse v;
      v.status = ok ? 200 : 400;
      v.content_type = "text/html; charset=utf-8";
      v.body = ok ? "<!doctype html><title>Verified</title><p>" +
                        XmlEscape(q["identity"]) +
                        " is verified for sending.</p>"
                  : "<!doctype html><title>Not verified</title><p>This "
                    "verification link is invalid or was used "
                    "already.</p>";
      done(std::move(v));
    });
    return;
  } else if (p == "/_aws/ses" && config.api_local_mailbox &&
             (req.method == "GET" || req.method == "DELETE")) {
    r = AwsSes(req);
  } else if (admin) {
    AdminRequest(std::move(req), std::move(done));
    return;
  } else {
    r.status = 404;
    r.body =
        "{\"message\":\"not found: " + JsonEscape(req.method + " " + p) + "\"}";
  }
  done(std::move(r));
}

// /admin/*: a credential of this account, then the row's IAM action (an
// IAM user as its policies say), then the handler on the store thread (the
// dashboard's reads and edits touch the store; the rest posts onward).
void Api::Impl::AdminRequest(HttpRequest req,
                             std::function<void(HttpResponse)> done) {
  std::optional<Caller> caller = AdminCaller(req);
  if (!caller) {
    // No credential at all: 401 (a policy's denial below is 403).
    HttpResponse r;
    r.status = 401;
    r.headers = {{"WWW-Authenticate", "Bearer realm=\"sesame-admin\""}};
    r.body =
        "{\"message\":\"admin endpoints need a dashboard session, the "
        "bearer token in <data_dir>/admin.token, or a SigV4 signature by a "
        "key of this account\"}";
    return done(std::move(r));
  }
  auto [action, resource] = AdminAction(req);
  if (!action.empty()) {
    if (auto denied = Authorize(*caller, req, action, resource)) {
      HttpResponse r;
      r.status = 403;
      r.headers = {{"x-amzn-ErrorType", denied->v2_name}};
      r.body = "{\"__type\":\"" + denied->v2_name + "\",\"message\":\"" +
               JsonEscape(denied->message) + "\"}";
      return done(std::move(r));
    }
  }
  auto owned = std::make_shared<HttpRequest>(std::move(req));
  store_thread.Post([this, owned, who = std::move(*caller),
                     done = std::move(done)]() mutable {
    Admin(*owned, who, std::move(done));
  });
}

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
    w.Counter("sesame_iam_denied_total",
              "Requests of IAM users their policies refused (AccessDenied).",
              d->denied.load());
    w.Counter("sesame_api_signature_failures_total",
              "SigV4 requests refused for a bad signature or unknown key.",
              d->signature_throttle.failures());
    w.Counter("sesame_api_signature_lockouts_total",
              "Client addresses locked out after repeated bad signatures.",
              d->signature_throttle.lockouts());
  });
}

bool Api::SmtpAuthenticate(std::string_view user, std::string_view password) {
  auto secret = impl_->keys->Lookup(std::string(user));
  return secret &&
         auth::SafeEquals(auth::SmtpPassword(*secret, impl_->config.api_region),
                          password);
}

std::vector<std::string> Api::Operations() {
  std::vector<std::string> out;
  for (const auto& row : Impl::V1Routes().Rows()) out.push_back("ses " + row);
  for (const auto& row : Impl::V2Routes().Rows()) out.push_back("sesv2 " + row);
  for (const auto& row : V2ResourceRows()) out.push_back("sesv2 " + row);
  for (const auto& row : Impl::SnsRoutes().Rows()) out.push_back("sns " + row);
  return out;
}

}  // namespace sesame::api
