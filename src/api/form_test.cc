#include "api/form.h"

#include <gtest/gtest.h>

namespace sesame::api {
namespace {

TEST(Form, DecodesPlusPercentAndLists) {
  auto f = ParseForm(
      "Action=SendEmail&Source=a%40b.com&Message.Subject.Data=Hi+there%21"
      "&Destination.ToAddresses.member.1=x%40y.org&Destination.ToAddresses."
      "member.2=z%40y.org"
      "&Destination.ToAddresses.member.4=gap%40y.org&Empty=&Bare&Tags.member.1."
      "Name=a%2Bb");
  EXPECT_EQ(f["Action"], "SendEmail");
  EXPECT_EQ(f["Source"], "a@b.com");
  EXPECT_EQ(f["Message.Subject.Data"], "Hi there!");
  EXPECT_EQ(Members(f, "Destination.ToAddresses"),
            (std::vector<std::string>{"x@y.org", "z@y.org"}));
  EXPECT_EQ(f["Empty"], "");
  EXPECT_TRUE(f.count("Bare"));
  EXPECT_EQ(f["Tags.member.1.Name"], "a+b");
  EXPECT_TRUE(Members(f, "Nope").empty());
}

TEST(Form, MalformedPercentIsKeptLiterally) {
  auto f = ParseForm("a=%zz&b=%4&c=100%");
  EXPECT_EQ(f["a"], "%zz");
  EXPECT_EQ(f["b"], "%4");
  EXPECT_EQ(f["c"], "100%");
}

}  // namespace
}  // namespace sesame::api
