#include "dns/resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <random>

#include "base/log.h"
#include "dns/message.h"

namespace sesame::dns {
namespace {

constexpr char kLog[] = "dns";
constexpr uint32_t kMaxCacheTtl = 3600;

std::string Lower(std::string s) {
  for (char& c : s) c = (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

Error FromAresStatus(int status, const std::string& what) {
  std::string msg = what + ": " + ares_strerror(status);
  if (status == ARES_ENOTFOUND) return Error::Permanent("dns_nxdomain", msg);
  return Error::Transient(status == ARES_ETIMEOUT ? "dns_timeout" : "dns_error",
                          msg);
}

}  // namespace

struct Resolver::Impl {
  ares_channel channel = nullptr;
  int wake[2] = {-1, -1};
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mu;  // guards queue
  std::vector<std::function<void()>> queue;
  std::mt19937 rng{std::random_device{}()};

  struct CacheEntry {
    std::chrono::steady_clock::time_point expires;
    MxResult result;
  };
  std::map<std::string, CacheEntry> cache;  // resolver thread only

  using QueryCallback = std::function<void(int status, const Message* msg)>;

  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.push_back(std::move(fn));
    }
    char b = 1;
    ssize_t unused = ::write(wake[1], &b, 1);
    (void)unused;
  }

  void Query(const std::string& name, int type, QueryCallback cb) {
    auto* heap = new QueryCallback(std::move(cb));
    ares_query(
        channel, name.c_str(), ns_c_in, type,
        [](void* arg, int status, int, unsigned char* abuf, int alen) {
          std::unique_ptr<QueryCallback> cb(static_cast<QueryCallback*>(arg));
          if (status != ARES_SUCCESS) {
            (*cb)(status, nullptr);
            return;
          }
          auto m = ParseMessage(
              std::string_view(reinterpret_cast<char*>(abuf), alen));
          if (!m.ok()) {
            (*cb)(ARES_EBADRESP, nullptr);
            return;
          }
          (*cb)(ARES_SUCCESS, &*m);
        },
        heap);
  }

  // A and AAAA for `host`; done(addresses, min ttl, error-if-both-failed).
  void Addresses(const std::string& host,
                 std::function<void(std::vector<std::string>, uint32_t,
                                    std::optional<Error>)>
                     done) {
    struct State {
      std::vector<std::string> v4, v6;
      uint32_t ttl = kMaxCacheTtl;
      int pending = 2;
      std::optional<Error> error;
      bool nx = false;
      std::function<void(std::vector<std::string>, uint32_t,
                         std::optional<Error>)>
          done;
    };
    auto st = std::make_shared<State>();
    st->done = std::move(done);
    for (int type : {ns_t_a, ns_t_aaaa}) {
      Query(host, type, [st, type, host](int status, const Message* m) {
        if (m) {
          for (const auto& r : m->answers) {
            if (r.type == type) {
              (type == ns_t_a ? st->v4 : st->v6).push_back(r.address);
              st->ttl = std::min(st->ttl, r.ttl);
            }
          }
        } else if (status == ARES_ENOTFOUND) {
          st->nx = true;
        } else if (status != ARES_ENODATA) {
          st->error = FromAresStatus(status, "address lookup for " + host);
        }
        if (--st->pending > 0) return;
        std::vector<std::string> all = st->v4;
        all.insert(all.end(), st->v6.begin(), st->v6.end());
        std::optional<Error> err;
        if (all.empty()) {
          if (st->error) {
            err = st->error;
          } else if (st->nx) {
            err = Error::Permanent(
                "dns_nxdomain", "host " + host + " does not exist (NXDOMAIN)");
          } else {
            err = Error::Permanent("dns_nodata",
                                   "host " + host + " has no A or AAAA record");
          }
        }
        st->done(std::move(all), st->ttl, err);
      });
    }
  }

  void Deliver(const std::string& key, MxResult result, uint32_t ttl,
               const MxCallback& done) {
    if (ttl > 0) {
      cache[key] = {std::chrono::steady_clock::now() +
                        std::chrono::seconds(std::min(ttl, kMaxCacheTtl)),
                    result};
    }
    Shuffle(&result);
    done(std::move(result));
  }

  void Shuffle(MxResult* r) {
    auto& h = r->hosts;
    std::stable_sort(h.begin(), h.end(), [](const MxHost& a, const MxHost& b) {
      return a.preference < b.preference;
    });
    for (size_t i = 0; i < h.size();) {
      size_t j = i;
      while (j < h.size() && h[j].preference == h[i].preference) ++j;
      std::shuffle(h.begin() + i, h.begin() + j, rng);
      i = j;
    }
  }

