#include "admission/admission.h"

#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "mime/mime.h"
#include "ses/names.h"
#include "smtp/address.h"
#include "smtp/message_check.h"

namespace sesame::admission {

namespace {

Refusal Refuse(Refusal::Kind kind, std::string message) {
  return Refusal{kind, std::move(message), false};
}

std::string Upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// The From header's address and display name (for ses:FromAddress and
// ses:FromDisplayName), parsed once per submission.
Admission::From Admission::FromOf(const std::string& content) {
  From f;
  std::string header = smtp::HeaderValue(content, "From");
  if (size_t lt = header.find('<'); lt != std::string::npos) {
    f.display = mime::DecodeWords(TrimCopy(header.substr(0, lt)));
    if (f.display.size() >= 2 && f.display.front() == '"' &&
        f.display.back() == '"')
      f.display = f.display.substr(1, f.display.size() - 2);
  }
  f.address = mime::AddrSpec(header);
  return f;
}

namespace {

// True when `address` is the identity or lies within it (a domain identity
// covers its subdomains' addresses).
bool BelongsTo(const std::string& address, const std::string& identity) {
  std::string f = AsciiLowerCopy(address);
  if (f == identity) return true;
  size_t at = f.rfind('@');
  for (std::string d = at == std::string::npos ? "" : f.substr(at + 1);
       !d.empty();
       d = d.find('.') == std::string::npos ? "" : d.substr(d.find('.') + 1)) {
    if (d == identity) return true;
  }
  return false;
}

// Envelope paths and content, for front ends that did not check them as an
// SMTP session does: every path a valid RFC 5321 mailbox; content with
// CRLF line endings (bare LF converted, as SES), no bare CR or NUL, unique
// header fields once.
std::optional<Refusal> CheckWellFormed(Submission& s) {
  if (!s.meta.mail_from.empty()) {
    if (auto p = smtp::ParseMailbox(s.meta.mail_from); !p.ok())
      return Refuse(Refusal::Kind::kInvalidAddress,
                    "Invalid return path " + Quoted(s.meta.mail_from) + ": " +
                        p.error().message());
  }
  for (const auto& r : s.meta.recipients) {
    if (auto p = ses::FieldMailbox(r.address); !p.ok())
      return Refuse(
          Refusal::Kind::kInvalidAddress,
          "Illegal address " + Quoted(r.address) + ": " + p.error().message());
  }
  s.content = smtp::CanonicalLineEndings(std::move(s.content));
  if (Status st = smtp::CheckMessage(s.content); !st.ok())
    return Refuse(Refusal::Kind::kInvalidContent,
                  "Illegal message content: " + st.error().message());
  return std::nullopt;
}

void MarkEncodings(spool::MessageMeta* meta, const std::string& content) {
  for (unsigned char c : content) {
    if (c >= 0x80) {
      meta->eight_bit = true;
      break;
    }
  }
  for (const auto& r : meta->recipients) {
    for (unsigned char c : r.address) meta->smtputf8 |= c >= 0x80;
  }
}

}  // namespace

Status ToStatus(const Refusal& r) {
  switch (r.kind) {
    case Refusal::Kind::kThrottled:
      return Error::Transient("throttled", r.message);
    case Refusal::Kind::kStorageFull:
      return Error::Transient("no_space", r.message);
    case Refusal::Kind::kStoreUnavailable:
    case Refusal::Kind::kDraining:
      return Error::Transient("unavailable", r.message);
    case Refusal::Kind::kNotStored:
      return r.transient ? Error::Transient("io", r.message)
                         : Error::Permanent("io", r.message);
    case Refusal::Kind::kInvalidAddress:
    case Refusal::Kind::kInvalidContent:
      return Error::Permanent("invalid", r.message);
    default:
      return Error::Permanent("denied", r.message);
  }
}

void Admission::RegisterMetrics(metrics::Registry* registry) const {
  registry->Add([this](metrics::Writer& w) {
    static const char* kSourceNames[kSources] = {"submission", "api",
                                                 "internal", "inbound"};
    static const char* kReasons[kKinds] = {
        "invalid_address", "invalid_content",   "storage_full",
        "account_paused",  "config_set_paused", "not_authorized",
        "rejected",        "throttled",         "mail_from_not_verified",
        "not_stored",      "store_unavailable", "draining"};
    w.Family("sesame_admission_admitted_total",
             "Messages admitted and made durable, by how they entered.",
             "counter");
    for (int i = 0; i < kSources; ++i)
      w.Sample("sesame_admission_admitted_total", {{"source", kSourceNames[i]}},
               admitted_[i].load(std::memory_order_relaxed));
    w.Family("sesame_admission_refused_total",
             "Messages not admitted, by the check that refused them.",
             "counter");
    for (int i = 0; i < kKinds; ++i)
      w.Sample("sesame_admission_refused_total", {{"reason", kReasons[i]}},
               refused_[i].load(std::memory_order_relaxed));
    w.Counter("sesame_admission_quota_returned_total",
              "Sends whose quota was given back because the commit failed.",
              quota_returned_.load(std::memory_order_relaxed));
    w.Counter("sesame_admission_dkim_signed_total",
              "Messages DKIM-signed (on the signing pool) before the commit.",
              signed_.load(std::memory_order_relaxed));
  });
}

Admission::Admission(Options options, spool::Spool* spool,
                     ses::Resources* resources, ses::DkimKeys* dkim,
                     auth::KeyStore* keys, auth::IamStore* iam,
                     auth::SendQuota* quota, capture::Mailbox* mailbox,
                     ThreadPool* signing_pool)
    : options_(std::move(options)),
      spool_(spool),
      resources_(resources),
      dkim_(dkim),
      keys_(keys),
      iam_(iam),
      quota_(quota),
      mailbox_(mailbox),
      pool_(signing_pool) {}

void Admission::Submit(Submission s, Done done) {
  auto refuse = [this, &done](Refusal r) {
    Count(r);
    done(std::move(r));
  };
  if (s.source == Source::kApi) {
    if (auto r = CheckWellFormed(s)) return refuse(std::move(*r));
  }
  // Parsed once, from the content as it will be stored (step 1 may have
  // turned bare LF into CRLF); inbound mail is neither checked nor signed.
  const From from = s.source == Source::kInbound ? From{} : FromOf(s.content);
  if (auto r = Check(s, from)) return refuse(std::move(*r));
  if (!quota_ || (s.source != Source::kApi && s.source != Source::kSubmission))
    return AfterQuota(std::move(s), from.address, 0, std::move(done));
  // The cluster's quota answers from Redis, later and on its own thread.
  int recipients = static_cast<int>(s.meta.recipients.size());
  int64_t taken_ms = NowMillis();
  quota_->TakeAsync(
      recipients, taken_ms,
      [this, s = std::move(s), from = from.address, taken_ms,
       done = std::move(done)](std::optional<std::string> over) mutable {
        if (over) {
          Refusal r = Refuse(Refusal::Kind::kThrottled, *over);
          Count(r);
          return done(std::move(r));
        }
        AfterQuota(std::move(s), from, taken_ms, std::move(done));
      });
}

// Steps 7–9, once the quota (if any) was taken at taken_ms.
void Admission::AfterQuota(Submission s, const std::string& from,
                           int64_t taken_ms, Done done) {
  if (auto r = ApplyMailFrom(s)) {
    if (taken_ms)
      quota_->GiveBack(static_cast<int>(s.meta.recipients.size()), taken_ms);
    Count(*r);
    return done(std::move(*r));
  }
  SignAndCommit(std::move(s), from, taken_ms, std::move(done));
}

// Steps 2–5 (Submit runs step 1 first); the quota (6) is taken by Submit
// once they pass.
std::optional<Refusal> Admission::Check(Submission& s, const From& from) {
  if (!spool_->Accepting())
    return Refuse(Refusal::Kind::kStorageFull,
                  "insufficient storage for new mail; retry later");
  if (s.source == Source::kInternal || s.source == Source::kInbound)
    return std::nullopt;
  if (Draining())
    return Refuse(Refusal::Kind::kDraining,
                  "this node is draining; send through another node");
  if (auto r = CheckStoreGrace()) return r;
  if (s.source == Source::kSubmission) {
    // An SMTP user is an access key (SES SMTP credentials) or a configured
    // SMTP user (the root's); keys of another account send under sending
    // authorization. aws:SecureTransport: whether the session ran under TLS.
    if (!s.meta.auth_user.empty() && keys_)
      s.caller = CallerForKey(*keys_, s.meta.auth_user, options_.account_id);
    s.caller.secure = s.meta.tls;
    s.caller.api = "smtp";
    s.caller.action = "ses:SendRawEmail";
    s.caller.source_ip = s.meta.client_ip;
  }
  UseDefaultConfigurationSet(s, from);
  if (auto r = CheckPaused(s)) return r;
  if (auto r = Authorize(s, from)) return r;
  return CheckVerified(s, from);
}

// A shared store's outage: the snapshots decide sends for the grace period,
// then sends wait (transiently) until the store is back, so no node sends
// on with a view of pauses and suppressions that is arbitrarily old.
std::optional<Refusal> Admission::CheckStoreGrace() {
  if (options_.store_outage_grace_ms <= 0) return std::nullopt;
  int64_t since = resources_->StoreUnreachableSinceMs();
  if (since == 0) return std::nullopt;
  int64_t down_ms = NowMillis() - since;
  if (down_ms <= options_.store_outage_grace_ms) return std::nullopt;
  return Refuse(Refusal::Kind::kStoreUnavailable,
                "the state store has been unreachable for " +
                    std::to_string(down_ms / 1000) +
                    " s (more than store.outage_grace_seconds); try again "
                    "later");
}

// The address whose identity sends: the request's sender, else From's.
std::string Admission::SenderOf(const Submission& s, const From& from) {
  return s.sender.empty() ? from.address : mime::AddrSpec(s.sender);
}

// SES: a send that names no configuration set uses its identity's default
// (CreateEmailIdentity's ConfigurationSetName), the address's before its
// domain's; a default whose set was deleted since is ignored.
void Admission::UseDefaultConfigurationSet(Submission& s, const From& from) {
  if (!s.meta.config_set.empty()) return;
  std::string set =
      resources_->identities().DefaultConfigurationSetFor(SenderOf(s, from));
  if (!set.empty() && resources_->configuration_sets().Exists(set))
    s.meta.config_set = set;
}

std::optional<Refusal> Admission::CheckPaused(const Submission& s) {
  if (!resources_->account().SendingEnabled())
    return Refuse(Refusal::Kind::kAccountPaused,
                  "Sending is paused for this account.");
  if (!s.meta.config_set.empty() &&
      !resources_->configuration_sets().SendingEnabled(s.meta.config_set))
    return Refuse(
        Refusal::Kind::kConfigSetPaused,
        "Sending is paused for configuration set " + s.meta.config_set + ".");
  return std::nullopt;
}

Caller CallerForKey(auth::KeyStore& keys, const std::string& key_id,
                    const std::string& account_id) {
  Caller c;
  auto [account, user] = keys.AccountOf(key_id);
  bool this_account = account.empty() || account == account_id;
  c.owner = this_account && user.empty();
  c.iam_user = this_account && !user.empty();
  c.who = {this_account ? account_id : account, user};
  return c;
}

// Sending authorization (SES developer guide, "sending authorization"): a
// key of another account may send for an identity of this account only as
// the identity's policies allow; an identity ARN in the request names the
// identity, otherwise the From address's most specific identity does.
std::optional<Refusal> Admission::Authorize(const Submission& s,
                                            const From& f) {
  const Caller& c = s.caller;
  if (c.owner && c.identity_arn.empty()) return std::nullopt;
  const std::string& from = f.address;
  const std::string& display = f.display;
  auto denied = [&c](const std::string& resource) {
    // An IAM user hears IAM's words; another account, SES's sending
    // authorization's.
    if (c.iam_user)
      return Refuse(Refusal::Kind::kNotAuthorized,
                    auth::DeniedMessage(c.who.Arn(), c.action, resource));
    return Refuse(Refusal::Kind::kNotAuthorized,
                  "User `" + c.who.Arn() + "' is not authorized to perform `" +
                      c.action + "' on resource `" + resource + "'");
  };
  std::string identity;
  if (!c.identity_arn.empty()) {
    std::string prefix = resources_->identities().Arn("");
    if (c.identity_arn.rfind(prefix, 0) != 0) return denied(c.identity_arn);
    identity = AsciiLowerCopy(c.identity_arn.substr(prefix.size()));
    if (!resources_->identities().Exists(identity))
      return Refuse(Refusal::Kind::kRejected,
                    "Identity <" + identity + "> does not exist.");
    if (!BelongsTo(from, identity))
      return Refuse(
          Refusal::Kind::kRejected,
          "From address " + from + " does not belong to " + c.identity_arn);
    if (c.owner) return std::nullopt;
  } else {
    identity = resources_->identities().IdentityFor(from);
  }
  if (identity.empty() && !c.iam_user) return denied(from);
  // An IAM user's policy names the From address's identity even when it is
  // not one (yet): verification refuses it later, in its own words.
  std::string arn = resources_->identities().Arn(
      identity.empty() ? AsciiLowerCopy(from) : identity);
  std::vector<std::string> docs;
  if (auto policies = resources_->identities().Policies(identity);
      policies.ok()) {
    for (auto& [name, doc] : *policies) docs.push_back(doc);
  }
  auth::AuthzRequest r;
  r.principal = c.who;
  r.action = c.action;
  r.resource = arn;
  r.context["ses:FromAddress"] = {from};
  if (!display.empty()) r.context["ses:FromDisplayName"] = {display};
  for (const auto& rc : s.meta.recipients)
    r.context["ses:Recipients"].push_back(rc.address);
  r.context["ses:FeedbackAddress"] = {s.meta.mail_from};
  r.context["ses:ApiVersion"] = {c.api};
  r.context["aws:CurrentTime"] = {IsoTime(NowMillis())};
  r.context["aws:PrincipalAccount"] = {c.who.account};
  if (!c.source_ip.empty()) r.context["aws:SourceIp"] = {c.source_ip};
  r.context["aws:SecureTransport"] = {c.secure ? "true" : "false"};
  if (c.iam_user) {
    auth::Decision d =
        iam_ ? iam_->Decide(c.who.user, r, docs) : auth::Decision::kDeny;
    // SMTP is ses:SendRawEmail, as in SES; a policy written for the API's
    // ses:SendEmail covers it too (an explicit Deny of either still wins).
    if (d == auth::Decision::kNotApplicable && c.api == "smtp") {
      r.action = "ses:SendEmail";
      d = iam_->Decide(c.who.user, r, docs);
    }
    if (d != auth::Decision::kAllow) return denied(arn);
    return std::nullopt;
  }
  if (auth::Evaluate(docs, r) != auth::Decision::kAllow) return denied(arn);
  return std::nullopt;
}

// Production: the sender must be a verified identity (the address, its
// domain or a parent) unless identities are auto-verified. The sandbox:
// every recipient too.
std::optional<Refusal> Admission::CheckVerified(const Submission& s,
                                                const From& from) {
  auto not_verified = [this](const std::string& list) {
    return Refuse(Refusal::Kind::kRejected,
                  "Email address is not verified. The following identities "
                  "failed the check in region " +
                      Upper(options_.region) + ": " + list);
  };
  if (!options_.auto_verify) {
    std::string sender = SenderOf(s, from);
    if (sender.empty()) sender = s.meta.mail_from;
    if (!resources_->identities().Verified(sender)) return not_verified(sender);
  }
  if (!options_.sandbox) return std::nullopt;
  std::string unverified;
  for (const auto& r : s.meta.recipients) {
    if (!resources_->identities().Verified(r.address))
      unverified += (unverified.empty() ? "" : ", ") + r.address;
  }
  if (!unverified.empty()) return not_verified(unverified);
  return std::nullopt;
}

// Custom MAIL FROM: the return path moves to the identity's MAIL FROM
// domain once its MX and SPF check out; until then, the default, or a
// refusal when the identity asks for one.
std::optional<Refusal> Admission::ApplyMailFrom(Submission& s) {
  if (s.source == Source::kInternal || s.source == Source::kInbound ||
      s.meta.mail_from.empty())
    return std::nullopt;
  ses::MailFrom mf = resources_->identities().MailFromFor(s.meta.mail_from);
  if (mf.domain.empty()) return std::nullopt;
  if (mf.verified) {
    std::string& from = s.meta.mail_from;
    from = from.substr(0, from.rfind('@')) + "@" + mf.domain;
    return std::nullopt;
  }
  if (!mf.reject_on_failure) return std::nullopt;
  return Refuse(
      Refusal::Kind::kMailFromNotVerified,
      "The custom MAIL FROM domain " + mf.domain + " is not verified.");
}

// DKIM: once per message, before it is durable, so every retry and every
// recipient sends the same signed bytes. RSA signing is ~1 ms of CPU, so it
// runs on the signing pool, never on the caller's event loop.
void Admission::SignAndCommit(Submission s, const std::string& from,
                              int64_t taken_ms, Done done) {
  bool sign = dkim_ && s.source != Source::kInbound && dkim_->SignsFor(from);
  if (!sign) {
    Commit(std::move(s), taken_ms, std::move(done));
    return;
  }
  auto work = [this, s = std::move(s), taken_ms,
               done = std::move(done)]() mutable {
    size_t unsigned_size = s.content.size();
    s.content = dkim_->SignIfPossible(s.content, NowMillis() / 1000);
    if (s.content.size() > unsigned_size)
      signed_.fetch_add(1, std::memory_order_relaxed);
    Commit(std::move(s), taken_ms, std::move(done));
  };
  if (pool_) {
    pool_->Post(std::move(work));
  } else {
    work();
  }
}

void Admission::Commit(Submission s, int64_t taken_ms, Done done) {
  if (s.source == Source::kApi) MarkEncodings(&s.meta, s.content);
  int recipients = static_cast<int>(s.meta.recipients.size());
  // The mailbox entry needs the meta after the spool has taken it.
  std::optional<spool::MessageMeta> listed;
  if (mailbox_ && s.source != Source::kInbound) listed = s.meta;
  int source = static_cast<int>(s.source);
  spool_->Commit(
      std::move(s.meta), std::move(s.content),
      [this, taken_ms, recipients, source, listed = std::move(listed),
       done = std::move(done)](Status st) {
        if (st.ok()) {
          if (listed) mailbox_->Admitted(*listed);
          admitted_[source].fetch_add(1, std::memory_order_relaxed);
          done(std::nullopt);
          return;
        }
        if (taken_ms) {
          quota_->GiveBack(recipients, taken_ms);
          quota_returned_.fetch_add(1, std::memory_order_relaxed);
        }
        Refusal r{Refusal::Kind::kNotStored, st.error().message(),
                  st.error().transient()};
        Count(r);
        done(std::move(r));
      });
}

}  // namespace sesame::admission
