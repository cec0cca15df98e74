#include "auth/login_throttle.h"

#include <gtest/gtest.h>

namespace sesame::auth {
namespace {

TEST(LoginThrottle, DelaysGrowThenTheAddressIsLockedOut) {
  LoginThrottle t;
  int64_t now = 1'000'000;
  std::vector<int64_t> delays;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(t.LockedFor("10.0.0.1", now), 0) << i;
    delays.push_back(t.Failed("10.0.0.1", "user" + std::to_string(i), now));
  }
  EXPECT_EQ(delays[0], 0);
  EXPECT_EQ(delays[2], 0);
  EXPECT_EQ(delays[3], 500);
  EXPECT_EQ(delays[4], 1000);
  EXPECT_EQ(delays[5], 2000);
  EXPECT_EQ(delays[9], 8000);  // capped
  EXPECT_GT(t.LockedFor("10.0.0.1", now + 1), 14 * 60 * 1000);
  EXPECT_EQ(t.lockouts(), 1u);
  EXPECT_EQ(t.failures(), 10u);
  // Another address is untouched, and the lockout ends.
  EXPECT_EQ(t.LockedFor("10.0.0.2", now), 0);
  EXPECT_EQ(t.Failed("10.0.0.2", "other", now), 0);
  EXPECT_EQ(t.LockedFor("10.0.0.1", now + 15 * 60 * 1000), 0);
}

TEST(LoginThrottle, AUserUnderDistributedAttackIsSlowedNotLocked) {
  LoginThrottle t;
  int64_t now = 5'000'000;
  int64_t last = 0;
  for (int i = 0; i < 20; ++i)
    last = t.Failed("10.1.0." + std::to_string(i), "victim", now);
  EXPECT_EQ(last, 8000);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(t.LockedFor("10.1.0." + std::to_string(i), now), 0);
  t.Succeeded("10.9.9.9", "victim");
  EXPECT_EQ(t.Failed("10.1.0.30", "victim", now), 0);
}

TEST(LoginThrottle, WindowsExpireAndTheTablesStayBounded) {
  LoginThrottle::Limits l;
  l.max_entries = 100;
  LoginThrottle t(l);
  int64_t now = 0;
  for (int i = 0; i < 1000; ++i)
    t.Failed("192.0.2." + std::to_string(i), "u" + std::to_string(i), now + i);
  // Bounded: the newest entries survive, the oldest went.
  EXPECT_EQ(t.Failed("192.0.2.999", "", now + 1000), 0);  // 2nd failure
  EXPECT_EQ(t.Failed("192.0.2.999", "", now + 1000), 0);  // 3rd
  EXPECT_EQ(t.Failed("192.0.2.999", "", now + 1000), 500);
  // Failures older than the window are forgotten.
  int64_t later = now + 16 * 60 * 1000;
  EXPECT_EQ(t.Failed("192.0.2.999", "", later), 0);
}

TEST(LoginThrottle, FillingTheTableDoesNotFlushALockout) {
  LoginThrottle::Limits l;
  l.max_entries = 50;
  LoginThrottle t(l);
  int64_t now = 1'000'000;
  for (int i = 0; i < 10; ++i) t.Failed("203.0.113.7", "", now);
  ASSERT_GT(t.LockedFor("203.0.113.7", now), 0);
  for (int i = 0; i < 1000; ++i)
    t.Failed("198.51.100." + std::to_string(i), "u" + std::to_string(i),
             now + 1 + i);
  EXPECT_LE(t.entries(), 100u);  // 50 addresses + 50 users at most
  EXPECT_GT(t.LockedFor("203.0.113.7", now + 2000), 0);
}

}  // namespace
}  // namespace sesame::auth