  bool FromCache(const std::string& key, const MxCallback& done) {
    auto it = cache.find(key);
    if (it == cache.end()) return false;
    if (it->second.expires < std::chrono::steady_clock::now()) {
      cache.erase(it);
      return false;
    }
    MxResult r = it->second.result;
    Shuffle(&r);
    done(std::move(r));
    return true;
  }

  // One query per name at a time: concurrent requests for the same key wait
  // for the first one's answer (a burst of mail to one domain must not send
  // a burst of identical queries).
  std::map<std::string, std::vector<MxCallback>> in_flight;

  void Coalesced(const std::string& key, MxCallback done,
                 std::function<void(MxCallback)> start) {
    if (FromCache(key, done)) return;
    auto& waiters = in_flight[key];
    waiters.push_back(std::move(done));
    if (waiters.size() > 1) return;
    start([this, key](Result<MxResult> r) {
      std::vector<MxCallback> ws = std::move(in_flight[key]);
      in_flight.erase(key);
      for (auto& w : ws) {
        Result<MxResult> copy = r;
        if (copy.ok()) Shuffle(&*copy);
        w(std::move(copy));
      }
    });
  }

  void StartMx(const std::string& domain, MxCallback done) {
    std::string key = "mx:" + domain;
    if (FromCache(key, done)) return;
    Query(
        domain, ns_t_mx,
        [this, domain, key, done](int status, const Message* m) {
          if (!m && status == ARES_ENODATA) {
            ImplicitMx(domain, key, done);
            return;
          }
          if (!m) {
            done(FromAresStatus(status, "MX lookup for " + domain));
            return;
          }
          std::vector<Record> mx;
          for (const auto& r : m->answers) {
            if (r.type == ns_t_mx) mx.push_back(r);
          }
          if (mx.empty()) {
            ImplicitMx(domain, key, done);
            return;
          }
          for (const auto& r : mx) {
            if (r.target.empty()) {
              done(Error::Permanent(
                  "null_mx", "domain " + domain +
                                 " does not accept mail (null MX, RFC 7505)"));
              return;
            }
          }
          struct State {
            MxResult result;
            uint32_t ttl = kMaxCacheTtl;
            int pending = 0;
            std::optional<Error> last_error;
          };
          auto st = std::make_shared<State>();
          for (const auto& r : mx) {
            MxHost h;
            h.name = r.target;
            h.preference = r.preference;
            st->ttl = std::min(st->ttl, r.ttl);
            st->result.hosts.push_back(std::move(h));
          }
          st->pending = static_cast<int>(st->result.hosts.size());
          for (size_t i = 0; i < st->result.hosts.size(); ++i) {
            std::string host = st->result.hosts[i].name;
            Addresses(host, [this, st, i, key, domain, done](
                                std::vector<std::string> addrs, uint32_t ttl,
                                std::optional<Error> err) {
              if (err) {
                st->last_error = err;
              } else {
                st->result.hosts[i].addresses = std::move(addrs);
                st->ttl = std::min(st->ttl, ttl);
              }
              if (--st->pending > 0) return;
              auto& hosts = st->result.hosts;
              hosts.erase(std::remove_if(hosts.begin(), hosts.end(),
                                         [](const MxHost& h) {
                                           return h.addresses.empty();
                                         }),
                          hosts.end());
              if (hosts.empty()) {
                // Every MX host failed to resolve: retry later rather than
                // bounce.
                done(Error::Transient(
                    "dns_mx_unresolvable",
                    "no MX host of " + domain + " resolves" +
                        (st->last_error ? ": " + st->last_error->message()
                                        : "")));
                return;
              }
              Deliver(key, std::move(st->result), st->ttl, done);
            });
          }
        });
  }

  void ImplicitMx(const std::string& domain, const std::string& key,
                  MxCallback done) {
    Addresses(domain, [this, domain, key, done](std::vector<std::string> addrs,
                                                uint32_t ttl,
                                                std::optional<Error> err) {
      if (err) {
        if (err->code() == "dns_nodata") {
          done(Error::Permanent(
              "dns_no_mail_host",
              "domain " + domain + " has no MX, A or AAAA record"));
        } else {
          done(*err);
        }
        return;
      }
      MxResult r;
      r.implicit = true;
      r.hosts.push_back({domain, 0, std::move(addrs)});
      Deliver(key, std::move(r), ttl, done);
    });
  }

