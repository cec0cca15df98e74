#include "stats/stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

namespace sesame::stats {

namespace json = boost::json;

namespace {

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kKeep = 14 * 24 * 3600 * 1000LL;  // two weeks

struct Named {
  const char* name;
  uint64_t Counters::*field;
};
constexpr Named kFields[] = {{"sends", &Counters::sends},
                             {"deliveries", &Counters::deliveries},
                             {"bounces", &Counters::bounces},
                             {"soft_bounces", &Counters::soft_bounces},
                             {"complaints", &Counters::complaints},
                             {"deferrals", &Counters::deferrals},
                             {"rejects", &Counters::rejects}};

}  // namespace

void Counters::Add(const Counters& o) {
  for (const auto& f : kFields) this->*f.field += o.*f.field;
}

uint64_t Counters::*Stats::Field(const std::string& name) {
  for (const auto& f : kFields) {
    if (name == f.name) return f.field;
  }
  return nullptr;
}

void Stats::Record(Kind kind, uint64_t n, int64_t when_ms,
                   const std::string& config_set, const std::string& identity) {
  uint64_t Counters::*field = nullptr;
  switch (kind) {
    case Kind::kSend:
      field = &Counters::sends;
      break;
    case Kind::kDelivery:
      field = &Counters::deliveries;
      break;
    case Kind::kBounce:
      field = &Counters::bounces;
      break;
    case Kind::kSoftBounce:
      field = &Counters::soft_bounces;
      break;
    case Kind::kComplaint:
      field = &Counters::complaints;
      break;
    case Kind::kDeferral:
      field = &Counters::deferrals;
      break;
    case Kind::kReject:
      field = &Counters::rejects;
      break;
  }
  int64_t minute = when_ms / kMinute * kMinute;
  std::lock_guard<std::mutex> lock(mu_);
  minutes_[""][minute].*field += n;
  if (!config_set.empty()) minutes_["cs:" + config_set][minute].*field += n;
  if (!identity.empty()) minutes_["id:" + identity][minute].*field += n;
  dirty_.insert(minute);
  if (when_ms - last_prune_ms_ > 10 * kMinute) Prune(when_ms);
}

void Stats::Prune(int64_t now_ms) {
  last_prune_ms_ = now_ms;
  for (auto* all : {&minutes_, &peers_}) {
    for (auto& [scope, m] : *all)
      m.erase(m.begin(), m.lower_bound(now_ms - kKeep));
  }
}

std::map<int64_t, Counters> Stats::MergedLocked(const std::string& scope,
                                                int64_t from_ms,
                                                int64_t to_ms) {
  std::map<int64_t, Counters> out;
  for (auto* all : {&minutes_, &peers_}) {
    auto it = all->find(scope);
    if (it == all->end()) continue;
    for (auto m = it->second.lower_bound(from_ms);
         m != it->second.end() && m->first < to_ms; ++m)
      out[m->first].Add(m->second);
  }
  return out;
}

std::vector<Stats::Bucket> Stats::Series(const std::string& scope,
                                         int64_t from_ms, int64_t to_ms,
                                         int64_t bucket_ms) {
  std::vector<Bucket> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [minute, c] : MergedLocked(scope, from_ms, to_ms)) {
    int64_t start = from_ms + (minute - from_ms) / bucket_ms * bucket_ms;
    if (out.empty() || out.back().start_ms != start)
      out.push_back({start, Counters{}});
    out.back().c.Add(c);
  }
  return out;
}

Counters Stats::Total(const std::string& scope, int64_t from_ms,
                      int64_t to_ms) {
  Counters total;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [minute, c] : MergedLocked(scope, from_ms, to_ms))
    total.Add(c);
  return total;
}

uint64_t Stats::MaxPerMinute(const std::string& scope,
                             const std::string& counter, int64_t from_ms,
                             int64_t to_ms) {
  uint64_t Counters::*field = Field(counter);
  if (!field) return 0;
  uint64_t best = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [minute, c] : MergedLocked(scope, from_ms, to_ms))
    best = std::max(best, c.*field);
  return best;
}

