#include "events/webhook_client.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

namespace sesame::events {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using asio::awaitable;
using asio::use_awaitable;

// A kept-alive connection to a webhook.
struct WebhookClient::Pool::Conn {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
};

WebhookClient::Pool::Pool() = default;
WebhookClient::Pool::~Pool() = default;
WebhookClient::Pool::Pool(Pool&&) noexcept = default;
WebhookClient::Pool& WebhookClient::Pool::operator=(Pool&&) noexcept = default;
size_t WebhookClient::Pool::size() const { return idle_.size(); }

void WebhookClient::AppendRequest(
    std::string& out, const Url& url,
    std::initializer_list<std::pair<std::string_view, std::string_view>>
        headers,
    std::string_view body, std::string_view body_tail) {
  out += "POST ";
  out += url.target;
  out += " HTTP/1.1\r\nHost: ";
  out += url.host;
  out +=
      "\r\nContent-Type: text/plain; charset=UTF-8\r\nUser-Agent: "
      "Amazon Simple Notification Service Agent\r\n";
  for (const auto& [k, v] : headers) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(body.size() + body_tail.size());
  out += "\r\n\r\n";
  out += body;
  out += body_tail;
}

awaitable<std::vector<int>> WebhookClient::PostBatch(Pool* pool,
                                                     size_t max_idle, Url url,
                                                     std::string wire,
                                                     size_t count) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<int> codes(count, kNoAnswer);
  auto timeout = std::chrono::seconds(timeout_seconds_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Pool::Conn> conn;
    bool reused = false;
    if (!pool->idle_.empty()) {
      conn = std::move(pool->idle_.back());
      pool->idle_.pop_back();
      reused = true;
    }
    size_t answered = 0;
    try {
      if (!conn) {
        conn = std::make_unique<Pool::Conn>();
        asio::ip::tcp::resolver resolver(ex);
        auto results =
            co_await resolver.async_resolve(url.host, url.port, use_awaitable);
        // Checked again after DNS: a name may resolve to loopback.
        for (const auto& r : results) {
          if (IsOwnListener(r.endpoint(), own_listeners_))
            throw std::runtime_error(
                "endpoint resolves to one of this server's own listeners");
        }
        if (url.tls) {
          conn->tls =
              std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ex, *tls_);
          SSL_set_tlsext_host_name(conn->tls->native_handle(),
                                   url.host.c_str());
          beast::get_lowest_layer(*conn->tls).expires_after(timeout);
          co_await beast::get_lowest_layer(*conn->tls)
              .async_connect(results, use_awaitable);
          co_await conn->tls->async_handshake(ssl::stream_base::client,
                                              use_awaitable);
        } else {
          conn->plain = std::make_unique<beast::tcp_stream>(ex);
          conn->plain->expires_after(timeout);
          co_await conn->plain->async_connect(results, use_awaitable);
        }
        // A batch is written whole; nothing waits to be coalesced.
        boost::system::error_code ignored;
        beast::get_lowest_layer(conn->tls ? beast::get_lowest_layer(*conn->tls)
                                          : *conn->plain)
            .socket()
            .set_option(asio::ip::tcp::no_delay(true), ignored);
      }
      beast::tcp_stream& lowest =
          conn->tls ? beast::get_lowest_layer(*conn->tls) : *conn->plain;
      lowest.expires_after(timeout);
      if (conn->tls) {
        co_await asio::async_write(*conn->tls, asio::buffer(wire),
                                   use_awaitable);
      } else {
        co_await asio::async_write(*conn->plain, asio::buffer(wire),
                                   use_awaitable);
      }
      beast::flat_buffer buf;
      bool keep = true;
      for (size_t i = 0; i < count && keep; ++i) {
        http::response<http::string_body> res;
        lowest.expires_after(timeout);
        if (conn->tls) {
          co_await http::async_read(*conn->tls, buf, res, use_awaitable);
        } else {
          co_await http::async_read(*conn->plain, buf, res, use_awaitable);
        }
        codes[i] = static_cast<int>(res.result_int());
        ++answered;
        keep = res.keep_alive();
      }
      if (keep && pool->idle_.size() < max_idle)
        pool->idle_.push_back(std::move(conn));
    } catch (const std::exception& e) {
      if (reused && answered == 0) continue;  // a stale idle connection
    }
    if (answered > 0) {
      for (size_t i = answered; i < codes.size(); ++i) codes[i] = kUnanswered;
    }
    co_return codes;
  }
  co_return codes;
}

}  // namespace sesame::events
