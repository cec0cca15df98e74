#include "smtp/client_session.h"

#include <gtest/gtest.h>

#include <map>

namespace sesame::smtp {
namespace {

// A scripted remote MTA: answers each complete command line (and the end of
// DATA content) the way its settings say. It records every write it was
// handed, so tests can see what was pipelined.
struct FakeServer {
  bool pipelining = true;
  bool starttls = false;
  std::string starttls_reply = "220 2.0.0 go ahead";
  std::string ehlo_reply;                   // default: built from the flags
  std::map<std::string, std::string> rcpt;  // address -> reply
  std::string mail_reply = "250 2.1.0 Ok";
  std::string data_reply = "354 End data with <CR><LF>.<CR><LF>";
  std::string end_reply = "250 2.0.0 Ok: queued as 1";
  std::string after_first_rcpt;  // replaces the 2nd RCPT's reply (e.g. 421)
  std::vector<std::string> writes;
  std::vector<std::string> commands;
  std::string body;
  std::string buf;
  bool in_data = false;
  int rcpts_seen = 0;

  std::string Ehlo() const {
    if (!ehlo_reply.empty()) return ehlo_reply;
    std::string r = "250-mx.example\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n";
    if (pipelining) r += "250-PIPELINING\r\n";
    if (starttls) r += "250-STARTTLS\r\n";
    return r + "250 ENHANCEDSTATUSCODES\r\n";
  }

  std::string Take(const std::string& out) {
    if (!out.empty()) writes.push_back(out);
    buf += out;
    std::string reply;
    while (true) {
      if (in_data) {
        size_t end = buf.find("\r\n.\r\n");
        if (buf.rfind(".\r\n", 0) == 0) end = 0;  // empty content
        if (end == std::string::npos) break;
        size_t len = end == 0 && buf.rfind(".\r\n", 0) == 0 ? 0 : end + 2;
        body = buf.substr(0, len);
        buf.erase(0, len + 3);
        in_data = false;
        reply += end_reply + "\r\n";
        continue;
      }
      size_t nl = buf.find("\r\n");
      if (nl == std::string::npos) break;
      std::string cmd = buf.substr(0, nl);
      buf.erase(0, nl + 2);
      commands.push_back(cmd);
      reply += Answer(cmd) + "\r\n";
    }
    return reply;
  }

