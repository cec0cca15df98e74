#include "smtp/server_session.h"

#include <cstring>

#include "base/base64.h"
#include "base/ids.h"
#include "smtp/message_check.h"

namespace sesame::smtp {
namespace {

constexpr size_t kMaxCommandLine =
    512;                                // octets with CRLF (RFC 5321 4.5.3.1.4)
constexpr size_t kMaxAuthLine = 12288;  // RFC 4954 4

bool DomainMatches(const std::string& domain,
                   const std::vector<std::string>& patterns) {
  for (const auto& p : patterns) {
    if (p.size() > 2 && p[0] == '*' && p[1] == '.') {
      std::string_view suffix(p.data() + 1, p.size() - 1);  // ".example.com"
      if (domain.size() > suffix.size() &&
          domain.compare(domain.size() - suffix.size(), suffix.size(),
                         suffix) == 0) {
        return true;
      }
    } else if (domain == p) {
      return true;
    }
  }
  return false;
}

}  // namespace

ServerSession::ServerSession(SessionOptions options,
                             Authenticator authenticator)
    : options_(std::move(options)), authenticator_(std::move(authenticator)) {}

void ServerSession::Start() {
  Reply("220", options_.hostname + " ESMTP Sesame ready");
}

void ServerSession::Reply(std::string_view code, std::string_view text) {
  out_.append(code).append(" ").append(text).append("\r\n");
}

ServerSession::Action ServerSession::ReplyError(std::string_view code,
                                                std::string_view text) {
  Reply(code, text);
  if (++errors_ >= options_.max_errors) {
    Reply("421", "4.7.0 Too many errors, closing connection");
    closed_ = true;
    return Action::kClose;
  }
  return Action::kNeedInput;
}

void ServerSession::ResetTransaction() {
  in_transaction_ = false;
  mail_ = MailCommand();
  recipients_.clear();
  decoder_.reset();
  content_.clear();
  content_.shrink_to_fit();
  message_id_.clear();
  bdat_used_ = false;
}

ServerSession::Action ServerSession::Process(std::string_view in,
                                             size_t* consumed) {
  size_t pos = 0;
  Action action = Action::kNeedInput;
  while (pos < in.size() && action == Action::kNeedInput && !closed_) {
    if (mode_ == Mode::kData) {
      pos += decoder_->Feed(in.substr(pos), &content_);
      if (decoder_->done()) action = FinishContent();
      continue;
    }
    if (mode_ == Mode::kBdat) {
      size_t n = static_cast<size_t>(
          std::min<uint64_t>(bdat_remaining_, in.size() - pos));
      if (!bdat_discard_) decoder_->Feed(in.substr(pos, n), &content_);
      pos += n;
      bdat_remaining_ -= n;
      if (bdat_remaining_ == 0) action = FinishContent();
      continue;
    }
    // Line modes.
    const size_t limit =
        mode_ == Mode::kCommand ? kMaxCommandLine : kMaxAuthLine;
    const char* nl = static_cast<const char*>(
        std::memchr(in.data() + pos, '\n', in.size() - pos));
    if (nl == nullptr) {
      size_t n = in.size() - pos;
      if (!line_overflow_ && line_.size() + n > limit) {
        line_overflow_ = true;
        line_.clear();
      }
      if (!line_overflow_) line_.append(in.substr(pos));
      pos = in.size();
      break;
    }
    size_t len = nl - (in.data() + pos);
    if (!line_overflow_ && line_.size() + len + 1 > limit)
      line_overflow_ = true;
    if (line_overflow_) {
      line_.clear();
      line_overflow_ = false;
      mode_ = Mode::kCommand;
      pos += len + 1;
      action = ReplyError("500", "5.5.2 Line too long");
      continue;
    }
    line_.append(in.substr(pos, len));
    pos += len + 1;
    std::string line = std::move(line_);
    line_.clear();
    // A malformed line also ends an AUTH exchange.
    if (line.empty() || line.back() != '\r') {
      mode_ = Mode::kCommand;
      action = ReplyError("500",
                          "5.5.2 Bare LF in command; lines must end with CRLF");
      continue;
    }
    line.pop_back();
    if (line.find_first_of(std::string_view("\r\0", 2)) != std::string::npos) {
      mode_ = Mode::kCommand;
      action = ReplyError("500", "5.5.2 Bare CR or NUL in command");
      continue;
    }
    action = HandleLine(line);
  }
  *consumed = pos;
  return closed_ ? Action::kClose : action;
}

ServerSession::Action ServerSession::HandleLine(std::string_view line) {
  if (mode_ == Mode::kCommand) return HandleCommand(line);
  return HandleAuthResponse(line);
}

ServerSession::Action ServerSession::HandleCommand(std::string_view line) {
  Command cmd = ParseCommand(line);
  switch (cmd.verb) {
    case Verb::kEhlo:
      return HandleEhlo(cmd, true);
    case Verb::kHelo:
      return HandleEhlo(cmd, false);
    case Verb::kMail:
      return HandleMail(cmd);
    case Verb::kRcpt:
      return HandleRcpt(cmd);
    case Verb::kData:
      return HandleData(cmd);
    case Verb::kBdat:
      return HandleBdat(cmd);
    case Verb::kRset:
      if (!cmd.arg.empty())
        return ReplyError("501", "5.5.4 RSET takes no argument");
      ResetTransaction();
      Reply("250", "2.0.0 Ok");
      return Action::kNeedInput;
    case Verb::kNoop:
      Reply("250", "2.0.0 Ok");
      return Action::kNeedInput;
    case Verb::kQuit:
      Reply("221", "2.0.0 Bye");
      closed_ = true;
      return Action::kClose;
    case Verb::kHelp:
      Reply("214-2.0.0",
            "Sesame: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
            "STARTTLS AUTH");
      Reply("214", "2.0.0 End of HELP");
      return Action::kNeedInput;
    case Verb::kVrfy:
      Reply("252",
            "2.5.2 Cannot VRFY user, but will accept message and attempt "
            "delivery");
      return Action::kNeedInput;
    case Verb::kExpn:
      return ReplyError("502", "5.5.1 EXPN not implemented");
    case Verb::kStartTls:
      if (!cmd.arg.empty())
        return ReplyError("501", "5.5.4 STARTTLS takes no argument");
      if (options_.tls_active)
        return ReplyError("503", "5.5.1 TLS already active");
      if (!options_.tls_available)
        return ReplyError("502", "5.5.1 STARTTLS not available");
      Reply("220", "2.0.0 Ready to start TLS");
      // RFC 3207 4.2: forget everything learned before TLS.
      ResetTransaction();
      helo_.clear();
      esmtp_ = false;
      return Action::kStartTls;
    case Verb::kAuth:
      return HandleAuth(cmd);
    case Verb::kUnknown:
      break;
  }
  return ReplyError("500", "5.5.2 Command unrecognized");
}

ServerSession::Action ServerSession::HandleEhlo(const Command& cmd,
                                                bool extended) {
  std::string_view arg = cmd.arg;
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
  if (arg.empty() || arg.find(' ') != arg.npos) {
    return ReplyError("501", extended ? "5.5.4 Syntax: EHLO hostname"
                                      : "5.5.4 Syntax: HELO hostname");
  }
  ResetTransaction();
  helo_ = std::string(arg);
  esmtp_ = extended;
  if (!extended) {
    Reply("250", options_.hostname);
    return Action::kNeedInput;
  }
  std::vector<std::string> ext = {
      "PIPELINING",
      "SIZE " + std::to_string(options_.max_message_bytes),
      "8BITMIME",
      "SMTPUTF8",
      "ENHANCEDSTATUSCODES",
      "CHUNKING"};
  if (options_.tls_available && !options_.tls_active) ext.push_back("STARTTLS");
  if (options_.allow_auth && !authenticated() &&
      (options_.tls_active || !options_.auth_requires_tls)) {
    ext.push_back("AUTH PLAIN LOGIN");
  }
  ext.push_back("HELP");
  out_.append("250-")
      .append(options_.hostname)
      .append(" Hello ")
      .append(helo_)
      .append("\r\n");
  for (size_t i = 0; i < ext.size(); ++i) {
    out_.append(i + 1 == ext.size() ? "250 " : "250-")
        .append(ext[i])
        .append("\r\n");
  }
  return Action::kNeedInput;
}

ServerSession::Action ServerSession::HandleMail(const Command& cmd) {
  if (helo_.empty()) return ReplyError("503", "5.5.1 Send EHLO or HELO first");
  if (in_transaction_) return ReplyError("503", "5.5.1 Nested MAIL command");
  auto mail = ParseMail(cmd.arg);
  if (!mail.ok()) {
    std::string code = mail.error().code();
    return ReplyError(code.substr(0, 3),
                      code.substr(4) + " " + mail.error().message());
  }
  if (mail->size && *mail->size > options_.max_message_bytes) {
    return ReplyError("552", "5.3.4 Message size exceeds fixed limit of " +
                                 std::to_string(options_.max_message_bytes) +
                                 " octets");
  }
  if (mail->path.non_ascii && !mail->smtputf8) {
    return ReplyError("553",
                      "5.6.7 Non-ASCII sender address requires SMTPUTF8");
  }
  if (mail->smtputf8 && !esmtp_)
    return ReplyError("503", "5.5.1 SMTPUTF8 requires EHLO");
  // Submission without AUTH would let anyone forge a sender and have its
  // bounce (backscatter) sent to the victim.
  if (options_.submission && !authenticated() && !options_.relay_client)
    return ReplyError("530", "5.7.0 Authentication required");
  if (options_.storage_available && !options_.storage_available())
    return ReplyError("452", "4.3.1 Insufficient system storage");
  mail_ = std::move(*mail);
  in_transaction_ = true;
  Reply("250", "2.1.0 Sender ok");
  return Action::kNeedInput;
}

bool ServerSession::RelayAllowed(const Path& path) const {
  if (authenticated() || options_.relay_client) return true;
  if (path.postmaster) return true;
  // Classic relay tricks are refused before the domain is even considered:
  // "user%other@local", "other!user@local", "\"user@other\"@local", source
  // routes and address literals.
  if (path.source_route || path.domain_literal || LocalPartRoutes(path.local))
    return false;
  std::string domain = AsciiLower(path.domain);
  if (!domain.empty() && domain.back() == '.') domain.pop_back();
  return DomainMatches(domain, options_.local_domains) ||
         (options_.is_local_domain && options_.is_local_domain(domain));
}

SessionOptions::RecipientVerdict ServerSession::ReceivingVerdict(
    const Path& path) const {
  // The relay tricks RelayAllowed refuses are refused here too.
  if (!options_.receiving || path.postmaster || path.source_route ||
      path.domain_literal || LocalPartRoutes(path.local) || path.domain.empty())
    return {};
  return options_.receiving(path.Address(), options_.tls_active);
}

ServerSession::Action ServerSession::HandleRcpt(const Command& cmd) {
  size_t before = recipients_.size();
  Action a = HandleRcptCommand(cmd);
  (recipients_.size() > before ? rcpt_accepted_ : rcpt_rejected_)++;
  return a;
}

ServerSession::Action ServerSession::HandleRcptCommand(const Command& cmd) {
  if (!in_transaction_) return ReplyError("503", "5.5.1 Need MAIL before RCPT");
  auto rcpt = ParseRcpt(cmd.arg);
  if (!rcpt.ok()) {
    std::string code = rcpt.error().code();
    return ReplyError(code.substr(0, 3),
                      code.substr(4) + " " + rcpt.error().message());
  }
  if (rcpt->path.non_ascii && !mail_.smtputf8) {
    return ReplyError("553",
                      "5.6.7 Non-ASCII recipient address requires SMTPUTF8");
  }
  if (!RelayAllowed(rcpt->path)) {
    if (auto v = ReceivingVerdict(rcpt->path); v.known) {
      if (!v.reply.empty() && v.reply.size() > 4)
        return ReplyError(v.reply.substr(0, 3), v.reply.substr(4));
    } else {
      return ReplyError(
          "550", "5.7.1 Relaying denied: authenticate to send to " +
                     (rcpt->path.domain.empty() ? std::string("this address")
                                                : rcpt->path.domain));
    }
  }
  if (recipients_.size() >= options_.max_recipients) {
    // Not a client error: the client should send the rest in another
    // transaction.
    Reply("452", "4.5.3 Too many recipients (limit " +
                     std::to_string(options_.max_recipients) + " per message)");
    return Action::kNeedInput;
  }
  // Source routes are ignored (RFC 5321 C): deliver to the final mailbox.
  recipients_.push_back(rcpt->path.Address());
  Reply("250", "2.1.5 Recipient ok");
  return Action::kNeedInput;
}

ServerSession::Action ServerSession::HandleData(const Command& cmd) {
  if (!cmd.arg.empty())
    return ReplyError("501", "5.5.4 DATA takes no argument");
  if (!in_transaction_) return ReplyError("503", "5.5.1 Need MAIL before DATA");
  if (recipients_.empty())
    return ReplyError("554", "5.5.1 No valid recipients");
  if (bdat_used_) return ReplyError("503", "5.5.1 DATA not allowed after BDAT");
  message_id_ = NewMessageId(NowMillis());
  decoder_.emplace(DataDecoder::Mode::kDotStuffed, options_.max_message_bytes);
  content_.clear();
  mode_ = Mode::kData;
  Reply("354", "End data with <CR><LF>.<CR><LF>");
  return Action::kNeedInput;
}

ServerSession::Action ServerSession::HandleBdat(const Command& cmd) {
  auto bdat = ParseBdat(cmd.arg);
  if (!bdat.ok()) {
    // The chunk length is unknown, so the rest of the stream cannot be framed.
    Reply("501", "5.5.4 " + bdat.error().message() + "; closing connection");
    closed_ = true;
    return Action::kClose;
  }
  bdat_remaining_ = bdat->size;
  bdat_last_ = bdat->last;
  mode_ = Mode::kBdat;
  bdat_discard_ = !in_transaction_ || recipients_.empty();
  if (!bdat_discard_ && !bdat_used_) {
    bdat_used_ = true;
    message_id_ = NewMessageId(NowMillis());
    decoder_.emplace(DataDecoder::Mode::kBinaryChunk,
                     options_.max_message_bytes);
    content_.clear();
  }
  if (bdat_remaining_ == 0) return FinishContent();
  return Action::kNeedInput;
}

ServerSession::Action ServerSession::FinishContent() {
  bool bdat = mode_ == Mode::kBdat;
  mode_ = Mode::kCommand;
  if (bdat) {
    if (bdat_discard_) {
      return ReplyError("503", in_transaction_
                                   ? "5.5.1 No valid recipients"
                                   : "5.5.1 Need MAIL and RCPT before BDAT");
    }
    if (decoder_->problem() == DataDecoder::Problem::kNone && !bdat_last_) {
      Reply("250",
            "2.0.0 " + std::to_string(decoder_->size()) + " octets received");
      return Action::kNeedInput;
    }
  }
  DataDecoder::Problem problem = decoder_->problem();
  if (problem != DataDecoder::Problem::kNone) {
    bool too_big = decoder_->too_big();
    ResetTransaction();
    if (too_big) {
      return ReplyError("552", "5.3.4 Message size exceeds fixed limit of " +
                                   std::to_string(options_.max_message_bytes) +
                                   " octets");
    }
    if (problem == DataDecoder::Problem::kLineTooLong) {
      return ReplyError("500",
                        "5.5.6 Message rejected: line longer than 1000 octets");
    }
    return ReplyError("554", std::string("5.6.0 Message rejected: ") +
                                 DataDecoder::Describe(problem) +
                                 " is not allowed (RFC 5321 2.3.8)");
  }
  std::string added;  // Date and Message-ID for submissions lacking them
  if (options_.submission) {
    if (Status s = CheckMessage(content_); !s.ok()) {
      ResetTransaction();
      return ReplyError("554",
                        "5.6.0 Message rejected: " + s.error().message());
    }
    if (!HasHeader(content_, "Date"))
      added += "Date: " + Rfc5322Date(NowMillis()) + "\r\n";
    if (!HasHeader(content_, "Message-ID"))
      added +=
          "Message-ID: <" + message_id_ + "@" + options_.hostname + ">\r\n";
  }
  pending_ = Envelope();
  pending_.id = message_id_;
  pending_.mail_from = mail_.path.Address();
  pending_.recipients = std::move(recipients_);
  pending_.smtputf8 = mail_.smtputf8;
  pending_.eight_bit = decoder_->eight_bit();
  pending_.auth_user = auth_user_;
  pending_.client_ip = options_.client_ip;
  pending_.tls = options_.tls_active;
  pending_.helo = helo_;
  pending_.received_ms = NowMillis();
  std::string header = ReceivedHeader();
  pending_.content.reserve(header.size() + added.size() + content_.size());
  pending_.content.append(header).append(added).append(content_);
  ResetTransaction();
  return Action::kCommit;
}

std::string ServerSession::ReceivedHeader() const {
  // RFC 5321 4.4 and RFC 3848 protocol types.
  std::string with = mail_.smtputf8 ? "UTF8SMTP" : esmtp_ ? "ESMTP" : "SMTP";
  if (options_.tls_active) with += "S";
  if (authenticated()) with += "A";
  std::string h = "Received: from " + helo_ + " ([" + options_.client_ip +
                  "])\r\n\tby " + options_.hostname + " (Sesame) with " + with;
  if (!tls_description_.empty()) h += " (" + tls_description_ + ")";
  h += "\r\n\tid " + message_id_;
  if (recipients_.size() == 1) h += "\r\n\tfor <" + recipients_[0] + ">";
  h += "; " + Rfc5322Date(NowMillis()) + "\r\n";
  return h;
}

Envelope ServerSession::TakeEnvelope() { return std::move(pending_); }

void ServerSession::OnCommitResult(const Status& status,
                                   const std::string& id) {
  if (status.ok()) {
    Reply("250", "2.0.0 Ok " + id);
  } else if (status.error().code() == "throttled") {
    Reply("454", "4.7.0 Throttling failure: " + status.error().message());
  } else if (status.error().code() == "denied") {
    Reply("554", "5.7.1 " + status.error().message());
  } else if (status.error().code() == "unavailable") {
    Reply("451", "4.3.0 " + status.error().message());
  } else if (status.error().transient()) {
    Reply("452",
          "4.3.1 Insufficient system storage; message not accepted, try again "
          "later");
  } else {
    Reply("554", "5.3.0 Message not accepted: " + status.error().message());
  }
}

void ServerSession::OnTlsEstablished(std::string description) {
  options_.tls_active = true;
  tls_description_ = std::move(description);
  line_.clear();
  line_overflow_ = false;
}

void ServerSession::OnTimeout() {
  Reply("421", "4.4.2 " + options_.hostname + " Timeout, closing connection");
  closed_ = true;
}

void ServerSession::OnShutdown() {
  Reply("421", "4.3.2 " + options_.hostname +
                   " Service shutting down, closing connection");
  closed_ = true;
}

ServerSession::Action ServerSession::HandleAuth(const Command& cmd) {
  if (!options_.allow_auth)
    return ReplyError("502", "5.5.1 AUTH not available on this port");
  if (authenticated()) return ReplyError("503", "5.5.1 Already authenticated");
  if (!options_.tls_active && options_.auth_requires_tls) {
    return ReplyError("530", "5.7.0 Must issue a STARTTLS command first");
  }
  if (helo_.empty() || !esmtp_)
    return ReplyError("503", "5.5.1 Send EHLO first");
  if (in_transaction_)
    return ReplyError("503",
                      "5.5.1 AUTH not allowed during a mail transaction");
  std::string_view arg = cmd.arg;
  size_t sp = arg.find(' ');
  std::string mech = AsciiLower(arg.substr(0, sp));
  std::optional<std::string_view> initial;
  if (sp != arg.npos) initial = arg.substr(sp + 1);
  if (mech == "plain") {
    if (!initial) {
      mode_ = Mode::kAuthPlain;
      Reply("334", "");
      return Action::kNeedInput;
    }
    mode_ = Mode::kAuthPlain;
    return HandleAuthResponse(*initial);
  }
  if (mech == "login") {
    if (!initial) {
      mode_ = Mode::kAuthLoginUser;
      Reply("334", "VXNlcm5hbWU6");  // "Username:"
      return Action::kNeedInput;
    }
    mode_ = Mode::kAuthLoginUser;
    return HandleAuthResponse(*initial);
  }
  return ReplyError(
      "504",
      "5.5.4 Unrecognized authentication type (PLAIN and LOGIN are supported)");
}

ServerSession::Action ServerSession::HandleAuthResponse(std::string_view line) {
  Mode mode = mode_;
  mode_ = Mode::kCommand;
  if (line == "*") return ReplyError("501", "5.0.0 Authentication cancelled");
  std::optional<std::string> decoded =
      line == "=" ? std::optional<std::string>("") : Base64Decode(line);
  if (!decoded)
    return ReplyError("501", "5.5.2 Cannot decode response (invalid base64)");
  switch (mode) {
    case Mode::kAuthPlain: {
      // authzid NUL authcid NUL passwd (RFC 4616)
      size_t a = decoded->find('\0');
      size_t b = a == std::string::npos ? a : decoded->find('\0', a + 1);
      if (b == std::string::npos)
        return ReplyError("501", "5.5.2 Malformed PLAIN response");
      std::string_view authzid(decoded->data(), a);
      std::string_view user(decoded->data() + a + 1, b - a - 1);
      std::string_view pass(decoded->data() + b + 1, decoded->size() - b - 1);
      if (!authzid.empty() && authzid != user) {
        return ReplyError("535", "5.7.8 Authentication credentials invalid");
      }
      return FinishAuth(user, pass);
    }
    case Mode::kAuthLoginUser:
      login_user_ = std::move(*decoded);
      mode_ = Mode::kAuthLoginPass;
      Reply("334", "UGFzc3dvcmQ6");  // "Password:"
      return Action::kNeedInput;
    case Mode::kAuthLoginPass: {
      std::string user = std::move(login_user_);
      login_user_.clear();
      return FinishAuth(user, *decoded);
    }
    default:
      break;
  }
  return ReplyError("503", "5.5.1 Unexpected authentication state");
}

ServerSession::Action ServerSession::FinishAuth(std::string_view user,
                                                std::string_view password) {
  if (options_.auth_gate) {
    if (auto refused = options_.auth_gate(user))
      return ReplyError("454", "4.7.0 " + *refused);
  }
  if (user.empty() || !authenticator_ || !authenticator_(user, password)) {
    return ReplyError("535", "5.7.8 Authentication credentials invalid");
  }
  auth_user_ = std::string(user);
  Reply("235", "2.7.0 Authentication successful");
  return Action::kNeedInput;
}

}  // namespace sesame::smtp
