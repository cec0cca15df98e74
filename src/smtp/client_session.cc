#include "smtp/client_session.h"

#include "smtp/address.h"

namespace sesame::smtp {

ClientSession::ClientSession(Options options) : options_(std::move(options)) {}

ClientSession::Event ClientSession::Feed(std::string_view bytes) {
  if (phase_ == Phase::kClosed) return Event::kClosed;
  if (Status s = parser_.Feed(bytes); !s.ok()) {
    return FailPending(
        451, "451 4.4.2 " + options_.peer + ": " + s.error().message(), true);
  }
  Event ev = Event::kNone;
  while (parser_.HasReply() && phase_ != Phase::kClosed) {
    Reply r = parser_.TakeReply();
    ev = OnReply(r);
    if (ev == Event::kStartTls) break;  // later bytes are not to be trusted
  }
  return ev;
}

ClientSession::Event ClientSession::OnReply(const Reply& r) {
  // 421 at any point: the server is closing; nothing pending can succeed.
  if (r.code == 421 && phase_ != Phase::kQuit) {
    if (phase_ >= Phase::kMail && phase_ <= Phase::kDataEnd)
      return FailPending(r.code, r.ToString(), true);
    return Fail(options_.peer + ": " + r.ToString());
  }
  switch (phase_) {
    case Phase::kGreeting:
      return OnGreeting(r);
    case Phase::kEhlo:
    case Phase::kHelo:
      return OnEhlo(r);
    case Phase::kStartTls:
      return OnStartTls(r);
    case Phase::kMail:
      return OnMail(r);
    case Phase::kRcpt:
      return OnRcpt(r);
    case Phase::kData:
      return OnData(r);
    case Phase::kDataEnd:
      return OnDataEnd(r);
    case Phase::kRset:
      if (r.code != 250) return Fail("RSET: " + r.ToString());
      phase_ = Phase::kReady;
      return Event::kDone;
    case Phase::kQuit:
      phase_ = Phase::kClosed;
      return Event::kClosed;
    default:
      return Fail(options_.peer + ": unexpected reply " + r.ToString());
  }
}

ClientSession::Event ClientSession::OnGreeting(const Reply& r) {
  if (r.code != 220) {
    Write("QUIT");
    return Fail(options_.peer + " greeting: " + r.ToString());
  }
  Write("EHLO " + options_.ehlo_name);
  phase_ = Phase::kEhlo;
  return Event::kNone;
}

ClientSession::Event ClientSession::OnEhlo(const Reply& r) {
  if (phase_ == Phase::kEhlo && r.code >= 500 && !tls_active_) {
    Write("HELO " + options_.ehlo_name);
    phase_ = Phase::kHelo;
    helo_ = true;
    return Event::kNone;
  }
  if (r.code != 250)
    return Fail(options_.peer +
                (tls_active_ ? " EHLO after STARTTLS: " : " EHLO: ") +
                r.ToString());
  caps_ = helo_ ? Capabilities{} : ParseCapabilities(r);
  if (!tls_active_ && caps_.starttls && options_.tls_available) {
    Write("STARTTLS");
    phase_ = Phase::kStartTls;
    return Event::kNone;
  }
  if (!tls_active_ && options_.tls_required)
    return Fail(options_.peer + " does not offer STARTTLS, which is required");
  return Ready();
}

ClientSession::Event ClientSession::OnStartTls(const Reply& r) {
  if (r.code == 220) {
    phase_ = Phase::kHandshake;
    return Event::kStartTls;
  }
  if (options_.tls_required)
    return Fail(options_.peer +
                " refused STARTTLS, which is required: " + r.ToString());
  return Ready();  // opportunistic: go on in the clear
}

ClientSession::Event ClientSession::OnTlsEstablished() {
  tls_active_ = true;
  parser_ = ReplyParser();
  helo_ = false;
  Write("EHLO " + options_.ehlo_name);
  phase_ = Phase::kEhlo;
  return Event::kNone;
}

ClientSession::Event ClientSession::Ready() {
  phase_ = Phase::kReady;
  return Event::kReady;
}

ClientSession::Event ClientSession::Fail(std::string why) {
  error_ = std::move(why);
  phase_ = Phase::kClosed;
  return Event::kClosed;
}

ClientSession::Event ClientSession::Send(Message m) {
  msg_ = std::move(m);
  if (msg_.indexes.size() != msg_.recipients.size()) {
    msg_.indexes.clear();
    for (size_t k = 0; k < msg_.recipients.size(); ++k)
      msg_.indexes.push_back(static_cast<int>(k));
  }
  outcomes_.clear();
  accepted_.clear();
  rcpt_replies_ = 0;
  mail_ok_ = false;
  auto all = [this](int code, std::string text) {
    for (int i : msg_.indexes) outcomes_.push_back({i, code, text});
    return Event::kDone;
  };
  if (phase_ != Phase::kReady)
    return all(451, "451 4.4.2 " + options_.peer + ": session not ready");
  if (msg_.smtputf8 && !caps_.smtputf8)
    return all(553, "553 5.6.7 " + options_.peer +
                        " does not support SMTPUTF8, required by this message");
  if (msg_.eight_bit && !caps_.eight_bit_mime)
    return all(554, "554 5.6.3 " + options_.peer +
                        " does not support 8BITMIME and conversion is not "
                        "done");
  if (caps_.size && *caps_.size > 0 && msg_.size > *caps_.size)
    return all(552, "552 5.3.4 message size " + std::to_string(msg_.size) +
                        " exceeds " + options_.peer + "'s limit of " +
                        std::to_string(*caps_.size));
  std::string mail = "MAIL FROM:<" + msg_.mail_from + ">";
  if (caps_.size) mail += " SIZE=" + std::to_string(msg_.size);
  if (msg_.eight_bit) mail += " BODY=8BITMIME";
  if (msg_.smtputf8) mail += " SMTPUTF8";
  std::vector<std::string> rcpts;
  for (const auto& a : msg_.recipients) rcpts.push_back("RCPT TO:<" + a + ">");
  // Defence in depth: addresses are validated before they are stored, but
  // a command with a line break would be two commands on the wire.
  bool safe = SafeCommandText(mail);
  for (const auto& l : rcpts) safe &= SafeCommandText(l);
  if (!safe)
    return all(554,
               "554 5.1.7 refusing to send an SMTP command with CR, LF or "
               "NUL in an address");
  pipelined_ = caps_.pipelining;
  Write(mail);
  if (pipelined_) {
    for (const auto& l : rcpts) Write(l);
    Write("DATA");
  }
  phase_ = Phase::kMail;
  return Event::kNone;
}

ClientSession::Event ClientSession::OnMail(const Reply& r) {
  mail_ok_ = r.positive();
  if (!mail_ok_) {
    for (int i : msg_.indexes) outcomes_.push_back({i, r.code, r.ToString()});
    if (!pipelined_) return FinishTransaction();
  } else if (!pipelined_) {
    Write("RCPT TO:<" + msg_.recipients[0] + ">");
  }
  phase_ = Phase::kRcpt;
  return Event::kNone;
}

ClientSession::Event ClientSession::OnRcpt(const Reply& r) {
  size_t k = rcpt_replies_++;
  if (mail_ok_) {
    if (r.positive()) {
      accepted_.push_back(static_cast<int>(k));
    } else {
      outcomes_.push_back({msg_.indexes[k], r.code, r.ToString()});
    }
  }
  if (rcpt_replies_ < msg_.recipients.size()) {
    if (!pipelined_) Write("RCPT TO:<" + msg_.recipients[rcpt_replies_] + ">");
    return Event::kNone;
  }
  if (!pipelined_) {
    if (accepted_.empty()) return FinishTransaction();
    Write("DATA");
  }
  phase_ = Phase::kData;
  return Event::kNone;
}

ClientSession::Event ClientSession::OnData(const Reply& r) {
  if (r.code != 354 || accepted_.empty()) {
    // The DATA reply decides the recipients RCPT accepted. A server that
    // says 354 with no valid recipient (RFC 2920 says it should not) gets
    // an empty message ended at once rather than an RSET it would read as
    // content.
    for (int k : accepted_)
      outcomes_.push_back({msg_.indexes[k], r.code, r.ToString()});
    accepted_.clear();
    if (r.code == 354) {
      out_ += ".\r\n";
      phase_ = Phase::kDataEnd;
      return Event::kNone;
    }
    return FinishTransaction();
  }
  out_ += DotStuff(msg_.body);
  phase_ = Phase::kDataEnd;
  return Event::kNone;
}

ClientSession::Event ClientSession::OnDataEnd(const Reply& r) {
  for (int k : accepted_)
    outcomes_.push_back({msg_.indexes[k], r.code, r.ToString()});
  accepted_.clear();
  // The reply to the end of data ends the transaction, accepted or not
  // (RFC 5321 4.1.1.4): no RSET needed.
  phase_ = Phase::kReady;
  return Event::kDone;
}

// After a transaction that did not end with an accepted message: RSET, then
// kDone once the server has answered it.
ClientSession::Event ClientSession::FinishTransaction() {
  Write("RSET");
  phase_ = Phase::kRset;
  return Event::kNone;
}

// Everything still undecided gets `text`; the session closes when `close`.
ClientSession::Event ClientSession::FailPending(int code,
                                                const std::string& text,
                                                bool close) {
  std::vector<bool> decided(msg_.recipients.size(), false);
  for (const auto& o : outcomes_) {
    for (size_t k = 0; k < msg_.indexes.size(); ++k)
      if (msg_.indexes[k] == o.index) decided[k] = true;
  }
  bool in_transaction = phase_ >= Phase::kMail && phase_ <= Phase::kDataEnd;
  if (in_transaction) {
    for (size_t k = 0; k < decided.size(); ++k)
      if (!decided[k]) outcomes_.push_back({msg_.indexes[k], code, text});
  }
  accepted_.clear();
  if (close) {
    error_ = text;
    phase_ = Phase::kClosed;
    return in_transaction ? Event::kDone : Event::kClosed;
  }
  return Event::kDone;
}

ClientSession::Event ClientSession::OnTimeout() {
  std::string what = phase_ == Phase::kDataEnd
                         ? "no reply after end of data: timeout"
                         : "timeout waiting for reply";
  if (phase_ == Phase::kGreeting || phase_ == Phase::kEhlo ||
      phase_ == Phase::kHelo || phase_ == Phase::kStartTls ||
      phase_ == Phase::kHandshake)
    return Fail(options_.peer + ": " + what);
  return FailPending(451, "451 4.4.2 " + options_.peer + ": " + what, true);
}

ClientSession::Event ClientSession::OnDisconnect(const std::string& why) {
  if (phase_ == Phase::kQuit || phase_ == Phase::kClosed) {
    phase_ = Phase::kClosed;
    return Event::kClosed;
  }
  std::string what = phase_ == Phase::kDataEnd
                         ? "no reply after end of data: " + why
                         : "connection lost: " + why;
  if (phase_ < Phase::kReady) return Fail(options_.peer + ": " + what);
  return FailPending(451, "451 4.4.2 " + options_.peer + ": " + what, true);
}

void ClientSession::Quit() {
  if (phase_ != Phase::kReady) return;
  Write("QUIT");
  phase_ = Phase::kQuit;
}

std::vector<RcptOutcome> ClientSession::TakeOutcomes() {
  return std::move(outcomes_);
}

}  // namespace sesame::smtp
