#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
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
  std::function<std::string()> extra_metrics;
  std::function<std::string()> dead_letters_json;
  std::function<int(const std::string& id)> redrive;  // "" = all
  std::function<int(const std::string& id)> purge;    // "" = all
};

class Server {
 public:
  Server(const config::Config& config, spool::Spool* spool, AdminHooks hooks = {});
  ~Server();

  // Creates the TLS context and binds every enabled listener.
  Status Start();
  // Runs the event loops until Stop(); blocks the caller.
  void Run();
  void Stop();

  // Actual bound ports (useful when configured as 0).
  struct Bound {
    std::string name;
    std::string address;
    uint16_t port;
  };
  std::vector<Bound> bound() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sesame::net
