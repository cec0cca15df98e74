#include "inbound/receiver.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <future>
#include <random>

#include "base/base64.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "delivery/dsn.h"
#include "dkim/dkim.h"
#include "dkim/verify.h"
#include "httpc/client.h"
#include "inbound/scanners.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"
#include "s3/client.h"
#include "smtp/address.h"

namespace sesame::inbound {
namespace json = boost::json;
namespace {

constexpr char kLog[] = "receiving";
constexpr size_t kMaxSnsContent = 150 * 1024;  // SES's SNS action limit
constexpr size_t kMaxNotificationHeaders = 10 * 1024;

std::string DomainOf(const std::string& address) {
  size_t at = address.rfind('@');
  return at == std::string::npos ? "" : AsciiLowerCopy(address.substr(at + 1));
}

std::string TopicName(const std::string& arn) {
  return arn.substr(arn.rfind(':') + 1);
}

std::string Unfold(std::string v) {
  std::string out;
  for (char c : v)
    if (c != '\r' && c != '\n') out += c;
  return TrimCopy(out);
}

// The resolver's asynchronous answers, awaited (this thread may block).
mailauth::Dns DnsOver(dns::Resolver* r) {
  if (!r) return {};
  mailauth::Dns d;
  d.txt = [r](const std::string& name) -> Result<std::vector<std::string>> {
    std::promise<Result<std::vector<std::string>>> p;
    auto f = p.get_future();
    r->ResolveTxt(name, [&p](Result<std::vector<std::string>> x) {
      p.set_value(std::move(x));
    });
    return f.get();
  };
  auto hosts = [r](const std::string& name,
                   bool mx) -> Result<std::vector<std::string>> {
    std::promise<Result<dns::MxResult>> p;
    auto f = p.get_future();
    auto done = [&p](Result<dns::MxResult> x) { p.set_value(std::move(x)); };
    if (mx)
      r->ResolveMx(name, done);
    else
      r->ResolveHost(name, done);
    auto res = f.get();
    if (!res.ok())
      return res.error().transient()
                 ? Result<std::vector<std::string>>(res.error())
                 : std::vector<std::string>{};
    std::vector<std::string> out;
    if (mx && res->implicit) return out;  // SPF's mx never falls back to A
    for (const auto& h : res->hosts)
      out.insert(out.end(), h.addresses.begin(), h.addresses.end());
    return out;
  };
  d.addresses = [hosts](const std::string& n) { return hosts(n, false); };
  d.mx_addresses = [hosts](const std::string& n) { return hosts(n, true); };
  return d;
}

std::string FromDomain(const dkim::ParsedMessage& m) {
  for (const auto& [k, v] : m.headers)
    if (AsciiLowerCopy(TrimCopy(k)) == "from") {
      std::string value = Unfold(v);
      size_t lt = value.rfind('<'), gt = value.rfind('>');
      std::string addr = lt != std::string::npos && gt > lt
                             ? value.substr(lt + 1, gt - lt - 1)
                             : value;
      return DomainOf(addr);
    }
  return "";
}

// An address list's entries, split at commas outside quotes and <>.
std::vector<std::string> SplitCommaList(const std::string& v) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  int angle = 0;
  for (char c : v) {
    if (c == '"') quoted = !quoted;
    if (!quoted && c == '<') ++angle;
    if (!quoted && c == '>' && angle > 0) --angle;
    if (c == ',' && !quoted && angle == 0) {
      if (!TrimCopy(cur).empty()) out.push_back(TrimCopy(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  if (!TrimCopy(cur).empty()) out.push_back(TrimCopy(cur));
  return out;
}

json::object Verdict(const std::string& status) {
  return json::object{{"status", status}};
}

}  // namespace

struct Receiver::Verdicts {
  std::string spf = "GRAY", dkim = "GRAY", dmarc = "GRAY", spam = "GRAY",
              virus = "GRAY", dmarc_policy;
};

struct Receiver::Job {
  spool::MessageMeta meta;
  std::string content;  // with AddHeader actions applied
  int64_t first_ms = 0;
  int attempts = 0;
  size_t next_rule = 0, next_action = 0;  // where a retry resumes
  std::set<std::string> stopped;          // recipients a Stop ended
  std::optional<Verdicts> verdicts;
  std::optional<ses::ReceiptRules::RuleSet> rules;  // as when it started
};

Receiver::Receiver(ReceiverOptions options, spool::Spool* spool,
                   ses::Resources* resources, events::Publisher* publisher,
                   dns::Resolver* resolver, admission::Admission* admission)
    : options_(std::move(options)),
      spool_(spool),
      resources_(resources),
      publisher_(publisher),
      resolver_(resolver),
      admission_(admission) {}

Receiver::~Receiver() { Stop(); }

Status Receiver::Start() {
  outcomes_fd_ = ::open(options_.outcomes_path.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  thread_ = std::thread([this] { Run(); });
  return Ok{};
}

void Receiver::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (outcomes_fd_ >= 0) ::close(outcomes_fd_);
  outcomes_fd_ = -1;
}

bool Receiver::Wants(const spool::MessageMeta& meta) {
  auto verified = [this](const std::string& a) {
    return resources_->identities().Verified(a);
  };
  for (const auto& r : meta.recipients) {
    auto reply =
        resources_->receipt_rules().RecipientReply(r.address, true, verified);
    if (reply && reply->empty()) return true;
  }
  return false;
}

void Receiver::Submit(const spool::MessageInfo& info) {
  auto job = std::make_unique<Job>();
  job->meta = info.meta;
  job->first_ms = NowMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.emplace(0, std::move(job));
  }
  cv_.notify_one();
}

void Receiver::Run() {
  std::mt19937_64 rng(std::random_device{}());
  while (true) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_) {
        if (!jobs_.empty() && jobs_.begin()->first <= NowMillis()) break;
        if (jobs_.empty())
          cv_.wait(lock);
        else
          cv_.wait_for(lock, std::chrono::milliseconds(jobs_.begin()->first -
                                                       NowMillis()));
      }
      // A job waiting for its retry stays in the spool: the next start
      // runs it again.
      if (stopping_) return;
      job = std::move(jobs_.begin()->second);
      jobs_.erase(jobs_.begin());
    }
    Status s = Process(*job);
    if (s.ok()) {
      spool_->Remove(job->meta.id, nullptr);
      Count("messages", "processed");
      continue;
    }
    ++job->attempts;
    // Exponential back-off from 1 s, capped at 5 minutes, +-20 % jitter.
    int64_t base =
        std::min<int64_t>(300000, 1000ll << std::min(job->attempts - 1, 9));
    int64_t due =
        NowMillis() + base * 8 / 10 +
        static_cast<int64_t>(rng() % static_cast<uint64_t>(base * 4 / 10 + 1));
    Log(*job, "retry", s.error().message());
    Count("messages", "retried");
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.emplace(due, std::move(job));
  }
}

