#include "auth/sigv4.h"

#include <gtest/gtest.h>

namespace sesame::auth {
namespace {

const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// aws-sig-v4-test-suite get-vanilla (spec/ses.md section 3).
TEST(SigV4, GetVanillaVector) {
  SignedRequest r{
      "GET",
      "/",
      "",
      {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
      ""};
  auto creq = CanonicalRequest(r, {"host", "x-amz-date"}, Sha256Hex(""));
  ASSERT_TRUE(creq.ok());
  EXPECT_EQ(*creq,
            "GET\n/"
            "\n\nhost:example.amazonaws.com\nx-amz-date:"
            "20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string sts = StringToSign(
      "20150830T123600Z", "20150830/us-east-1/service/aws4_request", *creq);
  EXPECT_EQ(sts,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/"
            "aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  std::string key = SigningKey(kSecret, "20150830", "us-east-1", "service");
  EXPECT_EQ(Hex(key),
            "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75");
  EXPECT_EQ(Hex(HmacSha256(key, sts)),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, PostFormVector) {
  SignedRequest r{"POST",
                  "/",
                  "",
                  {{"Content-Type", "application/x-www-form-urlencoded"},
                   {"Host", "example.amazonaws.com"},
                   {"X-Amz-Date", "20150830T123600Z"}},
                  "Param1=value1"};
  auto creq = CanonicalRequest(r, {"content-type", "host", "x-amz-date"},
                               Sha256Hex(r.body));
  ASSERT_TRUE(creq.ok());
  std::string sts = StringToSign(
      "20150830T123600Z", "20150830/us-east-1/service/aws4_request", *creq);
  std::string key = SigningKey(kSecret, "20150830", "us-east-1", "service");
  EXPECT_EQ(Hex(HmacSha256(key, sts)),
            "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

TEST(SigV4, PathsAreEncodedTwiceAndNormalized) {
  EXPECT_EQ(CanonicalUri("/v2/email/identities/a%40b.com"),
            "/v2/email/identities/a%2540b.com");
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("//a/./b/../c/"), "/a/c/");
  EXPECT_EQ(CanonicalUri("/a b"), "/a%20b");
}

TEST(SigV4, QueryCanonicalization) {
  EXPECT_EQ(CanonicalQuery("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
  EXPECT_EQ(CanonicalQuery("Reason=BOUNCE&x=a+b&y=%7e%2F"),
            "Reason=BOUNCE&x=a%2Bb&y=~%2F");
  EXPECT_EQ(CanonicalQuery(""), "");
}

TEST(SigV4, HeaderValuesTrimmedCollapsedAndJoined) {
  SignedRequest r{
      "GET",
      "/",
      "",
      {{"My-Header", "  a   b  "}, {"my-header", "c"}, {"Host", "h"}},
      ""};
  auto creq = CanonicalRequest(r, {"host", "my-header"}, "x");
  ASSERT_TRUE(creq.ok());
  EXPECT_NE(creq->find("my-header:a b,c\n"), std::string::npos) << *creq;
  EXPECT_FALSE(CanonicalRequest(r, {"host", "absent"}, "x").ok());
}

// A request signed the way botocore signs it, then verified; then each way it
// can be wrong.
class VerifyTest : public ::testing::Test {
 protected:
  SignedRequest Signed(const std::string& body,
                       const std::string& date = "20261129T051200Z",
                       const std::string& secret = kSecret,
                       bool content_sha = false) {
    SignedRequest r{"POST", "/v2/email/outbound-emails", "", {}, ""};
    body_ = body;
    r.body = body_;
    r.headers = {{"Host", "127.0.0.1:8080"},
                 {"X-Amz-Date", date},
                 {"Content-Type", "application/json"}};
    std::vector<std::string> signed_headers = {"content-type", "host",
                                               "x-amz-date"};
    if (content_sha) {
      r.headers.push_back({"X-Amz-Content-Sha256", Sha256Hex(body)});
      signed_headers = {"content-type", "host", "x-amz-content-sha256",
                        "x-amz-date"};
    }
    std::string creq = *CanonicalRequest(r, signed_headers, Sha256Hex(body));
    std::string scope = date.substr(0, 8) + "/us-east-1/ses/aws4_request";
    std::string sig = Hex(
        HmacSha256(SigningKey(secret, date.substr(0, 8), "us-east-1", "ses"),
                   StringToSign(date, scope, creq)));
    std::string sh;
    for (size_t i = 0; i < signed_headers.size(); ++i)
      sh += (i ? ";" : "") + signed_headers[i];
    r.headers.push_back(
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/" + scope +
                              ", SignedHeaders=" + sh + ", Signature=" + sig});
    return r;
  }
  static std::optional<std::string> Lookup(const std::string& id) {
    if (id == "AKIDEXAMPLE") return std::string(kSecret);
    return std::nullopt;
  }
  static int64_t Now() { return 1795929120; }  // 2026-11-29T05:12:00Z
  std::string body_;
};

TEST_F(VerifyTest, AcceptsAndRejects) {
  auto ok = Verify(Signed("{}"), Lookup, Now(), 900);
  ASSERT_EQ(ok.index(), 0u) << std::get<1>(ok).message;
  EXPECT_EQ(std::get<0>(ok), "AKIDEXAMPLE");
  EXPECT_EQ(Verify(Signed("{}", "20261129T051200Z", kSecret, true), Lookup,
                   Now(), 900)
                .index(),
            0u);

  auto wrong_secret =
      Verify(Signed("{}", "20261129T051200Z", "other"), Lookup, Now(), 900);
  EXPECT_EQ(std::get<1>(wrong_secret).failure, AuthFailure::kBadSignature);

  auto expired = Verify(Signed("{}", "20261129T042000Z"), Lookup, Now(), 900);
  EXPECT_EQ(std::get<1>(expired).failure, AuthFailure::kExpired);

  SignedRequest tampered = Signed("{\"a\":1}");
  tampered.body = "{\"a\":2}";
  EXPECT_EQ(std::get<1>(Verify(tampered, Lookup, Now(), 900)).failure,
            AuthFailure::kBadSignature);

  SignedRequest tampered_sha =
      Signed("{\"a\":1}", "20261129T051200Z", kSecret, true);
  tampered_sha.body = "{\"a\":2}";
  EXPECT_EQ(std::get<1>(Verify(tampered_sha, Lookup, Now(), 900)).failure,
            AuthFailure::kBadPayloadHash);

  SignedRequest unknown = Signed("{}");
  unknown.headers.back().second.replace(
      unknown.headers.back().second.find("AKIDEXAMPLE"), 11, "AKIDUNKNOWN");
  EXPECT_EQ(std::get<1>(Verify(unknown, Lookup, Now(), 900)).failure,
            AuthFailure::kUnknownKey);

  // The region in the credential scope must be the server's.
  EXPECT_EQ(Verify(Signed("{}"), Lookup, Now(), 900, "us-east-1").index(), 0u);
  auto other_region = Verify(Signed("{}"), Lookup, Now(), 900, "eu-west-1");
  ASSERT_EQ(other_region.index(), 1u);
  EXPECT_EQ(std::get<1>(other_region).failure, AuthFailure::kWrongRegion);
  // An unsigned session token is refused, not ignored.
  SignedRequest token = Signed("{}");
  token.headers.push_back({"X-Amz-Security-Token", "FQoGZXIvYXdz"});
  EXPECT_EQ(std::get<1>(Verify(token, Lookup, Now(), 900)).failure,
            AuthFailure::kSessionToken);

  SignedRequest none{"POST", "/", "", {{"Host", "h"}}, ""};
  EXPECT_EQ(std::get<1>(Verify(none, Lookup, Now(), 900)).failure,
            AuthFailure::kMissing);

  SignedRequest malformed = Signed("{}");
  malformed.headers.back().second =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/us-east-1/ses";
  EXPECT_EQ(std::get<1>(Verify(malformed, Lookup, Now(), 900)).failure,
            AuthFailure::kMalformed);
}

TEST(SmtpPassword, SpecVectors) {
  const char* secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  EXPECT_EQ(SmtpPassword(secret, "us-east-1"),
            "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9");
  EXPECT_EQ(SmtpPassword(secret, "us-west-2"),
            "BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd");
}

}  // namespace
}  // namespace sesame::auth
