#include "events/event_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sesame::events {
namespace {

namespace json = boost::json;
using Type = delivery::MessageEvent::Type;

std::string S(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

delivery::MessageEvent Sample(Type type) {
  delivery::MessageEvent e;
  e.type = type;
  e.timestamp_ms = 1764400000000;
  e.meta.id = "0100019acbd9f4a0-8c3c1fa6-2e8e-4e33-9a1b-2c3d4e5f6a7b-000000";
  e.meta.created_ms = 1764399999000;
  e.meta.mail_from = "app@example.com";
  e.meta.source = "api";
  e.meta.client_ip = "192.0.2.7";
  e.meta.config_set = "marketing";
  spool::Recipient r;
  r.address = "to@example.org";
  e.meta.recipients.push_back(r);
  return e;
}

const char kHeaders[] =
    "From: =?UTF-8?B?Wm/Dqw==?= <app@example.com>\r\nTo: to@example.org\r\n"
    "Subject: =?UTF-8?Q?caf=C3=A9?=\r\nMessage-ID: <m1@example.com>\r\n"
    "X-SES-MESSAGE-TAGS: campaign=spring, cohort = a\r\n";

TEST(EventJsonTest, BounceRecordHasTheSesShape) {
  auto e = Sample(Type::kBounce);
  e.classification = feedback::ForReason("user_unknown", true);
  e.recipients.push_back(
      {"to@example.org", "failed", "5.1.1", "smtp; 550 5.1.1 user unknown"});
  e.reporting_mta = "mta.sesame.test";
  json::value v = json::parse(
      SesEventJson(e, MailHeaders{kHeaders}, Identity{}, "feedback-1"));
  const auto& o = v.as_object();
  EXPECT_EQ(S(o.at("eventType")), "Bounce");
  const auto& mail = o.at("mail").as_object();
  EXPECT_EQ(S(mail.at("messageId")), e.meta.id);
  EXPECT_EQ(S(mail.at("source")), "app@example.com");
  EXPECT_EQ(S(mail.at("sendingAccountId")), "000000000000");
  EXPECT_EQ(S(mail.at("sourceArn")),
            "arn:aws:ses:us-east-1:000000000000:identity/example.com");
  EXPECT_EQ(mail.at("destination").as_array().size(), 1u);
  EXPECT_FALSE(mail.at("headersTruncated").as_bool());
  EXPECT_EQ(S(mail.at("commonHeaders").at("subject")), "café");
  EXPECT_EQ(S(mail.at("commonHeaders").at("messageId")), "<m1@example.com>");
  const auto& tags = mail.at("tags").as_object();
  EXPECT_EQ(S(tags.at("ses:configuration-set").as_array()[0]), "marketing");
  EXPECT_EQ(S(tags.at("ses:source-ip").as_array()[0]), "192.0.2.7");
  EXPECT_EQ(S(tags.at("ses:from-domain").as_array()[0]), "example.com");
  EXPECT_EQ(S(tags.at("campaign").as_array()[0]), "spring");
  EXPECT_EQ(S(tags.at("cohort").as_array()[0]), "a");
  const auto& b = o.at("bounce").as_object();
  EXPECT_EQ(S(b.at("bounceType")), "Permanent");
  EXPECT_EQ(S(b.at("bounceSubType")), "NoEmail");
  EXPECT_EQ(S(b.at("feedbackId")), "feedback-1");
  EXPECT_EQ(S(b.at("reportingMTA")), "dsn; mta.sesame.test");
  EXPECT_EQ(S(b.at("bouncedRecipients").as_array()[0].at("status")), "5.1.1");
}

TEST(EventJsonTest, OtherTypes) {
  auto d = Sample(Type::kDelivery);
  d.recipients.push_back({"to@example.org", "delivered", "2.0.0", ""});
  d.smtp_response = "250 2.0.0 Ok";
  d.processing_ms = 42;
  auto v = json::parse(SesEventJson(d, MailHeaders{}, Identity{}, "x"));
  EXPECT_EQ(v.at("delivery").at("processingTimeMillis").as_int64(), 42);
  EXPECT_EQ(S(v.at("delivery").at("smtpResponse")), "250 2.0.0 Ok");
  // Without headers, no headers fields.
  EXPECT_FALSE(v.at("mail").as_object().contains("headers"));
  auto c = Sample(Type::kComplaint);
  c.recipients.push_back({"to@example.org", "complained", "", ""});
  c.feedback_type = "abuse";
  c.user_agent = "FBL/1";
  v = json::parse(SesEventJson(c, MailHeaders{}, Identity{}, "fb"));
  EXPECT_EQ(S(v.at("eventType")), "Complaint");
  EXPECT_EQ(S(v.at("complaint").at("complaintFeedbackType")), "abuse");
  EXPECT_TRUE(v.at("complaint").at("complaintSubType").is_null());
  auto dd = Sample(Type::kDeliveryDelay);
  dd.delay_type = "MailboxFull";
  dd.recipients.push_back({"to@example.org", "delayed", "4.2.2", "smtp; 452"});
  v = json::parse(SesEventJson(dd, MailHeaders{}, Identity{}, "x"));
  EXPECT_EQ(S(v.at("eventType")), "DeliveryDelay");
  EXPECT_EQ(S(v.at("deliveryDelay").at("delayType")), "MailboxFull");
  v = json::parse(
      SesEventJson(Sample(Type::kSend), MailHeaders{}, Identity{}, "x"));
  EXPECT_TRUE(v.at("send").as_object().empty());
}

TEST(EventJsonTest, LongHeadersAreTruncated) {
  std::string block;
  for (int i = 0; i < 400; ++i)
    block +=
        "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'x') + "\r\n";
  auto v = json::parse(
      SesEventJson(Sample(Type::kSend), MailHeaders{block}, Identity{}, "x"));
  EXPECT_TRUE(v.at("mail").at("headersTruncated").as_bool());
  EXPECT_LT(v.at("mail").at("headers").as_array().size(), 400u);
}

}  // namespace
}  // namespace sesame::events
