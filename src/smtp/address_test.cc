#include "smtp/address.h"

#include <gtest/gtest.h>

namespace sesame::smtp {
namespace {

struct PathCase {
  const char* in;
  bool ok;
  const char* local;
  const char* domain;
};

TEST(ParsePath, Table) {
  const PathCase cases[] = {
      {"<user@example.com>", true, "user", "example.com"},
      {"<first.last+tag@sub.example.co.uk>", true, "first.last+tag",
       "sub.example.co.uk"},
      {"<\"quoted user\"@example.com>", true, "\"quoted user\"", "example.com"},
      {"<\"a\\\"b\"@example.com>", true, "\"a\\\"b\"", "example.com"},
      {"<user@[192.0.2.1]>", true, "user", "[192.0.2.1]"},
      {"<user@[IPv6:2001:db8::1]>", true, "user", "[IPv6:2001:db8::1]"},
      {"<@relay.example:user@example.com>", true, "user", "example.com"},
      {"<@a.example,@b.example:user@example.com>", true, "user", "example.com"},
      {"<δοκιμή@παράδειγμα.δοκιμή>", true, "δοκιμή", "παράδειγμα.δοκιμή"},
      {"user@example.com", false, "", ""},
      {"<user@example.com", false, "", ""},
      {"<user>", false, "", ""},
      {"<@example.com>", false, "", ""},
      {"<user@>", false, "", ""},
      {"<.user@example.com>", false, "", ""},
      {"<user.@example.com>", false, "", ""},
      {"<us..er@example.com>", false, "", ""},
      {"<us er@example.com>", false, "", ""},
      {"<user@exa mple.com>", false, "", ""},
      {"<user@-example.com>", false, "", ""},
      {"<user@example..com>", false, "", ""},
      {"<user@[300.1.1.1]>", false, "", ""},
      {"<user@[1.2.3]>", false, "", ""},
      {"<\"unterminated@example.com>", false, "", ""},
      {"<@a.example:>", false, "", ""},
      {"<@a.example user@example.com>", false, "", ""},
      {"<\xff\xfe@example.com>", false, "", ""},
      {"<user@\xc3>", false, "", ""},
  };
  for (const auto& c : cases) {
    auto r = ParsePath(c.in, false, false);
    EXPECT_EQ(r.ok(), c.ok)
        << c.in << (r.ok() ? "" : " -> " + r.error().message());
    if (r.ok() && c.ok) {
      EXPECT_EQ(r->local, c.local) << c.in;
      EXPECT_EQ(r->domain, c.domain) << c.in;
    }
  }
}

TEST(ParsePath, NullAndPostmaster) {
  EXPECT_TRUE(ParsePath("<>", true, false)->null);
  EXPECT_FALSE(ParsePath("<>", false, false).ok());
  EXPECT_TRUE(ParsePath("<Postmaster>", false, true)->postmaster);
  EXPECT_TRUE(ParsePath("<postmaster>", false, true)->postmaster);
  EXPECT_FALSE(ParsePath("<postmaster>", false, false).ok());
}

TEST(ParsePath, LengthLimits) {
  std::string local(64, 'a');
  EXPECT_TRUE(ParsePath("<" + local + "@example.com>", false, false).ok());
  EXPECT_FALSE(ParsePath("<" + local + "a@example.com>", false, false).ok());
  std::string label(63, 'b');
  EXPECT_TRUE(ParsePath("<u@" + label + ".com>", false, false).ok());
  EXPECT_FALSE(ParsePath("<u@" + label + "b.com>", false, false).ok());
}

TEST(ParsePath, NonAsciiFlag) {
  EXPECT_FALSE(ParsePath("<a@b.example>", false, false)->non_ascii);
  EXPECT_TRUE(ParsePath("<ü@b.example>", false, false)->non_ascii);
}

TEST(HeaderValue, FindsUnfoldsAndStopsAtBody) {
  std::string m =
      "Received: x\r\nX-SES-CONFIGURATION-SET:  secure \r\nSubject: a\r\n "
      "b\r\n\r\nX-Body: no\r\n";
  EXPECT_EQ(HeaderValue(m, "x-ses-configuration-set"), "secure");
  EXPECT_EQ(HeaderValue(m, "Subject"), "a  b");
  EXPECT_EQ(HeaderValue(m, "X-Body"), "");
  EXPECT_EQ(HeaderValue(m, "Missing"), "");
}

TEST(WithoutSesHeaders, DropsSesInstructionHeadersOnly) {
  std::string m =
      "From: a@b.example\r\nX-SES-MESSAGE-TAGS: campaign=spring,\r\n"
      " user=42\r\nSubject: hi\r\nx-ses-configuration-set: tracked\r\n"
      "X-SES-Other: kept\r\n\r\nX-SES-MESSAGE-TAGS: in the body stays\r\n";
  EXPECT_EQ(WithoutSesHeaders(m),
            "From: a@b.example\r\nSubject: hi\r\nX-SES-Other: kept\r\n\r\n"
            "X-SES-MESSAGE-TAGS: in the body stays\r\n");
  std::string plain = "From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n";
  EXPECT_EQ(WithoutSesHeaders(plain), plain);
  EXPECT_EQ(WithoutSesHeaders("X-SES-MESSAGE-TAGS: a=b\r\n\r\nbody"),
            "\r\nbody");
  EXPECT_EQ(WithoutSesHeaders(""), "");
  // A name that only starts like one is kept.
  EXPECT_EQ(WithoutHeaders("X-SES-MESSAGE-TAGSX: 1\r\nA: b\r\n\r\n",
                           {"X-SES-MESSAGE-TAGS", "A"}),
            "X-SES-MESSAGE-TAGSX: 1\r\n\r\n");
}

TEST(LocalPartRoutes, RelayTricks) {
  EXPECT_TRUE(LocalPartRoutes("user%other.example"));
  EXPECT_TRUE(LocalPartRoutes("other.example!user"));
  EXPECT_TRUE(LocalPartRoutes("\"user@other.example\""));
  EXPECT_FALSE(LocalPartRoutes("bounce+abc=def"));
}

}  // namespace
}  // namespace sesame::smtp
