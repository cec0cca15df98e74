#include "stats/stats.h"

#include <gtest/gtest.h>

#include "stats/alarms.h"

namespace sesame::stats {
namespace {

constexpr int64_t kT0 = 1764400000000;  // a minute boundary or not: no matter
constexpr int64_t kMin = 60000;

TEST(StatsTest, CountsPerScopeAndBuckets) {
  Stats s(ReputationOptions{});
  s.Record(Kind::kSend, 10, kT0, "marketing", "example.com");
  s.Record(Kind::kDelivery, 9, kT0 + 1000, "marketing", "example.com");
  s.Record(Kind::kBounce, 1, kT0 + 20 * kMin, "", "example.com");
  EXPECT_EQ(s.Total("", kT0 - kMin, kT0 + 60 * kMin).sends, 10u);
  EXPECT_EQ(s.Total("cs:marketing", kT0 - kMin, kT0 + 60 * kMin).deliveries,
            9u);
  EXPECT_EQ(s.Total("cs:marketing", kT0 - kMin, kT0 + 60 * kMin).bounces, 0u);
  EXPECT_EQ(s.Total("id:example.com", kT0 - kMin, kT0 + 60 * kMin).bounces, 1u);
  auto buckets =
      s.Series("", kT0 - kT0 % (15 * kMin), kT0 + 60 * kMin, 15 * kMin);
  ASSERT_EQ(buckets.size(), 2u);  // empty buckets are left out
  EXPECT_EQ(buckets[0].c.sends, 10u);
  EXPECT_EQ(buckets[1].c.bounces, 1u);
  EXPECT_EQ(s.MaxPerMinute("", "sends", kT0 - kMin, kT0 + kMin), 10u);
}

TEST(StatsTest, ReputationThresholdsAndFreshStart) {
  ReputationOptions o;
  o.min_sends = 100;
  Stats s(o);
  s.Record(Kind::kSend, 99, kT0, "", "");
  s.Record(Kind::kBounce, 50, kT0, "", "");
  EXPECT_EQ(s.ReputationOf("", kT0).status, "HEALTHY");  // not representative
  s.Record(Kind::kSend, 901, kT0, "", "");  // 1000 sends, 50 bounces
  EXPECT_EQ(s.ReputationOf("", kT0).status, "PROBATION");
  EXPECT_DOUBLE_EQ(s.ReputationOf("", kT0).bounce_rate, 0.05);
  s.Record(Kind::kBounce, 50, kT0, "", "");
  EXPECT_EQ(s.ReputationOf("", kT0).status, "SHUTDOWN");
  s.FreshStart("", kT0 + kMin);
  EXPECT_EQ(s.ReputationOf("", kT0 + 2 * kMin).status, "HEALTHY");
  // Complaints count too: 0.5 % is SHUTDOWN.
  Stats c(o);
  c.Record(Kind::kSend, 1000, kT0, "", "");
  c.Record(Kind::kComplaint, 5, kT0, "", "");
  EXPECT_EQ(c.ReputationOf("", kT0).status, "SHUTDOWN");
}

TEST(StatsTest, SaveAndLoad) {
  Stats s(ReputationOptions{});
  s.Record(Kind::kSend, 3, kT0, "a", "b.com");
  std::string path = testing::TempDir() + "/stats_test.json";
  ASSERT_TRUE(s.Save(path).ok());
  Stats t(ReputationOptions{});
  ASSERT_TRUE(t.Load(path).ok());
  EXPECT_EQ(t.Total("cs:a", kT0 - kMin, kT0 + kMin).sends, 3u);
}

TEST(StatsTest, PeersAddToEveryQueryAndDirtyMinutesRoundTrip) {
  const int64_t t0 = kT0 / kMin * kMin;
  Stats a(ReputationOptions{}), b(ReputationOptions{});
  a.Record(Kind::kSend, 3, t0, "cs1", "a.example");
  b.Record(Kind::kSend, 5, t0 + 1000, "cs1", "");
  b.Record(Kind::kBounce, 2, t0 + kMin, "", "");
  // B's minutes, as B's node writes them, become A's peers.
  Stats::Minutes peers;
  auto dirty = b.TakeDirtyMinutes();
  ASSERT_EQ(dirty.size(), 2u);
  for (const auto& [minute, doc] : dirty)
    ASSERT_TRUE(Stats::ParseMinute(doc, minute, &peers)) << doc;
  EXPECT_TRUE(b.TakeDirtyMinutes().empty());
  a.SetPeers(peers, t0 - kMin);
  EXPECT_EQ(a.Total("", t0, t0 + 2 * kMin).sends, 8u);
  EXPECT_EQ(a.Total("cs:cs1", t0, t0 + 2 * kMin).sends, 8u);
  EXPECT_EQ(a.Total("", t0, t0 + 2 * kMin).bounces, 2u);
  EXPECT_EQ(a.MaxPerMinute("", "sends", t0, t0 + 2 * kMin), 8u);
  auto series = a.Series("", t0, t0 + 2 * kMin, kMin);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].c.sends, 8u);
  EXPECT_EQ(series[1].c.bounces, 2u);
  // A later read replaces the peers' minutes from its start on.
  a.SetPeers({}, t0 + kMin);
  EXPECT_EQ(a.Total("", t0, t0 + 2 * kMin).bounces, 0u);
  EXPECT_EQ(a.Total("", t0, t0 + 2 * kMin).sends, 8u);
  // Hostile documents are refused whole.
  EXPECT_FALSE(Stats::ParseMinute("{\"\":[1,2]}", t0, &peers));
  EXPECT_FALSE(Stats::ParseMinute("{\"\":[-1,0,0,0,0,0,0]}", t0, &peers));
  EXPECT_FALSE(Stats::ParseMinute("[]", t0, &peers));
}