Status Receiver::Process(Job& job) {
  if (job.content.empty()) {
    auto body = spool_->ReadBody(job.meta.id);
    if (!body.ok()) return body.error();
    job.content = std::move(*body);
    Remember(job);
  }
  if (!job.rules) {
    auto active = resources_->receipt_rules().Active();
    if (!active.ok()) return active.error();
    if (!*active) {
      Log(job, "dropped", "no active receipt rule set");
      return Ok{};
    }
    job.rules = std::move(**active);
  }
  auto verified = [this](const std::string& a) {
    return resources_->identities().Verified(a);
  };
  for (; job.next_rule < job.rules->rules.size(); ++job.next_rule) {
    const json::object& rule = job.rules->rules[job.next_rule];
    auto* en = rule.if_contains("Enabled");
    if (!en || !en->is_bool() || !en->as_bool()) continue;
    std::vector<std::string> recipients;
    for (const auto& r : job.meta.recipients)
      if (!job.stopped.count(r.address) &&
          ses::ReceiptRules::RecipientMatches(rule, r.address) &&
          verified(r.address))
        recipients.push_back(r.address);
    if (recipients.empty()) continue;
    if (!job.verdicts) {
      auto* scan = rule.if_contains("ScanEnabled");
      job.verdicts =
          ComputeVerdicts(job, scan && scan->is_bool() && scan->as_bool());
    }
    auto* actions = rule.if_contains("Actions");
    size_t n = actions && actions->is_array() ? actions->as_array().size() : 0;
    Next next = Next::kContinue;
    for (; job.next_action < n && next == Next::kContinue; ++job.next_action) {
      const json::value& a = actions->as_array()[job.next_action];
      if (!a.is_object() || a.as_object().empty()) continue;
      const auto& [type, body] = *a.as_object().begin();
      if (!body.is_object()) continue;
      auto r = RunAction(job, std::string(type), body.as_object(), recipients);
      if (!r.ok() && r.error().transient() &&
          NowMillis() - job.first_ms <
              int64_t(options_.receiving.retry_for_seconds) * 1000) {
        Count("actions", std::string(type), "retried");
        return r.error();  // resumes at this action
      }
      if (!r.ok()) {
        Count("actions", std::string(type), "failed");
        Log(job, "action failed",
            std::string(type) + ": " + r.error().message());
        continue;
      }
      Count("actions", std::string(type), "ok");
      next = *r;
    }
    job.next_action = 0;
    if (next == Next::kStopRuleSet)
      for (const auto& r : recipients) job.stopped.insert(r);
  }
  Log(job, "received", "rule set " + job.rules->name);
  return Ok{};
}