  std::string Answer(const std::string& cmd) {
    if (cmd.rfind("EHLO", 0) == 0) return Ehlo().substr(0, Ehlo().size() - 2);
    if (cmd.rfind("HELO", 0) == 0) return "250 mx.example";
    if (cmd == "STARTTLS") return starttls_reply;
    if (cmd.rfind("MAIL FROM:", 0) == 0) return mail_reply;
    if (cmd.rfind("RCPT TO:<", 0) == 0) {
      ++rcpts_seen;
      if (rcpts_seen == 2 && !after_first_rcpt.empty()) return after_first_rcpt;
      std::string a = cmd.substr(9, cmd.size() - 10);
      return rcpt.count(a) ? rcpt[a] : "250 2.1.5 Ok";
    }
    if (cmd == "DATA") {
      if (data_reply.rfind("354", 0) == 0) in_data = true;
      return data_reply;
    }
    if (cmd == "RSET") return "250 2.0.0 Ok";
    if (cmd == "QUIT") return "221 2.0.0 Bye";
    return "502 5.5.2 unknown";
  }
};

// Feeds `bytes` to the session `fragment` bytes at a time; whatever the
// session writes goes to the server, whose answers are fed back the same
// way, until the session stops waiting (any event but kNone).
ClientSession::Event Pump(ClientSession& s, FakeServer& srv, std::string bytes,
                          size_t fragment) {
  ClientSession::Event ev = ClientSession::Event::kNone;
  while (true) {
    for (size_t off = 0; off < bytes.size(); off += fragment) {
      ev = s.Feed(std::string_view(bytes).substr(off, fragment));
      if (ev != ClientSession::Event::kNone) break;  // the driver stops here
    }
    std::string out = std::move(s.output());
    s.output().clear();
    bytes = srv.Take(out);
    if (bytes.empty()) return ev;
  }
}

ClientSession::Message Msg(std::vector<std::string> rcpts,
                           std::string_view body) {
  ClientSession::Message m;
  m.mail_from = "bounce@sender.example";
  m.recipients = std::move(rcpts);
  m.body = body;
  m.size = body.size();
  return m;
}

// Every test runs at every fragment size from 1 byte to whole replies.
class ClientSessionTest : public ::testing::TestWithParam<size_t> {
 protected:
  ClientSession::Event Connect(ClientSession& s, FakeServer& srv) {
    return Pump(s, srv, "220 mx.example ESMTP\r\n", GetParam());
  }
  size_t frag() const { return GetParam(); }
};

constexpr char kBody[] = "Subject: t\r\n\r\n.leading dot\r\nline\r\n";

TEST_P(ClientSessionTest, PipelinedTransactionWithPerRecipientRefusals) {
  FakeServer srv;
  srv.rcpt["full@d.example"] = "452 4.2.2 mailbox full";
  srv.rcpt["gone@d.example"] = "550 5.1.1 no such user";
  ClientSession s({"client.example", "mx.example"});
  ASSERT_EQ(Connect(s, srv), ClientSession::Event::kReady);
  EXPECT_TRUE(s.capabilities().pipelining);
  ASSERT_EQ(
      s.Send(Msg({"a@d.example", "full@d.example", "gone@d.example"}, kBody)),
      ClientSession::Event::kNone);
  // MAIL, every RCPT and DATA go out in one write.
  std::string first = s.output();
  EXPECT_EQ(
      first,
      "MAIL FROM:<bounce@sender.example> SIZE=" +
          std::to_string(sizeof(kBody) - 1) +
          "\r\nRCPT TO:<a@d.example>\r\n"
          "RCPT TO:<full@d.example>\r\nRCPT TO:<gone@d.example>\r\nDATA\r\n");
  EXPECT_EQ(Pump(s, srv, "", frag()), ClientSession::Event::kDone);
  auto out = s.TakeOutcomes();
  ASSERT_EQ(out.size(), 3u);
  std::map<int, std::string> by;
  for (auto& o : out) by[o.index] = o.text;
  EXPECT_EQ(by[0], "250 2.0.0 Ok: queued as 1");
  EXPECT_EQ(by[1], "452 4.2.2 mailbox full");
  EXPECT_EQ(by[2], "550 5.1.1 no such user");
  EXPECT_EQ(srv.body, "Subject: t\r\n\r\n..leading dot\r\nline\r\n");
  // The end-of-data reply ends the transaction: no RSET, and the session is
  // ready for the next message.
  EXPECT_EQ(srv.commands.back(), "DATA");
  EXPECT_TRUE(s.usable());
}

TEST_P(ClientSessionTest, UnpipelinedServerGetsOneCommandAtATime) {
  FakeServer srv;
  srv.pipelining = false;
  ClientSession s({"client.example", "mx.example"});
  ASSERT_EQ(Connect(s, srv), ClientSession::Event::kReady);
  ASSERT_EQ(s.Send(Msg({"a@d.example", "b@d.example"}, kBody)),
            ClientSession::Event::kNone);
  EXPECT_EQ(Pump(s, srv, "", frag()), ClientSession::Event::kDone);
  for (const auto& w : srv.writes) {
    if (w.find("Subject:") != std::string::npos) continue;  // the content
    EXPECT_EQ(w.find("\r\n"), w.size() - 2) << "more than one command: " << w;
  }
  auto out = s.TakeOutcomes();
  ASSERT_EQ(out.size(), 2u);
  for (auto& o : out) EXPECT_EQ(o.code, 250);
  EXPECT_NE(srv.commands.back(), "RSET");  // all delivered: nothing to reset
  // A second message on the same connection.
  ASSERT_EQ(s.Send(Msg({"c@d.example"}, kBody)), ClientSession::Event::kNone);
  EXPECT_EQ(Pump(s, srv, "", frag()), ClientSession::Event::kDone);
  EXPECT_EQ(s.TakeOutcomes().at(0).code, 250);
}

TEST_P(ClientSessionTest, MultiLineRepliesAreOneReplyEach) {
  FakeServer srv;
  srv.rcpt["x@d.example"] =
      "550-5.7.1 first line of the refusal\r\n550-5.7.1 second\r\n550 5.7.1 "
      "last line";
  ClientSession s({"client.example", "mx.example"});
  ASSERT_EQ(
      Pump(s, srv, "220-mx.example ESMTP\r\n220-more banner\r\n220 done\r\n",
           frag()),
      ClientSession::Event::kReady);
  EXPECT_TRUE(s.capabilities().eight_bit_mime);
  ASSERT_EQ(s.capabilities().size.value_or(0), 1000000u);
  s.Send(Msg({"x@d.example", "y@d.example"}, kBody));
  EXPECT_EQ(Pump(s, srv, "", frag()), ClientSession::Event::kDone);
  std::map<int, std::string> by;
  for (auto& o : s.TakeOutcomes()) by[o.index] = o.text;
  EXPECT_EQ(by[0], "550 5.7.1 last line");
  EXPECT_EQ(by[1], "250 2.0.0 Ok: queued as 1");
}

TEST_P(ClientSessionTest, A421MidTransactionFailsEveryPendingRecipient) {
  for (bool pipelining : {true, false}) {
    FakeServer srv;
    srv.pipelining = pipelining;
    srv.after_first_rcpt = "421 4.3.2 shutting down";
    ClientSession s({"client.example", "mx.example"});
    ASSERT_EQ(Connect(s, srv), ClientSession::Event::kReady);
    s.Send(Msg({"a@d.example", "b@d.example", "c@d.example"}, kBody));
    ClientSession::Event ev = Pump(s, srv, "", frag());
    EXPECT_EQ(ev, ClientSession::Event::kDone) << pipelining;
    auto out = s.TakeOutcomes();
    ASSERT_EQ(out.size(), 3u) << pipelining;
    for (auto& o : out) {
      EXPECT_EQ(o.code, 421) << o.text;
      EXPECT_TRUE(o.transient());
    }
    EXPECT_FALSE(s.usable());
    EXPECT_EQ(s.phase(), ClientSession::Phase::kClosed);
  }
}

TEST_P(ClientSessionTest, RefusedMailFromDecidesEveryRecipientThenResets) {
  FakeServer srv;
  srv.mail_reply = "553 5.1.8 sender domain does not exist";
  srv.data_reply = "554 5.5.1 no valid recipients";
  ClientSession s({"client.example", "mx.example"});
  ASSERT_EQ(Connect(s, srv), ClientSession::Event::kReady);
  s.Send(Msg({"a@d.example", "b@d.example"}, kBody));
  EXPECT_EQ(Pump(s, srv, "", frag()), ClientSession::Event::kDone);
  auto out = s.TakeOutcomes();
  ASSERT_EQ(out.size(), 2u);
  for (auto& o : out)
    EXPECT_EQ(o.text, "553 5.1.8 sender domain does not exist");
  EXPECT_EQ(srv.commands.back(), "RSET");
  EXPECT_TRUE(s.usable());
}

TEST_P(ClientSessionTest, EndOfDataRefusalAndTemporaryFailure) {
  FakeServer srv;
  srv.end_reply = "451 4.3.0 try later";
  ClientSession s({"client.example", "mx.example"});
  ASSERT_EQ(Connect(s, srv), ClientSession::Event::kReady);
  s.Send(Msg({"a@d.example"}, kBody));
  EXPECT_EQ(Pump(s, srv, "", frag()), ClientSession::Event::kDone);
  auto out = s.TakeOutcomes();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].transient());
  EXPECT_TRUE(s.usable());
}

