#include "events/subscriptions.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <random>

#include "auth/sigv4.h"
#include "events/files.h"

namespace sesame::events {
namespace json = boost::json;

std::string RandomHex(size_t bytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = static_cast<unsigned>(rng() & 0xff);
    out += kHex[v >> 4];
    out += kHex[v & 15];
  }
  return out;
}

SubscriptionRegistry::~SubscriptionRegistry() {
  for (const auto* list : {&subs_, &retired_}) {
    for (const auto& sub : *list)
      if (sub->file_fd >= 0) ::close(sub->file_fd);
  }
}

std::string SubscriptionRegistry::TopicArn(const std::string& topic) const {
  return "arn:aws:sns:" + who_.region + ":" + who_.account + ":" + topic;
}

std::string SubscriptionRegistry::TopicOf(const std::string& arn) const {
  std::string prefix = TopicArn("");
  return arn.rfind(prefix, 0) == 0 ? arn.substr(prefix.size()) : "";
}

std::string SubscriptionRegistry::SubscriptionArn(const std::string& topic,
                                                  const std::string& id) const {
  return TopicArn(topic) + ":" + id.substr(0, 8) + "-" + id.substr(8, 4) + "-" +
         id.substr(12, 4) + "-" + id.substr(16, 4) + "-" + id.substr(20, 12);
}

Status SubscriptionRegistry::Load(const config::Events& events,
                                  uint64_t next_seq) {
  for (const auto& t : events.topics) {
    topics_.insert(t.name);
    for (const auto& sc : t.subscriptions) AddLocked(t.name, sc, false);
  }
  if (Status s = LoadApiState(); !s.ok()) return s;
  if (Status s = LoadSavedState(next_seq); !s.ok()) return s;
  for (auto& sub : subs_) {
    if (sub->config.protocol != "file") continue;
    sub->file_fd = ::open(sub->config.endpoint.c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (sub->file_fd < 0)
      return Error::Permanent("events", "cannot open " + sub->config.endpoint);
  }
  return Ok{};
}

// Topics and subscriptions made through the SNS API.
Status SubscriptionRegistry::LoadApiState() {
  std::string api = ReadFile(dir_ + "/api.json");
  boost::system::error_code ec;
  json::value v = json::parse(api.empty() ? "{}" : api, ec);
  if (ec || !v.is_object())
    return Error::Permanent("events", dir_ + "/api.json is malformed");
  if (auto* t = v.as_object().if_contains("topics"); t && t->is_array()) {
    for (const auto& name : t->as_array()) {
      if (!name.is_string()) continue;
      topics_.insert(std::string(name.as_string()));
      api_topics_.insert(std::string(name.as_string()));
    }
  }
  if (auto* a = v.as_object().if_contains("topic_attributes");
      a && a->is_object()) {
    for (const auto& [topic, attrs] : a->as_object()) {
      if (!attrs.is_object()) continue;
      for (const auto& [k, val] : attrs.as_object())
        if (val.is_string())
          topic_attributes_[std::string(topic)][std::string(k)] =
              std::string(val.as_string());
    }
  }
  auto* l = v.as_object().if_contains("subscriptions");
  if (!l || !l->is_array()) return Ok{};
  for (const auto& e : l->as_array()) {
    if (!e.is_object()) continue;
    const json::object& o = e.as_object();
    auto text = [&](const char* k) {
      auto* x = o.if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : "";
    };
    config::Subscription sc;
    sc.protocol = text("protocol");
    sc.endpoint = text("endpoint");
    auto* raw = o.if_contains("raw");
    sc.raw = raw && raw->is_bool() && raw->as_bool();
    if (sc.protocol.empty() || text("topic").empty()) continue;
    AddLocked(text("topic"), sc, true);
  }
  return Ok{};
}

// Subscription state: confirmation and where each one started.
Status SubscriptionRegistry::LoadSavedState(uint64_t next_seq) {
  std::string state = ReadFile(dir_ + "/subscriptions.json");
  boost::system::error_code ec;
  json::value v = json::parse(state.empty() ? "{}" : state, ec);
  if (ec || !v.is_object())
    return Error::Permanent("events",
                            dir_ + "/subscriptions.json is malformed");
  const json::object& st = v.as_object();
  for (auto& sub : subs_) {
    if (auto* e = st.if_contains(sub->id); e && e->is_object()) {
      const json::object& o = e->as_object();
      if (auto* c = o.if_contains("confirmed"); c && c->is_bool())
        sub->confirmed = sub->confirmed || c->as_bool();
      if (auto* tk = o.if_contains("token"); tk && tk->is_string())
        sub->token = std::string(tk->as_string());
      if (auto* ss = o.if_contains("start"); ss && ss->is_int64())
        sub->start_seq = static_cast<uint64_t>(ss->as_int64());
    } else {
      sub->start_seq = next_seq;  // a new subscriber gets new events only
    }
    if (sub->token.empty()) sub->token = RandomHex(32);
  }
  return Ok{};
}

bool SubscriptionRegistry::HasSubscribers(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_topic_.find(topic);
  return it != by_topic_.end() && !it->second.empty();
}

bool SubscriptionRegistry::Empty() {
  std::lock_guard<std::mutex> lock(mu_);
  return subs_.empty();
}

std::vector<Sub*> SubscriptionRegistry::ForTopic(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_topic_.find(topic);
  return it == by_topic_.end() ? std::vector<Sub*>{} : it->second;
}

bool SubscriptionRegistry::HasTopic(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mu_);
  return topics_.count(topic) > 0;
}

