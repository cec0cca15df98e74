#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admission/admission.h"
#include "base/result.h"
#include "config/config.h"
#include "metrics/registry.h"
#include "net/http.h"
#include "smtp/server_session.h"
#include "spool/spool.h"

namespace sesame::net {

// Everything network-facing in `sesame serve`: one io_context per thread,
// the SMTP listeners (submission with STARTTLS, implicit TLS, inbound MX)
// and the HTTP listener (health endpoints for now). Each connection lives
// on one thread for its whole life.
//
// Owned by the app. Start() and Run() are called from the main thread;
// Stop() is safe from any thread (e.g. a signal handler thread).
// Operations the HTTP admin endpoints expose; supplied by the app so that
// net does not depend on the services behind them.
struct AdminHooks {
  // Serves every HTTP request (health, metrics, admin, the SES APIs).
  HttpHandler http;
  // Additional SMTP AUTH check (SES SMTP passwords of access keys).
  std::function<bool(std::string_view user, std::string_view password)>
      authenticate;
  // Extra domains the MX accepts (custom MAIL FROM domains of identities).
  std::function<bool(const std::string& domain)> is_mx_domain;
  // SES email receiving at the MX: a recipient's verdict (receipt rules),
  // and whether a client address is refused at connect (receipt filters).
  std::function<smtp::SessionOptions::RecipientVerdict(const std::string&,
                                                       bool tls)>
      receiving;
  std::function<bool(const std::string& ip)> mx_refuses;
};

class Server {
 public:
  // Every message a session accepts goes to `admission` (MX mail as
  // inbound); `spool` answers whether there is room before DATA.
  Server(const config::Config& config, spool::Spool* spool,
         admission::Admission* admission, AdminHooks hooks = {});
  ~Server();

  // Creates the TLS context and binds every enabled listener.
  Status Start();
  // Runs the event loops until Stop(); blocks the caller.
  void Run();
  void Stop();
  // The listeners' certificate and key read again (SIGHUP): new handshakes
  // use them; on an error the current pair stays. Any thread.
  Status ReloadCertificates(const std::string& cert_file,
                            const std::string& key_file);

  // Actual bound ports (useful when configured as 0).
  struct Bound {
    std::string name;
    std::string address;
    uint16_t port;
  };
  std::vector<Bound> bound() const;
  // The SMTP and HTTP listeners' families (atomics: read from any thread).
  void RegisterMetrics(metrics::Registry* registry);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sesame::net
