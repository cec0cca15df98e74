#include "config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace sesame::config {
namespace {

TEST(Config, LocalProfileDefaults) {
  Config c = LocalProfile();
  EXPECT_EQ(c.smtp.port, 2587);
  EXPECT_EQ(c.smtps.port, 2465);
  EXPECT_EQ(c.mx.port, 2525);
  EXPECT_EQ(c.http.port, 8080);
  EXPECT_EQ(c.smtp.address, "127.0.0.1");
  EXPECT_EQ(c.limits.max_message_bytes, 40u << 20);
  EXPECT_EQ(c.limits.max_recipients, 50u);
  EXPECT_EQ(c.data_dir, "./var");
}

TEST(Config, FullFileParses) {
  auto c = ParseConfig(R"(
profile: production
data_dir: /var/lib/sesame
hostname: mail.example.com
threads: 4
listeners:
  smtp: {address: 0.0.0.0, port: 587}
  smtps: {port: 465}
  mx: {address: "::", port: 25}
  http: {enabled: false}
tls: {cert_file: /etc/c.pem, key_file: /etc/k.pem}
limits:
  max_message_size: 10MB
  max_recipients: 100
  max_connections_per_ip: 5
smtp:
  auth_without_tls: false
  users: [{username: app, password: s3cret}]
  relay_networks: [10.0.0.0/8, "fd00::/8"]
mx:
  domains: [Bounces.Example.com, "*.fbl.example.com"]
spool: {sync: true, segment_size: 64MB}
)",
                       "test.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->smtp.port, 587);
  EXPECT_EQ(c->smtp.address, "0.0.0.0");
  EXPECT_EQ(c->mx.address, "::");
  EXPECT_FALSE(c->http.enabled);
  EXPECT_EQ(c->limits.max_message_bytes, 10u << 20);
  EXPECT_EQ(c->limits.max_recipients, 100u);
  ASSERT_EQ(c->smtp_users.size(), 1u);
  EXPECT_EQ(c->smtp_users[0].username, "app");
  EXPECT_EQ(c->mx_domains[0], "bounces.example.com");
  EXPECT_EQ(c->spool_segment_bytes, 64u << 20);
  EXPECT_TRUE(c->relay_networks[0].Contains("10.1.2.3"));
  EXPECT_TRUE(c->relay_networks[0].Contains("::ffff:10.1.2.3"));
  EXPECT_FALSE(c->relay_networks[0].Contains("11.1.2.3"));
  EXPECT_TRUE(c->relay_networks[1].Contains("fd12::1"));
  EXPECT_EQ(c->CertFile(), "/etc/c.pem");
}

TEST(Config, EmptyFileIsProductionDefaults) {
  auto c = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->profile, "production");
  EXPECT_TRUE(c->smtp_users.empty());
}

TEST(Config, LocalProfileCanBeOverridden) {
  auto c = ParseConfig("profile: local\nlisteners: {smtp: {port: 3587}}\n",
                       "x.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->smtp.port, 3587);
  EXPECT_EQ(c->smtps.port, 2465);
  EXPECT_EQ(c->smtp_users.size(), 1u);
}

struct BadCase {
  const char* yaml;
  const char* expect;  // substring of the message
};

TEST(Config, PreciseErrors) {
  const BadCase cases[] = {
      {"data_dri: x\n", "bad.yaml:1:1: data_dri: unknown key"},
      {"limits:\n  max_recipients: abc\n",
       "bad.yaml:2:19: limits.max_recipients: must be an integer between 1 and "
       "100000, got 'abc'"},
      {"limits:\n  max_recipients: 0\n",
       "limits.max_recipients: must be an integer between 1 and 100000, got 0"},
      {"limits: {max_message_size: 12XB}\n",
       "limits.max_message_size: unknown size unit 'XB'"},
      {"listeners:\n  smtp:\n    port: 70000\n",
       "bad.yaml:3:11: listeners.smtp.port"},
      {"listeners:\n  smtp: {address: localhost}\n",
       "listeners.smtp.address: must be an IPv4 or IPv6 address"},
      {"listeners:\n  smtq: {}\n",
       "listeners.smtq: unknown key (known keys: http, mx, smtp, smtps)"},
      {"listeners: {smtp: {port: 25}, mx: {port: 25}}\n",
       "listeners.mx.port: port 25 is already used by listeners.smtp"},
      {"smtp: {users: [{username: a}]}\n",
       "smtp.users[0]: needs both username and password"},
      {"dashboard: {admin_user: ops}\n",
       "dashboard: needs both admin_user and admin_password"},
      {"dashboard: {session_hours: 0}\n", "dashboard.session_hours"},
      {"smtp: {users: [{username: a, password: b, role: x}]}\n",
       "smtp.users[0].role: unknown key"},
      {"smtp: {relay_networks: [10.0.0.0/33]}\n",
       "smtp.relay_networks[0]: '10.0.0.0/33' has a bad prefix length"},
      {"smtp: {auth_without_tls: maybe}\n",
       "smtp.auth_without_tls: must be true or false, got 'maybe'"},
      {"profile: staging\n", "profile: must be 'local' or 'production'"},
      {"limits: [1, 2]\n", "limits: must be a mapping"},
      {"key: [unclosed\n", "invalid YAML"},
      {"mx: {domains: [\"a b\"]}\n", "mx.domains[0]: must be a domain name"},
      {"log_level: loud\n", "log_level: must be one of"},
      {"redis: {address: 6379}\n",
       "bad.yaml:1:18: redis.address: must be host:port (e.g. 127.0.0.1:6379), "
       "got '6379'"},
      {"redis: {address: \"db:0\"}\n",
       "redis.address: port must be between 1 and 65535, got '0'"},
      {"redis: {address: \"a b:1\"}\n", "redis.address: must be host:port"},
      {"redis: {lease_seconds: 1}\n",
       "redis.lease_seconds: must be an integer between 2 and 3600, got 1"},
  };
  for (const auto& c : cases) {
    auto r = ParseConfig(c.yaml, "bad.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos)
        << "yaml: " << c.yaml << "\nmessage: " << r.error().message();
  }
}

TEST(Config, RedisAddress) {
  auto r = ParseConfig(
      "redis: {address: \"[::1]:6380\", lease_seconds: 5}\n"
      "store: {outage_grace_seconds: 0}\n",
      "ok.yaml");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->redis_host, "::1");
  EXPECT_EQ(r->redis_port, 6380);
  EXPECT_EQ(r->redis_lease_seconds, 5u);
  EXPECT_EQ(r->store_outage_grace_seconds, 0u);
  auto d = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->redis_host, "");
  EXPECT_EQ(d->store_outage_grace_seconds, 300u);
}