Receiver::Verdicts Receiver::ComputeVerdicts(const Job& job, bool scan) {
  Verdicts v;
  mailauth::Dns dns = DnsOver(resolver_);
  auto parsed = dkim::SplitMessage(job.content);
  std::string sender = job.meta.mail_from;
  mailauth::SpfResult spf = mailauth::SpfResult::kNone;
  if (resolver_ && !sender.empty())
    spf = mailauth::CheckHost(job.meta.client_ip, DomainOf(sender), sender, "",
                              dns);
  switch (spf) {
    case mailauth::SpfResult::kPass:
      v.spf = "PASS";
      break;
    case mailauth::SpfResult::kFail:
    case mailauth::SpfResult::kSoftFail:
      v.spf = "FAIL";
      break;
    case mailauth::SpfResult::kTempError:
    case mailauth::SpfResult::kPermError:
      v.spf = "PROCESSING_FAILED";
      break;
    default:
      v.spf = "GRAY";
  }
  std::vector<std::string> dkim_pass;
  if (resolver_) {
    auto results = dkim::Verify(job.content, dns.txt, NowMillis() / 1000);
    bool temp = false;
    for (const auto& r : results) {
      if (r.outcome == dkim::Outcome::kPass) dkim_pass.push_back(r.domain);
      temp |= r.outcome == dkim::Outcome::kTempError;
    }
    v.dkim = !dkim_pass.empty() ? "PASS"
             : temp             ? "PROCESSING_FAILED"
             : results.empty()  ? "GRAY"
                                : "FAIL";
  }
  if (resolver_ && parsed.ok()) {
    auto d = mailauth::EvaluateDmarc(FromDomain(*parsed), spf, DomainOf(sender),
                                     dkim_pass, dns);
    v.dmarc = d.verdict;
    v.dmarc_policy = d.policy;
  }
  if (scan) {
    int timeout = static_cast<int>(options_.receiving.timeout_seconds) * 1000;
    v.spam = SpamVerdict(options_.receiving.spamd, job.content, timeout);
    v.virus = VirusVerdict(options_.receiving.clamd, job.content, timeout);
  }
  return v;
}

