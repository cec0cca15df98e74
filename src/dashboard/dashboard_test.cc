#include "dashboard/dashboard.h"

#include <gtest/gtest.h>

namespace sesame::dashboard {
namespace {

net::HttpRequest Req(std::string method, std::string path,
                     std::string body = "") {
  net::HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  r.remote_ip = "192.0.2.7";
  r.headers = {{"Content-Type", "application/json"}};
  return r;
}

Dashboard Make() {
  Options o;
  o.admin_user = "admin";
  o.admin_password = "s3cret";
  return Dashboard(o, [](const std::string& id, const std::string& secret) {
    return id == "AKIDEXAMPLE" && secret == "key-secret";
  });
}

// Logs in and returns (cookie header value, csrf token).
std::pair<std::string, std::string> LogIn(Dashboard& d, std::string body) {
  auto r = d.Handle(Req("POST", "/ui/login", std::move(body)));
  EXPECT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  std::string cookie;
  for (auto& [k, v] : r->headers)
    if (k == "Set-Cookie") cookie = v.substr(0, v.find(';'));
  size_t c = r->body.find("\"csrf\":\"");
  return {cookie, r->body.substr(c + 8, 32)};
}

TEST(CookieValue, FindsTheNamedCookie) {
  EXPECT_EQ(CookieValue("a=1; sesame_session=xyz; b=2", "sesame_session"),
            "xyz");
  EXPECT_EQ(CookieValue("xsesame_session=1", "sesame_session"), "");
  EXPECT_EQ(CookieValue("", "sesame_session"), "");
}

TEST(Dashboard, ServesThePageWithASecurityPolicy) {
  auto d = Make();
  auto r = d.Handle(Req("GET", "/"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("/ui/app.js"), std::string::npos);
  bool csp = false;
  for (auto& [k, v] : r->headers)
    csp |= k == "Content-Security-Policy" &&
           v.find("script-src 'self'") != std::string::npos;
  EXPECT_TRUE(csp);
  EXPECT_FALSE(d.Handle(Req("GET", "/v2/email/identities")));
  EXPECT_FALSE(d.Handle(Req("POST", "/")));  // the SES v1 Query API
  EXPECT_EQ(d.Handle(Req("GET", "/ui/nothing"))->status, 404);
}

TEST(Dashboard, AdminCredentialsAndAccessKeysLogIn) {
  auto d = Make();
  for (std::string body :
       {R"({"user":"admin","password":"s3cret"})",
        R"({"user":"AKIDEXAMPLE","password":"key-secret"})"}) {
    auto [cookie, csrf] = LogIn(d, body);
    ASSERT_FALSE(cookie.empty());
    auto get = Req("GET", "/admin/queues");
    get.headers.push_back({"Cookie", cookie});
    EXPECT_TRUE(d.Authorized(get));
    // A state change needs the CSRF token too.
    auto post = Req("POST", "/admin/dlq/redrive");
    post.headers.push_back({"Cookie", cookie});
    EXPECT_FALSE(d.Authorized(post));
    post.headers.push_back({"X-Sesame-Csrf", csrf});
    EXPECT_TRUE(d.Authorized(post));
    // After logout the cookie is worthless.
    auto out = Req("POST", "/ui/logout");
    out.headers = post.headers;
    EXPECT_EQ(d.Handle(out)->status, 200);
    EXPECT_FALSE(d.Authorized(get));
  }
}

TEST(Dashboard, RefusesWrongPasswordsFormsAndTooManyTries) {
  auto d = Make();
  auto form = Req("POST", "/ui/login", "user=admin&password=s3cret");
  form.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  EXPECT_EQ(d.Handle(form)->status, 415);
  EXPECT_EQ(d.Handle(Req("POST", "/ui/login", "{"))->status, 400);
  EXPECT_EQ(d.Handle(Req("POST", "/ui/login", R"({"user":"admin"})"))->status,
            400);
  auto bad = Req("POST", "/ui/login", R"({"user":"admin","password":"x"})");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.Handle(bad)->status, 401);
  // Locked out, even with the right password, from that address.
  EXPECT_EQ(d.Handle(Req("POST", "/ui/login",
                         R"({"user":"admin","password":"s3cret"})"))
                ->status,
            429);
  // Another address is not locked out.
  auto other =
      Req("POST", "/ui/login", R"({"user":"admin","password":"s3cret"})");
  other.remote_ip = "192.0.2.8";
  EXPECT_EQ(d.Handle(other)->status, 200);
  auto get = Req("GET", "/admin/queues");
  get.headers.push_back({"Cookie", "sesame_session=forged"});
  EXPECT_FALSE(d.Authorized(get));
  EXPECT_EQ(d.Handle(Req("GET", "/ui/session"))->status, 401);
}

TEST(Dashboard, TheFailedLoginTableStaysBoundedAndKeepsLockouts) {
  Options o;
  o.admin_user = "admin";
  o.admin_password = "s3cret";
  o.login_limits.max_entries = 64;
  Dashboard d(o, nullptr);
  auto bad = Req("POST", "/ui/login", R"({"user":"admin","password":"x"})");
  bad.remote_ip = "203.0.113.7";
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.Handle(bad)->status, 401);
  EXPECT_EQ(d.Handle(bad)->status, 429);
  // Thousands of addresses failing once fill the table; it stays at its cap
  // and the locked-out address stays locked out.
  for (int i = 0; i < 5000; ++i) {
    auto r = bad;
    r.remote_ip =
        "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1";
    EXPECT_EQ(d.Handle(r)->status, 401);
  }
  EXPECT_LE(d.tracked_addresses(), 64u);
  EXPECT_EQ(d.Handle(bad)->status, 429);
  auto good =
      Req("POST", "/ui/login", R"({"user":"admin","password":"s3cret"})");
  good.remote_ip = "192.0.2.9";
  EXPECT_EQ(d.Handle(good)->status, 200);
}

}  // namespace
}  // namespace sesame::dashboard
