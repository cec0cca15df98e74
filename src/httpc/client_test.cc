#include "httpc/client.h"

#include <gtest/gtest.h>

namespace sesame::httpc {
namespace {

TEST(ParseUrl, SplitsSchemeHostPortAndTarget) {
  auto u = ParseUrl("https://fn.example.com:8443/invoke?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "fn.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/invoke?x=1");
  auto v = ParseUrl("http://[::1]/");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->host, "::1");
  EXPECT_EQ(v->port, 80);
}

TEST(ParseUrl, RefusesWhatCouldSmuggleARequest) {
  for (const char* bad : {"ftp://x/", "http://user@host/", "http://host/a b",
                          "http://host/\r\nX-Injected: 1", "http://host:99999/",
                          "http:///x", "http://host:12a/"})
    EXPECT_FALSE(ParseUrl(bad).ok()) << bad;
}

TEST(Fetch, ConnectionRefusedIsTransient) {
  Request r;
  r.url = "http://127.0.0.1:1/";
  r.timeout_ms = 2000;
  auto resp = Fetch(r);
  ASSERT_FALSE(resp.ok());
  EXPECT_TRUE(resp.error().transient());
}

}  // namespace
}  // namespace sesame::httpc
