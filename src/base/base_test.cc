#include <gtest/gtest.h>

#include <set>

#include "base/crc32c.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/result.h"

namespace sesame {
namespace {

TEST(Crc32c, KnownVectors) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::Value(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c::Value("123456789"), 0xE3069283u);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t c = crc32c::Extend(crc32c::Value(s.data(), cut), s.data() + cut,
                                s.size() - cut);
    EXPECT_EQ(c, crc32c::Value(s)) << cut;
  }
}

TEST(Ids, SesShapeAndTimestamp) {
  int64_t ms = 0x1689e0c5428;  // 2019-01-30T09:17:14.664Z
  std::string id = NewMessageId(ms);
  EXPECT_TRUE(IsMessageId(id)) << id;
  EXPECT_EQ(id.substr(0, 16), "010001689e0c5428");
  EXPECT_EQ(id.size(), 16u + 1 + 36 + 7);
  EXPECT_EQ(id[16 + 1 + 14], '4');  // UUID version nibble
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(NewMessageId(ms));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Ids, RejectsMalformed) {
  EXPECT_FALSE(IsMessageId(""));
  EXPECT_FALSE(IsMessageId(
      "0100015f6d84aa15-81ff6d38-6a3e-4460-9808-e353c00c8736-000001"));
  EXPECT_FALSE(
      IsMessageId("0100015f6d84aa15-81ff6d38-6a3e-4460-9808-e353c00c8736"));
  EXPECT_FALSE(IsMessageId(
      "0100015F6D84AA15-81ff6d38-6a3e-4460-9808-e353c00c8736-000000"));
  EXPECT_TRUE(IsMessageId(
      "0100015f6d84aa15-81ff6d38-6a3e-4460-9808-e353c00c8736-000000"));
}

TEST(Result, ValueAndError) {
  Result<int> ok = 5;
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 5);
  Result<int> bad = Error::Transient("disk", "full");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.error().transient());
  EXPECT_EQ(bad.error().ToString(), "disk (transient): full");
  Status s = Ok{};
  EXPECT_TRUE(s.ok());
}

TEST(Rfc5322Date, Formats) {
  EXPECT_EQ(Rfc5322Date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
}

}  // namespace
}  // namespace sesame

#include "base/base64.h"
namespace sesame {
namespace {
TEST(Base64, RoundTripAndErrors) {
  EXPECT_EQ(Base64Encode(std::string("\0u\0p", 4)), "AHUAcA==");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(*Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_FALSE(Base64Decode("Zm9").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v YmFy").has_value());
  EXPECT_FALSE(Base64Decode("Zg==Zg==").has_value());
  EXPECT_FALSE(Base64Decode("Z===").has_value());
}
}  // namespace
}  // namespace sesame

#include "base/histogram.h"
namespace sesame {
namespace {
TEST(Histogram, BucketsAndExposition) {
  Histogram h;
  h.Observe(10e-6);   // first bucket (<= 25us)
  h.Observe(30e-6);   // second (<= 50us)
  h.Observe(1000.0);  // +Inf
  EXPECT_EQ(h.count(), 3u);
  std::string text = h.Prometheus("x_seconds", "a=\"b\"");
  EXPECT_NE(text.find("x_seconds_bucket{a=\"b\",le=\"2.5e-05\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_bucket{a=\"b\",le=\"5e-05\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_bucket{a=\"b\",le=\"+Inf\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("x_seconds_count{a=\"b\"} 3\n"), std::string::npos);
}
}  // namespace
}  // namespace sesame

namespace sesame {
namespace {

TEST(Log, JsonLinesCarryTheMessageId) {
  SetLogJson(true);
  std::string id = NewMessageId(1764400000000);
  testing::internal::CaptureStderr();
  LogLine(LogLevel::kWarn, "spool", "not accepted " + id + ": \"disk\" full");
  LogLine(LogLevel::kWarn, "spool", "nothing about a message");
  std::string out = testing::internal::GetCapturedStderr();
  size_t nl = out.find('\n');
  std::string first = out.substr(0, nl), second = out.substr(nl + 1);
  EXPECT_EQ(first.front(), '{');
  EXPECT_NE(first.find("\"level\":\"WARN\""), std::string::npos);
  EXPECT_NE(first.find("\"component\":\"spool\""), std::string::npos);
  EXPECT_NE(first.find("\\\"disk\\\" full"), std::string::npos);
  EXPECT_NE(first.find("\"messageId\":\"" + id + "\""), std::string::npos);
  EXPECT_EQ(second.find("messageId"), std::string::npos);
  SetLogJson(false);
  testing::internal::CaptureStderr();
  LogLine(LogLevel::kInfo, "x", "plain");
  EXPECT_NE(testing::internal::GetCapturedStderr().find(" INFO x: plain"),
            std::string::npos);
  SetLogJson(true);
}

}  // namespace
}  // namespace sesame

#include "base/json.h"

namespace sesame {
namespace {

TEST(Json, EscapesWhatJsonRequiresAndKeepsTheRest) {
  EXPECT_EQ(JsonEscape("plain ascii"), "plain ascii");
  EXPECT_EQ(JsonEscape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(JsonEscape("l1\r\nl2\tx"), "l1\\r\\nl2\\tx");
  EXPECT_EQ(JsonEscape(std::string_view("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(JsonEscape("h\xc3\xa9llo \xe2\x9c\x93"),
            "h\xc3\xa9llo \xe2\x9c\x93");
  EXPECT_EQ(JsonEscape(""), "");
  std::string out = "[";
  AppendJsonEscaped(out, "\"x\"");
  EXPECT_EQ(out, "[\\\"x\\\"");
}

}  // namespace
}  // namespace sesame

namespace sesame {
namespace {

TEST(JsonEscape, OutputIsAlwaysValidUtf8) {
  EXPECT_EQ(JsonEscape("caf\xc3\xa9"), "caf\xc3\xa9");            // kept
  EXPECT_EQ(JsonEscape("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // emoji
  EXPECT_EQ(JsonEscape("a\xff"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(JsonEscape("us\xc3\x28"
                       "er"),
            "us\xEF\xBF\xBD(er");
  EXPECT_EQ(JsonEscape("\xed\xa0\x80"),  // an encoded surrogate
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(JsonEscape("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
  EXPECT_EQ(JsonEscape("\xe2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated
  EXPECT_EQ(JsonEscape("\xf4\x90\x80\x80"),  // above U+10FFFF
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  for (int b = 0; b < 256; ++b) {
    std::string in = "x" + std::string(1, static_cast<char>(b)) + "\x80y";
    EXPECT_TRUE(IsValidUtf8(JsonEscape(in))) << b;
  }
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));
  EXPECT_TRUE(IsValidUtf8("plain"));
}

}  // namespace
}  // namespace sesame
