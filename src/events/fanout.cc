#include "events/fanout.h"

#include "base/log.h"
#include "base/strings.h"

namespace sesame::events {

namespace {

using Type = delivery::MessageEvent::Type;

bool OnSuppressionList(const delivery::MessageEvent& e) {
  return e.classification.bounce_subtype == "OnAccountSuppressionList";
}

// The statistics kind of an event and how many recipients it counts.
std::pair<stats::Kind, uint64_t> StatsOf(const delivery::MessageEvent& e) {
  switch (e.type) {
    case Type::kSend:
      return {stats::Kind::kSend, e.meta.recipients.size()};
    case Type::kDelivery:
      return {stats::Kind::kDelivery, e.recipients.size()};
    case Type::kBounce:
      return {OnSuppressionList(e) ? stats::Kind::kReject
              : e.classification.bounce_type == "Permanent"
                  ? stats::Kind::kBounce
                  : stats::Kind::kSoftBounce,
              e.recipients.size()};
    case Type::kComplaint:
      return {stats::Kind::kComplaint, e.recipients.size()};
    case Type::kDeliveryDelay:
      return {stats::Kind::kDeferral, e.recipients.size()};
    case Type::kRenderingFailure:
      return {stats::Kind::kReject, e.meta.recipients.size()};
  }
  return {stats::Kind::kSend, 0};
}

}  // namespace

FanOut::FanOut(ses::Resources* resources, stats::Stats* stats,
               Publisher* publisher)
    : resources_(resources), stats_(stats), publisher_(publisher) {}

FanOut::~FanOut() { Stop(); }

void FanOut::Start() {
  writer_ = std::thread([this] { WriteSuppressions(); });
}

void FanOut::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void FanOut::OnEvent(delivery::MessageEvent e) {
  Count(e);
  Record(e);
  Suppress(e);
  // Published last, moved: the event's copy of the message's metadata and
  // header block is not duplicated on the engine thread. Nothing subscribes:
  // no record to build.
  if (publisher_->HasSubscribers()) publisher_->Publish(std::move(e));
}

void FanOut::Count(const delivery::MessageEvent& e) {
  uint64_t n = e.recipients.size();
  if (e.type == Type::kBounce && !OnSuppressionList(e)) {
    const std::string& t = e.classification.bounce_type;
    (t == "Permanent"   ? permanent_
     : t == "Transient" ? transient_
                        : undetermined_) += n;
  }
  if (e.type == Type::kComplaint) complaints_ += n;
}

void FanOut::Record(const delivery::MessageEvent& e) {
  auto [kind, n] = StatsOf(e);
  const std::string& from = e.meta.mail_from;
  std::string domain = from.find('@') == std::string::npos
                           ? ""
                           : AsciiLowerCopy(from.substr(from.rfind('@') + 1));
  stats_->Record(kind, n, e.timestamp_ms, e.meta.config_set, domain);
}

// Hard bounces and complaints put their recipients on the suppression list
// (when the reason is in effect for the configuration set: Resources
// decides); queued for the writer thread.
void FanOut::Suppress(const delivery::MessageEvent& e) {
  const char* reason = nullptr;
  if (e.type == Type::kComplaint) reason = "COMPLAINT";
  if (e.type == Type::kBounce && e.classification.bounce_type == "Permanent" &&
      !OnSuppressionList(e))
    reason = "BOUNCE";
  if (!reason || e.recipients.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : e.recipients)
      queue_.push_back(
          {r.address, reason, e.meta.config_set, e.meta.id, e.feedback_id});
  }
  cv_.notify_one();
}

void FanOut::WriteSuppressions() {
  while (true) {
    Suppression s;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything written
      s = std::move(queue_.front());
      queue_.pop_front();
    }
    auto added = resources_->suppression().AddAutomatic(
        s.address, s.reason, s.config_set, s.message_id, s.feedback_id);
    if (added.ok() && *added) ++suppressions_;
    if (!added.ok())
      SESAME_LOG(kWarn, "feedback")
          << "suppression of " << s.address
          << " not stored: " << added.error().message();
  }
}

void FanOut::RegisterMetrics(metrics::Registry* registry) const {
  registry->Add([this](metrics::Writer& w) {
    w.Family("sesame_bounces_total", "Bounced recipients by SES bounce type.",
             "counter");
    w.Sample("sesame_bounces_total", {{"type", "Permanent"}},
             permanent_.load());
    w.Sample("sesame_bounces_total", {{"type", "Transient"}},
             transient_.load());
    w.Sample("sesame_bounces_total", {{"type", "Undetermined"}},
             undetermined_.load());
    w.Counter("sesame_complaints_total", "Complaints received.",
              complaints_.load());
    w.Counter("sesame_suppressions_added_total",
              "Addresses added to the suppression list by bounces and "
              "complaints.",
              suppressions_.load());
  });
}

}  // namespace sesame::events
