#include "smtp/client_protocol.h"

#include <gtest/gtest.h>

namespace sesame::smtp {
namespace {

TEST(ReplyParser, MultiLineInFragments) {
  std::string in =
      "250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE "
      "1000\r\n250-8BITMIME\r\n250 STARTTLS\r\n354 go\r\n";
  for (size_t step = 1; step <= in.size(); ++step) {
    ReplyParser p;
    std::vector<Reply> got;
    for (size_t i = 0; i < in.size(); i += step) {
      ASSERT_TRUE(p.Feed(in.substr(i, step)).ok());
      while (p.HasReply()) got.push_back(p.TakeReply());
    }
    ASSERT_EQ(got.size(), 2u) << step;
    EXPECT_EQ(got[0].code, 250);
    EXPECT_EQ(got[0].lines.size(), 5u);
    EXPECT_EQ(got[1].code, 354);
    Capabilities c = ParseCapabilities(got[0]);
    EXPECT_TRUE(c.pipelining);
    EXPECT_TRUE(c.eight_bit_mime);
    EXPECT_TRUE(c.starttls);
    EXPECT_FALSE(c.smtputf8);
    EXPECT_EQ(*c.size, 1000u);
  }
}

TEST(ReplyParser, RejectsGarbage) {
  for (std::string bad : {"hello\r\n", "25\r\n", "2500 x\r\n", "099 x\r\n",
                          "250-a\r\n251 b\r\n"}) {
    ReplyParser p;
    EXPECT_FALSE(p.Feed(bad).ok()) << bad;
  }
  ReplyParser p;
  EXPECT_TRUE(p.Feed("221\r\n").ok());
  EXPECT_EQ(p.TakeReply().code, 221);
}

TEST(DotStuff, Transparency) {
  EXPECT_EQ(DotStuff("a\r\n.b\r\n..c\r\n"), "a\r\n..b\r\n...c\r\n.\r\n");
  EXPECT_EQ(DotStuff(".\r\n"), "..\r\n.\r\n");
  EXPECT_EQ(DotStuff("no newline"), "no newline\r\n.\r\n");
  EXPECT_EQ(DotStuff(""), "\r\n.\r\n");
}

}  // namespace
}  // namespace sesame::smtp