  void StartHost(const std::string& host, MxCallback done) {
    std::string key = "host:" + host;
    if (FromCache(key, done)) return;
    // An IP literal needs no lookup.
    unsigned char buf[16];
    if (inet_pton(AF_INET, host.c_str(), buf) == 1 ||
        inet_pton(AF_INET6, host.c_str(), buf) == 1) {
      MxResult r;
      r.hosts.push_back({host, 0, {host}});
      done(std::move(r));
      return;
    }
    Addresses(host,
              [this, host, key, done](std::vector<std::string> addrs,
                                      uint32_t ttl, std::optional<Error> err) {
                if (err) {
                  done(*err);
                  return;
                }
                MxResult r;
                r.hosts.push_back({host, 0, std::move(addrs)});
                Deliver(key, std::move(r), ttl, done);
              });
  }

  void Loop() {
    while (!stop) {
      std::vector<std::function<void()>> work;
      {
        std::lock_guard<std::mutex> lock(mu);
        work.swap(queue);
      }
      for (auto& w : work) w();
      ares_socket_t socks[ARES_GETSOCK_MAXNUM];
      int mask = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
      std::vector<pollfd> fds;
      fds.push_back({wake[0], POLLIN, 0});
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short ev = 0;
        if (ARES_GETSOCK_READABLE(mask, i)) ev |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(mask, i)) ev |= POLLOUT;
        if (ev) fds.push_back({socks[i], ev, 0});
      }
      timeval maxtv{0, 200000}, tv;
      timeval* t = ares_timeout(channel, &maxtv, &tv);
      int timeout_ms = static_cast<int>(t->tv_sec * 1000 + t->tv_usec / 1000);
      int n = ::poll(fds.data(), fds.size(), timeout_ms);
      if (n < 0) continue;
      if (fds[0].revents & POLLIN) {
        char b[64];
        while (::read(wake[0], b, sizeof b) > 0) {
        }
      }
      bool any = false;
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents) {
          any = true;
          ares_process_fd(
              channel,
              (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd
                                                              : ARES_SOCKET_BAD,
              (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD);
        }
      }
      if (!any)
        ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
    }
  }
};

Resolver::Resolver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Resolver>> Resolver::Create(ResolverOptions options) {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  auto impl = std::make_unique<Impl>();
  ares_options opts{};
  opts.timeout = options.timeout_ms;
  opts.tries = options.tries;
  int rc = ares_init_options(&impl->channel, &opts,
                             ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
  if (rc != ARES_SUCCESS)
    return Error::Permanent("dns",
                            std::string("c-ares init: ") + ares_strerror(rc));
  if (!options.servers.empty()) {
    rc = ares_set_servers_ports_csv(impl->channel, options.servers.c_str());
    if (rc != ARES_SUCCESS) {
      ares_destroy(impl->channel);
      return Error::Permanent("dns", "bad resolver address '" +
                                         options.servers +
                                         "': " + ares_strerror(rc));
    }
  }
  if (::pipe2(impl->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    ares_destroy(impl->channel);
    return Error::Permanent("dns", "pipe failed");
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::~Resolver() {
  impl_->stop = true;
  impl_->Post([] {});
  impl_->thread.join();
  ares_destroy(
      impl_->channel);  // runs pending callbacks with ARES_EDESTRUCTION
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
}

void Resolver::ResolveMx(const std::string& domain, MxCallback done) {
  std::string d = Lower(domain);
  impl_->Post([this, d, done = std::move(done)]() mutable {
    impl_->Coalesced("mx:" + d, std::move(done), [this, d](MxCallback cb) {
      impl_->StartMx(d, std::move(cb));
    });
  });
}

void Resolver::ResolveTxt(const std::string& name, TxtCallback done) {
  std::string n = Lower(name);
  impl_->Post([this, n, done = std::move(done)]() mutable {
    impl_->Query(n, ns_t_txt, [n, done](int status, const Message* m) {
      if (!m) {
        if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
          done(std::vector<std::string>());
        } else {
          done(FromAresStatus(status, "TXT lookup for " + n));
        }
        return;
      }
      std::vector<std::string> out;
      for (const auto& r : m->answers) {
        if (r.type == ns_t_txt) out.push_back(r.text);
      }
      done(std::move(out));
    });
  });
}

void Resolver::ResolveHost(const std::string& host, MxCallback done) {
  std::string h = Lower(host);
  impl_->Post([this, h, done = std::move(done)]() mutable {
    impl_->Coalesced("host:" + h, std::move(done), [this, h](MxCallback cb) {
      impl_->StartHost(h, std::move(cb));
    });
  });
}

}  // namespace sesame::dns
