#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sesame::net {

// An HTTP request as the API layer sees it: parsed by the server, no sockets.
struct HttpRequest {
  std::string method;
  std::string target;  // as received, e.g. "/v2/email/identities/a%40b.com?x=1"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // after '?', still encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_ip;
  bool loopback = false;
  bool secure = false;  // arrived over TLS (aws:SecureTransport)

  std::string Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Handles one request; calls `done` exactly once, from any thread.
using HttpHandler =
    std::function<void(HttpRequest, std::function<void(HttpResponse)> done)>;

}  // namespace sesame::net
