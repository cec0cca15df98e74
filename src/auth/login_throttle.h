#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sesame::auth {

// Brute-force protection for password logins (SMTP AUTH): failures are
// counted per client address and per username within a window. Past a few
// free failures each further one is answered after an exponentially growing
// delay; an address that keeps failing is locked out for a while. Only the
// failing address is locked out: a username under attack from many
// addresses is slowed (the delay), never locked, so its owner can still log
// in from elsewhere.
//
// Owned by the SMTP server, shared by its event loops. Thread-safe: one
// mutex around two small tables (logins are rare next to mail traffic; the
// hot path never takes it). Time is passed in, so tests need no clock.
class LoginThrottle {
 public:
  struct Limits {
    int free_failures = 3;        // per address or user, no delay
    int64_t base_delay_ms = 500;  // doubled for each further failure
    int64_t max_delay_ms = 8000;
    int lockout_failures = 10;  // per address within the window
    int64_t lockout_ms = 15 * 60 * 1000;
    int64_t window_ms = 15 * 60 * 1000;
    size_t max_entries = 100000;  // per table; the oldest go first
  };
  LoginThrottle() : LoginThrottle(Limits{}) {}
  explicit LoginThrottle(Limits limits) : limits_(limits) {}

  // Milliseconds `ip` is still locked out for (0: it may try).
  int64_t LockedFor(const std::string& ip, int64_t now_ms);
  // Records a failed login; returns the delay to impose before answering.
  int64_t Failed(const std::string& ip, const std::string& user,
                 int64_t now_ms);
  // A success clears the address's and the user's counts.
  void Succeeded(const std::string& ip, const std::string& user);

  uint64_t failures() const;
  size_t entries() const;  // addresses and users tracked (bounded)
  uint64_t lockouts() const;

 private:
  struct Entry {
    int count = 0;
    int64_t window_start_ms = 0;
    int64_t locked_until_ms = 0;
  };
  Entry& Touch(std::unordered_map<std::string, Entry>& table,
               const std::string& key, int64_t now_ms);
  int64_t DelayFor(int count) const;

  const Limits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_ip_, by_user_;
  uint64_t failures_ = 0, lockouts_ = 0;
};

}  // namespace sesame::auth
