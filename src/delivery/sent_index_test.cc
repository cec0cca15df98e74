#include "delivery/sent_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "base/ids.h"

namespace sesame::delivery {
namespace {

TEST(SentIndex, RemembersAcrossReopenAndForgetsAfterRetention) {
  char tmpl[] = "/tmp/sent-index-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/sent.db";
  spool::MessageMeta m;
  m.id = "0100018c-test";
  m.created_ms = NowMillis();
  m.config_set = "marketing";
  m.recipients.push_back({});
  m.recipients[0].address = "a@b.test";
  {
    SentIndex idx;
    ASSERT_TRUE(idx.Open(path, 3600'000).ok());
    idx.Record(m, "Subject: hi\r\nFrom: x@y.test");
    auto queued = idx.Lookup(m.id);  // still in the writer's queue, or written
    ASSERT_TRUE(queued.has_value());
    EXPECT_EQ(queued->meta.config_set, "marketing");
    idx.Close();
  }
  SentIndex again;
  ASSERT_TRUE(again.Open(path, 3600'000).ok());
  auto e = again.Lookup(m.id);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->meta.config_set, "marketing");
  EXPECT_EQ(e->meta.recipients.at(0).address, "a@b.test");
  EXPECT_EQ(e->header_block, "Subject: hi\r\nFrom: x@y.test");
  EXPECT_FALSE(again.Lookup("other").has_value());
  again.Close();
  std::system(("rm -rf " + std::string(tmpl)).c_str());
}

}  // namespace
}  // namespace sesame::delivery
