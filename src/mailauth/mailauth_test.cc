#include <gtest/gtest.h>

#include <map>

#include "mailauth/dmarc.h"
#include "mailauth/public_suffix.h"
#include "mailauth/spf.h"

namespace sesame::mailauth {
namespace {

// A zone in memory: the only fake here, for this module's unit test.
struct Zone {
  std::map<std::string, std::vector<std::string>> txt, a, mx;
  bool down = false;
  Dns dns() {
    auto of = [this](std::map<std::string, std::vector<std::string>>* m) {
      return
          [this, m](const std::string& n) -> Result<std::vector<std::string>> {
            if (down) return Error::Transient("dns", "SERVFAIL");
            auto it = m->find(n);
            return it == m->end() ? std::vector<std::string>{} : it->second;
          };
    };
    return {of(&txt), of(&a), of(&mx)};
  }
};

TEST(Spf, MechanismsQualifiersAndIncludes) {
  Zone z;
  z.txt["example.com"] = {
      "v=spf1 ip4:192.0.2.0/24 a:mail.example.com mx "
      "include:_spf.partner.net -all"};
  z.txt["_spf.partner.net"] = {"v=spf1 ip6:2001:db8::/32 ~all"};
  z.a["mail.example.com"] = {"198.51.100.7"};
  z.mx["example.com"] = {"203.0.113.9"};
  auto check = [&](const std::string& ip) {
    return CheckHost(ip, "example.com", "a@example.com", "h", z.dns());
  };
  EXPECT_EQ(check("192.0.2.55"), SpfResult::kPass);
  EXPECT_EQ(check("198.51.100.7"), SpfResult::kPass);
  EXPECT_EQ(check("203.0.113.9"), SpfResult::kPass);
  EXPECT_EQ(check("2001:db8::1"), SpfResult::kPass);
  EXPECT_EQ(check("10.0.0.1"), SpfResult::kFail);  // include's ~all: no match
  EXPECT_EQ(
      CheckHost("10.0.0.1", "none.example", "a@none.example", "h", z.dns()),
      SpfResult::kNone);
  z.txt["soft.example"] = {"v=spf1 ~all"};
  EXPECT_EQ(
      CheckHost("10.0.0.1", "soft.example", "x@soft.example", "h", z.dns()),
      SpfResult::kSoftFail);
  z.txt["redir.example"] = {"v=spf1 redirect=example.com"};
  EXPECT_EQ(
      CheckHost("192.0.2.1", "redir.example", "x@redir.example", "h", z.dns()),
      SpfResult::kPass);
  z.txt["macro.example"] = {"v=spf1 exists:%{i}.allow.macro.example -all"};
  z.a["192.0.2.8.allow.macro.example"] = {"127.0.0.2"};
  EXPECT_EQ(
      CheckHost("192.0.2.8", "macro.example", "x@macro.example", "h", z.dns()),
      SpfResult::kPass);
  z.down = true;
  EXPECT_EQ(check("192.0.2.55"), SpfResult::kTempError);
}

TEST(Spf, LimitsAndMalformedPolicies) {
  Zone z;
  z.txt["two.example"] = {"v=spf1 -all", "v=spf1 +all"};
  EXPECT_EQ(CheckHost("1.2.3.4", "two.example", "a@two.example", "h", z.dns()),
            SpfResult::kPermError);
  // A loop of includes runs into the 10-term limit.
  z.txt["loop.example"] = {"v=spf1 include:loop.example -all"};
  EXPECT_EQ(
      CheckHost("1.2.3.4", "loop.example", "a@loop.example", "h", z.dns()),
      SpfResult::kPermError);
  z.txt["bad.example"] = {"v=spf1 frobnicate -all"};
  EXPECT_EQ(CheckHost("1.2.3.4", "bad.example", "a@bad.example", "h", z.dns()),
            SpfResult::kPermError);
  z.txt["voids.example"] = {
      "v=spf1 a:n1.example a:n2.example a:n3.example -all"};
  EXPECT_EQ(
      CheckHost("1.2.3.4", "voids.example", "a@voids.example", "h", z.dns()),
      SpfResult::kPermError);
}

TEST(Dmarc, AlignmentPolicyAndSubdomains) {
  Zone z;
  z.txt["_dmarc.example.com"] = {"v=DMARC1; p=reject; sp=quarantine"};
  auto r = EvaluateDmarc("example.com", SpfResult::kPass, "bounce.example.com",
                         {}, z.dns());
  EXPECT_EQ(r.verdict, "PASS");  // relaxed SPF alignment
  EXPECT_EQ(r.policy, "reject");
  r = EvaluateDmarc("example.com", SpfResult::kPass, "other.net", {"other.net"},
                    z.dns());
  EXPECT_EQ(r.verdict, "FAIL");
  r = EvaluateDmarc("news.example.com", SpfResult::kFail, "x.net",
                    {"example.com"}, z.dns());
  EXPECT_EQ(r.verdict, "PASS");  // relaxed DKIM alignment
  EXPECT_EQ(r.policy, "quarantine");
  z.txt["_dmarc.strict.org"] = {"v=DMARC1; p=none; adkim=s"};
  EXPECT_EQ(EvaluateDmarc("strict.org", SpfResult::kNone, "",
                          {"mail.strict.org"}, z.dns())
                .verdict,
            "FAIL");
  EXPECT_EQ(
      EvaluateDmarc("nodmarc.org", SpfResult::kPass, "nodmarc.org", {}, z.dns())
          .verdict,
      "GRAY");
  z.down = true;
  EXPECT_EQ(
      EvaluateDmarc("example.com", SpfResult::kPass, "example.com", {}, z.dns())
          .verdict,
      "PROCESSING_FAILED");
}

// Cases from the list's own test file (publicsuffix.org's
// tests/test_psl.txt), over the rules they need.
TEST(PublicSuffix, TheListsAlgorithm) {
  PublicSuffixList psl = PublicSuffixList::Parse(
      "// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\njp\nkyoto.jp\n"
      "ide.kyoto.jp\n*.kobe.jp\n!city.kobe.jp\nus\nak.us\nk12.ak.us\n"
      "  // indented comment\nbiz  trailing words\n");
  const std::pair<const char*, const char*> cases[] = {
      {"com", "com"},
      {"example.com", "example.com"},
      {"b.example.com", "example.com"},
      {"a.b.example.com", "example.com"},
      {"example.co.uk", "example.co.uk"},
      {"mail.example.co.uk", "example.co.uk"},
      {"co.uk", "co.uk"},  // a public suffix is its own
      {"c.ck", "c.ck"},    // *.ck: every name under ck is a suffix
      {"b.c.ck", "b.c.ck"},
      {"a.b.c.ck", "b.c.ck"},
      {"www.ck", "www.ck"},  // !www.ck: the exception
      {"www.www.ck", "www.ck"},
      {"test.kyoto.jp", "test.kyoto.jp"},
      {"b.ide.kyoto.jp", "b.ide.kyoto.jp"},
      {"a.b.ide.kyoto.jp", "b.ide.kyoto.jp"},
      {"c.kobe.jp", "c.kobe.jp"},
      {"b.c.kobe.jp", "b.c.kobe.jp"},
      {"city.kobe.jp", "city.kobe.jp"},
      {"www.city.kobe.jp", "city.kobe.jp"},
      {"test.k12.ak.us", "test.k12.ak.us"},
      {"www.test.k12.ak.us", "test.k12.ak.us"},
      {"www.example.biz", "example.biz"},
      // No rule: the default "*", the last two labels.
      {"example.example", "example.example"},
      {"b.example.example", "example.example"},
      {"localhost", "localhost"},
  };
  for (const auto& [domain, org] : cases)
    EXPECT_EQ(psl.OrganizationalDomain(domain), org) << domain;
  EXPECT_EQ(PublicSuffixList::Parse("").OrganizationalDomain("a.b.c.d"), "c.d");
}

TEST(PublicSuffix, DmarcUsesTheSystemList) {
  if (PublicSuffixList::System().size() == 0)
    GTEST_SKIP() << "Debian's publicsuffix package is not installed";
  EXPECT_GT(PublicSuffixList::System().size(), 5000u);
  EXPECT_EQ(OrganizationalDomain("mail.example.co.uk"), "example.co.uk");
  EXPECT_EQ(OrganizationalDomain("a.b.example.com"), "example.com");
  // Alignment across subdomains of one registrant, not across a suffix.
  Zone z;
  z.txt["_dmarc.shop.co.uk"] = {"v=DMARC1; p=reject"};
  EXPECT_EQ(EvaluateDmarc("shop.co.uk", SpfResult::kPass, "bounce.shop.co.uk",
                          {}, z.dns())
                .verdict,
            "PASS");
  EXPECT_EQ(
      EvaluateDmarc("shop.co.uk", SpfResult::kPass, "other.co.uk", {}, z.dns())
          .verdict,
      "FAIL");  // the last two labels would have aligned these
  // A subdomain without a record falls back to its organizational domain's.
  EXPECT_EQ(
      EvaluateDmarc("news.shop.co.uk", SpfResult::kFail, "x.net", {}, z.dns())
          .policy,
      "reject");
}

}  // namespace
}  // namespace sesame::mailauth
