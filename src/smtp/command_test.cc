#include "smtp/command.h"

#include <gtest/gtest.h>

namespace sesame::smtp {
namespace {

TEST(ParseCommand, Verbs) {
  EXPECT_EQ(ParseCommand("EHLO client.example").verb, Verb::kEhlo);
  EXPECT_EQ(ParseCommand("ehlo client.example").arg, "client.example");
  EXPECT_EQ(ParseCommand("StartTLS").verb, Verb::kStartTls);
  EXPECT_EQ(ParseCommand("QUIT").verb, Verb::kQuit);
  EXPECT_EQ(ParseCommand("QUITX").verb, Verb::kUnknown);
  EXPECT_EQ(ParseCommand("").verb, Verb::kUnknown);
  EXPECT_EQ(ParseCommand("MAIL FROM:<a@b.c>").arg, "FROM:<a@b.c>");
}

TEST(ParseMail, Parameters) {
  auto m = ParseMail("FROM:<a@b.example> SIZE=1000 BODY=8BITMIME SMTPUTF8");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(*m->size, 1000u);
  EXPECT_EQ(m->body, BodyType::k8BitMime);
  EXPECT_TRUE(m->smtputf8);
  EXPECT_EQ(m->path.Address(), "a@b.example");

  EXPECT_TRUE(ParseMail("FROM:<>").ok());
  EXPECT_TRUE(ParseMail("from: <a@b.example>").ok());
  EXPECT_TRUE(ParseMail("FROM:<a@b.example> AUTH=<>").ok());
}

struct ErrorCase {
  const char* arg;
  const char* code;
};

TEST(ParseMail, Errors) {
  const ErrorCase cases[] = {
      {"FROM:a@b.example", "501 5.5.4"},
      {"TO:<a@b.example>", "501 5.5.4"},
      {"FROM:<a@b.example", "501 5.5.4"},
      {"FROM:<a@b.example>SIZE=1", "501 5.5.4"},
      {"FROM:<a@b.example> SIZE=", "501 5.5.4"},
      {"FROM:<a@b.example> SIZE=12x", "501 5.5.4"},
      {"FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4"},
      {"FROM:<a@b.example> SIZE=99999999999999999999999", "501 5.5.4"},
      {"FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4"},
      {"FROM:<a@b.example> RET=FULL", "555 5.5.4"},
      {"FROM:<a@b.example> SMTPUTF8=yes", "501 5.5.4"},
      {"FROM:<a..b@b.example>", "553 5.1.7"},
  };
  for (const auto& c : cases) {
    auto m = ParseMail(c.arg);
    ASSERT_FALSE(m.ok()) << c.arg;
    EXPECT_EQ(m.error().code(), c.code) << c.arg << ": " << m.error().message();
  }
}

TEST(ParseRcpt, Basics) {
  EXPECT_TRUE(ParseRcpt("TO:<x@y.example>").ok());
  EXPECT_TRUE(ParseRcpt("TO:<Postmaster>")->path.postmaster);
  EXPECT_EQ(ParseRcpt("TO:<>").error().code(), "553 5.1.3");
  EXPECT_EQ(ParseRcpt("TO:<x@y.example> NOTIFY=NEVER").error().code(),
            "555 5.5.4");
  EXPECT_EQ(ParseRcpt("FROM:<x@y.example>").error().code(), "501 5.5.4");
}

TEST(ParseBdat, Basics) {
  EXPECT_EQ(ParseBdat("100")->size, 100u);
  EXPECT_FALSE(ParseBdat("100")->last);
  EXPECT_TRUE(ParseBdat("0 LAST")->last);
  EXPECT_TRUE(ParseBdat("5 last")->last);
  EXPECT_FALSE(ParseBdat("").ok());
  EXPECT_FALSE(ParseBdat("-1").ok());
  EXPECT_FALSE(ParseBdat("10 FIRST").ok());
  EXPECT_FALSE(ParseBdat("1x").ok());
}

}  // namespace
}  // namespace sesame::smtp
