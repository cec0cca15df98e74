#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"

namespace sesame::dns {

struct MxHost {
  std::string name;
  uint16_t preference = 0;
  std::vector<std::string> addresses;  // A then AAAA, text form
};

struct MxResult {
  std::vector<MxHost>
      hosts;  // preference order; equal preferences shuffled per call
  bool implicit = false;  // no MX: the domain's own A/AAAA (RFC 5321 5.1)
};

struct ResolverOptions {
  std::string servers;  // "127.0.0.1:5353,[::1]:53"; empty: /etc/resolv.conf
  int timeout_ms = 2000;
  int tries = 2;
};

// Asynchronous MX/address resolution on c-ares, with a TTL cache. c-ares
// runs on the resolver's own thread (poll loop); requests are queued from any
// thread and callbacks run on the resolver thread, so they must only post
// work elsewhere. Errors: NXDOMAIN and null MX (RFC 7505) are permanent;
// SERVFAIL, timeouts and refused queries are transient.
//
// Owned by the app. Thread-safe.
class Resolver {
 public:
  using MxCallback = std::function<void(Result<MxResult>)>;

  static Result<std::unique_ptr<Resolver>> Create(ResolverOptions options);
  ~Resolver();

  void ResolveMx(const std::string& domain, MxCallback done);
  // Addresses of one host (for static routes); an MxResult with one host.
  void ResolveHost(const std::string& host, MxCallback done);
  // TXT records of a name (each record's strings joined). No cache: used for
  // identity verification, which wants fresh answers. NXDOMAIN and NODATA
  // give an empty list; SERVFAIL and timeouts are transient errors.
  using TxtCallback = std::function<void(Result<std::vector<std::string>>)>;
  void ResolveTxt(const std::string& name, TxtCallback done);

 private:
  struct Impl;
  explicit Resolver(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sesame::dns
