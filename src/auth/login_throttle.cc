#include "auth/login_throttle.h"

#include <algorithm>

namespace sesame::auth {

LoginThrottle::Entry& LoginThrottle::Touch(
    std::unordered_map<std::string, Entry>& table, const std::string& key,
    int64_t now_ms) {
  auto it = table.find(key);
  if (it == table.end() && table.size() >= limits_.max_entries) {
    // Full: drop expired windows first, then the oldest window.
    std::erase_if(table, [&](const auto& kv) {
      return now_ms - kv.second.window_start_ms >= limits_.window_ms &&
             kv.second.locked_until_ms <= now_ms;
    });
    if (table.size() >= limits_.max_entries) {
      // The oldest entry that is not locked out goes first: failing from
      // many addresses must not flush an attacker's own lockout.
      auto older = [&](const auto& a, const auto& b) {
        bool la = a.second.locked_until_ms > now_ms,
             lb = b.second.locked_until_ms > now_ms;
        if (la != lb) return !la;
        return a.second.window_start_ms < b.second.window_start_ms;
      };
      table.erase(std::min_element(table.begin(), table.end(), older));
    }
  }
  Entry& e = table[key];
  if (now_ms - e.window_start_ms >= limits_.window_ms &&
      e.locked_until_ms <= now_ms) {
    e = Entry{0, now_ms, 0};
  }
  return e;
}

int64_t LoginThrottle::DelayFor(int count) const {
  int over = count - limits_.free_failures;
  if (over <= 0) return 0;
  int64_t d = limits_.base_delay_ms;
  for (int i = 1; i < over && d < limits_.max_delay_ms; ++i) d *= 2;
  return std::min(d, limits_.max_delay_ms);
}

int64_t LoginThrottle::LockedFor(const std::string& ip, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return 0;
  return std::max<int64_t>(0, it->second.locked_until_ms - now_ms);
}

int64_t LoginThrottle::Failed(const std::string& ip, const std::string& user,
                              int64_t now_ms) {
  std::lock_guard lock(mu_);
  ++failures_;
  Entry& a = Touch(by_ip_, ip, now_ms);
  ++a.count;
  if (a.count >= limits_.lockout_failures && a.locked_until_ms <= now_ms) {
    a.locked_until_ms = now_ms + limits_.lockout_ms;
    ++lockouts_;
  }
  int64_t delay = DelayFor(a.count);
  if (!user.empty()) {
    Entry& u = Touch(by_user_, user, now_ms);
    ++u.count;
    delay = std::max(delay, DelayFor(u.count));
  }
  return delay;
}

void LoginThrottle::Succeeded(const std::string& ip, const std::string& user) {
  std::lock_guard lock(mu_);
  by_ip_.erase(ip);
  by_user_.erase(user);
}

size_t LoginThrottle::entries() const {
  std::lock_guard lock(mu_);
  return by_ip_.size() + by_user_.size();
}

uint64_t LoginThrottle::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}
uint64_t LoginThrottle::lockouts() const {
  std::lock_guard lock(mu_);
  return lockouts_;
}

}  // namespace sesame::auth
