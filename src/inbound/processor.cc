#include "inbound/processor.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "feedback/report.h"
#include "smtp/address.h"

namespace sesame::inbound {

using delivery::MessageEvent;
using delivery::VerpTarget;

namespace {

constexpr char kLog[] = "inbound";

std::string FirstAddress(const std::string& header) {
  auto found = feedback::FindAddresses(header);
  return found.empty() ? "" : found[0];
}

// "<ID@email.amazonses.com>" (our API messages' Message-ID) -> ID, when ID
// has the shape of our message ids; "" otherwise.
std::string OurMessageId(const std::string& header) {
  std::string h = header;
  size_t lt = h.find('<'), at = h.find('@');
  if (lt == std::string::npos || at == std::string::npos || at < lt) return "";
  std::string id = h.substr(lt + 1, at - lt - 1);
  return IsMessageId(id) ? id : "";
}

}  // namespace

// One message at the MX: a line per recipient in outcomes.jsonl (what it
// was, what it maps to), the events of what it reports, then it is removed.
void Processor::Process(const spool::MessageInfo& info) {
  const spool::MessageMeta& meta = info.meta;
  if (receiver_ && receiver_->Wants(meta)) {
    receiver_->Submit(info);
    return;
  }
  auto body = spool_->ReadBody(meta.id);
  feedback::Report report;
  if (body.ok()) report = feedback::Analyze(*body, classifier_);
  std::string kind = feedback::KindName(report.kind);
  std::string lines;
  for (const spool::Recipient& rc : meta.recipients) {
    std::string line = "{\"timestamp\":\"" + IsoTime(NowMillis()) +
                       "\",\"inboundMessageId\":\"" + JsonEscape(meta.id) +
                       "\",\"to\":\"" + JsonEscape(rc.address) +
                       "\",\"from\":\"" + JsonEscape(meta.mail_from) +
                       "\",\"kind\":\"" + kind + "\"";
    bool forged = false;
    std::optional<VerpTarget> target = VerpOf(rc.address, &forged);
    if (!target && !forged) {
      // Complaints reach the feedback address, not the VERP return path:
      // the quoted original's Return-Path or Message-ID names the message.
      target = VerpOf(
          smtp::AsciiLower(FirstAddress(report.OriginalHeader("return-path"))),
          &forged);
    }
    std::string message_id = target ? target->message_id : "";
    if (message_id.empty() && !forged)
      message_id = OurMessageId(report.OriginalHeader("message-id"));
    if (forged) {
      SESAME_LOG(kWarn, kLog)
          << "ignoring feedback with a forged VERP token: " << rc.address;
      line += ",\"outcome\":\"forged_bounce_ignored\"";
      Count("forged");
    } else if (message_id.empty()) {
      line += ",\"outcome\":\"inbound_unmatched\"";
      Count(kind);
    } else {
      Count(kind);
      // Mail to a VERP return path is a bounce even when its content says
      // nothing we recognize (then Undetermined).
      line +=
          ",\"outcome\":\"" +
          std::string(report.kind == feedback::ReportKind::kComplaint
                          ? "complaint_received"
                      : report.kind == feedback::ReportKind::kAutoReply
                          ? "auto_reply_received"
                      : report.kind == feedback::ReportKind::kBounce || target
                          ? "bounce_received"
                          : "feedback_received") +
          "\",\"messageId\":\"" + JsonEscape(message_id) + "\"";
      if (target)
        line += ",\"recipientIndex\":" + std::to_string(target->recipient);
      std::string original = EmitFeedback(report, message_id, target, meta.id);
      line += ",\"recipient\":\"" + JsonEscape(original) + "\"";
    }
    lines += line + "}\n";
  }
  if (outcomes_fd_ >= 0 && !lines.empty()) {
    // One write per message: O_APPEND keeps it whole beside the engine's.
    if (::write(outcomes_fd_, lines.data(), lines.size()) < 0)
      SESAME_LOG(kError, kLog) << "outcome log write failed";
  }
  spool_->Remove(meta.id, nullptr);  // consumed
}

// The VERP target of an address at our VERP domain; `forged` when the
// address is at the domain but its token does not verify.
std::optional<delivery::VerpTarget> Processor::VerpOf(
    const std::string& address, bool* forged) const {
  std::string a = smtp::AsciiLower(address);
  size_t at = a.rfind('@');
  if (at == std::string::npos || options_.verp_domain.empty() ||
      options_.verp_key.empty() ||
      a.substr(at + 1) != smtp::AsciiLower(options_.verp_domain))
    return std::nullopt;
  auto t = delivery::ParseVerp(a.substr(0, at), options_.verp_key);
  for (size_t i = 0; !t && i < options_.earlier_verp_keys.size(); ++i)
    t = delivery::ParseVerp(a.substr(0, at), options_.earlier_verp_keys[i]);
  if (!t) *forged = true;
  return t;
}

// Bounce or Complaint events for the message a report is about. Returns
// the recipient address it maps to.
std::string Processor::EmitFeedback(
    const feedback::Report& report, const std::string& message_id,
    const std::optional<delivery::VerpTarget>& target,
    const std::string& inbound_id) {
  if (report.kind == feedback::ReportKind::kAutoReply ||
      (report.kind == feedback::ReportKind::kNone && !target))
    return "";
  MessageEvent e;
  e.timestamp_ms = NowMillis();
  e.feedback_id = inbound_id;
  e.reporting_mta = report.reporting_mta;
  // Still queued: the spool's index has it; retired: the sent index.
  auto orig = spool_->Find(message_id);
  std::optional<delivery::SentIndex::Entry> sent;
  if (!orig.ok() && sent_index_) sent = sent_index_->Lookup(message_id);
  std::string verp_recipient;
  if (orig.ok() || sent) {
    if (sent) {
      e.meta = std::move(sent->meta);
      e.header_block = std::move(sent->header_block);
    } else {
      e.meta = orig->meta;
    }
    if (target &&
        target->recipient < static_cast<int>(e.meta.recipients.size()))
      verp_recipient = e.meta.recipients[target->recipient].address;
  } else {
    e.meta.id = message_id;
    e.meta_complete = false;
  }
  if (report.kind != feedback::ReportKind::kComplaint &&
      verp_recipient.empty() && !(target && !e.meta_complete))
    return EmitBounces(report, std::move(e));
  // With VERP the token names the one recipient; the report's own
  // recipient list is the fallback (complaints, or a message no longer
  // queued).
  const feedback::ReportRecipient* about = nullptr;
  for (const auto& r : report.recipients) {
    if (verp_recipient.empty() ||
        smtp::AsciiLower(r.address) == smtp::AsciiLower(verp_recipient) ||
        smtp::AsciiLower(r.original) == smtp::AsciiLower(verp_recipient)) {
      about = &r;
      break;
    }
  }
  if (!about && !report.recipients.empty() && target)
    about = &report.recipients[0];
  std::string address = !verp_recipient.empty() ? verp_recipient
                        : about                 ? about->address
                                                : "";
  if (address.empty()) return "";
  if (!e.meta_complete) {
    spool::Recipient r;
    r.address = address;
    e.meta.recipients.push_back(r);
  }
  if (report.kind == feedback::ReportKind::kComplaint) {
    e.type = MessageEvent::Type::kComplaint;
    e.feedback_type = report.feedback_type;
    e.user_agent = report.user_agent;
    e.arrival_date = report.arrival_date;
    e.recipients.push_back({address, "complained", "", ""});
  } else if (!about) {
    // At a VERP address but unreadable: a bounce of unknown kind.
    e.type = MessageEvent::Type::kBounce;
    e.classification = feedback::ForReason("undetermined", true);
    e.recipients.push_back({address, "failed", "", ""});
  } else {
    if (about->action == "delivered" || about->action == "relayed") return "";
    SetBounce(*about, address, &e);
  }
  fanout_->OnEvent(std::move(e));
  return address;
}

// A bounce found by its Message-ID or Return-Path (no VERP token): each
// recipient the report names is mapped onto the addresses the message was
// sent to (feedback::MapToSent), one event each. Returns the first.
std::string Processor::EmitBounces(const feedback::Report& report,
                                   MessageEvent base) {
  std::vector<std::string> sent;
  if (base.meta_complete)
    for (const auto& r : base.meta.recipients) sent.push_back(r.address);
  auto targets = feedback::MapToSent(report, sent);
  for (const auto& t : targets) {
    MessageEvent e = base;
    if (!e.meta_complete) {
      spool::Recipient r;
      r.address = t.address;
      e.meta.recipients.push_back(r);
    }
    SetBounce(*t.report, t.address, &e);
    fanout_->OnEvent(std::move(e));
  }
  return targets.empty() ? "" : targets[0].address;
}

// A bounce (or, for a delay warning, SES's DeliveryDelay) of one recipient.
void Processor::SetBounce(const feedback::ReportRecipient& about,
                          const std::string& address, MessageEvent* e) {
  e->type = MessageEvent::Type::kBounce;
  e->classification = about.classification;
  e->recipients.push_back(
      {address, about.action, about.status, about.diagnostic});
  if (about.action == "delayed") {
    // A delay warning is not a bounce: SES publishes DeliveryDelay.
    e->type = MessageEvent::Type::kDeliveryDelay;
    e->delay_type = "RecipientServerError";
  }
}

Processor::Processor(Options options, spool::Spool* spool,
                     delivery::SentIndex* sent_index, events::FanOut* fanout)
    : options_(std::move(options)),
      spool_(spool),
      sent_index_(sent_index),
      fanout_(fanout) {}

Processor::~Processor() { Stop(); }

void Processor::SetClassifier(feedback::Classifier classifier) {
  classifier_ = std::move(classifier);
}

Status Processor::Start() {
  outcomes_fd_ = ::open(options_.outcomes_path.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (outcomes_fd_ < 0)
    return Error::Permanent("inbound", "cannot open " + options_.outcomes_path);
  // Taken even when held, so the spool forgets its recovered copy.
  auto recovered = spool_->TakeRecovered(
      [](const spool::MessageMeta& m) { return m.source == "mx"; });
  if (!options_.hold) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& info : recovered) queue_.push_back(std::move(info));
  }
  thread_ = std::thread([this] { Run(); });
  return Ok{};
}

