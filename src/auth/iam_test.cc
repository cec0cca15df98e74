#include "auth/iam.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "auth/policy.h"

namespace sesame::auth {
namespace {

const char kAccount[] = "000000000000";

AuthzRequest Req(std::string action, std::string resource,
                 std::map<std::string, std::vector<std::string>> ctx = {}) {
  AuthzRequest r;
  r.principal = {kAccount, "ci"};
  r.action = std::move(action);
  r.resource = std::move(resource);
  r.context = std::move(ctx);
  return r;
}

Decision Eval(const std::string& policy, const AuthzRequest& r) {
  return EvaluateIdentityPolicies({policy}, r);
}

std::string Doc(const std::string& statements) {
  return R"({"Version":"2012-10-17","Statement":[)" + statements + "]}";
}

// IAM User Guide, "Policy evaluation logic": an explicit deny wins, an
// allow is needed, everything else is an implicit deny.
TEST(IdentityPolicyTest, DenyAllowAndImplicitDeny) {
  std::string allow = R"({"Effect":"Allow","Action":"ses:*","Resource":"*"})";
  std::string deny =
      R"({"Effect":"Deny","Action":"ses:DeleteSuppressedDestination",
          "Resource":"*"})";
  auto del = Req("ses:DeleteSuppressedDestination", "*");
  EXPECT_EQ(Eval(Doc(allow), del), Decision::kAllow);
  EXPECT_EQ(Eval(Doc(allow + "," + deny), del), Decision::kDeny);
  EXPECT_EQ(EvaluateIdentityPolicies({Doc(allow), Doc(deny)}, del),
            Decision::kDeny);
  EXPECT_EQ(Eval(Doc(deny), Req("ses:GetAccount", "*")),
            Decision::kNotApplicable);
  EXPECT_EQ(Eval(Doc(allow), Req("sns:CreateTopic", "*")),
            Decision::kNotApplicable);
  // A statement naming a Principal is a resource policy's: no effect here.
  EXPECT_EQ(Eval(Doc(R"({"Effect":"Allow","Principal":"*","Action":"*",
                          "Resource":"*"})"),
                 del),
            Decision::kNotApplicable);
  // Combining with a resource policy: deny in either wins, allow in either.
  EXPECT_EQ(Combine(Decision::kAllow, Decision::kDeny), Decision::kDeny);
  EXPECT_EQ(Combine(Decision::kNotApplicable, Decision::kAllow),
            Decision::kAllow);
  EXPECT_EQ(Combine(Decision::kNotApplicable, Decision::kNotApplicable),
            Decision::kNotApplicable);
}

// IAM User Guide, "NotAction" and "NotResource" examples.
TEST(IdentityPolicyTest, NotActionAndNotResource) {
  std::string all_but_iam =
      Doc(R"({"Effect":"Allow","NotAction":"iam:*","Resource":"*"})");
  EXPECT_EQ(Eval(all_but_iam, Req("ses:SendEmail", "*")), Decision::kAllow);
  EXPECT_EQ(Eval(all_but_iam, Req("iam:CreateUser", "*")),
            Decision::kNotApplicable);
  std::string deny_elsewhere = Doc(
      R"({"Effect":"Allow","Action":"ses:*","Resource":"*"},
         {"Effect":"Deny","Action":"ses:*","NotResource":
          "arn:aws:ses:us-east-1:000000000000:identity/example.com"})");
  EXPECT_EQ(
      Eval(deny_elsewhere,
           Req("ses:GetEmailIdentity",
               "arn:aws:ses:us-east-1:000000000000:identity/example.com")),
      Decision::kAllow);
  EXPECT_EQ(Eval(deny_elsewhere,
                 Req("ses:GetEmailIdentity",
                     "arn:aws:ses:us-east-1:000000000000:identity/other.com")),
            Decision::kDeny);
}

