#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "auth/login_throttle.h"
#include "net/http.h"

namespace sesame::dashboard {

struct Options {
  // Configured admin credentials (both empty: access keys only).
  std::string admin_user, admin_password;
  int64_t session_ms = 12 * 3600 * 1000;
  bool local_mailbox = false;  // the captured-mail page (local profile)
  std::string hostname;        // shown in the page header
  // Failed logins: 10 from one address within 10 minutes lock it out for
  // 10 minutes (429); no delays. The table is bounded by max_entries.
  auth::LoginThrottle::Limits login_limits = DefaultLoginLimits();
  static auth::LoginThrottle::Limits DefaultLoginLimits() {
    auth::LoginThrottle::Limits l;
    l.free_failures = 1 << 30;
    l.lockout_failures = 10;
    l.lockout_ms = l.window_ms = 10 * 60 * 1000;
    l.max_entries = 10000;
    return l;
  }
};

// True when (access key id, secret) is an active key of this account: the
// root's or an IAM user's (whose policies then decide each admin request).
using KeyCheck =
    std::function<bool(const std::string& id, const std::string& secret)>;

// The web dashboard: serves the single page and its assets (embedded in the
// binary), logs operators in with an access key of this account or the
// configured admin credentials, and keeps their sessions (an HttpOnly,
// SameSite=Strict cookie; a per-session CSRF token that every state-changing
// admin request must echo in X-Sesame-Csrf). The data it shows comes from
// /admin/*, which the API serves to requests this class authorizes.
//
// Owned by the app. Thread-safe: sessions and login throttling behind one
// mutex (logins and page loads are rare; nothing here is on the mail path).
class Dashboard {
 public:
  Dashboard(Options options, KeyCheck key_check);

  // The answer for GET "/" and "/ui/..." (assets, session, login, logout),
  // or nullopt when the request is not the dashboard's (POST / is SES v1).
  std::optional<net::HttpResponse> Handle(const net::HttpRequest& req);

  // True when the request carries a live session cookie and, unless it is a
  // GET or HEAD, the session's CSRF token.
  bool Authorized(const net::HttpRequest& req);
  // The same, answering who logged in: the access key id, or "" for the
  // configured admin credentials; nullopt when not Authorized.
  std::optional<std::string> AuthorizedLogin(const net::HttpRequest& req);

 private:
  struct Session {
    std::string user, csrf;
    int64_t expires_ms = 0;
    bool with_key = false;  // user is an access key id (else the admin)
  };
  std::optional<Session> SessionOf(const net::HttpRequest& req);
  net::HttpResponse Login(const net::HttpRequest& req);
  net::HttpResponse Logout(const net::HttpRequest& req);

  Options options_;
  KeyCheck key_check_;
  std::mutex mu_;
  std::map<std::string, Session> sessions_;  // token -> session

 public:
  // For tests: addresses the login throttle tracks.
  size_t tracked_addresses() const { return throttle_.entries(); }

 private:
  auth::LoginThrottle throttle_;  // failed logins per remote address
};

// The value of cookie `name` in a Cookie header, or "".
std::string CookieValue(const std::string& header, const std::string& name);

}  // namespace sesame::dashboard
