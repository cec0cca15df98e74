#include "smtp/server_session.h"

#include <gtest/gtest.h>

#include "base/base64.h"

namespace sesame::smtp {
namespace {

using Action = ServerSession::Action;

// Drives a session with client bytes in fragments of `step`, committing every
// message successfully, and records the whole transcript.
struct Driver {
  explicit Driver(SessionOptions opts = Defaults()) : session(opts, Auth) {
    session.Start();
  }

  static SessionOptions Defaults() {
    SessionOptions o;
    o.hostname = "mx.test";
    o.tls_available = true;
    o.local_domains = {"bounces.test", "*.feedback.test"};
    o.max_recipients = 3;
    o.max_message_bytes = 1000;
    o.max_errors = 5;
    return o;
  }
  static bool Auth(std::string_view u, std::string_view p) {
    return u == "user" && p == "secret";
  }

  void Feed(std::string_view in, size_t step) {
    size_t off = 0;
    while (off < in.size() && !closed) {
      std::string_view frag = in.substr(off, step);
      size_t pos = 0;
      while (pos < frag.size() && !closed) {
        size_t n = 0;
        Action a = session.Process(frag.substr(pos), &n);
        pos += n;
        if (a == Action::kCommit) {
          Envelope e = session.TakeEnvelope();
          session.OnCommitResult(Ok{}, e.id);
          envelopes.push_back(std::move(e));
        } else if (a == Action::kStartTls) {
          session.OnTlsEstablished("TLSv1.3");
          pos = frag.size();  // unread plaintext is discarded
          off = in.size();
        } else if (a == Action::kClose) {
          closed = true;
        }
      }
      off += frag.size();
    }
  }
  std::string Output() { return session.output(); }