TEST(IdentityPolicyTest, WildcardsInActionsAndArns) {
  std::string p = Doc(
      R"({"Effect":"Allow","Action":["ses:Get*","ses:List*"],
          "Resource":"arn:aws:ses:*:000000000000:identity/*.example.com"})");
  EXPECT_EQ(Eval(p, Req("ses:GetEmailIdentity",
                        "arn:aws:ses:eu-west-1:000000000000:identity/"
                        "mail.example.com")),
            Decision::kAllow);
  // Action names are case-insensitive; ARNs are not.
  EXPECT_EQ(Eval(p, Req("SES:listemailidentities",
                        "arn:aws:ses:eu-west-1:000000000000:identity/"
                        "a.example.com")),
            Decision::kAllow);
  EXPECT_EQ(Eval(p, Req("ses:DeleteEmailIdentity",
                        "arn:aws:ses:eu-west-1:000000000000:identity/"
                        "mail.example.com")),
            Decision::kNotApplicable);
  EXPECT_EQ(Eval(p, Req("ses:GetEmailIdentity",
                        "arn:aws:ses:eu-west-1:000000000000:identity/"
                        "example.org")),
            Decision::kNotApplicable);
  // ${aws:username}: each user manages only its own keys.
  std::string own = Doc(
      R"({"Effect":"Allow","Action":"iam:*AccessKey*",
          "Resource":"arn:aws:iam::000000000000:user/${aws:username}"})");
  auto r = Req("iam:CreateAccessKey", "arn:aws:iam::000000000000:user/ci",
               {{"aws:username", {"ci"}}});
  EXPECT_EQ(Eval(own, r), Decision::kAllow);
  r.resource = "arn:aws:iam::000000000000:user/boss";
  EXPECT_EQ(Eval(own, r), Decision::kNotApplicable);
}

struct OperatorCase {
  const char* op;
  const char* key;
  const char* want;               // JSON value
  std::vector<std::string> have;  // empty: key absent
  bool holds;
};

// Every condition operator, each with a case that holds and one that does
// not (IAM User Guide, "IAM JSON policy elements: Condition operators").
TEST(IdentityPolicyTest, EveryConditionOperator) {
  const OperatorCase cases[] = {
      {"StringEquals",
       "ses:FromAddress",
       R"("ci@example.com")",
       {"ci@example.com"},
       true},
      {"StringEquals",
       "ses:FromAddress",
       R"("ci@example.com")",
       {"CI@example.com"},
       false},
      {"StringNotEquals",
       "ses:FromAddress",
       R"("boss@example.com")",
       {"ci@example.com"},
       true},
      {"StringEqualsIgnoreCase",
       "ses:FromAddress",
       R"("CI@EXAMPLE.COM")",
       {"ci@example.com"},
       true},
      {"StringNotEqualsIgnoreCase",
       "ses:FromAddress",
       R"("CI@EXAMPLE.COM")",
       {"ci@example.com"},
       false},
      {"StringLike",
       "ses:FromAddress",
       R"("*@example.com")",
       {"ci@example.com"},
       true},
      {"StringNotLike",
       "ses:FromAddress",
       R"("*@example.com")",
       {"ci@example.com"},
       false},
      {"NumericEquals", "s3:max-keys", R"("10")", {"10"}, true},
      {"NumericNotEquals", "s3:max-keys", R"("10")", {"10"}, false},
      {"NumericLessThan", "s3:max-keys", R"(10)", {"9"}, true},
      {"NumericLessThanEquals", "s3:max-keys", R"("10")", {"11"}, false},
      {"NumericGreaterThan", "s3:max-keys", R"("10")", {"10.5"}, true},
      {"NumericGreaterThanEquals", "s3:max-keys", R"("10")", {"9"}, false},
      {"DateEquals",
       "aws:CurrentTime",
       R"("2026-01-01T00:00:00Z")",
       {"2026-01-01T00:00:00Z"},
       true},
      {"DateNotEquals",
       "aws:CurrentTime",
       R"("2026-01-01T00:00:00Z")",
       {"2026-01-01T00:00:00Z"},
       false},
      {"DateLessThan",
       "aws:CurrentTime",
       R"("2027-01-01T00:00:00Z")",
       {"2026-12-02T10:00:00Z"},
       true},
      {"DateLessThanEquals",
       "aws:CurrentTime",
       R"("2026-01-01T00:00:00Z")",
       {"2026-12-02T10:00:00Z"},
       false},
      {"DateGreaterThan",
       "aws:EpochTime",
       R"("1700000000")",
       {"1800000000"},
       true},
      {"DateGreaterThanEquals",
       "aws:CurrentTime",
       R"("2027-01-01T00:00:00Z")",
       {"2026-12-02T10:00:00Z"},
       false},
      {"Bool", "aws:SecureTransport", R"("true")", {"true"}, true},
      {"Bool", "aws:SecureTransport", R"(true)", {"false"}, false},
      {"BinaryEquals", "key", R"("QmluYXJ5")", {"QmluYXJ5"}, true},
      {"IpAddress",
       "aws:SourceIp",
       R"(["203.0.113.0/24","10.0.0.1"])",
       {"203.0.113.7"},
       true},
      {"IpAddress",
       "aws:SourceIp",
       R"("203.0.113.0/24")",
       {"203.0.114.7"},
       false},
      {"IpAddress",
       "aws:SourceIp",
       R"("2001:db8::/32")",
       {"2001:db8::1"},
       true},
      {"NotIpAddress",
       "aws:SourceIp",
       R"("203.0.113.0/24")",
       {"198.51.100.1"},
       true},
      {"ArnEquals",
       "aws:SourceArn",
       R"("arn:aws:sns:us-east-1:000000000000:t")",
       {"arn:aws:sns:us-east-1:000000000000:t"},
       true},
      {"ArnNotEquals",
       "aws:SourceArn",
       R"("arn:aws:sns:us-east-1:000000000000:t")",
       {"arn:aws:sns:us-east-1:000000000000:t"},
       false},
      {"ArnLike",
       "aws:SourceArn",
       R"("arn:aws:sns:*:000000000000:*")",
       {"arn:aws:sns:eu-west-1:000000000000:t"},
       true},
      {"ArnNotLike",
       "aws:SourceArn",
       R"("arn:aws:sns:*:000000000000:*")",
       {"arn:aws:sns:eu-west-1:111111111111:t"},
       true},
      {"Null", "aws:PrincipalTag/team", R"("true")", {}, true},
      {"Null", "aws:PrincipalTag/team", R"("false")", {}, false},
      {"Null", "aws:PrincipalTag/team", R"("false")", {"ops"}, true},
      {"StringEqualsIfExists", "aws:PrincipalTag/team", R"("ops")", {}, true},
      {"StringEquals", "aws:PrincipalTag/team", R"("ops")", {}, false},
      {"StringNotEquals", "aws:PrincipalTag/team", R"("ops")", {}, true},
      {"ForAllValues:StringLike",
       "ses:Recipients",
       R"("*@example.com")",
       {"a@example.com", "b@example.com"},
       true},
      {"ForAllValues:StringLike",
       "ses:Recipients",
       R"("*@example.com")",
       {"a@example.com", "b@evil.test"},
       false},
      {"ForAnyValue:StringEquals",
       "aws:TagKeys",
       R"(["env","team"])",
       {"owner", "team"},
       true},
      {"ForAnyValue:StringEquals",
       "aws:TagKeys",
       R"(["env","team"])",
       {"owner"},
       false},
  };
  for (const auto& c : cases) {
    std::string p =
        Doc(std::string(R"({"Effect":"Allow","Action":"*","Resource":"*",
          "Condition":{")") +
            c.op + R"(":{")" + c.key + R"(":)" + c.want + "}}}");
    ASSERT_TRUE(ValidateIdentityPolicy(p, 6144).ok()) << p;
    std::map<std::string, std::vector<std::string>> ctx;
    if (!c.have.empty()) ctx[c.key] = c.have;
    EXPECT_EQ(Eval(p, Req("ses:SendEmail", "*", ctx)),
              c.holds ? Decision::kAllow : Decision::kNotApplicable)
        << c.op << " " << c.key << " " << c.want;
  }
}