TEST(AlarmsTest, FiresOnceRunsActionsAndRecovers) {
  Stats s(ReputationOptions{});
  config::Alarm a;
  a.name = "bounces";
  a.metric = "bounce_rate";
  a.statistic = "Average";
  a.period_seconds = 60;
  a.threshold = 0.1;
  a.configuration_set = "risky";
  a.actions = {{"alarms", "", false}, {"", "risky", false}};
  int published = 0, paused = 0;
  std::string message;
  AlarmActions act;
  act.publish = [&](const std::string& topic, const std::string& subject,
                    const std::string& m) {
    ++published;
    message = m;
    EXPECT_EQ(topic, "alarms");
    EXPECT_NE(subject.find("ALARM"), std::string::npos);
  };
  act.pause_config_set = [&](const std::string& cs) {
    ++paused;
    EXPECT_EQ(cs, "risky");
  };
  Alarms alarms({a}, true, &s, act, testing::TempDir() + "/alarm_history.jsonl",
                "us-east-1", "000000000000");
  alarms.Evaluate(kT0);
  EXPECT_NE(alarms.StatesJson().find("INSUFFICIENT_DATA"), std::string::npos);
  s.Record(Kind::kSend, 10, kT0, "risky", "");
  alarms.Evaluate(kT0);
  EXPECT_NE(alarms.StatesJson().find("\"StateValue\":\"OK\""),
            std::string::npos);
  s.Record(Kind::kBounce, 5, kT0, "risky", "");
  alarms.Evaluate(kT0);
  alarms.Evaluate(kT0 + 1000);  // still ALARM: the actions ran once
  EXPECT_EQ(published, 1);
  EXPECT_EQ(paused, 1);
  EXPECT_NE(message.find("\"NewStateValue\":\"ALARM\""), std::string::npos);
  EXPECT_NE(message.find("\"OldStateValue\":\"OK\""), std::string::npos);
  // A later quiet period: no sends, so no data.
  alarms.Evaluate(kT0 + 10 * kMin);
  EXPECT_NE(alarms.StatesJson().find("INSUFFICIENT_DATA"), std::string::npos);
  std::string history = alarms.HistoryJson();
  EXPECT_NE(history.find("\"newState\":\"ALARM\""), std::string::npos);
}

TEST(AlarmsTest, ReputationShutdownPausesOnceOnTheTransition) {
  ReputationOptions o;
  o.min_sends = 10;
  Stats s(o);
  int paused_account = 0;
  AlarmActions act;
  act.pause_account = [&] { ++paused_account; };
  Alarms alarms({}, true, &s, act, testing::TempDir() + "/rep_history.jsonl",
                "us-east-1", "000000000000");
  s.Record(Kind::kSend, 20, kT0, "", "");
  alarms.Evaluate(kT0);
  EXPECT_EQ(alarms.ReputationStatus(""), "HEALTHY");
  s.Record(Kind::kBounce, 4, kT0, "", "");  // 20 %
  alarms.Evaluate(kT0);
  alarms.Evaluate(kT0 + 1000);
  EXPECT_EQ(alarms.ReputationStatus(""), "SHUTDOWN");
  EXPECT_EQ(paused_account, 1);
}

}  // namespace
}  // namespace sesame::stats