  ServerSession session;
  std::vector<Envelope> envelopes;
  bool closed = false;
};

// Expected reply codes, in order, one per reply (multi-line replies count
// once).
std::vector<std::string> Codes(const std::string& out) {
  std::vector<std::string> codes;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find("\r\n", pos);
    std::string line = out.substr(pos, end - pos);
    if (line.size() >= 4 && line[3] == ' ') codes.push_back(line.substr(0, 3));
    if (line.size() == 3) codes.push_back(line);
    pos = end + 2;
  }
  return codes;
}

struct Dialogue {
  const char* name;
  std::string client;
  std::vector<std::string> codes;
  size_t messages;
};

std::string Plain(const std::string& u, const std::string& p) {
  return Base64Encode(std::string("\0", 1) + u + std::string("\0", 1) + p);
}

TEST(ServerSession, DialoguesInEveryFragmentSize) {
  const Dialogue dialogues[] = {
      {"simple",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT "
       "TO:<b@bounces.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
       {"220", "250", "250", "250", "354", "250", "221"},
       1},
      {"pipelined two messages",
       "EHLO c\r\nMAIL FROM:<>\r\nRCPT "
       "TO:<b@bounces.test>\r\nDATA\r\nx\r\n.\r\n"
       "MAIL FROM:<a@x.test>\r\nRCPT "
       "TO:<c@a.feedback.test>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n",
       {"220", "250", "250", "250", "354", "250", "250", "250", "354", "250",
        "221"},
       2},
      {"relay denied",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT "
       "TO:<b@elsewhere.test>\r\nQUIT\r\n",
       {"220", "250", "250", "550", "221"},
       0},
      {"relay tricks",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT "
       "TO:<b%elsewhere.test@bounces.test>\r\n"
       "RCPT TO:<elsewhere.test!b@bounces.test>\r\nRCPT "
       "TO:<@bounces.test:b@elsewhere.test>\r\n"
       "RCPT TO:<\"b@elsewhere.test\"@bounces.test>\r\nRSET\r\nQUIT\r\n",
       {"220", "250", "250", "550", "550", "550", "550", "250", "221"},
       0},
      {"too many recipients",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<1@bounces.test>\r\nRCPT "
       "TO:<2@bounces.test>\r\n"
       "RCPT TO:<3@bounces.test>\r\nRCPT TO:<4@bounces.test>\r\nDATA\r\n.\r\n",
       {"220", "250", "250", "250", "250", "250", "452", "354", "250"},
       1},
      {"size declared",
       "EHLO c\r\nMAIL FROM:<a@x.test> SIZE=1001\r\nQUIT\r\n",
       {"220", "250", "552", "221"},
       0},
      {"size actual",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT "
       "TO:<b@bounces.test>\r\nDATA\r\n" +
           std::string(1200, 'a') + "\r\n.\r\nNOOP\r\n",
       {"220", "250", "250", "250", "354", "552", "250"},
       0},
      {"bare lf rejected and framing kept",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT "
       "TO:<b@bounces.test>\r\nDATA\r\nx\n.\nMAIL FROM:<e@x.test>\r\n"
       "\r\n.\r\nNOOP\r\n",
       {"220", "250", "250", "250", "354", "554", "250"},
       0},
      {"sequence errors",
       "MAIL FROM:<a@x.test>\r\nEHLO c\r\nRCPT "
       "TO:<b@bounces.test>\r\nDATA\r\nNOOP\r\n",
       {"220", "503", "250", "503", "503", "250"},
       0},
      {"too many errors closes",
       "X\r\nX\r\nX\r\nX\r\nX\r\nNOOP\r\n",
       {"220", "500", "500", "500", "500", "500", "421"},
       0},
      {"long command line",
       std::string(600, 'N') + "\r\nNOOP\r\n",
       {"220", "500", "250"},
       0},
      {"bare lf command", "NOOP\nNOOP\r\n", {"220", "500", "250"}, 0},
      {"vrfy help", "VRFY x\r\nHELP\r\n", {"220", "252", "214"}, 0},
      {"auth before tls",
       "EHLO c\r\nAUTH PLAIN " + Plain("user", "secret") + "\r\n",
       {"220", "250", "530"},
       0},
      {"bdat",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@bounces.test>\r\nBDAT "
       "5\r\nab\r\ncBDAT 3 LAST\r\nd\r\n"
       "QUIT\r\n",
       {"220", "250", "250", "250", "250", "250", "221"},
       1},
      {"bdat without transaction is consumed",
       "EHLO c\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n",
       {"220", "250", "503", "250"},
       0},
      {"data after bdat",
       "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@bounces.test>\r\nBDAT "
       "1\r\naDATA\r\n",
       {"220", "250", "250", "250", "250", "503"},
       0},
      {"smtputf8 needed",
       "EHLO c\r\nMAIL FROM:<ü@x.test>\r\nMAIL FROM:<ü@x.test> SMTPUTF8\r\n",
       {"220", "250", "553", "250"},
       0},
  };
  for (const auto& d : dialogues) {
    for (size_t step = 1; step <= d.client.size();
         step += (step < 20 ? 1 : 17)) {
      Driver drv;
      drv.Feed(d.client, step);
      SCOPED_TRACE(std::string(d.name) + " step " + std::to_string(step) +
                   "\n" + drv.Output());
      EXPECT_EQ(Codes(drv.Output()), d.codes);
      EXPECT_EQ(drv.envelopes.size(), d.messages);
    }
  }
}

TEST(ServerSession, EnvelopeAndReceivedHeader) {
  Driver drv;
  drv.Feed(
      "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT "
      "TO:<b@bounces.test>\r\nDATA\r\n"
      "Subject: s\r\n\r\n..dot\r\n.\r\n",
      1000);
  ASSERT_EQ(drv.envelopes.size(), 1u);
  const Envelope& e = drv.envelopes[0];
  EXPECT_EQ(e.mail_from, "a@x.test");
  ASSERT_EQ(e.recipients.size(), 1u);
  EXPECT_EQ(e.recipients[0], "b@bounces.test");
  EXPECT_EQ(e.content.rfind("Received: from client.test ([127.0.0.1])\r\n\tby "
                            "mx.test (Sesame) with ESMTP",
                            0),
            0u)
      << e.content;
  EXPECT_NE(e.content.find("id " + e.id), std::string::npos);
  EXPECT_NE(e.content.find("\r\nSubject: s\r\n\r\n.dot\r\n"),
            std::string::npos);
  EXPECT_NE(drv.Output().find("250 2.0.0 Ok " + e.id), std::string::npos);
}

TEST(ServerSession, StartTlsThenAuthAndRelay) {
  Driver drv;
  // Bytes pipelined after STARTTLS must be discarded (CVE-2011-0411 class).
  drv.Feed("EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@x.test>\r\n", 1000);
  EXPECT_EQ(Codes(drv.Output()),
            (std::vector<std::string>{"220", "250", "220"}));
  EXPECT_EQ(drv.Output().find("AUTH"), std::string::npos);  // not before TLS
  drv.session.output().clear();
  drv.Feed("MAIL FROM:<a@x.test>\r\nEHLO c\r\n", 1000);
  EXPECT_EQ(Codes(drv.Output()), (std::vector<std::string>{"503", "250"}));
  EXPECT_NE(drv.Output().find("250-AUTH PLAIN LOGIN"), std::string::npos);
  EXPECT_EQ(drv.Output().find("STARTTLS"), std::string::npos);
  drv.session.output().clear();
  drv.Feed("AUTH PLAIN " + Plain("user", "wrong") + "\r\nAUTH LOGIN\r\n" +
               Base64Encode("user") + "\r\n" + Base64Encode("secret") +
               "\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<anyone@elsewhere.test>\r\n"
               "DATA\r\nhello\r\n.\r\n",
           3);
  EXPECT_EQ(Codes(drv.Output()),
            (std::vector<std::string>{"535", "334", "334", "235", "250", "250",
                                      "354", "250"}));
  ASSERT_EQ(drv.envelopes.size(), 1u);
  EXPECT_EQ(drv.envelopes[0].auth_user, "user");
  EXPECT_NE(drv.envelopes[0].content.find("with ESMTPSA (TLSv1.3)"),
            std::string::npos);
}

TEST(ServerSession, AuthPlainWithChallengeAndCancel) {
  SessionOptions o = Driver::Defaults();
  o.tls_active = true;
  Driver drv(o);
  drv.Feed("EHLO c\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n" +
               Plain("user", "secret") + "\r\nAUTH PLAIN x\r\n",
           2);
  EXPECT_EQ(Codes(drv.Output()),
            (std::vector<std::string>{"220", "250", "334", "501", "334", "235",
                                      "503"}));
}

TEST(ServerSession, MxListenerRefusesAuth) {
  SessionOptions o = Driver::Defaults();
  o.tls_active = true;
  o.allow_auth = false;
  Driver drv(o);
  drv.Feed("EHLO c\r\nAUTH PLAIN " + Plain("user", "secret") + "\r\n", 5);
  EXPECT_EQ(drv.Output().find("AUTH PLAIN LOGIN"), std::string::npos);
  EXPECT_EQ(Codes(drv.Output()),
            (std::vector<std::string>{"220", "250", "502"}));
}

TEST(ServerSession, CommitFailureRepliesTransient) {
  ServerSession s(Driver::Defaults(), Driver::Auth);
  size_t n;
  std::string in =
      "HELO c\r\nMAIL FROM:<a@x.test>\r\nRCPT "
      "TO:<b@bounces.test>\r\nDATA\r\nx\r\n.\r\n";
  ASSERT_EQ(s.Process(in, &n), Action::kCommit);
  EXPECT_EQ(n, in.size());
  s.TakeEnvelope();
  s.OnCommitResult(Error::Transient("disk", "No space left on device"), "");
  EXPECT_NE(s.output().find("452 4.3.1"), std::string::npos) << s.output();
}

TEST(ServerSession, TimeoutAndShutdown) {
  ServerSession s(Driver::Defaults(), Driver::Auth);
  s.OnTimeout();
  EXPECT_EQ(s.output().substr(0, 9), "421 4.4.2");
}

}  // namespace
}  // namespace sesame::smtp