std::vector<SubscriptionRegistry::TopicEntry> SubscriptionRegistry::Topics() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TopicEntry> out;
  for (const auto& t : topics_) out.push_back({t, api_topics_.count(t) > 0});
  return out;
}

Sub* SubscriptionRegistry::Add(const std::string& topic,
                               const config::Subscription& sc, bool from_api,
                               uint64_t next_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  Sub* sub = AddLocked(topic, sc, from_api);
  if (sub->token.empty()) {
    sub->token = RandomHex(32);
    sub->start_seq = next_seq;
  }
  return sub;
}

Sub* SubscriptionRegistry::AddLocked(const std::string& topic,
                                     const config::Subscription& sc,
                                     bool from_api) {
  std::string id =
      auth::Sha256Hex(topic + "|" + sc.protocol + "|" + sc.endpoint)
          .substr(0, 32);
  if (auto it = by_id_.find(id); it != by_id_.end()) return it->second;
  auto sub = std::make_unique<Sub>();
  sub->id = id;
  sub->arn = SubscriptionArn(topic, id);
  sub->topic = topic;
  sub->config = sc;
  sub->from_api = from_api;
  if (sc.protocol != "file") sub->url = ParseUrl(sc.endpoint);
  sub->confirmed = sc.protocol == "file" || !sc.confirm;
  Sub* raw = sub.get();
  by_id_[id] = raw;
  by_topic_[topic].push_back(raw);
  subs_.push_back(std::move(sub));
  return raw;
}

Sub* SubscriptionRegistry::Remove(const std::string& arn) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(subs_.begin(), subs_.end(),
                         [&](const auto& s) { return s->arn == arn; });
  if (it == subs_.end()) return nullptr;
  Sub* sub = it->get();
  sub->removed = true;
  retired_.push_back(std::move(*it));
  subs_.erase(it);
  by_id_.erase(sub->id);
  auto& list = by_topic_[sub->topic];
  list.erase(std::remove(list.begin(), list.end(), sub), list.end());
  return sub;
}

bool SubscriptionRegistry::AddTopic(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!topics_.insert(name).second) return false;
  api_topics_.insert(name);
  return true;
}

Status SubscriptionRegistry::CheckDeletable(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!topics_.count(name))
    return Error::Permanent("NotFound", "Topic does not exist");
  if (!api_topics_.count(name))
    return Error::Permanent(
        "AuthorizationError",
        "Topic " + name + " is declared in the configuration file");
  return Ok{};
}

void SubscriptionRegistry::EraseTopic(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  topics_.erase(name);
  api_topics_.erase(name);
  by_topic_.erase(name);
  topic_attributes_.erase(name);
}

std::map<std::string, std::string> SubscriptionRegistry::TopicAttributes(
    const std::string& topic) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = topic_attributes_.find(topic);
  return it == topic_attributes_.end() ? std::map<std::string, std::string>{}
                                       : it->second;
}

void SubscriptionRegistry::SetTopicAttribute(const std::string& topic,
                                             const std::string& name,
                                             const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  topic_attributes_[topic][name] = value;
}

Status SubscriptionRegistry::SaveApiState() {
  json::array topics, list;
  for (const auto& t : api_topics_) topics.push_back(json::string(t));
  for (const auto& sub : subs_) {
    if (!sub->from_api) continue;
    list.push_back({{"topic", sub->topic},
                    {"protocol", sub->config.protocol},
                    {"endpoint", sub->config.endpoint},
                    {"raw", sub->config.raw}});
  }
  json::object attributes;
  for (const auto& [topic, attrs] : topic_attributes_) {
    json::object o;
    for (const auto& [k, v] : attrs) o[k] = v;
    attributes[topic] = std::move(o);
  }
  json::object st{{"topics", std::move(topics)},
                  {"subscriptions", std::move(list)},
                  {"topic_attributes", std::move(attributes)}};
  return WriteFileAtomic(dir_ + "/api.json", json::serialize(st), 0600);
}

Status SubscriptionRegistry::SaveState() {
  json::object st;
  for (const auto& sub : subs_) {
    st[sub->id] = {{"confirmed", sub->confirmed},
                   {"token", sub->token},
                   {"start", static_cast<int64_t>(sub->start_seq)},
                   {"arn", sub->arn},
                   {"endpoint", sub->config.endpoint}};
  }
  return WriteFileAtomic(dir_ + "/subscriptions.json", json::serialize(st),
                         0600);
}

}  // namespace sesame::events