TEST(IdentityPolicyTest, MalformedDocumentsSayWhy) {
  auto why = [](const std::string& p) {
    Status s = ValidateIdentityPolicy(p, 6144);
    return s.ok() ? std::string("ok") : s.error().message();
  };
  EXPECT_EQ(why("{not json"), "Syntax errors in policy.");
  EXPECT_EQ(why(Doc(R"({"Effect":"Allow","Action":"ses:X"})")),
            "Policy statement must contain resources.");
  EXPECT_EQ(why(Doc(R"({"Effect":"Allow","Resource":"*"})")),
            "Policy statement must contain actions.");
  EXPECT_EQ(why(Doc(R"({"Effect":"Maybe","Action":"ses:X","Resource":"*"})")),
            "Syntax errors in policy.");
  EXPECT_EQ(why(Doc(R"({"Effect":"Allow","Principal":"*","Action":"ses:X",
                        "Resource":"*"})")),
            "Policy document should not specify a principal.");
  EXPECT_EQ(why(Doc(R"({"Effect":"Allow","Action":"SendEmail",
                        "Resource":"*"})")),
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, "
            "sdb, ec2, etc.");
  EXPECT_EQ(why(Doc(R"({"Effect":"Allow","Action":"ses:X",
                        "Resource":"identity/x"})")),
            "Resource identity/x must be in ARN format or \"*\".");
  EXPECT_EQ(why(Doc(R"({"Effect":"Allow","Action":"ses:X","Resource":"*",
                        "Condition":{"StringSortOf":{"a":"b"}}})")),
            "Unsupported condition operator StringSortOf.");
  EXPECT_EQ(why(R"({"Version":"2013-01-01","Statement":[]})"),
            "The policy failed legacy parsing");
  EXPECT_EQ(why(Doc(R"({"Effect":"Allow","Action":"ses:X","Resource":"*"})")),
            "ok");
}

class IamStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/iam-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/iam.json";
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    (void)std::system(cmd.c_str());
  }
  std::string dir_, path_;
};

