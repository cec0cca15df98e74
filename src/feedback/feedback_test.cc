#include <gtest/gtest.h>

#include "feedback/classifier.h"
#include "feedback/report.h"

namespace sesame::feedback {
namespace {

TEST(ClassifierTest, EmbeddedRulesParse) {
  auto c = Classifier::Parse(EmbeddedRules(), "rules.tsv");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_GT(c->size(), 200u);
}

TEST(ClassifierTest, TextBeforeStatusBeforeReply) {
  const Classifier& c = Classifier::Default();
  auto full = c.Classify("552 5.2.2 Mailbox full", "5.2.2", "552");
  EXPECT_EQ(full.reason, "mailbox_full");
  EXPECT_EQ(full.bounce_type, "Transient");
  EXPECT_EQ(full.bounce_subtype, "MailboxFull");
  auto unknown = c.Classify("550 5.1.1 <a@b.c>: User unknown", "5.1.1", "550");
  EXPECT_EQ(unknown.reason, "user_unknown");
  EXPECT_EQ(unknown.bounce_type, "Permanent");
  EXPECT_EQ(unknown.bounce_subtype, "NoEmail");
  // Nothing in the text: the status decides, then the reply code.
  EXPECT_EQ(c.Classify("", "5.1.2", "").reason, "domain_not_found");
  EXPECT_EQ(c.Classify("", "4.2.2", "").bounce_subtype, "MailboxFull");
  EXPECT_EQ(c.Classify("", "", "552").reason, "message_too_large");
  // A temporary user-unknown is not permanent.
  EXPECT_EQ(c.Classify("user unknown", "4.1.1", "450").bounce_type,
            "Transient");
  EXPECT_EQ(c.Classify("", "", "").bounce_type, "Undetermined");
  // Folded diagnostics match single-line patterns.
  EXPECT_EQ(c.Classify("mailbox\n   full", "", "").reason, "mailbox_full");
}

TEST(ClassifierTest, OperatorRulesComeFirstAndErrorsNameTheLine) {
  auto mine = Classifier::Parse(
      "# ours\nrate_limited\ttext\t~please slow down \\d+\n", "mine.tsv");
  ASSERT_TRUE(mine.ok());
  Classifier c = Classifier::Default();
  EXPECT_EQ(
      c.Classify("550 user unknown, please slow down 5", "5.1.1", "550").reason,
      "user_unknown");
  ASSERT_TRUE(c.Prepend(*mine).ok());
  EXPECT_EQ(
      c.Classify("550 user unknown, please slow down 5", "5.1.1", "550").reason,
      "rate_limited");
  auto bad = Classifier::Parse("\nnot_a_reason\ttext\tx\n", "x.tsv");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("x.tsv:2: unknown reason"),
            std::string::npos);
  EXPECT_FALSE(Classifier::Parse("user_unknown\ttext\t~(\n", "r").ok());
  EXPECT_FALSE(Classifier::Parse("user_unknown\tbody\tx\n", "r").ok());
  EXPECT_FALSE(Classifier::Parse("user_unknown only-one-field\n", "r").ok());
}

TEST(FindAddressesTest, ExtractsDedupesAndSkipsNonAddresses) {
  auto a = FindAddresses(
      "<a@example.com>: rfc822;B@Example.com A@EXAMPLE.COM. "
      "user@localhost and x@y.org, and @nothing.com b@example.com");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0], "a@example.com");
  EXPECT_EQ(a[1], "B@Example.com");
  EXPECT_EQ(a[2], "x@y.org");
}

TEST(AnalyzeTest, Rfc3464DsnWithCrlf) {
  std::string m =
      "From: MAILER-DAEMON@mx.example\r\nTo: app@sender.example\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\n"
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      " boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
      "I'm sorry.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
      "Reporting-MTA: dns; mx.example\r\n\r\n"
      "Final-Recipient: rfc822; gone@dest.example\r\nAction: failed\r\n"
      "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 "
      "<gone@dest.example>:\r\n"
      "    Recipient address rejected: User unknown\r\n\r\n"
      "Final-Recipient: rfc822; full@dest.example\r\nAction: delayed\r\n"
      "Status: 4.2.2\r\nDiagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n\r\n"
      "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
      "Message-ID: <orig@sender.example>\r\nTo: "
      "gone@dest.example\r\n\r\n--B--\r\n";
  Report r = Analyze(m);
  EXPECT_EQ(r.kind, ReportKind::kBounce);
  EXPECT_EQ(r.reporting_mta, "mx.example");
  EXPECT_EQ(r.OriginalHeader("Message-ID"), "<orig@sender.example>");
  ASSERT_EQ(r.recipients.size(), 2u);
  EXPECT_EQ(r.recipients[0].address, "gone@dest.example");
  EXPECT_EQ(r.recipients[0].reply_code, "550");
  EXPECT_EQ(r.recipients[0].classification.reason, "user_unknown");
  EXPECT_EQ(r.recipients[0].classification.bounce_type, "Permanent");
  EXPECT_EQ(r.recipients[1].action, "delayed");
  EXPECT_EQ(r.recipients[1].classification.reason, "mailbox_full");
}