TEST(Config, MissingFile) {
  auto r = LoadConfigFile("/nonexistent/sesame.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace sesame::config

namespace sesame::config {
namespace {
TEST(Config, ExampleFileIsValid) {
  const char* src = std::getenv("SESAME_SOURCE_DIR");
  auto c =
      LoadConfigFile(std::string(src ? src : ".") + "/examples/sesame.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->delivery.routes.size(), 1u);
  EXPECT_EQ(c->delivery.routes[0].hosts.size(), 2u);
  EXPECT_EQ(c->delivery.shaping.size(), 2u);
  EXPECT_TRUE(c->delivery.configuration_sets[0].tls_required);
  EXPECT_EQ(c->delivery.backoff[0].pattern, "try again later");
}

TEST(Config, DeliveryErrors) {
  auto r = ParseConfig("delivery: {mode: carrier-pigeon}\n", "d.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(
                "delivery.mode: must be one of smtp, capture, hold"),
            std::string::npos)
      << r.error().message();
  r = ParseConfig(
      "configuration_sets: [{name: x, max_delivery_seconds: 100}]\n", "d.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(
      r.error().message().find(
          "max_delivery_seconds: must be an integer between 300 and 50400"),
      std::string::npos);
  r = ParseConfig("routes: [{match: a.test}]\n", "d.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("needs match and at least one host"),
            std::string::npos);
}
}  // namespace
}  // namespace sesame::config

namespace sesame::config {
namespace {

TEST(Config, DuplicateKeysAreAnErrorNamingBothLines) {
  auto r = ParseConfig("hostname: a.test\nthreads: 1\nhostname: b.test\n",
                       "dup.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(),
            "dup.yaml:3:1: hostname: duplicate key (first given at line 1, "
            "again at line 3)");
  auto nested = ParseConfig(
      "listeners:\n  smtp: {port: 1}\n  smtp: {port: 2}\n", "n.yaml");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message().find(
                "n.yaml:3:3: listeners.smtp: duplicate key (first given at "
                "line 2"),
            std::string::npos)
      << nested.error().message();
}

TEST(Config, NulInAStringIsRefused) {
  auto r = ParseConfig("data_dir: \"/var/lib/\\0x\"\n", "nul.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("data_dir: must not contain a NUL"),
            std::string::npos)
      << r.error().message();
}

TEST(Config, ChangedKeysForAReload) {
  std::string a = "hostname: a.test\nlog_level: info\ndelivery:\n  mode: mx\n";
  EXPECT_TRUE(ChangedKeys(a, a).empty());
  // Formatting and comments are no change; values, added and removed keys
  // are.
  EXPECT_TRUE(ChangedKeys(a,
                          "hostname:   a.test  # same\nlog_level: info\n"
                          "delivery: {mode: mx}\n")
                  .empty());
  EXPECT_EQ(ChangedKeys(a,
                        "hostname: b.test\nlog_level: info\n"
                        "delivery: {mode: capture}\nthreads: 2\n"),
            (std::vector<std::string>{"delivery", "hostname", "threads"}));
  EXPECT_EQ(ChangedKeys(a, "log_level: info\n"),
            (std::vector<std::string>{"delivery", "hostname"}));
  EXPECT_FALSE(ChangedKeys(a, "{unclosed").empty());
}

}  // namespace
}  // namespace sesame::config