TEST_F(IamStoreTest, UsersGroupsAndPoliciesDecideTogether) {
  IamStore iam(path_, kAccount);
  ASSERT_TRUE(iam.CreateUser("ci", "/", {{"team", "ops"}}).ok());
  EXPECT_EQ(iam.CreateUser("CI", "/", {}).error().code(),
            "EntityAlreadyExists");
  EXPECT_EQ(iam.CreateUser("bad name", "/", {}).error().code(),
            "ValidationError");
  ASSERT_TRUE(
      iam.PutInline("user", "ci", "send",
                    Doc(R"({"Effect":"Allow","Action":"ses:*","Resource":"*",
                          "Condition":{"StringEquals":
                          {"aws:PrincipalTag/team":"ops"}}})"))
          .ok());
  EXPECT_EQ(iam.Decide("ci", Req("ses:GetAccount", "*")), Decision::kAllow);
  ASSERT_TRUE(iam.CreateGroup("frozen", "/").ok());
  ASSERT_TRUE(iam.AddUserToGroup("frozen", "ci").ok());
  auto deny = iam.CreatePolicy("deny-ses", "/",
                               Doc(R"({"Effect":"Deny","Action":"ses:*",
                              "Resource":"*"})"),
                               "");
  ASSERT_TRUE(deny.ok());
  ASSERT_TRUE(iam.Attach("group", "frozen", deny->arn).ok());
  EXPECT_EQ(iam.Decide("ci", Req("ses:GetAccount", "*")), Decision::kDeny);
  EXPECT_EQ(iam.DeletePolicy(deny->arn).error().code(), "DeleteConflict");
  ASSERT_TRUE(iam.Detach("group", "frozen", deny->arn).ok());
  EXPECT_EQ(iam.Decide("ci", Req("ses:GetAccount", "*")), Decision::kAllow);
  // Another store on the same file (another process) sees the same state.
  IamStore other(path_, kAccount);
  EXPECT_EQ(other.Decide("ci", Req("ses:GetAccount", "*")), Decision::kAllow);
  ASSERT_TRUE(other.TagUser("ci", {{"team", "sales"}}).ok());
  EXPECT_EQ(iam.Decide("ci", Req("ses:GetAccount", "*")),
            Decision::kNotApplicable);
  EXPECT_EQ(iam.Decide("nobody", Req("ses:GetAccount", "*")), Decision::kDeny);
  EXPECT_EQ(iam.DeleteUser("ci", false).error().code(), "DeleteConflict");
}

TEST_F(IamStoreTest, PolicyVersionsAndAwsManagedPolicies) {
  IamStore iam(path_, kAccount);
  auto p = iam.CreatePolicy(
      "read", "/team/",
      Doc(R"({"Effect":"Allow","Action":"ses:Get*","Resource":"*"})"), "d");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->arn, "arn:aws:iam::000000000000:policy/team/read");
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(iam.CreatePolicyVersion(
                       p->arn, Doc(R"({"Effect":"Allow","Action":"ses:List*",
                               "Resource":"*"})"),
                       i == 0)
                    .ok());
  }
  EXPECT_EQ(iam.CreatePolicyVersion(p->arn, Doc(R"({"Effect":"Allow",
               "Action":"ses:X","Resource":"*"})"),
                                    false)
                .error()
                .code(),
            "LimitExceeded");
  EXPECT_EQ(iam.GetPolicy(p->arn)->default_version, "v2");
  EXPECT_EQ(iam.DeletePolicyVersion(p->arn, "v2").error().code(),
            "DeleteConflict");
  ASSERT_TRUE(iam.DeletePolicyVersion(p->arn, "v3").ok());
  EXPECT_EQ(iam.GetPolicyVersion(p->arn, "v3").error().code(), "NoSuchEntity");
  ASSERT_TRUE(iam.CreateUser("viewer", "/", {}).ok());
  ASSERT_TRUE(iam.Attach("user", "viewer",
                         "arn:aws:iam::aws:policy/AmazonSESReadOnlyAccess")
                  .ok());
  EXPECT_EQ(iam.Decide("viewer", Req("ses:ListEmailIdentities", "*")),
            Decision::kAllow);
  EXPECT_EQ(iam.Decide("viewer", Req("ses:SendEmail", "*")),
            Decision::kNotApplicable);
  EXPECT_EQ(iam.Attach("user", "viewer", "arn:aws:iam::aws:policy/Nope")
                .error()
                .code(),
            "NoSuchEntity");
  EXPECT_EQ(
      iam.DeletePolicy("arn:aws:iam::aws:policy/IAMFullAccess").error().code(),
      "InvalidInput");
}

}  // namespace
}  // namespace sesame::auth
