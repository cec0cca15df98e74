#include "inbound/scanners.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>

namespace sesame::inbound {
namespace {

using Clock = std::chrono::steady_clock;

// A blocking connection with one deadline for the whole exchange.
class Socket {
 public:
  Socket(const std::string& where, int timeout_ms)
      : deadline_(Clock::now() + std::chrono::milliseconds(timeout_ms)) {
    if (!where.empty() && where[0] == '/') {
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      if (where.size() >= sizeof a.sun_path) return;
      std::memcpy(a.sun_path, where.c_str(), where.size() + 1);
      fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd_ >= 0 &&
          connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        Close();
      return;
    }
    size_t colon = where.rfind(':');
    if (colon == std::string::npos) return;
    std::string host = where.substr(0, colon), port = where.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[')
      host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return;
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> hold(res, freeaddrinfo);
    for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) {
      fd_ = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ >= 0 && connect(fd_, a->ai_addr, a->ai_addrlen) != 0) Close();
    }
  }
  ~Socket() { Close(); }
  bool ok() const { return fd_ >= 0; }

  bool Write(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      if (!Wait(POLLOUT)) return false;
      ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }
  // Everything until the peer closes (bounded).
  std::string ReadAll(size_t max = 64 * 1024) {
    std::string out;
    char buf[4096];
    while (out.size() < max && Wait(POLLIN)) {
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  bool Wait(short events) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline_ - Clock::now())
                    .count();
    pollfd p{fd_, events, 0};
    return left > 0 && poll(&p, 1, static_cast<int>(left)) == 1;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  Clock::time_point deadline_;
};

}  // namespace

std::string SpamVerdict(const std::string& where, const std::string& message,
                        int timeout_ms) {
  if (where.empty()) return "GRAY";
  Socket s(where, timeout_ms);
  if (!s.ok()) return "PROCESSING_FAILED";
  std::string req =
      "CHECK SPAMC/1.5\r\nContent-length: " + std::to_string(message.size()) +
      "\r\n\r\n";
  if (!s.Write(req) || !s.Write(message)) return "PROCESSING_FAILED";
  s.ShutdownWrite();
  std::string reply = s.ReadAll();
  // "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.5 / 5.0\r\n\r\n"
  if (reply.rfind("SPAMD/", 0) != 0 ||
      reply.find(" 0 EX_OK") == std::string::npos)
    return "PROCESSING_FAILED";
  size_t spam = reply.find("\nSpam: ");
  if (spam == std::string::npos) return "PROCESSING_FAILED";
  std::string v = reply.substr(spam + 7, 5);
  if (v.rfind("True", 0) == 0 || v.rfind("Yes", 0) == 0) return "FAIL";
  if (v.rfind("False", 0) == 0 || v.rfind("No", 0) == 0) return "PASS";
  return "PROCESSING_FAILED";
}

std::string VirusVerdict(const std::string& where, const std::string& message,
                         int timeout_ms) {
  if (where.empty()) return "GRAY";
  Socket s(where, timeout_ms);
  if (!s.ok()) return "PROCESSING_FAILED";
  std::string req("zINSTREAM\0", 10);
  constexpr size_t kChunk = 64 * 1024;
  for (size_t off = 0; off < message.size(); off += kChunk) {
    size_t n = std::min(kChunk, message.size() - off);
    uint32_t len = htonl(static_cast<uint32_t>(n));
    req.append(reinterpret_cast<const char*>(&len), 4);
    req.append(message, off, n);
  }
  req.append(std::string(4, '\0'));
  if (!s.Write(req)) return "PROCESSING_FAILED";
  std::string reply = s.ReadAll();
  // "stream: OK\0" or "stream: Eicar-Signature FOUND\0"
  while (!reply.empty() && (reply.back() == '\0' || reply.back() == '\n'))
    reply.pop_back();
  if (reply.size() >= 6 && reply.compare(reply.size() - 6, 6, " FOUND") == 0)
    return "FAIL";
  if (reply.size() >= 3 && reply.compare(reply.size() - 3, 3, " OK") == 0)
    return "PASS";
  return "PROCESSING_FAILED";
}

}  // namespace sesame::inbound
