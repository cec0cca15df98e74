#include "delivery/ses_events.h"

#include <gtest/gtest.h>

namespace sesame::delivery {
namespace {

TEST(SimulatorVerdict, AddressesAsSesSimulatorAnswers) {
  EXPECT_EQ(SimulatorVerdict("success@simulator.amazonses.com").code, 250);
  EXPECT_EQ(SimulatorVerdict("Success+tag@simulator.amazonses.com").code, 250);
  EXPECT_EQ(SimulatorVerdict("ooto@simulator.amazonses.com").code, 250);
  EXPECT_EQ(SimulatorVerdict("complaint@simulator.amazonses.com").code, 250);
  auto s = SimulatorVerdict("suppressionlist@simulator.amazonses.com");
  EXPECT_EQ(s.code, 550);
  EXPECT_NE(s.response.find("suppression list"), std::string::npos);
  EXPECT_EQ(SimulatorVerdict("bounce@simulator.amazonses.com").code, 550);
}

Attempt At(const char* host) {
  Attempt a;
  a.meta.id = "m1";
  a.meta.source = "api";
  a.remote_host = host;
  a.remote_ip = "192.0.2.1";
  a.reporting_mta = "mx.sesame.test";
  a.now_ms = 1000;
  a.processing_ms = 7;
  return a;
}

TEST(AttemptEvents, OneEventPerKindBouncesGroupedByClassification) {
  std::vector<AttemptRecipient> rs = {
      {"a@x.example", 250, "250 2.0.0 Ok", "delivered"},
      {"b@x.example", 550, "550 5.1.1 no such user", "failed"},
      {"c@x.example", 550, "550 5.1.1 unknown user", "failed"},
      {"d@x.example", 452, "452 4.2.2 mailbox full", "deferred", 99},
      {"e@x.example", 451, "451 4.3.0 try later", "expired"},
  };
  auto events =
      AttemptEvents(At("mx.x.example"), rs, feedback::Classifier::Default());
  int deliveries = 0, delays = 0;
  std::vector<const MessageEvent*> bounces;
  for (const auto& e : events) {
    EXPECT_EQ(e.meta.id, "m1");
    EXPECT_EQ(e.remote_mta_ip, "192.0.2.1");
    if (e.type == MessageEvent::Type::kDelivery) ++deliveries;
    if (e.type == MessageEvent::Type::kDeliveryDelay) {
      ++delays;
      EXPECT_EQ(e.delay_type, "MailboxFull");
      EXPECT_EQ(e.expiration_ms, 99);
    }
    if (e.type == MessageEvent::Type::kBounce) bounces.push_back(&e);
  }
  EXPECT_EQ(deliveries, 1);
  EXPECT_EQ(delays, 1);
  ASSERT_EQ(bounces.size(), 2u);  // the two unknown users together, the expiry
  size_t hard = 0;
  for (const auto* b : bounces) {
    if (b->classification.bounce_type == "Permanent") {
      hard = b->recipients.size();
    } else {
      // An expiry is never a Permanent bounce.
      EXPECT_EQ(b->recipients.at(0).address, "e@x.example");
    }
  }
  EXPECT_EQ(hard, 2u);
}

TEST(AttemptEvents, SimulatorComplaintAndNoneForOurOwnMail) {
  std::vector<AttemptRecipient> rs = {
      {"complaint@simulator.amazonses.com", 250, "250 Ok", "delivered"}};
  auto events =
      AttemptEvents(At(kSimulatorHost), rs, feedback::Classifier::Default());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].type, MessageEvent::Type::kComplaint);
  Attempt dsn = At("mx.x.example");
  dsn.meta.source = "dsn";
  EXPECT_TRUE(AttemptEvents(dsn, rs, feedback::Classifier::Default()).empty());
}

}  // namespace
}  // namespace sesame::delivery