Result<Receiver::Next> Receiver::RunAction(
    Job& job, const std::string& type, const json::object& a,
    const std::vector<std::string>& recipients) {
  std::string topic = ses::JsonString(a, "TopicArn");
  if (type == "AddHeaderAction") {
    job.content = ses::JsonString(a, "HeaderName") + ": " +
                  ses::JsonString(a, "HeaderValue") + "\r\n" + job.content;
    return Next::kContinue;
  }
  if (type == "StopAction") {
    if (!topic.empty())
      Publish(topic, Notification(job, recipients,
                                  {{"type", "Stop"}, {"topicArn", topic}}));
    return Next::kStopRuleSet;
  }
  if (type == "S3Action") {
    const auto& r = options_.receiving;
    s3::Client client({r.s3_endpoint,
                       r.s3_region.empty() ? options_.region : r.s3_region,
                       r.s3_access_key_id, r.s3_secret_access_key, r.ca_file,
                       static_cast<int>(r.timeout_seconds) * 1000});
    std::string bucket = ses::JsonString(a, "BucketName");
    std::string key = ses::JsonString(a, "ObjectKeyPrefix") + job.meta.id;
    if (Status s = client.PutObject(bucket, key, job.content); !s.ok())
      return s.error();
    if (!topic.empty())
      Publish(topic, Notification(job, recipients,
                                  {{"type", "S3"},
                                   {"topicArn", topic},
                                   {"bucketName", bucket},
                                   {"objectKeyPrefix",
                                    ses::JsonString(a, "ObjectKeyPrefix")},
                                   {"objectKey", key}}));
    return Next::kContinue;
  }
  if (type == "SNSAction") {
    if (job.content.size() > kMaxSnsContent)
      return Error::Permanent("receiving",
                              "the message is larger than the SNS action's "
                              "150 KB");
    bool b64 = ses::JsonString(a, "Encoding") == "Base64";
    json::object note = Notification(job, recipients,
                                     {{"type", "SNS"},
                                      {"topicArn", topic},
                                      {"encoding", b64 ? "BASE64" : "UTF8"}});
    note["content"] = b64 ? Base64Encode(job.content) : job.content;
    Publish(topic, note);
    return Next::kContinue;
  }
  if (type == "LambdaAction") {
    std::string fn = ses::JsonString(a, "FunctionArn");
    std::string inv = ses::JsonString(a, "InvocationType");
    auto it = options_.receiving.lambda_function_urls.find(fn);
    if (it == options_.receiving.lambda_function_urls.end())
      return Error::Permanent("receiving", "no URL for function " + fn);
    json::object action{
        {"type", "Lambda"}, {"functionArn", fn}, {"invocationType", inv}};
    json::object note = Notification(job, recipients, action);
    json::object ses{{"mail", note["mail"]}, {"receipt", note["receipt"]}};
    json::object record{{"eventSource", "aws:ses"},
                        {"eventVersion", "1.0"},
                        {"ses", std::move(ses)}};
    httpc::Request req;
    req.method = "POST";
    req.url = it->second;
    req.headers = {{"Content-Type", "application/json"},
                   {"X-Amz-Invocation-Type", inv}};
    req.body = json::serialize(json::object{{"Records", json::array{record}}});
    req.timeout_ms =
        static_cast<int>(options_.receiving.timeout_seconds) * 1000;
    req.ca_file = options_.receiving.ca_file;
    auto resp = httpc::Fetch(req);
    if (!resp.ok()) return resp.error();
    if (resp->status >= 500 || resp->status == 429)
      return Error::Transient("receiving", "function URL answered HTTP " +
                                               std::to_string(resp->status));
    if (resp->status >= 300)
      return Error::Permanent("receiving", "function URL answered HTTP " +
                                               std::to_string(resp->status));
    if (!topic.empty()) {
      action["topicArn"] = topic;
      Publish(topic, Notification(job, recipients, action));
    }
    if (inv != "RequestResponse") return Next::kContinue;
    std::string disposition =
        ses::JsonString(ses::DocumentObject(resp->body), "disposition");
    if (disposition == "STOP_RULE") return Next::kStopRule;
    if (disposition == "STOP_RULE_SET") return Next::kStopRuleSet;
    return Next::kContinue;
  }
  if (type == "BounceAction") {
    BounceAction(job, a, recipients);
    if (!topic.empty())
      Publish(
          topic,
          Notification(job, recipients,
                       {{"type", "Bounce"},
                        {"topicArn", topic},
                        {"smtpReplyCode", ses::JsonString(a, "SmtpReplyCode")},
                        {"statusCode", ses::JsonString(a, "StatusCode")},
                        {"message", ses::JsonString(a, "Message")},
                        {"sender", ses::JsonString(a, "Sender")}}));
    return Next::kStopRuleSet;  // a bounced message goes no further
  }
  return Error::Permanent("receiving", "unsupported action " + type);
}

