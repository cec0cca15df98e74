#include "mime/mime.h"

#include <gtest/gtest.h>

namespace sesame::mime {
namespace {

SimpleMessage Base() {
  SimpleMessage m;
  m.from = "Sender Name <sender@example.com>";
  m.to = {"a@example.org", "Zoë Example <zoe@example.org>"};
  m.subject = "Hello";
  m.text = "Plain text\nsecond line";
  m.message_id = "<0100018c-id@email.amazonses.com>";
  m.date_ms = 0;
  return m;
}

size_t Longest(const std::string& s) {
  size_t best = 0, start = 0;
  while (true) {
    size_t nl = s.find("\r\n", start);
    size_t end = nl == std::string::npos ? s.size() : nl;
    best = std::max(best, end - start);
    if (nl == std::string::npos) return best;
    start = nl + 2;
  }
}

TEST(Build, TextOnlyIsSevenBitWithRequiredHeaders) {
  auto m = Build(Base());
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->rfind("From: Sender Name <sender@example.com>\r\n", 0), 0u);
  EXPECT_NE(m->find("To: a@example.org,\r\n =?UTF-8?B?"), std::string::npos)
      << *m;
  EXPECT_NE(m->find("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"),
            std::string::npos);
  EXPECT_NE(m->find("Message-ID: <0100018c-id@email.amazonses.com>\r\n"),
            std::string::npos);
  EXPECT_NE(m->find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(m->find("Content-Transfer-Encoding: 7bit\r\n\r\nPlain "
                    "text\r\nsecond line\r\n"),
            std::string::npos);
  auto p = Parse(*m);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(AddressList(p->Header("To")),
            (std::vector<std::string>{"a@example.org", "zoe@example.org"}));
  EXPECT_EQ(DecodeWords(p->Header("To")),
            "a@example.org, Zoë Example <zoe@example.org>");
}

TEST(Build, AlternativeRelatedMixedAndEncodings) {
  SimpleMessage s = Base();
  s.subject =
      "Grüße — ünïcödé subject that is long enough to need more than one "
      "encoded word";
  s.text = "Grüße\n" + std::string(2000, 'x');
  s.html = "<p>日本語のテキスト</p><img src=\"cid:logo\">";
  s.attachments = {{"report.pdf", "application/pdf",
                    std::string("%PDF-1.4\0\x01\xff", 11), false, ""},
                   {"logo.png", "image/png", "PNGDATA", true, "logo"}};
  s.headers = {{"X-Campaign", "spring"}};
  auto m = Build(s);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_LE(Longest(*m), 998u);
  EXPECT_NE(m->find("multipart/mixed"), std::string::npos);
  EXPECT_NE(m->find("multipart/related"), std::string::npos);
  EXPECT_NE(m->find("multipart/alternative"), std::string::npos);
  EXPECT_NE(m->find("quoted-printable"),
            std::string::npos);  // mostly-ASCII text
  EXPECT_NE(m->find("Content-Type: text/html; "
                    "charset=UTF-8\r\nContent-Transfer-Encoding: base64"),
            std::string::npos);  // mostly non-ASCII html
  EXPECT_NE(m->find("X-Campaign: spring\r\n"), std::string::npos);
  auto p = Parse(*m);
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(DecodeWords(p->Header("Subject")), s.subject);
  std::string text, html;
  FindBodies(*p, &text, &html);
  EXPECT_EQ(text, "Grüße\r\n" + std::string(2000, 'x'));
  EXPECT_EQ(html, "<p>日本語のテキスト</p><img src=\"cid:logo\">");
  ASSERT_EQ(p->children.size(), 2u);  // related + pdf
  EXPECT_EQ(p->children[1].body, std::string("%PDF-1.4\0\x01\xff", 11));
  EXPECT_EQ(p->children[0].children[1].Header("Content-ID"), "<logo>");
}

TEST(Build, RejectsHeaderInjection) {
  SimpleMessage s = Base();
  s.subject = "Hi\r\nBcc: victim@example.com";
  EXPECT_FALSE(Build(s).ok());
  s = Base();
  s.headers = {{"X-A", "b\nBcc: x@y"}};
  EXPECT_FALSE(Build(s).ok());
  s = Base();
  s.to = {"a@example.org\r\nBcc: x@y"};
  EXPECT_FALSE(Build(s).ok());
  s = Base();
  s.from = "not an address";
  EXPECT_FALSE(Build(s).ok());
}

TEST(QuotedPrintable, SoftBreaksAndTrailingSpace) {
  std::string qp = QuotedPrintable(std::string(100, 'a') + " \r\nb=c");
  EXPECT_NE(qp.find("=\r\n"), std::string::npos);
  EXPECT_NE(qp.find("=20\r\n"), std::string::npos);
  EXPECT_NE(qp.find("b=3Dc"), std::string::npos);
  for (size_t start = 0, nl; (nl = qp.find("\r\n", start)) != std::string::npos;
       start = nl + 2) {
    EXPECT_LE(nl - start, 76u);
  }
}

TEST(Parse, RejectsMalformed) {
  EXPECT_FALSE(Parse("Subject: x\r\nno blank line").ok());
  EXPECT_FALSE(Parse("Subject x\r\n\r\nbody").ok());
  EXPECT_FALSE(Parse("Content-Type: multipart/mixed\r\n\r\nbody").ok());
  EXPECT_FALSE(Parse("Content-Type: multipart/mixed; "
                     "boundary=b\r\n\r\n--b\r\nA: b\r\n\r\nx\r\n")
                   .ok());
  EXPECT_FALSE(
      Parse("Subject: x\r\n\r\n" + std::string(1001, 'a') + "\r\n").ok());
  EXPECT_TRUE(Parse("Subject: x\r\n\r\nbody\r\n").ok());
}

TEST(EncodeWord, PlainAsciiUnchanged) {
  EXPECT_EQ(EncodeWord("Hello"), "Hello");
  EXPECT_EQ(DecodeWords("=?UTF-8?Q?Gr=C3=BC=C3=9Fe_dich?= =?UTF-8?B?IQ==?="),
            "Grüße dich!");
}

}  // namespace
}  // namespace sesame::mime

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sesame::mime {
namespace {

// Golden files: the exact bytes for fixed inputs. A change in the builder
// shows up here as a diff; regenerate with SESAME_UPDATE_GOLDEN=1.
TEST(Build, GoldenFiles) {
  struct Golden {
    const char* file;
    SimpleMessage m;
  };
  SimpleMessage alt = Base();
  alt.subject = "Grüße";
  alt.html = "<p>Hallo Welt</p>";
  SimpleMessage att = Base();
  att.reply_to = {"reply@example.com"};
  att.attachments = {{"data.bin", "application/octet-stream",
                      std::string("\x00\x01\x02\xff", 4), false, ""}};
  SimpleMessage html_only = Base();
  html_only.text = "";
  html_only.html = "<p>only html, " + std::string(100, 'w') + "</p>";
  Golden goldens[] = {{"alternative.eml", alt},
                      {"attachment.eml", att},
                      {"html_only.eml", html_only}};
  const char* src = std::getenv("SESAME_SOURCE_DIR");
  std::string dir = std::string(src ? src : ".") + "/src/mime/testdata/";
  for (auto& g : goldens) {
    auto built = Build(g.m);
    ASSERT_TRUE(built.ok()) << built.error().message();
    if (std::getenv("SESAME_UPDATE_GOLDEN")) {
      std::ofstream(dir + g.file, std::ios::binary) << *built;
      continue;
    }
    std::ifstream f(dir + g.file, std::ios::binary);
    ASSERT_TRUE(f.good()) << dir + g.file;
    std::stringstream ss;
    ss << f.rdbuf();
    EXPECT_EQ(*built, ss.str()) << g.file;
  }
}

}  // namespace
}  // namespace sesame::mime
