#include "ses/names.h"

#include <gtest/gtest.h>

#include <string>

namespace sesame::ses {
namespace {

TEST(Names, ResourceNames) {
  for (const char* ok : {"a", "my-set_1", "ABC"})
    EXPECT_TRUE(CheckResourceName("configuration set", ok).ok()) << ok;
  EXPECT_TRUE(CheckResourceName("template", std::string(64, 'x')).ok());
  const std::string bad[] = {"",
                             "../x",
                             "a/b",
                             "a b",
                             "dot.ted",
                             std::string(65, 'x'),
                             "caf\xc3\xa9",
                             std::string("a\0b", 3),
                             "a\r\n"};
  for (const auto& b : bad) {
    Status s = CheckResourceName("configuration set", b);
    ASSERT_FALSE(s.ok()) << b;
    EXPECT_EQ(s.error().code(), "invalid");
    EXPECT_NE(s.error().message().find("Invalid configuration set name"),
              std::string::npos);
  }
}

TEST(Names, Identities) {
  for (const char* ok : {"example.com", "mail.example.co.uk", "a@example.com",
                         "\"q u\"@example.com", "example.com."})
    EXPECT_TRUE(CheckIdentityName(ok).ok()) << ok;
  const std::string bad[] = {"../../../../tmp/x",
                             "example",
                             "exa mple.com",
                             "-example.com",
                             "Foo <foo@bar.baz>",
                             "foo@bar.baz>",
                             "a@[127.0.0.1]",
                             "a@localhost",
                             std::string(300, 'a') + ".com",
                             std::string("ex\0ample.com", 12),
                             ""};
  for (const auto& b : bad) EXPECT_FALSE(CheckIdentityName(b).ok()) << b;
}

}  // namespace
}  // namespace sesame::ses
