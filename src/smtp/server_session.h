#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "smtp/command.h"
#include "smtp/data_decoder.h"

namespace sesame::smtp {

// What a listener allows and enforces; fixed for the life of a session.
struct SessionOptions {
  std::string hostname = "localhost";
  std::string listener = "smtp";  // for logs and Received
  std::string client_ip = "127.0.0.1";
  bool tls_available = false;     // STARTTLS may be offered
  bool tls_active = false;        // implicit TLS (smtps)
  bool allow_auth = true;         // false on the MX listener
  bool auth_requires_tls = true;  // AUTH only after TLS
  bool relay_client = false;  // client may relay without AUTH (trusted network)
  // A submission listener (RFC 6409): without AUTH only relay clients may
  // send; messages must pass CheckMessage and get Date and Message-ID when
  // they lack them. False on the MX, which takes mail as it comes.
  bool submission = false;
  uint64_t max_message_bytes = 40ull << 20;
  size_t max_recipients = 50;
  int max_errors = 10;
  // Domains accepted without AUTH (bounce/feedback domains), lower-case.
  // "*.example.com" matches any subdomain of example.com.
  std::vector<std::string> local_domains;
  // Domains known only at run time (custom MAIL FROM domains), lower-case.
  std::function<bool(const std::string& domain)> is_local_domain;
  // SES email receiving on the MX: asked for a recipient outside the local
  // domains. `known` false: not a receiving address (relaying is denied);
  // true with an empty `reply`: accepted; else `reply` ("550 5.1.1 text")
  // refuses it (no rule matches, the rule requires TLS, a Bounce rule).
  struct RecipientVerdict {
    bool known = false;
    std::string reply;
  };
  std::function<RecipientVerdict(const std::string& address, bool tls)>
      receiving;
  // Asked before a password is checked: a reason to refuse the attempt
  // outright (454 4.7.0), e.g. an address locked out after failed logins.
  std::function<std::optional<std::string>(std::string_view user)> auth_gate;
  // False while the spool cannot take new mail (a full disk): MAIL gets
  // 452 4.3.1 rather than a transaction that would fail at the end of DATA.
  std::function<bool()> storage_available;
};

// A message accepted by the session and waiting to be made durable.
struct Envelope {
  std::string id;  // SES-format message id
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string content;  // RFC 5322 message with our Received: header first
  bool smtputf8 = false;
  bool eight_bit = false;
  std::string auth_user;
  std::string client_ip;
  std::string helo;
  int64_t received_ms = 0;
  bool tls = false;  // the session ran under TLS (STARTTLS or smtps)
};

// The server side of one SMTP conversation (RFC 5321 with PIPELINING,
// CHUNKING, STARTTLS, AUTH, SMTPUTF8), as a pure state machine: it consumes
// bytes and produces reply bytes and actions; it never touches a socket or a
// file, so it is tested on fragments and fuzzed. Owned by one connection;
// not thread-safe.
class ServerSession {
 public:
  // Checks a username and password. Called on the session's thread.
  using Authenticator =
      std::function<bool(std::string_view user, std::string_view password)>;

  enum class Action {
    kNeedInput,  // everything consumed; read more
    kCommit,     // TakeEnvelope(), make it durable, then OnCommitResult()
    kStartTls,   // flush output, discard unread input, handshake,
                 // OnTlsEstablished()
    kClose,      // flush output and close
  };

  ServerSession(SessionOptions options, Authenticator authenticator);

  // Queues the 220 greeting.
  void Start();
  // Consumes a prefix of `in`; *consumed says how much. Call again with the
  // rest after handling a non-kNeedInput action.
  Action Process(std::string_view in, size_t* consumed);

  Envelope TakeEnvelope();
  // Replies 250 with the id, or 451/452/554 by the error's severity.
  void OnCommitResult(const Status& status, const std::string& id);
  void OnTlsEstablished(std::string description);
  // Idle/command timeout: queues 421 and the caller closes.
  void OnTimeout();

  // RCPT commands this session accepted and refused (for metrics).
  uint64_t rcpt_accepted() const { return rcpt_accepted_; }
  uint64_t rcpt_rejected() const { return rcpt_rejected_; }
  // Server shutting down: queues 421 and the caller closes.
  void OnShutdown();

  // Reply bytes produced so far; the caller writes and clears them.
  std::string& output() { return out_; }
  bool authenticated() const { return !auth_user_.empty(); }
  bool tls_active() const { return options_.tls_active; }
  int errors() const { return errors_; }
  // True while message content (DATA or a BDAT chunk) is being received.
  // True while a command line has begun but its CRLF has not arrived.
  bool partial_line() const { return !line_.empty(); }
  bool in_content() const {
    return mode_ == Mode::kData || mode_ == Mode::kBdat;
  }

 private:
  enum class Mode {
    kCommand,
    kData,
    kBdat,
    kAuthPlain,
    kAuthLoginUser,
    kAuthLoginPass
  };

  Action HandleLine(std::string_view line);
  Action HandleCommand(std::string_view line);
  Action HandleAuthResponse(std::string_view line);
  Action HandleEhlo(const Command& cmd, bool extended);
  Action HandleMail(const Command& cmd);
  Action HandleRcpt(const Command& cmd);
  Action HandleRcptCommand(const Command& cmd);
  Action HandleData(const Command& cmd);
  Action HandleBdat(const Command& cmd);
  Action HandleAuth(const Command& cmd);
  Action FinishAuth(std::string_view user, std::string_view password);
  Action FinishContent();
  bool RelayAllowed(const Path& path) const;
  SessionOptions::RecipientVerdict ReceivingVerdict(const Path& path) const;

  void Reply(std::string_view code, std::string_view text);
  // Replies with a client error and closes when there were too many.
  Action ReplyError(std::string_view code, std::string_view text);
  void ResetTransaction();
  std::string ReceivedHeader() const;

  SessionOptions options_;
  Authenticator authenticator_;
  Mode mode_ = Mode::kCommand;
  std::string out_;
  std::string line_;            // partial line across Process calls
  bool line_overflow_ = false;  // discarding an over-long line
  int errors_ = 0;
  bool closed_ = false;

  std::string helo_;
  bool esmtp_ = false;
  std::string auth_user_;
  std::string login_user_;  // AUTH LOGIN in progress
  std::string tls_description_;

  // Transaction.
  bool in_transaction_ = false;
  MailCommand mail_;
  std::vector<std::string> recipients_;
  uint64_t rcpt_accepted_ = 0, rcpt_rejected_ = 0;
  std::optional<DataDecoder> decoder_;
  std::string content_;
  std::string message_id_;
  uint64_t bdat_remaining_ = 0;
  bool bdat_last_ = false;
  bool bdat_discard_ = false;  // chunk of a failed or absent transaction
  bool bdat_used_ = false;
  Envelope pending_;
};

}  // namespace sesame::smtp