// A DSN with one status block per (final, original) pair.
std::string Dsn(const std::vector<std::pair<std::string, std::string>>& rcpts,
                const std::string& action = "failed") {
  std::string m =
      "From: MAILER-DAEMON@mx.example\r\nTo: app@sender.example\r\n"
      "Subject: Undelivered Mail Returned to Sender\r\n"
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      " boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
      "Sorry.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
      "Reporting-MTA: dns; mx.example\r\n";
  for (const auto& [final_rcpt, original] : rcpts) {
    m += "\r\nFinal-Recipient: " + final_rcpt + "\r\n";
    if (!original.empty()) m += "Original-Recipient: " + original + "\r\n";
    m += "Action: " + action + "\r\nStatus: 5.1.1\r\n";
  }
  return m + "\r\n--B--\r\n";
}

std::vector<std::string> Addresses(const std::vector<SentRecipient>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.address);
  return out;
}

TEST(MapToSentTest, PrefersTheOriginalRecipientOverAForwardingTarget) {
  Report r = Analyze(
      Dsn({{"rfc822; inbox@forward.example", "rfc822;Alice@Company.example"}}));
  EXPECT_EQ(Addresses(MapToSent(r, {"alice@company.example", "bob@x.example"})),
            std::vector<std::string>{"alice@company.example"});
  // Message unknown: the original address, not the forwarding target.
  EXPECT_EQ(Addresses(MapToSent(r, {})),
            std::vector<std::string>{"Alice@Company.example"});
}

TEST(MapToSentTest, NeverReportsAnAddressThatWasNotSentTo) {
  Report r = Analyze(Dsn({{"rfc822; target@forward.example", ""},
                          {"rfc822; other@forward.example", ""}}));
  EXPECT_TRUE(MapToSent(r, {"a@x.example", "b@x.example"}).empty());
  // A one-recipient send with one failed recipient: the report stands for it.
  Report one = Analyze(Dsn({{"rfc822; target@forward.example", ""}}));
  EXPECT_EQ(Addresses(MapToSent(one, {"a@x.example"})),
            std::vector<std::string>{"a@x.example"});
}

TEST(MapToSentTest, X400RecipientsByTheirRfc822Address) {
  Report r = Analyze(
      Dsn({{"x400; /C=US/ADMD=ATTMAIL/PRMD=EXAMPLE/RFC-822=first(u)last(a)"
            "example(p)relay.com/",
            ""}}));
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "first_last@example%relay.com");
  EXPECT_EQ(Addresses(MapToSent(r, {"First_Last@example%relay.com"})),
            std::vector<std::string>{"First_Last@example%relay.com"});
}

TEST(MapToSentTest, LeavesOutDeliveredAndRelayedRecipients) {
  Report r = Analyze(Dsn({{"rfc822; a@x.example", ""}}, "relayed"));
  EXPECT_TRUE(MapToSent(r, {"a@x.example"}).empty());
}

TEST(AnalyzeTest, DelayWarningsWithoutDsnFieldsAreDelayed) {
  std::string exim =
      "From: Mail Delivery System <Mailer-Daemon@e1.example>\n"
      "To: app@sender.example\n"
      "Subject: Warning: message 1abc-000 delayed 24 hours\n\n"
      "This message was created automatically by mail delivery software.\n"
      "A message that you sent has not yet been delivered to one or more of\n"
      "its recipients after more than 24 hours on the queue on e1.example.\n\n"
      "  late@dest.example\n    Delay reason: SMTP error from remote mail "
      "server after RCPT TO:<late@dest.example>:\n    451 try later\n";
  Report r = Analyze(exim);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "late@dest.example");
  EXPECT_EQ(r.recipients[0].action, "delayed");
  EXPECT_EQ(r.recipients[0].classification.bounce_type, "Transient");
}

