#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/webhook_target.h"

namespace sesame::events {

// The HTTP/1.1 client that POSTs notifications to webhook subscribers
// (Boost.Beast lives in webhook_client.cc only: it is slow to compile).
// Requests are serialised by AppendRequest into one buffer per batch; a
// batch of several is pipelined (written at once, the answers read in
// order). Each subscription keeps a Pool of idle keep-alive connections,
// so a busy webhook is not paid a TCP (and TLS) handshake per event; a
// reused connection the peer has closed meanwhile is retried once on a
// fresh one. Names are resolved and checked again against this server's
// own listeners (a name may resolve to loopback).
//
// Owned by the publisher; used on its delivery thread only (the pools are
// not locked).
class WebhookClient {
 public:
  class Pool {
   public:
    Pool();
    ~Pool();
    Pool(Pool&&) noexcept;
    Pool& operator=(Pool&&) noexcept;
    size_t size() const;

   private:
    friend class WebhookClient;
    struct Conn;
    std::vector<std::unique_ptr<Conn>> idle_;
  };

  // A request's answer: the status code, kNoAnswer when the connection
  // failed, kUnanswered when it closed after answering earlier requests of
  // the batch (to be sent again without counting a failed attempt).
  static constexpr int kNoAnswer = -1, kUnanswered = -2;

  WebhookClient(boost::asio::ssl::context* tls, uint32_t timeout_seconds,
                std::vector<std::pair<std::string, uint16_t>> own_listeners)
      : tls_(tls),
        timeout_seconds_(timeout_seconds),
        own_listeners_(std::move(own_listeners)) {}

  // Serialised by hand straight into the batch's buffer: bodies are copied
  // once.
  static void AppendRequest(
      std::string& out, const Url& url,
      std::initializer_list<std::pair<std::string_view, std::string_view>>
          headers,
      std::string_view body, std::string_view body_tail = {});

  // POSTs the `count` requests serialised in `wire` over a connection of
  // `pool` (kept there afterwards, up to `max_idle`); one code per request.
  boost::asio::awaitable<std::vector<int>> PostBatch(Pool* pool,
                                                     size_t max_idle, Url url,
                                                     std::string wire,
                                                     size_t count);

 private:
  boost::asio::ssl::context* tls_;
  uint32_t timeout_seconds_;
  std::vector<std::pair<std::string, uint16_t>> own_listeners_;
};

}  // namespace sesame::events