TEST_P(ClientSessionTest, StartTlsRefusedWhenRequiredClosesTheSession) {
  FakeServer srv;
  srv.starttls = true;
  srv.starttls_reply = "454 4.7.0 TLS not available";
  ClientSession::Options o{"client.example", "mx.example"};
  o.tls_required = true;
  ClientSession s(o);
  EXPECT_EQ(Connect(s, srv), ClientSession::Event::kClosed);
  EXPECT_NE(s.error().find("refused STARTTLS, which is required"),
            std::string::npos)
      << s.error();
  // Not offered at all, when required: closed too.
  FakeServer plain;
  ClientSession t(o);
  EXPECT_EQ(Connect(t, plain), ClientSession::Event::kClosed);
  EXPECT_NE(t.error().find("does not offer STARTTLS"), std::string::npos);
  // Opportunistic: a refusal means going on in the clear.
  FakeServer again;
  again.starttls = true;
  again.starttls_reply = "454 4.7.0 TLS not available";
  ClientSession u({"client.example", "mx.example"});
  EXPECT_EQ(Connect(u, again), ClientSession::Event::kReady);
  EXPECT_FALSE(u.tls_active());
}

TEST_P(ClientSessionTest,
       StartTlsAcceptedAsksForTheHandshakeThenSaysEhloAgain) {
  FakeServer srv;
  srv.starttls = true;
  ClientSession::Options o{"client.example", "mx.example"};
  o.tls_required = true;
  ClientSession s(o);
  EXPECT_EQ(Connect(s, srv), ClientSession::Event::kStartTls);
  EXPECT_EQ(s.phase(), ClientSession::Phase::kHandshake);
  srv.starttls = false;  // after TLS the server no longer offers it
  s.OnTlsEstablished();
  EXPECT_EQ(Pump(s, srv, "", frag()), ClientSession::Event::kReady);
  EXPECT_TRUE(s.tls_active());
  EXPECT_EQ(srv.commands.back(), "EHLO client.example");
}