TEST(AnalyzeTest, EximAndQmailPlainText) {
  std::string exim =
      "From: Mail Delivery System <Mailer-Daemon@e1.example>\n"
      "To: app@sender.example\nSubject: Mail delivery failed\n"
      "X-Failed-Recipients: kijitora@dest.example\n\n"
      "A message that you sent could not be delivered. The following "
      "address(es) failed:\n\n  kijitora@dest.example\n"
      "    SMTP error from remote mail server after RCPT "
      "TO:<kijitora@dest.example>:\n"
      "    host mx.dest.example [192.0.2.1]: 550 5.1.1 No such user\n\n"
      "------ This is a copy of the message, including all the headers.\n"
      "From: app@sender.example\nTo: kijitora@dest.example\n\nhi\n";
  Report r = Analyze(exim);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].status, "5.1.1");
  EXPECT_EQ(r.recipients[0].classification.reason, "user_unknown");
  std::string qmail =
      "From: MAILER-DAEMON@mx4.example\nTo: app@sender.example\n"
      "Subject: failure notice\n\nHi. This is the qmail-send program.\n\n"
      "<neko@dest.example>:\n192.0.2.1 does not like recipient.\n"
      "Remote host said: 552 Error: disk quota exceeded\nGiving up on "
      "192.0.2.1.\n\n--- Below this line is a copy of the message.\n\n"
      "From: app@sender.example\n";
  r = Analyze(qmail);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "neko@dest.example");
  EXPECT_EQ(r.recipients[0].classification.reason, "mailbox_full");
}

TEST(AnalyzeTest, UserUnknownAfterDataIsAFilter) {
  std::string m =
      "From: MAILER-DAEMON@mx.example\nTo: app@sender.example\n"
      "Subject: Undelivered Mail Returned to Sender\n\n"
      "<x@dest.example>: host mx.dest.example said: 550 Unknown user x "
      "(in reply to end of DATA command)\n";
  Report r = Analyze(m);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].classification.reason, "filtered");
  EXPECT_EQ(r.recipients[0].classification.bounce_type, "Transient");
}

TEST(AnalyzeTest, ArfComplaint) {
  std::string m =
      "From: fbl@isp.example\nTo: fbl@sender.example\nSubject: complaint\n"
      "Content-Type: multipart/report; report-type=feedback-report; "
      "boundary=\"X\"\n\n--X\nContent-Type: text/plain\n\nA complaint.\n"
      "--X\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\n"
      "User-Agent: ISP-FBL/1.0\nVersion: 1\n"
      "Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\n"
      "Original-Rcpt-To: <user@isp.example>\n\n"
      "--X\nContent-Type: message/rfc822\n\nFrom: app@sender.example\n"
      "To: user@isp.example\nMessage-ID: <m1@sender.example>\n\nbody\n--X--\n";
  Report r = Analyze(m);
  EXPECT_EQ(r.kind, ReportKind::kComplaint);
  EXPECT_EQ(r.feedback_type, "abuse");
  EXPECT_EQ(r.user_agent, "ISP-FBL/1.0");
  EXPECT_EQ(r.OriginalHeader("message-id"), "<m1@sender.example>");
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "user@isp.example");
}

TEST(AnalyzeTest, AutoReplyAndOrdinaryMail) {
  Report r = Analyze(
      "From: Boss <boss@dest.example>\nTo: app@sender.example\n"
      "Subject: Out of Office: hello\nAuto-Submitted: auto-replied\n\n"
      "I am away until Monday.\n");
  EXPECT_EQ(r.kind, ReportKind::kAutoReply);
  ASSERT_EQ(r.recipients.size(), 1u);
  EXPECT_EQ(r.recipients[0].address, "boss@dest.example");
  r = Analyze(
      "From: friend@dest.example\nTo: app@sender.example\n"
      "Subject: lunch?\n\nAre you free? Mail me at other@dest.example\n");
  EXPECT_EQ(r.kind, ReportKind::kNone);
  EXPECT_TRUE(r.recipients.empty());
  // Garbage never crashes and is not a bounce.
  EXPECT_EQ(Analyze("").kind, ReportKind::kNone);
  EXPECT_EQ(Analyze("\x01\x02:\n\n--").kind, ReportKind::kNone);
  EXPECT_EQ(
      Analyze("Content-Type: multipart/report; boundary=\"\"\n\n--\n").kind,
      ReportKind::kNone);
}

}  // namespace
}  // namespace sesame::feedback
