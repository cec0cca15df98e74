#include "ses/verifier.h"

#include <boost/json.hpp>
#include <future>

#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "ses/identities.h"

namespace sesame::ses {
namespace json = boost::json;

namespace {

Result<std::vector<std::string>> Txt(dns::Resolver* r,
                                     const std::string& name) {
  std::promise<Result<std::vector<std::string>>> p;
  r->ResolveTxt(name, [&](Result<std::vector<std::string>> res) {
    p.set_value(std::move(res));
  });
  return p.get_future().get();
}

// The p= value of a DKIM TXT record, whitespace removed.
std::string PublicKey(const std::string& record) {
  size_t p = record.find("p=");
  if (p == std::string::npos) return "";
  std::string out;
  for (size_t i = p + 2; i < record.size() && record[i] != ';'; ++i) {
    if (record[i] != ' ' && record[i] != '\t') out += record[i];
  }
  return out;
}

}  // namespace

void IdentityVerifier::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      // One node of a cluster verifies (the store's leader); the others
      // look every 5 s whether they lead now.
      bool leader = store_->IsLeader();
      lock.unlock();
      if (leader) CheckAll();
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(leader ? interval_ : 5),
                   [this] { return stop_; });
    }
  });
}

void IdentityVerifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

namespace {

// One status from what the last check found: SUCCESS when the record is
// there; a DNS error is TEMPORARY_FAILURE; a record never seen stays
// PENDING, and FAILED `failure_after` seconds after creation (or after its
// last success, TEMPORARY_FAILURE until then).
std::string Transition(bool found, bool transient, const std::string& previous,
                       int64_t created, int64_t last_success, int64_t now,
                       int failure_after) {
  if (found) return "SUCCESS";
  if (transient) return "TEMPORARY_FAILURE";
  int64_t since = last_success > 0 ? last_success : created;
  if (now - since >= failure_after) return "FAILED";
  return last_success > 0 || previous == "SUCCESS" ? "TEMPORARY_FAILURE"
                                                   : "PENDING";
}

int64_t Seconds(const json::object& o, const char* key, int64_t absent) {
  auto* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<int64_t>() : absent;
}

}  // namespace

IdentityVerifier::Found IdentityVerifier::Probe(const std::string& domain) {
  Found f;
  auto token = Txt(resolver_, "_amazonses." + domain);
  if (!token.ok()) {
    f.token_transient = true;
  } else {
    for (const auto& t : *token) f.token |= t == VerificationToken(domain);
  }
  if (auto info = dkim_->Find(domain)) {
    auto rec = Txt(resolver_, info->dns_name);
    if (!rec.ok()) {
      f.dkim_transient = true;
    } else {
      for (const auto& t : *rec)
        f.dkim |= PublicKey(t) == PublicKey(info->dns_value);
    }
  }
  return f;
}

// A MAIL FROM domain needs an MX to this server (bounces come back to us)
// and an SPF record.
std::string IdentityVerifier::CheckMailFrom(const std::string& domain) {
  std::promise<Result<dns::MxResult>> p;
  resolver_->ResolveMx(
      domain, [&](Result<dns::MxResult> r) { p.set_value(std::move(r)); });
  auto mx = p.get_future().get();
  if (!mx.ok()) return mx.error().transient() ? "TEMPORARY_FAILURE" : "FAILED";
  bool ours = false;
  for (const auto& h : mx->hosts)
    ours |= !mx->implicit && AsciiLowerCopy(h.name) == AsciiLowerCopy(mx_host_);
  auto txt = Txt(resolver_, domain);
  if (!txt.ok()) return "TEMPORARY_FAILURE";
  bool spf = false;
  for (const auto& t : *txt) spf |= t.rfind("v=spf1", 0) == 0;
  return ours && spf ? "SUCCESS" : "FAILED";
}

void IdentityVerifier::CheckAll() {
  auto rows = store_->List("identity", "", 100000);
  if (!rows.ok()) return;
  int64_t now = NowMillis() / 1000;
  for (auto& [name, body] : *rows) {
    if (name.find('@') != std::string::npos)
      continue;  // addresses are verified by link, not DNS
    json::object o = DocumentObject(body);
    std::string previous =
        o.contains("VerificationStatus")
            ? std::string(o["VerificationStatus"].as_string())
            : "";
    int64_t created = Seconds(o, "CreatedTimestamp", now);
    int64_t last_success = Seconds(o, "LastSuccessTimestamp", 0);
    int64_t dkim_success = Seconds(o, "DkimLastSuccessTimestamp", 0);
    // The identity is verified by its _amazonses token or its DKIM record
    // (v1 and v2 ways); DKIM's own status is its record's alone.
    Found f = Probe(name);
    std::string status =
        Transition(f.token || f.dkim, f.token_transient || f.dkim_transient,
                   previous, created, last_success, now, failure_after_);
    std::string dkim_status =
        Transition(f.dkim, f.dkim_transient, JsonString(o, "DkimStatus"),
                   created, dkim_success, now, failure_after_);
    if (status != previous)
      SESAME_LOG(kInfo, "identity")
          << name << ": " << previous << " -> " << status;
    // A pending DKIM rotation is promoted once its record resolves.
    if (auto info = dkim_->Find(name); info && !info->next_selector.empty()) {
      auto rec = Txt(resolver_, info->next_dns_name);
      bool published = false;
      if (rec.ok()) {
        for (const auto& t : *rec)
          published |= PublicKey(t) == PublicKey(info->next_dns_value);
      }
      if (published) {
        (void)dkim_->Promote(name);
        SESAME_LOG(kInfo, "identity") << name << ": DKIM selector "
                                      << info->next_selector << " now signs";
      }
    }
    std::string mail_from, mail_from_status;
    if (auto* mf = o.if_contains("MailFromDomain"); mf && mf->is_string()) {
      mail_from = std::string(mf->as_string());
      mail_from_status = CheckMailFrom(mail_from);
    }
    // The checks took DNS round trips: write the results into the document
    // as it is now, not as it was read (a MAIL FROM domain or DKIM setting
    // changed meanwhile through the API must not be lost).
    auto current = LoadIdentityDocument(store_, name);
    if (!current.ok()) continue;  // deleted meanwhile
    json::object& d = *current;
    d["VerificationStatus"] = status;
    d["LastCheckedTimestamp"] = now;
    if (status == "SUCCESS") d["LastSuccessTimestamp"] = now;
    if (dkim_->Find(name)) d["DkimStatus"] = dkim_status;
    if (dkim_status == "SUCCESS") d["DkimLastSuccessTimestamp"] = now;
    if (auto* mf = d.if_contains("MailFromDomain");
        mf && mf->is_string() && mf->as_string() == mail_from &&
        !mail_from.empty())
      d["MailFromDomainStatus"] = mail_from_status;
    (void)store_->Put("identity", name, json::serialize(d), false);
  }
}

}  // namespace sesame::ses
