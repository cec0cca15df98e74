// libFuzzer target for the SMTP command parser, DATA framing, the server
// session, and the client session (the same bytes as a hostile server's
// replies). The first input byte picks the fragment size, so the same bytes
// are also exercised split at different points.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/command.h"
#include "smtp/data_decoder.h"
#include "smtp/client_session.h"
#include "smtp/server_session.h"

using namespace sesame::smtp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t step = data[0] % 64 + 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);

  // Parsers on every line.
  size_t start = 0;
  while (start < in.size()) {
    size_t nl = in.find('\n', start);
    std::string_view line =
        in.substr(start, nl == in.npos ? in.npos : nl - start);
    Command c = ParseCommand(line);
    (void)ParseMail(c.arg);
    (void)ParseRcpt(c.arg);
    (void)ParseBdat(c.arg);
    (void)ParsePath(c.arg, true, true);
    if (nl == in.npos) break;
    start = nl + 1;
  }

  // DATA framing: consumed never exceeds input, and the end is exact.
  DataDecoder d(DataDecoder::Mode::kDotStuffed, 1 << 16);
  std::string out;
  size_t total = 0;
  while (total < in.size() && !d.done()) {
    std::string_view frag = in.substr(total, step);
    size_t n = d.Feed(frag, &out);
    if (n > frag.size()) std::abort();
    if (n < frag.size() && !d.done()) std::abort();
    total += n;
  }
  if (d.done() &&
      (total < 3 || in.substr(0, total).substr(total - 3) != ".\r\n"))
    std::abort();

  // Whole session with authentication available.
  SessionOptions o;
  o.tls_active = true;
  o.local_domains = {"bounces.test"};
  o.max_message_bytes = 1 << 16;
  o.max_recipients = 5;
  ServerSession s(o, [](std::string_view u, std::string_view p) {
    return u == "u" && p == "p";
  });
  s.Start();
  size_t off = 0;
  while (off < in.size()) {
    std::string_view frag = in.substr(off, step);
    size_t pos = 0;
    bool closed = false;
    while (pos < frag.size()) {
      size_t n = 0;
      auto a = s.Process(frag.substr(pos), &n);
      if (n > frag.size() - pos) std::abort();
      pos += n;
      if (a == ServerSession::Action::kCommit) {
        Envelope e = s.TakeEnvelope();
        if (e.recipients.empty() || e.recipients.size() > 5) std::abort();
        s.OnCommitResult(sesame::Ok{}, e.id);
      } else if (a == ServerSession::Action::kClose) {
        closed = true;
        break;
      } else if (a == ServerSession::Action::kStartTls) {
        s.OnTlsEstablished("TLSv1.3");
      } else if (n == 0) {
        break;
      }
    }
    if (closed) break;
    off += frag.size();
    s.output().clear();
  }
  // The client session fed the input as server replies: every transaction
  // ends with exactly one outcome per recipient, whatever the server says.
  ClientSession c({"client.example", "mx.example"});
  std::string body = "Subject: f\r\n\r\n.x\r\n";
  bool in_txn = false;
  for (size_t off = 0; off < in.size(); off += step) {
    auto ev = c.Feed(in.substr(off, step));
    c.output().clear();
    if (ev == ClientSession::Event::kStartTls) ev = c.OnTlsEstablished();
    if (ev == ClientSession::Event::kDone ||
        (ev == ClientSession::Event::kClosed && in_txn)) {
      if (in_txn && c.TakeOutcomes().size() != 2) std::abort();
      in_txn = false;
    }
    if (c.usable() && !in_txn) {
      ClientSession::Message m;
      m.mail_from = "b@s.example";
      m.recipients = {"a@d.example", "b@d.example"};
      m.body = body;
      m.size = body.size();
      ev = c.Send(std::move(m));
      in_txn = true;
      if (ev == ClientSession::Event::kDone) {
        if (c.TakeOutcomes().size() != 2) std::abort();
        in_txn = false;
      }
    }
    if (c.phase() == ClientSession::Phase::kClosed) break;
  }
  return 0;
}