json::object Receiver::Notification(const Job& job,
                                    const std::vector<std::string>& recipients,
                                    json::object action) const {
  json::array headers;
  json::object common;
  json::array destination;
  for (const auto& r : job.meta.recipients)
    destination.push_back(json::value(r.address));
  size_t header_bytes = 0;
  bool truncated = false;
  if (auto m = dkim::SplitMessage(job.content); m.ok()) {
    for (const auto& [k, v] : m->headers) {
      std::string name = TrimCopy(k), value = Unfold(v);
      header_bytes += name.size() + value.size();
      if (header_bytes > kMaxNotificationHeaders) {
        truncated = true;
        break;
      }
      headers.push_back(json::object{{"name", name}, {"value", value}});
      std::string low = AsciiLowerCopy(name);
      if (low == "from" || low == "to" || low == "cc") {
        json::array list;
        for (auto& part : SplitCommaList(value))
          list.push_back(json::value(part));
        common[low] = std::move(list);
      } else if (low == "subject" || low == "date") {
        common[low] = value;
      } else if (low == "message-id") {
        common["messageId"] = value;
      } else if (low == "return-path") {
        common["returnPath"] = value;
      }
    }
  }
  json::object mail{{"timestamp", IsoTime(job.meta.created_ms)},
                    {"source", job.meta.mail_from},
                    {"messageId", job.meta.id},
                    {"destination", std::move(destination)},
                    {"headersTruncated", truncated},
                    {"headers", std::move(headers)},
                    {"commonHeaders", std::move(common)}};
  const Verdicts v = job.verdicts.value_or(Verdicts{});
  json::array rcpts;
  for (const auto& r : recipients) rcpts.push_back(json::value(r));
  json::object receipt{
      {"timestamp", IsoTime(job.meta.created_ms)},
      {"processingTimeMillis", NowMillis() - job.meta.created_ms},
      {"recipients", std::move(rcpts)},
      {"spamVerdict", Verdict(v.spam)},
      {"virusVerdict", Verdict(v.virus)},
      {"spfVerdict", Verdict(v.spf)},
      {"dkimVerdict", Verdict(v.dkim)},
      {"dmarcVerdict", Verdict(v.dmarc)},
      {"action", std::move(action)}};
  if (v.dmarc == "FAIL" && !v.dmarc_policy.empty())
    receipt["dmarcPolicy"] = v.dmarc_policy;
  return json::object{{"notificationType", "Received"},
                      {"mail", std::move(mail)},
                      {"receipt", std::move(receipt)}};
}

void Receiver::Publish(const std::string& topic_arn, const json::object& note) {
  if (!publisher_ || topic_arn.empty()) return;
  publisher_->PublishMessage(TopicName(topic_arn),
                             "Amazon SES Email Receipt Notification",
                             json::serialize(note));
}

void Receiver::BounceAction(const Job& job, const json::object& a,
                            const std::vector<std::string>& recipients) {
  const Verdicts v = job.verdicts.value_or(Verdicts{});
  if (job.meta.mail_from.empty() || (v.spf != "PASS" && v.dmarc != "PASS")) {
    Log(job, "bounce not sent",
        "the sender is not authenticated (SPF and DMARC did not pass): no "
        "backscatter");
    return;
  }
  std::string code = ses::JsonString(a, "SmtpReplyCode");
  std::string status = ses::JsonString(a, "StatusCode");
  if (status.empty()) status = code[0] == '4' ? "4.0.0" : "5.0.0";
  std::vector<delivery::FailedRecipient> failed;
  for (const auto& r : recipients)
    failed.push_back(
        {r, status,
         "smtp; " + code + " " + status + " " + ses::JsonString(a, "Message"),
         "dns; " + options_.hostname, NowMillis()});
  SubmitDsn(job.meta, job.content, failed, {ses::JsonString(a, "Sender"), ""},
            options_.hostname, [](Result<std::string> r) {
              if (!r.ok())
                SESAME_LOG(kWarn, kLog)
                    << "bounce not stored: " << r.error().message();
            });
}

void Receiver::SubmitDsn(const spool::MessageMeta& original,
                         const std::string& content,
                         const std::vector<delivery::FailedRecipient>& failed,
                         const delivery::DsnText& text,
                         const std::string& reporting_mta,
                         std::function<void(Result<std::string>)> done) {
  int64_t now = NowMillis();
  spool::MessageMeta meta;
  meta.id = NewMessageId(now);
  meta.created_ms = now;
  meta.recipients.push_back({});
  meta.recipients.back().address = original.mail_from;
  meta.source = "dsn";
  meta.client_ip = "127.0.0.1";
  admission::Submission s;
  s.source = admission::Source::kInternal;
  s.content =
      delivery::BuildDsn(reporting_mta, original.mail_from, original.id,
                         original.created_ms, failed, content, now,
                         meta.id.substr(0, 16) + meta.id.substr(17, 8), text);
  std::string id = meta.id;
  s.meta = std::move(meta);
  admission_->Submit(std::move(s), [id, done = std::move(done)](
                                       std::optional<admission::Refusal> r) {
    if (r) return done(Error::Transient("not_stored", r->message));
    done(id);
  });
}