namespace sesame::smtp {
namespace {

SessionOptions Submission() {
  SessionOptions o = Driver::Defaults();
  o.submission = true;
  o.tls_active = true;  // AUTH offered without STARTTLS
  return o;
}

TEST(Submission, NothingWithoutAuthOutsideRelayNetworks) {
  // Not even to a local (bounce) domain or postmaster: the forged sender
  // would receive the bounce (backscatter).
  for (const char* rcpt : {"<postmaster>", "<x@bounces.test>"}) {
    for (size_t step : {1, 7, 4096}) {
      Driver d(Submission());
      d.Feed(std::string("EHLO c\r\nMAIL FROM:<victim@sink.test>\r\nRCPT TO:") +
                 rcpt + "\r\nDATA\r\n",
             step);
      EXPECT_EQ(Codes(d.Output()),
                (std::vector<std::string>{"220", "250", "530", "503", "503"}))
          << rcpt << " step " << step << "\n"
          << d.Output();
      EXPECT_TRUE(d.envelopes.empty());
    }
  }
  SessionOptions relay = Submission();
  relay.relay_client = true;
  Driver d(relay);
  d.Feed(
      "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n"
      "Subject: s\r\n\r\nbody\r\n.\r\n",
      5);
  ASSERT_EQ(d.envelopes.size(), 1u) << d.Output();
}

std::string AuthPlain() {
  return "AUTH PLAIN " + Base64Encode(std::string("\0user\0secret", 12)) +
         "\r\n";
}

// An authenticated submission of `content` (header and body, without the
// final dot) from `from`.
std::string AuthedSubmission(const std::string& from,
                             const std::string& content) {
  return "EHLO c\r\n" + AuthPlain() + "MAIL FROM:<" + from +
         ">\r\nRCPT TO:<x@y.test>\r\nDATA\r\n" + content + ".\r\n";
}

TEST(Submission, AddsDateAndMessageIdWhenMissing) {
  Driver d(Submission());
  d.Feed(AuthedSubmission("a@b.test", "Subject: s\r\n\r\nbody\r\n"), 3);
  ASSERT_EQ(d.envelopes.size(), 1u) << d.Output();
  const std::string& c = d.envelopes[0].content;
  EXPECT_NE(c.find("\r\nDate: "), std::string::npos) << c;
  EXPECT_NE(c.find("\r\nMessage-ID: <" + d.envelopes[0].id + "@mx.test>\r\n"),
            std::string::npos)
      << c;
  // Present ones are kept, not doubled.
  Driver k(Submission());
  k.Feed(AuthedSubmission("a@b.test",
                          "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
                          "Message-ID: <m@x>\r\n\r\nbody\r\n"),
         4096);
  ASSERT_EQ(k.envelopes.size(), 1u);
  EXPECT_EQ(k.envelopes[0].content.find("Date: ", 0),
            k.envelopes[0].content.rfind("Date: "));
  EXPECT_NE(k.envelopes[0].content.find("Message-ID: <m@x>"),
            std::string::npos);
  // The MX adds nothing.
  Driver mx;
  mx.Feed(
      "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@bounces.test>\r\nDATA\r\n"
      "Subject: s\r\n\r\nbody\r\n.\r\n",
      4096);
  ASSERT_EQ(mx.envelopes.size(), 1u);
  EXPECT_EQ(mx.envelopes[0].content.find("\r\nDate: "), std::string::npos);
}

TEST(Submission, RefusesADuplicateFrom) {
  Driver d(Submission());
  d.Feed(AuthedSubmission("a@allowed.test",
                          "From: a@allowed.test\r\nFrom: CEO <ceo@bank.test>"
                          "\r\n\r\nhi\r\n") +
             "QUIT\r\n",
         1);
  EXPECT_TRUE(d.envelopes.empty());
  EXPECT_NE(
      d.Output().find("554 5.6.0 Message rejected: duplicate From header"),
      std::string::npos)
      << d.Output();
}

}  // namespace
}  // namespace sesame::smtp
