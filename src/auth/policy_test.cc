#include "auth/policy.h"

#include <gtest/gtest.h>

namespace sesame::auth {
namespace {

const char kArn[] = "arn:aws:ses:us-east-1:000000000000:identity/example.com";

// The example from the SES developer guide (spec section 6), with the
// FromAddress condition as a wildcard.
const char kMarketer[] =
    R"({"Id":"SampleAuthorizationPolicy","Version":"2012-10-17",
 "Statement":[{"Sid":"AuthorizeMarketer","Effect":"Allow",
 "Resource":"arn:aws:ses:us-east-1:000000000000:identity/example.com",
 "Principal":{"AWS":["123456789012"]},
 "Action":["ses:SendEmail","ses:SendRawEmail"],
 "Condition":{"StringLike":{"ses:FromAddress":"marketing+*@example.com"}}}]})";

AuthzRequest Req(std::string account, std::string action, std::string from) {
  AuthzRequest r;
  r.principal.account = std::move(account);
  r.action = std::move(action);
  r.resource = kArn;
  r.context["ses:FromAddress"] = {std::move(from)};
  return r;
}

TEST(WildcardTest, Patterns) {
  EXPECT_TRUE(WildcardMatch("ses:Send*", "ses:SendRawEmail"));
  EXPECT_TRUE(WildcardMatch("a?c", "abc"));
  EXPECT_FALSE(WildcardMatch("a?c", "ac"));
  EXPECT_TRUE(WildcardMatch("*@example.com", "x@example.com"));
  EXPECT_FALSE(WildcardMatch("*@example.com", "x@example.org"));
  EXPECT_TRUE(WildcardMatch("*a*b*c", "xxaxxbxxbc"));
  EXPECT_FALSE(WildcardMatch("SES:send*", "ses:SendEmail"));
  EXPECT_TRUE(WildcardMatch("SES:send*", "ses:SendEmail", true));
}

TEST(PolicyTest, ValidatesShapeAndResource) {
  EXPECT_TRUE(ValidatePolicy(kMarketer, kArn).ok());
  EXPECT_FALSE(ValidatePolicy("{", kArn).ok());
  EXPECT_FALSE(ValidatePolicy(R"({"Statement":[]})", kArn).ok());
  auto other = ValidatePolicy(
      R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"ses:SendEmail",
          "Resource":"arn:aws:ses:us-east-1:000000000000:identity/other.com"}})",
      kArn);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message().find("not this identity"),
            std::string::npos);
  auto action = ValidatePolicy(
      R"({"Statement":{"Effect":"Allow","Principal":"*","Action":"ses:DeleteIdentity",
          "Resource":"*"}})",
      kArn);
  ASSERT_FALSE(action.ok());
  EXPECT_NE(action.error().message().find("not a sending action"),
            std::string::npos);
  EXPECT_FALSE(ValidatePolicy(
                   R"({"Statement":{"Effect":"Maybe","Principal":"*",
                       "Action":"ses:SendEmail","Resource":"*"}})",
                   kArn)
                   .ok());
  EXPECT_FALSE(ValidatePolicy(std::string(5000, ' ') + "{}", kArn).ok());
}

TEST(PolicyTest, AllowsOnlyTheNamedAccountActionAndAddress) {
  std::vector<std::string> p = {kMarketer};
  EXPECT_EQ(Evaluate(p, Req("123456789012", "ses:SendEmail",
                            "marketing+spring@example.com")),
            Decision::kAllow);
  // Another account, another action, another sender address.
  EXPECT_EQ(Evaluate(p, Req("999999999999", "ses:SendEmail",
                            "marketing+spring@example.com")),
            Decision::kNotApplicable);
  EXPECT_EQ(Evaluate(p, Req("123456789012", "ses:SendTemplatedEmail",
                            "marketing+spring@example.com")),
            Decision::kNotApplicable);
  EXPECT_EQ(
      Evaluate(p, Req("123456789012", "ses:SendEmail", "ceo@example.com")),
      Decision::kNotApplicable);
}

TEST(PolicyTest, DenyWinsAndUserArnsMatch) {
  std::string allow_all = R"({"Statement":{"Effect":"Allow",
      "Principal":{"AWS":"arn:aws:iam::123456789012:user/app"},
      "Action":"ses:Send*","Resource":"*"}})";
  std::string deny_ceo = R"({"Statement":{"Effect":"Deny","Principal":"*",
      "Action":"ses:*","Resource":"*",
      "Condition":{"StringEquals":{"ses:FromAddress":"ceo@example.com"}}}})";
  AuthzRequest r = Req("123456789012", "ses:SendRawEmail", "news@example.com");
  EXPECT_EQ(Evaluate({allow_all}, r), Decision::kNotApplicable);  // root key
  r.principal.user = "app";
  EXPECT_EQ(Evaluate({allow_all, deny_ceo}, r), Decision::kAllow);
  r.context["ses:FromAddress"] = {"ceo@example.com"};
  EXPECT_EQ(Evaluate({allow_all, deny_ceo}, r), Decision::kDeny);
}

TEST(PolicyTest, RecipientsForAllValues) {
  std::string p =
      R"({"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},
      "Action":"ses:SendEmail","Resource":"*",
      "Condition":{"ForAllValues:StringLike":{"ses:Recipients":"*@partner.com"}}}})";
  AuthzRequest r = Req("123456789012", "ses:SendEmail", "a@example.com");
  r.context["ses:Recipients"] = {"x@partner.com", "y@partner.com"};
  EXPECT_EQ(Evaluate({p}, r), Decision::kAllow);
  r.context["ses:Recipients"].push_back("z@elsewhere.com");
  EXPECT_EQ(Evaluate({p}, r), Decision::kNotApplicable);
}

TEST(PolicyTest, NegatedAndDateConditions) {
  std::string p = R"({"Statement":{"Effect":"Allow","Principal":"*",
      "Action":"ses:SendEmail","Resource":"*",
      "Condition":{"StringNotEquals":{"ses:FromDisplayName":"Marketing"},
                   "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}}})";
  AuthzRequest r = Req("1", "ses:SendEmail", "a@example.com");
  r.context["ses:FromDisplayName"] = {"Support"};
  r.context["aws:CurrentTime"] = {"2026-11-29T08:00:00.000Z"};
  EXPECT_EQ(Evaluate({p}, r), Decision::kAllow);
  r.context["ses:FromDisplayName"] = {"Marketing"};
  EXPECT_EQ(Evaluate({p}, r), Decision::kNotApplicable);
  r.context["ses:FromDisplayName"] = {"Support"};
  r.context["aws:CurrentTime"] = {"2031-01-01T00:00:00Z"};
  EXPECT_EQ(Evaluate({p}, r), Decision::kNotApplicable);
}

}  // namespace
}  // namespace sesame::auth
