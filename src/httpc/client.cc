#include "httpc/client.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "base/strings.h"

namespace sesame::httpc {
namespace {

constexpr size_t kMaxResponse = 16u << 20;

Error Transient(const std::string& m) { return Error::Transient("http", m); }

// One connection: a socket and, for https, its TLS session. Every read and
// write waits at most until the request's deadline.
class Conn {
 public:
  Conn(int fd, std::chrono::steady_clock::time_point deadline)
      : fd_(fd), deadline_(deadline) {}
  ~Conn() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }

  Status StartTls(const std::string& host, const std::string& ca_file) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return Transient("TLS context");
    SSL_CTX_set_default_verify_paths(ctx_);
    if (!ca_file.empty() &&
        SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1)
      return Error::Permanent("http", "cannot read CA file " + ca_file);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    SSL_set1_host(ssl_, host.c_str());
    while (true) {
      int r = SSL_connect(ssl_);
      if (r == 1) return Ok{};
      int e = SSL_get_error(ssl_, r);
      if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
          !Wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
        return Transient(
            "TLS handshake with " + host + " failed: " +
            (SSL_get_verify_result(ssl_) != X509_V_OK
                 ? X509_verify_cert_error_string(SSL_get_verify_result(ssl_))
                 : "handshake error"));
    }
  }

  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      long n;
      if (ssl_) {
        n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
        if (n <= 0) {
          int e = SSL_get_error(ssl_, static_cast<int>(n));
          if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
              Wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
            continue;
          return Transient("write failed");
        }
      } else {
        n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
          if ((errno == EAGAIN || errno == EINTR) && Wait(POLLOUT)) continue;
          return Transient("write failed");
        }
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Ok{};
  }

  // Appends what arrives to `out`; false at the end of the stream.
  Result<bool> Read(std::string* out) {
    char buf[16384];
    while (true) {
      long n;
      if (ssl_) {
        n = SSL_read(ssl_, buf, sizeof buf);
        if (n <= 0) {
          int e = SSL_get_error(ssl_, static_cast<int>(n));
          if (e == SSL_ERROR_ZERO_RETURN) return false;
          if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)) {
            if (!Wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT))
              return Transient("timed out");
            continue;
          }
          return false;  // an unclean close: the framing decides
        }
      } else {
        n = recv(fd_, buf, sizeof buf, 0);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) {
            if (!Wait(POLLIN)) return Transient("timed out");
            continue;
          }
          return Transient("read failed");
        }
        if (n == 0) return false;
      }
      out->append(buf, static_cast<size_t>(n));
      return true;
    }
  }

  bool Wait(short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline_ - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd p{fd_, events, 0};
    return poll(&p, 1, static_cast<int>(left)) == 1;
  }

 private:
  int fd_;
  std::chrono::steady_clock::time_point deadline_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

Result<int> Connect(const Url& u, std::chrono::steady_clock::time_point dl) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(u.port);
  if (int rc = getaddrinfo(u.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return Transient("cannot resolve " + u.host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> hold(res, freeaddrinfo);
  for (addrinfo* a = res; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) return fd;
    if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      dl - std::chrono::steady_clock::now())
                      .count();
      int err = 0;
      socklen_t len = sizeof err;
      if (left > 0 && poll(&p, 1, static_cast<int>(left)) == 1 &&
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
        return fd;
    }
    close(fd);
  }
  return Transient("cannot connect to " + u.host + ":" + port);
}