Reputation Stats::ReputationOf(const std::string& scope, int64_t now_ms) {
  int64_t from = now_ms - options_.window_ms;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto f = fresh_start_.find(scope);
    if (f != fresh_start_.end()) from = std::max(from, f->second);
  }
  Counters c = Total(scope, from, now_ms + kMinute);
  Reputation r;
  r.sends = c.sends;
  r.bounces = c.bounces;
  r.complaints = c.complaints;
  if (c.sends == 0) return r;
  r.bounce_rate = double(c.bounces) / double(c.sends);
  r.complaint_rate = double(c.complaints) / double(c.sends);
  if (c.sends < options_.min_sends) return r;  // not representative yet
  if (r.bounce_rate >= options_.shutdown_bounce ||
      r.complaint_rate >= options_.shutdown_complaint) {
    r.status = "SHUTDOWN";
  } else if (r.bounce_rate >= options_.probation_bounce ||
             r.complaint_rate >= options_.probation_complaint) {
    r.status = "PROBATION";
  }
  return r;
}

std::vector<std::string> Stats::Scopes() {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> all;
  for (const auto& [scope, m] : minutes_) all.insert(scope);
  for (const auto& [scope, m] : peers_) all.insert(scope);
  return {all.begin(), all.end()};
}

void Stats::FreshStart(const std::string& scope, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  fresh_start_[scope] = now_ms;
}

std::vector<std::pair<int64_t, std::string>> Stats::TakeDirtyMinutes() {
  std::vector<std::pair<int64_t, std::string>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t minute : dirty_) {
    json::object doc;
    for (const auto& [scope, m] : minutes_) {
      auto it = m.find(minute);
      if (it == m.end()) continue;
      json::array row;
      for (const auto& f : kFields) row.push_back(it->second.*f.field);
      doc[scope] = std::move(row);
    }
    out.emplace_back(minute, json::serialize(doc));
  }
  dirty_.clear();
  return out;
}

bool Stats::ParseMinute(const std::string& text, int64_t minute,
                        Minutes* into) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return false;
  for (const auto& [scope, row] : v.as_object()) {
    if (!row.is_array() || row.as_array().size() != std::size(kFields))
      return false;
    Counters c;
    for (size_t i = 0; i < std::size(kFields); ++i) {
      const auto& x = row.as_array()[i];
      if (x.is_uint64()) {
        c.*kFields[i].field = x.as_uint64();
      } else if (x.is_int64() && x.as_int64() >= 0) {
        c.*kFields[i].field = static_cast<uint64_t>(x.as_int64());
      } else {
        return false;
      }
    }
    (*into)[std::string(scope)][minute].Add(c);
  }
  return true;
}

void Stats::SetPeers(const Minutes& peers, int64_t from_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [scope, m] : peers_) m.erase(m.lower_bound(from_ms), m.end());
  for (const auto& [scope, m] : peers)
    for (const auto& [minute, c] : m)
      if (minute >= from_ms) peers_[scope][minute] = c;
}

Status Stats::Save(const std::string& path) {
  json::object root, scopes, fresh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [scope, m] : minutes_) {
      json::array rows;
      for (const auto& [minute, c] : m) {
        json::array row;
        row.push_back(minute);
        for (const auto& f : kFields) row.push_back(c.*f.field);
        rows.push_back(std::move(row));
      }
      scopes[scope] = std::move(rows);
    }
    for (const auto& [scope, t] : fresh_start_) fresh[scope] = t;
  }
  root["minutes"] = std::move(scopes);
  root["fresh_start"] = std::move(fresh);
  std::string text = json::serialize(root);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::Transient("stats", "cannot write " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) ==
                static_cast<ssize_t>(text.size()) &&
            ::fdatasync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return Error::Transient("stats", "cannot write " + path);
  return Ok{};
}

Status Stats::Load(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Ok{};  // first start
  std::stringstream ss;
  ss << f.rdbuf();
  boost::system::error_code ec;
  json::value v = json::parse(ss.str(), ec);
  if (ec || !v.is_object())
    return Error::Permanent("stats", path + " is malformed");
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* m = v.as_object().if_contains("minutes"); m && m->is_object()) {
    for (const auto& [scope, rows] : m->as_object()) {
      if (!rows.is_array()) continue;
      auto& out = minutes_[std::string(scope)];
      for (const auto& row : rows.as_array()) {
        if (!row.is_array() || row.as_array().size() != 1 + std::size(kFields))
          continue;
        const auto& a = row.as_array();
        Counters c;
        for (size_t i = 0; i < std::size(kFields); ++i)
          c.*kFields[i].field = a[i + 1].to_number<uint64_t>();
        out[a[0].to_number<int64_t>()] = c;
      }
    }
  }
  if (auto* fs = v.as_object().if_contains("fresh_start");
      fs && fs->is_object()) {
    for (const auto& [scope, t] : fs->as_object())
      fresh_start_[std::string(scope)] = t.to_number<int64_t>();
  }
  return Ok{};
}

}  // namespace sesame::stats
