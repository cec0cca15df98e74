#pragma once

#include <cstdint>
#include <string>

#include "store/store.h"

namespace sesame::app {

// What a node says about itself: GET /admin/node, and the heartbeat it
// writes to a shared store every 5 s (kind "node", named by its id) that
// `sesame node list` reads.
struct NodeStatus {
  std::string id, version, http, smtp;
  bool draining = false, leader = false;
  size_t queued = 0;
  int64_t heartbeat_ms = 0;
  // Throttles: "none" (in-process limits), "cluster" (Redis answers) or
  // "local-share" (Redis away: 1/live_nodes of each limit).
  std::string throttles = "none";
  int live_nodes = 1;
};
std::string NodeJson(const NodeStatus& n);

// `sesame node list [--json]`: every node with a heartbeat document, live
// when it beat within 15 s. Returns the exit status.
int NodeList(store::Store* store, bool json, int64_t now_ms);

}  // namespace sesame::app