void Processor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (outcomes_fd_ >= 0) ::close(outcomes_fd_);
  outcomes_fd_ = -1;
}

void Processor::Submit(const spool::MessageInfo& info) {
  if (options_.hold) return;  // stays in the spool for a later start
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(info);
  }
  cv_.notify_one();
}

// Stopping leaves what is still queued in the spool: the next start
// processes it (nothing at the MX is lost).
void Processor::Run() {
  while (true) {
    spool::MessageInfo info;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      info = std::move(queue_.front());
      queue_.pop_front();
    }
    Process(info);
  }
}

void Processor::Count(const std::string& kind) {
  std::lock_guard<std::mutex> lock(counts_mu_);
  ++counts_[kind];
}

void Processor::RegisterMetrics(metrics::Registry* registry) const {
  registry->Add([this](metrics::Writer& w) {
    w.Family("sesame_feedback_inbound_total",
             "Inbound messages at the MX by what they are about our mail.",
             "counter");
    std::lock_guard<std::mutex> lock(counts_mu_);
    for (const char* kind :
         {"bounce", "complaint", "auto-reply", "none", "forged"}) {
      auto it = counts_.find(kind);
      w.Sample("sesame_feedback_inbound_total", {{"kind", kind}},
               it == counts_.end() ? 0 : it->second);
    }
  });
}

}  // namespace sesame::inbound
