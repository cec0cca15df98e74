#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "dns/resolver.h"
#include "ses/dkim_keys.h"
#include "store/store.h"

namespace sesame::ses {

// Verifies domain identities by DNS and keeps re-checking them: a domain is
// SUCCESS when its `_amazonses.<domain>` TXT holds the verification token
// (v1) or its DKIM record publishes Sesame's key (v2). A domain never seen
// verified stays PENDING, and FAILED after `failure_after_seconds`; a domain
// whose records vanish goes TEMPORARY_FAILURE, then FAILED after the same
// time since its last success; a DNS error is TEMPORARY_FAILURE. Every check
// records LastCheckedTimestamp (and LastSuccessTimestamp). DKIM has a status
// of its own (DkimStatus), from its record alone: a domain verified by its
// token with no DKIM record published is not DKIM SUCCESS.
//
// Owned by the app. Runs on its own thread; Stop() joins it.
class IdentityVerifier {
 public:
  // mx_host: the name a custom MAIL FROM domain's MX must point to (ours).
  IdentityVerifier(store::Store* store, DkimKeys* dkim, dns::Resolver* resolver,
                   int interval_seconds, int failure_after_seconds,
                   std::string mx_host = "")
      : mx_host_(std::move(mx_host)),
        store_(store),
        dkim_(dkim),
        resolver_(resolver),
        interval_(interval_seconds),
        failure_after_(failure_after_seconds) {}
  ~IdentityVerifier() { Stop(); }

  void Start();
  void Stop();
  // One pass over every domain identity (also used by tests).
  void CheckAll();

 private:
  std::string CheckMailFrom(const std::string& domain);
  std::string mx_host_;
  // What one round of DNS found for a domain: its _amazonses token and its
  // DKIM record (each, or a DNS error).
  struct Found {
    bool token = false, token_transient = false;
    bool dkim = false, dkim_transient = false;
  };
  Found Probe(const std::string& domain);

  store::Store* store_;
  DkimKeys* dkim_;
  dns::Resolver* resolver_;
  int interval_, failure_after_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace sesame::ses
