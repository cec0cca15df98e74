#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/client_protocol.h"

namespace sesame::smtp {

// The outcome of one recipient of a transaction: the reply that decided it
// (RCPT's refusal, MAIL's, DATA's or the end of data), or a synthesized one
// when the connection failed first.
struct RcptOutcome {
  int index = 0;  // the caller's recipient index
  int code = 0;
  std::string text;  // "250 2.0.0 Ok", as smtp::Reply::ToString()
  bool transient() const { return code >= 400 && code < 500; }
};

// The outbound SMTP client as a pure state machine, the mirror of
// ServerSession: bytes from the server go in (Feed), commands to write come
// out (output()), and each transaction ends with one outcome per recipient.
// It does no I/O and keeps no clock: the driver (delivery::Engine) reads and
// writes the socket, does the TLS handshake when asked (kStartTls), and
// picks each wait's timeout from phase(), reporting expiry (OnTimeout) or a
// dead connection (OnDisconnect).
//
// Handles greeting, EHLO with HELO fallback, STARTTLS (opportunistic, or
// required: a server that does not offer it or refuses it closes the
// session), PIPELINING (MAIL, RCPTs and DATA in one write; RFC 2920),
// multi-line replies, per-recipient refusals, RSET after a failed
// transaction, and 421 at any point (every pending recipient gets it, the
// session closes).
//
// Owned by one connection; not thread-safe.
class ClientSession {
 public:
  struct Options {
    std::string ehlo_name = "localhost";
    std::string peer = "remote";  // for messages: "mx.example.com"
    bool tls_available = true;    // the driver can do a handshake
    bool tls_required = false;    // delivery.tls: require
  };

  enum class Phase {
    kGreeting,
    kEhlo,
    kHelo,
    kStartTls,
    kHandshake,  // the driver is doing TLS
    kReady,      // idle: Send() may start a transaction
    kMail,
    kRcpt,
    kData,
    kDataEnd,  // the body is written; waiting for its reply
    kRset,
    kQuit,
    kClosed,
  };

  enum class Event {
    kNone,      // write output(), then read more
    kStartTls,  // write output(), do the handshake, call OnTlsEstablished()
    kReady,     // the session is idle and usable
    kDone,      // a transaction ended: TakeOutcomes()
    kClosed,    // unusable: error() says why (outcomes may be pending)
  };

  struct Message {
    std::string mail_from;
    std::vector<std::string> recipients;  // addresses
    std::vector<int> indexes;             // caller's index per recipient
    std::string_view body;  // not dot-stuffed; must outlive the transaction
    uint64_t size = 0;
    bool eight_bit = false;
    bool smtputf8 = false;
  };

  explicit ClientSession(Options options);

  Event Feed(std::string_view bytes);
  Event OnTlsEstablished();
  // Starts a transaction (phase kReady). Returns kDone at once when the
  // server cannot take the message (SMTPUTF8, 8BITMIME, SIZE) or an address
  // could change the command (CR, LF, NUL).
  Event Send(Message m);
  // Politely ends the session (phase kReady).
  void Quit();
  Event OnTimeout();
  Event OnDisconnect(const std::string& why);

  std::string& output() { return out_; }
  Phase phase() const { return phase_; }
  bool usable() const { return phase_ == Phase::kReady; }
  bool tls_active() const { return tls_active_; }
  const Capabilities& capabilities() const { return caps_; }
  const std::string& error() const { return error_; }
  std::vector<RcptOutcome> TakeOutcomes();

 private:
  Event OnReply(const Reply& r);
  Event OnGreeting(const Reply& r);
  Event OnEhlo(const Reply& r);
  Event OnStartTls(const Reply& r);
  Event OnMail(const Reply& r);
  Event OnRcpt(const Reply& r);
  Event OnData(const Reply& r);
  Event OnDataEnd(const Reply& r);
  Event Ready();
  Event Fail(std::string why);
  Event FailPending(int code, const std::string& text, bool close);
  Event FinishTransaction();
  void Write(const std::string& line) { out_ += line + "\r\n"; }

  Options options_;
  ReplyParser parser_;
  Phase phase_ = Phase::kGreeting;
  Capabilities caps_;
  bool tls_active_ = false;
  bool helo_ = false;
  std::string out_;
  std::string error_;

  // The transaction in flight.
  Message msg_;
  size_t rcpt_replies_ = 0;
  std::vector<int> accepted_;  // positions in msg_.recipients
  std::vector<RcptOutcome> outcomes_;
  bool mail_ok_ = false;
  bool pipelined_ = false;
};

}  // namespace sesame::smtp
