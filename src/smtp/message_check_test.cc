#include "smtp/message_check.h"

#include <gtest/gtest.h>

#include "smtp/address.h"

namespace sesame::smtp {
namespace {

TEST(CheckMessage, AcceptsAnOrdinaryMessage) {
  EXPECT_TRUE(CheckMessage("From: a@b.test\r\nTo: c@d.test\r\nSubject: hi\r\n"
                           "X-Long: one\r\n two\r\n\r\nbody\r\n.\r\n")
                  .ok());
  // Repeated fields that RFC 5322 allows many times are fine.
  EXPECT_TRUE(CheckMessage("Received: x\r\nReceived: y\r\nComments: a\r\n"
                           "Comments: b\r\n\r\nbody\r\n")
                  .ok());
  // A From line in the body is body text, not a header.
  EXPECT_TRUE(CheckMessage("From: a@b.test\r\n\r\nFrom: c@d.test\r\n").ok());
}

struct Bad {
  const char* name;
  std::string message;
  const char* wanted;  // a part of the error message
};

TEST(CheckMessage, RefusesSmugglingAndDuplicates) {
  const Bad cases[] = {
      {"bare CR in body", "From: a@b.test\r\n\r\nhi\r.\r\nMAIL FROM:<x>\r\n",
       "line 3: bare CR"},
      {"bare CR at end", "From: a@b.test\r\n\r\nhi\r", "bare CR"},
      {"bare LF", "From: a@b.test\r\n\r\nhi\n.\nRCPT TO:<x>\r\n",
       "line 3: bare LF"},
      {"NUL in header", std::string("Subject: a\0b\r\n\r\nx\r\n", 20),
       "line 1: NUL"},
      {"NUL in body", std::string("From: a@b.test\r\n\r\nx\0y\r\n", 23), "NUL"},
      {"second From",
       "From: a@allowed.test\r\nFrom: CEO <ceo@bank.test>\r\n\r\n",
       "duplicate From header"},
      {"second from, other case", "FROM: a@b.test\r\nfrom: c@d.test\r\n\r\n",
       "duplicate From"},
      {"second Sender", "Sender: a@b\r\nSender: c@d\r\n\r\n",
       "duplicate Sender"},
      {"second To", "To: a@b\r\nTo: c@d\r\n\r\n", "duplicate To"},
      {"second Subject", "Subject: a\r\nSubject: b\r\n\r\n",
       "duplicate Subject"},
      {"second Date", "Date: a\r\nDate: b\r\n\r\n", "duplicate Date"},
      {"second Message-ID", "Message-ID: <a>\r\nmessage-id: <b>\r\n\r\n",
       "duplicate Message-ID"},
      {"no colon", "From a@b.test\r\n\r\n", "malformed header"},
      {"space before colon", "From : a@b.test\r\n\r\n", "malformed header"},
      {"leading continuation", " folded\r\nFrom: a@b\r\n\r\n", "continuation"},
  };
  for (const auto& c : cases) {
    Status s = CheckMessage(c.message);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_NE(s.error().message().find(c.wanted), std::string::npos)
        << c.name << ": " << s.error().message();
  }
}

TEST(CanonicalLineEndings, BareLfBecomesCrLf) {
  EXPECT_EQ(CanonicalLineEndings("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
  EXPECT_EQ(CanonicalLineEndings("\n"), "\r\n");
  // A bare CR stays, for CheckMessage to refuse.
  EXPECT_EQ(CanonicalLineEndings("a\rb"), "a\rb");
  EXPECT_EQ(CanonicalLineEndings("a\r\nb\r\n"), "a\r\nb\r\n");  // unchanged
}

TEST(HasHeader, OnlyInTheHeaderBlock) {
  EXPECT_TRUE(HasHeader("Date: x\r\n\r\n", "date"));
  EXPECT_TRUE(HasHeader("Message-Id:\r\n\r\n", "Message-ID"));
  EXPECT_FALSE(HasHeader("From: a\r\n\r\nDate: x\r\n", "Date"));
  EXPECT_FALSE(HasHeader("Dated: x\r\n\r\n", "Date"));
}

TEST(ParseMailbox, RefusesEverythingThatChangesACommand) {
  EXPECT_TRUE(ParseMailbox("rp@mydomain.test").ok());
  EXPECT_TRUE(ParseMailbox("\"quoted user\"@example.com").ok());
  const char* bad[] = {
      "rp@mydomain.test>\r\nRCPT TO:<inj@sink.test>\r\nDATA\r\n",
      "rp@mydomain.test> SIZE=1 BODY=8BITMIME",
      "rp@mydomain.test>",
      "<rp@mydomain.test>",
      "rp@mydomain.test\r",
      "rp@mydomain.test\n",
      "rp\r\n@mydomain.test",
      "\"a\r\nb\"@mydomain.test",
      "@relay.test:rp@mydomain.test",
      "rp@my domain.test",
      "rp @mydomain.test",
      "",
      "rp",
      "Postmaster",
  };
  for (const char* b : bad) EXPECT_FALSE(ParseMailbox(b).ok()) << b;
  EXPECT_FALSE(ParseMailbox(std::string("rp\0x@mydomain.test", 18)).ok());
}

TEST(SafeCommandText, NoLineBreaksOrNul) {
  EXPECT_TRUE(SafeCommandText("MAIL FROM:<a@b.test> SIZE=10"));
  EXPECT_FALSE(SafeCommandText("MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y>"));
  EXPECT_FALSE(SafeCommandText("a\nb"));
  EXPECT_FALSE(SafeCommandText(std::string("a\0b", 3)));
}

TEST(IsValidDomain, Labels) {
  EXPECT_TRUE(IsValidDomain("example.com"));
  EXPECT_TRUE(IsValidDomain("a-b.example"));
  EXPECT_FALSE(IsValidDomain("../../tmp/x"));
  EXPECT_FALSE(IsValidDomain("-a.example"));
  EXPECT_FALSE(IsValidDomain(std::string(300, 'a')));
  EXPECT_FALSE(IsValidDomain(std::string("a\0b.com", 7)));
}

}  // namespace
}  // namespace sesame::smtp