// Splits a complete response; nullopt while more bytes are needed.
std::optional<Result<Response>> ParseResponse(const std::string& raw,
                                              bool eof) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos)
    return eof ? std::optional<Result<Response>>(Transient("torn response"))
               : std::nullopt;
  Response r;
  std::string_view head(raw.data(), end);
  size_t line_end = head.find("\r\n");
  std::string_view status = head.substr(0, line_end);
  if (status.rfind("HTTP/1.", 0) != 0 || status.size() < 12)
    return Result<Response>(Transient("not an HTTP response"));
  r.status = std::atoi(std::string(status.substr(9, 3)).c_str());
  while (line_end != std::string_view::npos) {
    head.remove_prefix(line_end + 2);
    line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string value(line.substr(colon + 1));
    value.erase(0, value.find_first_not_of(" \t"));
    r.headers.emplace_back(std::string(line.substr(0, colon)), value);
  }
  std::string_view body(raw);
  body.remove_prefix(end + 4);
  if (AsciiLowerCopy(r.Header("Transfer-Encoding")) == "chunked") {
    std::string out;
    while (true) {
      size_t nl = body.find("\r\n");
      if (nl == std::string_view::npos) break;
      size_t n =
          std::strtoul(std::string(body.substr(0, nl)).c_str(), nullptr, 16);
      if (n == 0) {
        r.body = std::move(out);
        return Result<Response>(std::move(r));
      }
      if (body.size() < nl + 2 + n + 2) break;
      out.append(body.substr(nl + 2, n));
      body.remove_prefix(nl + 2 + n + 2);
    }
    return eof ? std::optional<Result<Response>>(Transient("torn response"))
               : std::nullopt;
  }
  std::string cl = r.Header("Content-Length");
  if (!cl.empty()) {
    size_t n = std::strtoul(cl.c_str(), nullptr, 10);
    if (body.size() < n)
      return eof ? std::optional<Result<Response>>(Transient("torn response"))
                 : std::nullopt;
    r.body = std::string(body.substr(0, n));
    return Result<Response>(std::move(r));
  }
  if (r.status == 204 || r.status == 304 || !eof) {
    if (r.status == 204 || r.status == 304)
      return Result<Response>(std::move(r));
    return std::nullopt;
  }
  r.body = std::string(body);
  return Result<Response>(std::move(r));
}

}  // namespace

std::string Response::Header(const std::string& name) const {
  std::string want = AsciiLowerCopy(name);
  for (const auto& [k, v] : headers)
    if (AsciiLowerCopy(k) == want) return v;
  return "";
}

Result<Url> ParseUrl(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Error::Permanent("http", "not an http(s) URL: " + url);
  }
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return Error::Permanent("http",
                              "URL contains a space or control "
                              "character");
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string::npos)
    return Error::Permanent("http", "URL has no host, or user info: " + url);
  u.port = u.tls ? 443 : 80;
  std::string port;
  if (authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos)
      return Error::Permanent("http", "bad IPv6 host in " + url);
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (!port.empty()) {
    if (port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) == 0 || std::stoul(port) > 65535)
      return Error::Permanent("http", "bad port in " + url);
    u.port = static_cast<uint16_t>(std::stoul(port));
  }
  return u;
}

Result<Response> Fetch(const Request& req) {
  auto url = ParseUrl(req.url);
  if (!url.ok()) return url.error();
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(req.timeout_ms);
  auto fd = Connect(*url, deadline);
  if (!fd.ok()) return fd.error();
  Conn conn(*fd, deadline);
  if (url->tls)
    if (Status s = conn.StartTls(url->host, req.ca_file); !s.ok())
      return s.error();
  bool default_port = url->port == (url->tls ? 443 : 80);
  std::string host = url->host.find(':') != std::string::npos
                         ? "[" + url->host + "]"
                         : url->host;
  std::string head = req.method + " " + url->target +
                     " HTTP/1.1\r\nHost: " + host +
                     (default_port ? "" : ":" + std::to_string(url->port)) +
                     "\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(req.body.size()) + "\r\n";
  for (const auto& [k, v] : req.headers) {
    if (k.find_first_of(":\r\n") != std::string::npos ||
        v.find_first_of("\r\n") != std::string::npos)
      return Error::Permanent("http", "header " + k + " is malformed");
    head += k + ": " + v + "\r\n";
  }
  head += "\r\n";
  if (Status s = conn.WriteAll(head); !s.ok()) return s.error();
  if (Status s = conn.WriteAll(req.body); !s.ok()) return s.error();
  std::string raw;
  while (true) {
    auto more = conn.Read(&raw);
    if (!more.ok()) return more.error();
    if (raw.size() > kMaxResponse) return Transient("response too large");
    if (auto r = ParseResponse(raw, !*more)) return std::move(*r);
  }
}

}  // namespace sesame::httpc
