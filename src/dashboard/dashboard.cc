#include "dashboard/dashboard.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <boost/json.hpp>

#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "dashboard/assets.h"

namespace sesame::dashboard {

namespace json = boost::json;

namespace {

constexpr char kCookie[] = "sesame_session";
constexpr size_t kMaxSessions = 10000;

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
             static_cast<int>(raw.size()));
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool SameString(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

net::HttpResponse JsonResponse(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.push_back({"Cache-Control", "no-store"});
  return r;
}

}  // namespace

std::string CookieValue(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part =
        TrimCopy(std::string_view(header).substr(pos, end - pos));
    size_t eq = part.find('=');
    if (eq != std::string::npos && part.substr(0, eq) == name)
      return part.substr(eq + 1);
    pos = end + 1;
  }
  return "";
}

Dashboard::Dashboard(Options options, KeyCheck key_check)
    : options_(std::move(options)),
      key_check_(std::move(key_check)),
      throttle_(options_.login_limits) {}

std::optional<Dashboard::Session> Dashboard::SessionOf(
    const net::HttpRequest& req) {
  std::string token = CookieValue(req.Header("Cookie"), kCookie);
  if (token.empty()) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires_ms <= NowMillis()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

bool Dashboard::Authorized(const net::HttpRequest& req) {
  return AuthorizedLogin(req).has_value();
}

std::optional<std::string> Dashboard::AuthorizedLogin(
    const net::HttpRequest& req) {
  auto s = SessionOf(req);
  if (!s) return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD" &&
      !SameString(req.Header("X-Sesame-Csrf"), s->csrf))
    return std::nullopt;
  return s->with_key ? s->user : "";
}

net::HttpResponse Dashboard::Login(const net::HttpRequest& req) {
  int64_t now = NowMillis();
  if (int64_t left = throttle_.LockedFor(req.remote_ip, now); left > 0) {
    auto r = JsonResponse(
        429, "{\"message\":\"too many failed logins; try again later\"}");
    r.headers.push_back({"Retry-After", std::to_string((left + 999) / 1000)});
    return r;
  }
  // A JSON body only: a cross-site form cannot send one without a preflight,
  // so nobody can log a victim's browser into an attacker's session.
  if (req.Header("Content-Type").rfind("application/json", 0) != 0)
    return JsonResponse(415, "{\"message\":\"send application/json\"}");
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object())
    return JsonResponse(400, "{\"message\":\"the body is not a JSON object\"}");
  auto str = [&](const char* k) -> std::string {
    auto* p = v.as_object().if_contains(k);
    return p && p->is_string() ? std::string(p->as_string()) : "";
  };
  std::string user = str("user"), password = str("password");
  if (user.empty() || password.empty())
    return JsonResponse(
        400,
        "{\"message\":\"give user and password (an access key id and its "
        "secret, or the admin credentials)\"}");
  std::string who;
  bool with_key = false;
  if (!options_.admin_user.empty() && SameString(user, options_.admin_user) &&
      SameString(password, options_.admin_password)) {
    who = user;
  } else if (key_check_ && key_check_(user, password)) {
    who = user;
    with_key = true;
  }
  if (who.empty()) {
    (void)throttle_.Failed(req.remote_ip, "", now);
    return JsonResponse(401, "{\"message\":\"wrong user or password\"}");
  }
  throttle_.Succeeded(req.remote_ip, "");
  Session s{who, RandomHex(16), now + options_.session_ms, with_key};
  std::string token = RandomHex(32);
  {
    std::lock_guard lock(mu_);
    if (sessions_.size() >= kMaxSessions) {
      std::erase_if(sessions_, [&](const auto& kv) {
        return kv.second.expires_ms <= now;
      });
      if (sessions_.size() >= kMaxSessions) sessions_.erase(sessions_.begin());
    }
    sessions_[token] = s;
  }
  auto r = JsonResponse(200, "{\"user\":\"" + JsonEscape(who) +
                                 "\",\"csrf\":\"" + s.csrf + "\"}");
  r.headers.push_back(
      {"Set-Cookie", std::string(kCookie) + "=" + token +
                         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                         std::to_string(options_.session_ms / 1000)});
  return r;
}

net::HttpResponse Dashboard::Logout(const net::HttpRequest& req) {
  std::string token = CookieValue(req.Header("Cookie"), kCookie);
  if (!Authorized(req))
    return JsonResponse(403, "{\"message\":\"not logged in\"}");
  {
    std::lock_guard lock(mu_);
    sessions_.erase(token);
  }
  auto r = JsonResponse(200, "{}");
  r.headers.push_back(
      {"Set-Cookie", std::string(kCookie) +
                         "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"});
  return r;
}

std::optional<net::HttpResponse> Dashboard::Handle(
    const net::HttpRequest& req) {
  const std::string& p = req.path;
  // "/" is the page only for GET: POST / is the SES v1 Query API.
  bool page = p == "/" && (req.method == "GET" || req.method == "HEAD");
  if (!page && p.rfind("/ui/", 0) != 0) return std::nullopt;
  if (p == "/ui/login" && req.method == "POST") return Login(req);
  if (p == "/ui/logout" && req.method == "POST") return Logout(req);
  if (p == "/ui/session" && req.method == "GET") {
    auto s = SessionOf(req);
    if (!s) return JsonResponse(401, "{\"message\":\"not logged in\"}");
    return JsonResponse(
        200, "{\"user\":\"" + JsonEscape(s->user) + "\",\"csrf\":\"" + s->csrf +
                 "\",\"localMailbox\":" +
                 (options_.local_mailbox ? "true" : "false") +
                 ",\"hostname\":\"" + JsonEscape(options_.hostname) + "\"}");
  }
  if (req.method != "GET" && req.method != "HEAD") {
    net::HttpResponse r = JsonResponse(
        405,
        "{\"message\":\"method not allowed: " + JsonEscape(req.method) + "\"}");
    r.headers.push_back({"Allow", "GET, HEAD"});
    return r;
  }
  for (int i = 0; i < kAssetCount; ++i) {
    if (kAssets[i].path != p) continue;
    net::HttpResponse r;
    r.content_type = std::string(kAssets[i].content_type);
    r.body = std::string(kAssets[i].body);
    // The page runs only its own script and style: no inline code, no
    // framing, no sniffing.
    r.headers = {
        {"Content-Security-Policy",
         "default-src 'self'; img-src 'self' data:; style-src 'self'; "
         "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
         "base-uri 'none'; form-action 'self'"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-cache"}};
    return r;
  }
  return JsonResponse(404,
                      "{\"message\":\"not found: " + JsonEscape(p) + "\"}");
}

}  // namespace sesame::dashboard