void Receiver::Remember(const Job& job) {
  constexpr size_t kMaxRemembered = 10000;
  size_t end = job.content.find("\r\n\r\n");
  Received r{job.meta, job.content.substr(
                           0, end == std::string::npos ? 64 * 1024 : end + 2)};
  std::lock_guard<std::mutex> lock(received_mu_);
  if (received_.emplace(job.meta.id, std::move(r)).second)
    received_order_.push_back(job.meta.id);
  while (received_order_.size() > kMaxRemembered) {
    received_.erase(received_order_.front());
    received_order_.pop_front();
  }
}

void Receiver::SendBounce(const ses::BounceRequest& request,
                          std::function<void(Result<std::string>)> done) {
  std::optional<Received> original;
  {
    std::lock_guard<std::mutex> lock(received_mu_);
    auto it = received_.find(request.original_message_id);
    if (it != received_.end()) original = it->second;
  }
  constexpr int64_t kDay = 24 * 3600 * 1000;
  if (!original || NowMillis() - original->meta.created_ms > kDay)
    return done(Error::Permanent(
        "not_found", "Could not find the original message with ID " +
                         request.original_message_id +
                         " (received in the last 24 hours)."));
  if (original->meta.mail_from.empty())
    return done(Error::Permanent(
        "invalid",
        "The original message has a null sender: nobody to bounce to."));
  std::vector<delivery::FailedRecipient> failed;
  std::string mta =
      request.reporting_mta.empty() ? options_.hostname : request.reporting_mta;
  for (const auto& r : request.recipients) {
    bool addressed = false;
    for (const auto& x : original->meta.recipients)
      addressed |= AsciiLowerCopy(x.address) == AsciiLowerCopy(r.address);
    if (!addressed)
      return done(Error::Permanent(
          "invalid", "Recipient " + r.address +
                         " is not a recipient of the original message."));
    failed.push_back({r.address, r.status,
                      r.diagnostic.empty() ? "smtp; " + r.status : r.diagnostic,
                      r.remote_mta, NowMillis()});
  }
  SubmitDsn(original->meta, original->headers + "\r\n", failed,
            {request.sender, request.explanation}, mta, std::move(done));
}

void Receiver::Log(const Job& job, const std::string& what,
                   const std::string& detail) {
  SESAME_LOG(kInfo, kLog) << what << " " << job.meta.id << ": " << detail;
  if (outcomes_fd_ < 0) return;
  json::object o{{"ts", IsoTime(NowMillis())},
                 {"id", job.meta.id},
                 {"kind", "receiving"},
                 {"outcome", what},
                 {"detail", detail}};
  std::string line = json::serialize(o) + "\n";
  if (::write(outcomes_fd_, line.data(), line.size()) < 0)
    SESAME_LOG(kWarn, kLog) << "outcomes.jsonl write failed";
}

void Receiver::Count(const std::string& family, const std::string& what,
                     const std::string& outcome) {
  std::lock_guard<std::mutex> lock(counts_mu_);
  ++counts_[{family, what, outcome}];
}

void Receiver::RegisterMetrics(metrics::Registry* registry) const {
  registry->Add([this](metrics::Writer& w) {
    std::lock_guard<std::mutex> lock(counts_mu_);
    // Each family's samples follow its own header (the exposition format).
    w.Family("sesame_receiving_messages_total",
             "Received mail run through the receipt rules, by outcome.",
             "counter");
    for (const char* o : {"processed", "retried"}) {
      auto it = counts_.find({"messages", o, ""});
      w.Sample("sesame_receiving_messages_total", {{"outcome", o}},
               it == counts_.end() ? 0 : it->second);
    }
    w.Family("sesame_receiving_actions_total",
             "Receipt rule actions run, by action and outcome.", "counter");
    for (const auto& [k, n] : counts_) {
      const auto& [family, action, outcome] = k;
      if (family == "actions")
        w.Sample("sesame_receiving_actions_total",
                 {{"action", action}, {"outcome", outcome}}, n);
    }
  });
}

}  // namespace sesame::inbound
