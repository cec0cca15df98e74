#include "auth/quota.h"

#include <gtest/gtest.h>

namespace sesame::auth {
namespace {

TEST(Quota, RateIsATokenBucketWithOneSecondBurst) {
  Quota q(10, -1);
  int64_t t = 1'000'000;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(q.Take(1, t)) << i;
  EXPECT_EQ(q.Take(1, t), "Maximum sending rate exceeded.");
  EXPECT_FALSE(q.Take(1, t + 100));  // 0.1 s refills one token
  EXPECT_TRUE(q.Take(1, t + 100));
  EXPECT_TRUE(q.Take(11, t + 10'000));  // more than the burst at once
}

TEST(Quota, RollingDailyLimit) {
  Quota q(0, 100);
  int64_t t = 60'000 * 1000;
  EXPECT_FALSE(q.Take(60, t));
  EXPECT_FALSE(q.Take(40, t + 3600'000));
  EXPECT_EQ(q.Take(1, t + 3600'000), "Daily message quota exceeded.");
  EXPECT_EQ(q.SentLast24Hours(t + 3600'000), 100);
  // 24 h after the first 60, they roll out of the window.
  EXPECT_FALSE(q.Take(60, t + 24 * 3600'000 + 60'000));
  EXPECT_EQ(q.SentLast24Hours(t + 24 * 3600'000 + 60'000), 100);
}

TEST(Quota, Unlimited) {
  Quota q(0, -1);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(q.Take(50, 5));
}

}  // namespace
}  // namespace sesame::auth

namespace sesame::auth {
namespace {
TEST(Quota, GiveBackRestoresTheDailyCountAndTheRate) {
  Quota q(2, 3);
  int64_t t = 1'000'000'000;
  ASSERT_FALSE(q.Take(2, t).has_value());
  EXPECT_EQ(q.SentLast24Hours(t), 2);
  EXPECT_TRUE(q.Take(1, t).has_value());  // the bucket is empty
  q.GiveBack(2, t);
  EXPECT_EQ(q.SentLast24Hours(t), 0);
  ASSERT_FALSE(q.Take(2, t).has_value());  // the tokens came back too
  // A give-back older than the window changes nothing.
  q.GiveBack(2, t - 25LL * 3600 * 1000);
  EXPECT_EQ(q.SentLast24Hours(t), 2);
}
}  // namespace
}  // namespace sesame::auth
