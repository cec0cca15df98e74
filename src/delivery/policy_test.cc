#include "delivery/policy.h"

#include <gtest/gtest.h>

#include "delivery/dsn.h"

namespace sesame::delivery {
namespace {

config::Delivery Sample() {
  config::Delivery d;
  d.routes = {{"relay.test", {"127.0.0.1:2600", "127.0.0.1:2601"}, 1, 1},
              {"*.wild.test", {"10.0.0.1"}, 5, 2}};
  d.shaping = {{"*.slow.test", 2, 0, 5, 0}, {"mx.shared.test", 0, 10, 0, 100}};
  d.backoff = {{"try again later", 30, 10}};
  d.configuration_sets = {{"secure", true, 600, {}}};
  return d;
}

TEST(Policy, Routes) {
  Policy p(Sample());
  ASSERT_NE(p.RouteFor("relay.test"), nullptr);
  EXPECT_EQ(p.RouteFor("RELAY.test")->hosts.size(), 2u);
  EXPECT_NE(p.RouteFor("a.wild.test"), nullptr);
  EXPECT_EQ(p.RouteFor("wild.test"), nullptr);
  EXPECT_EQ(p.RouteFor("other.test"), nullptr);
}

TEST(Policy, ShapingByDomainOrMxHost) {
  Policy p(Sample());
  auto s = p.ShapingFor("a.slow.test", {});
  EXPECT_EQ(s.max_connections, 2u);
  EXPECT_EQ(s.messages_per_connection, 100u);  // from the default
  EXPECT_EQ(s.rate_per_second, 5);
  auto m = p.ShapingFor("customer.test", {"mx.shared.test"});
  EXPECT_EQ(m.max_connections, 20u);
  EXPECT_EQ(m.messages_per_connection, 10u);
  EXPECT_EQ(m.rate_per_hour, 100);
  EXPECT_EQ(p.ShapingFor("plain.test", {"mx.plain.test"}).match, "");
}

TEST(Policy, BackoffAndConfigSets) {
  Policy p(Sample());
  EXPECT_NE(p.BackoffFor("421 4.7.0 Try again LATER please"), nullptr);
  EXPECT_EQ(p.BackoffFor("451 4.3.0 temporary failure"), nullptr);
  EXPECT_TRUE(p.TlsRequired("secure"));
  EXPECT_FALSE(p.TlsRequired(""));
  EXPECT_EQ(p.MaxDeliverySeconds("secure"), 600u);
  EXPECT_EQ(p.MaxDeliverySeconds("other"), 50400u);
}

TEST(Policy, RetryDelayIsJitteredAndCapped) {
  Policy p(Sample());  // 60 s first, factor 2, cap 3600 s
  std::mt19937_64 rng(1);
  for (uint32_t attempt = 1; attempt <= 12; ++attempt) {
    double ceiling = std::min(3600.0, 60.0 * (1u << (attempt - 1)));
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      double d = p.RetryDelaySeconds(attempt, rng);
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      ASSERT_GE(d, 1.0);
      ASSERT_LE(d, ceiling);
    }
    EXPECT_LT(lo, ceiling * 0.1)
        << attempt;  // full jitter spreads down to the floor
    EXPECT_GT(hi, ceiling * 0.9) << attempt;
  }
}

TEST(Dsn, EnhancedStatusAndReport) {
  EXPECT_EQ(EnhancedStatus("550 5.1.1 no such user", true), "5.1.1");
  EXPECT_EQ(EnhancedStatus("550 no such user", true), "5.0.0");
  EXPECT_EQ(EnhancedStatus("451 4.7.1 later", false), "4.7.1");
  std::string dsn =
      BuildDsn("mx.sesame.test", "app@example.com", "0100-id", 0,
               {{"bad@example.org", "5.1.1", "smtp; 550 5.1.1 no such user",
                 "dns; mx.example.org", 0}},
               "Subject: hi\r\nFrom: app@example.com\r\n\r\nsecret body\r\n", 0,
               "seed1");
  EXPECT_NE(
      dsn.find("Content-Type: multipart/report; report-type=delivery-status;"),
      std::string::npos);
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; bad@example.org\r\nAction: "
                     "failed\r\nStatus: 5.1.1\r\n"),
            std::string::npos);
  EXPECT_NE(dsn.find("Diagnostic-Code: smtp; 550 5.1.1 no such user"),
            std::string::npos);
  EXPECT_NE(
      dsn.find("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n"),
      std::string::npos);
  EXPECT_EQ(dsn.find("secret body"), std::string::npos);
  EXPECT_NE(dsn.find("--=_sesame_dsn_seed1--\r\n"), std::string::npos);
}

}  // namespace
}  // namespace sesame::delivery

#include "base/ids.h"
#include "delivery/verp.h"

namespace sesame::delivery {
namespace {

TEST(Verp, RoundTripAndForgery) {
  std::string key(32, 'k');
  VerpTarget t{NewMessageId(1700000000123), 7};
  std::string addr = VerpAddress(t, "bounce.example.com", key);
  std::string local = addr.substr(0, addr.find('@'));
  EXPECT_LE(local.size(), 64u);
  EXPECT_EQ(addr.substr(addr.find('@')), "@bounce.example.com");
  auto back = ParseVerp(local, key);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->message_id, t.message_id);
  EXPECT_EQ(back->recipient, 7);
  // Case-insensitive (some MTAs lower- or upper-case local parts).
  std::string upper = local;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(ParseVerp(upper, key).has_value());
  // Another key, a flipped character, or a different recipient: forged.
  EXPECT_FALSE(ParseVerp(local, std::string(32, 'x')).has_value());
  std::string flipped = local;
  flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(ParseVerp(flipped, key).has_value());
  EXPECT_FALSE(ParseVerp("b+short", key).has_value());
  EXPECT_FALSE(ParseVerp("postmaster", key).has_value());
}

}  // namespace
}  // namespace sesame::delivery