TEST_P(ClientSessionTest, EhloRefusedFallsBackToHelo) {
  FakeServer srv;
  srv.ehlo_reply = "502 5.5.2 no EHLO here\r\n";
  ClientSession s({"client.example", "mx.example"});
  EXPECT_EQ(Connect(s, srv), ClientSession::Event::kReady);
  EXPECT_FALSE(s.capabilities().pipelining);
  EXPECT_EQ(srv.commands.back(), "HELO client.example");
}

TEST_P(ClientSessionTest, GreetingRefusalAndLostConnection) {
  FakeServer srv;
  ClientSession s({"client.example", "mx.example"});
  EXPECT_EQ(Pump(s, srv, "554 5.3.2 not now\r\n", frag()),
            ClientSession::Event::kClosed);
  EXPECT_NE(s.error().find("greeting: 554"), std::string::npos);
  ClientSession t({"client.example", "mx.example"});
  ASSERT_EQ(Connect(t, srv), ClientSession::Event::kReady);
  t.Send(Msg({"a@d.example"}, kBody));
  srv.Take(t.output());  // written, but the server's answers never arrive
  t.output().clear();
  EXPECT_EQ(t.OnDisconnect("reset by peer"), ClientSession::Event::kDone);
  auto out = t.TakeOutcomes();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].code, 451);
  EXPECT_NE(out[0].text.find("connection lost: reset by peer"),
            std::string::npos);
}

TEST_P(ClientSessionTest, CapabilityAndInjectionChecksDecideAtOnce) {
  FakeServer srv;
  ClientSession s({"client.example", "mx.example"});
  ASSERT_EQ(Connect(s, srv), ClientSession::Event::kReady);
  auto m = Msg({"a@d.example"}, kBody);
  m.smtputf8 = true;  // not offered by the fake
  EXPECT_EQ(s.Send(m), ClientSession::Event::kDone);
  EXPECT_EQ(s.TakeOutcomes().at(0).code, 553);
  m = Msg({"a@d.example\r\nRCPT TO:<evil@x.example>"}, kBody);
  EXPECT_EQ(s.Send(m), ClientSession::Event::kDone);
  EXPECT_EQ(s.TakeOutcomes().at(0).code, 554);
  EXPECT_TRUE(s.output().empty());
  m = Msg({"a@d.example"}, kBody);
  m.size = 2000000;
  EXPECT_EQ(s.Send(m), ClientSession::Event::kDone);
  EXPECT_EQ(s.TakeOutcomes().at(0).code, 552);
  EXPECT_TRUE(s.usable());
}

INSTANTIATE_TEST_SUITE_P(EveryFragmentSize, ClientSessionTest,
                         ::testing::Values(1, 2, 3, 5, 7, 13, 64, 4096));

}  // namespace
}  // namespace sesame::smtp
