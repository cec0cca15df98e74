#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sesame::httpc {

// An http:// or https:// URL, split.
struct Url {
  bool tls = false;
  std::string host;  // without brackets
  uint16_t port = 0;
  std::string target;  // path and query, "/" at least
};
// Refuses anything but http(s), user info, and control or space characters
// (nothing from a URL reaches the request line unchecked). Pure.
Result<Url> ParseUrl(const std::string& url);

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // Host is added
  std::string body;
  int timeout_ms = 30000;
  std::string ca_file;  // extra trust for https, beside the system's
};

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string Header(const std::string& name) const;  // case-insensitive
};

// One blocking HTTP/1.1 request on a fresh connection (Connection: close),
// for the few callers that run on a thread of their own and call rarely:
// the receiving actions (S3 writes, function URLs). https verifies the
// peer's certificate and host name. Connection failures, timeouts and torn
// responses are transient errors; any HTTP status is a Response. Bodies are
// bounded (16 MB). Thread-safe (no shared state).
Result<Response> Fetch(const Request& request);

}  // namespace sesame::httpc
