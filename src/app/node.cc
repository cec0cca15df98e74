#include "app/node.h"

#include <boost/json.hpp>
#include <cstdio>

#include "base/json.h"

namespace sesame::app {
namespace json = boost::json;

std::string NodeJson(const NodeStatus& n) {
  json::object o;
  o["id"] = n.id;
  o["version"] = n.version;
  o["http"] = n.http;
  o["smtp"] = n.smtp;
  o["draining"] = n.draining;
  o["leader"] = n.leader;
  o["queued"] = n.queued;
  o["heartbeatMs"] = n.heartbeat_ms;
  o["throttles"] = n.throttles;
  o["liveNodes"] = n.live_nodes;
  return json::serialize(o);
}

namespace {

std::string Field(const json::object& o, const char* k) {
  const json::value* v = o.if_contains(k);
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  return "";
}

// Heartbeats say who led when each was written, so a killed leader's last
// one still claims it until it ages out. The lock is exclusive, so of two
// claims the later one is the truer: keep only the newest claim of a live
// node.
void KeepNewestLeaderClaim(json::array& nodes) {
  json::object* newest = nullptr;
  int64_t newest_beat = -1;
  for (auto& v : nodes) {
    json::object& o = v.as_object();
    const json::value* leader = o.if_contains("leader");
    const json::value* live = o.if_contains("live");
    if (!leader || !leader->is_bool() || !leader->as_bool()) continue;
    const json::value* hb = o.if_contains("heartbeatMs");
    int64_t beat = hb && hb->is_int64() ? hb->as_int64() : 0;
    if (live && live->is_bool() && live->as_bool() && beat > newest_beat) {
      newest = &o;
      newest_beat = beat;
    }
  }
  for (auto& v : nodes) {
    json::object& o = v.as_object();
    if (&o != newest && o.contains("leader")) o["leader"] = false;
  }
}

}  // namespace

int NodeList(store::Store* store, bool as_json, int64_t now_ms) {
  json::array nodes;
  std::string after;
  while (true) {
    auto page = store->List("node", after, 500);
    if (!page.ok()) {
      std::fprintf(stderr, "sesame: %s\n", page.error().message().c_str());
      return 1;
    }
    for (const auto& [name, doc] : *page) {
      boost::system::error_code ec;
      json::value v = json::parse(doc, ec);
      if (ec || !v.is_object()) continue;
      json::object& o = v.as_object();
      const json::value* hb = o.if_contains("heartbeatMs");
      int64_t beat = hb && hb->is_int64() ? hb->as_int64() : 0;
      o["ageSeconds"] = (now_ms - beat) / 1000;
      o["live"] = now_ms - beat < 15000;
      nodes.push_back(std::move(v));
    }
    if (page->size() < 500) break;
    after = page->back().first;
  }
  KeepNewestLeaderClaim(nodes);
  if (as_json) {
    std::printf("%s\n", json::serialize(nodes).c_str());
    return 0;
  }
  std::printf("%-28s %-8s %-5s %-9s %-7s %8s %-22s %s\n", "NODE", "VERSION",
              "LIVE", "HEARTBEAT", "ROLE", "QUEUED", "THROTTLES", "HTTP");
  for (const auto& v : nodes) {
    const json::object& o = v.as_object();
    std::string role = Field(o, "draining") == "yes" ? "draining"
                       : Field(o, "leader") == "yes" ? "leader"
                                                     : "-";
    std::string throttles = Field(o, "throttles");
    if (throttles == "local-share")
      throttles += " 1/" + Field(o, "liveNodes");
    else if (throttles == "cluster")
      throttles += " (" + Field(o, "liveNodes") + " live)";
    std::printf("%-28s %-8s %-5s %8ss %-7s %8s %-22s %s\n",
                Field(o, "id").c_str(), Field(o, "version").c_str(),
                Field(o, "live").c_str(), Field(o, "ageSeconds").c_str(),
                role.c_str(), Field(o, "queued").c_str(), throttles.c_str(),
                Field(o, "http").c_str());
  }
  if (nodes.empty()) std::printf("(no node has written a heartbeat)\n");
  return 0;
}

}  // namespace sesame::app
