#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <deque>

namespace sesame::metrics {
namespace {

TEST(Writer, FamiliesSamplesAndEscaping) {
  Writer w;
  w.Counter("a_total", "Things\\done.", 3);
  w.Family("b", "Per site.", "gauge");
  w.Sample("b", {{"site", "mx \"1\"\n"}}, 2.5);
  EXPECT_EQ(w.Take(),
            "# HELP a_total Things\\\\done.\n# TYPE a_total counter\n"
            "a_total 3\n# HELP b Per site.\n# TYPE b gauge\n"
            "b{site=\"mx \\\"1\\\"\\n\"} 2.5\n");
}

TEST(Registry, OwnedFamiliesAreWrittenOnTheirOwnersTurn) {
  // A fake owner thread: a queue of posted work the test runs by hand.
  std::deque<std::function<void()>> owner;
  Registry r;
  int owned_state = 7;  // "belongs" to the owner
  r.Add([](Writer& w) { w.Counter("first_total", "f", 1); });
  r.AddOwned(
      [&owner](std::function<void()> f) { owner.push_back(std::move(f)); },
      [&owned_state](Writer& w) { w.Gauge("owned", "o", owned_state); });
  r.Add([](Writer& w) { w.Counter("last_total", "l", 2); });
  std::string got;
  bool answered = false;
  r.Render([&](std::string text) {
    got = std::move(text);
    answered = true;
  });
  // Nothing is written until the owner runs: the caller did not wait.
  EXPECT_FALSE(answered);
  ASSERT_EQ(owner.size(), 1u);
  owned_state = 8;  // the owner's value at its turn is the one rendered
  owner.front()();
  ASSERT_TRUE(answered);
  EXPECT_NE(got.find("first_total 1\n"), std::string::npos);
  EXPECT_NE(got.find("owned 8\n"), std::string::npos);
  EXPECT_LT(got.find("owned 8"), got.find("last_total 2"));
}

TEST(Registry, NothingOwnedAnswersAtOnce) {
  Registry r;
  Histogram h;
  h.Observe(0.001);
  r.Add(
      [&h](Writer& w) { w.HistogramFamily("lat_seconds", "l", h, "k=\"v\""); });
  std::string got;
  r.Render([&](std::string t) { got = std::move(t); });
  EXPECT_NE(got.find("# TYPE lat_seconds histogram"), std::string::npos);
  EXPECT_NE(got.find("lat_seconds_count{k=\"v\"} 1"), std::string::npos);
}

}  // namespace
}  // namespace sesame::metrics
