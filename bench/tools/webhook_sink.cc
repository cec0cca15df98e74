// A fast webhook receiver for bench/events.sh: answers "200 OK" to every
// HTTP/1.1 request (keep-alive, pipelining), counts them, and writes the count
// to a file every 200 ms. Usage: webhook_sink PORT COUNT_FILE. Single-threaded
// Asio.
#include <boost/asio.hpp>
#include <cstdio>
#include <fstream>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

static unsigned long long count = 0;

// Answers every complete request in its buffer with one write, as
// event-driven servers (nginx, Node) do with pipelined requests.
asio::awaitable<void> Serve(tcp::socket s) {
  static const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  std::string buf, answers;
  char chunk[65536];
  try {
    for (;;) {
      size_t n =
          co_await s.async_read_some(asio::buffer(chunk), asio::use_awaitable);
      buf.append(chunk, n);
      size_t pos = 0;
      for (;;) {
        size_t head_end = buf.find("\r\n\r\n", pos);
        if (head_end == std::string::npos) break;
        std::string head = buf.substr(pos, head_end - pos);
        for (auto& c : head)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t length = 0;
        if (size_t p = head.find("content-length:"); p != std::string::npos)
          length = std::stoul(head.substr(p + 15));
        size_t total = head_end + 4 + length;
        if (buf.size() < total) break;
        pos = total;
        ++count;
        answers += kOk;
      }
      buf.erase(0, pos);
      if (!answers.empty()) {
        co_await asio::async_write(s, asio::buffer(answers),
                                   asio::use_awaitable);
        answers.clear();
      }
    }
  } catch (const std::exception&) {
  }
}

asio::awaitable<void> Accept(tcp::acceptor a) {
  for (;;) {
    tcp::socket s = co_await a.async_accept(asio::use_awaitable);
    // As nginx, Node and Go servers do by default: answers to pipelined
    // requests are not held back by Nagle's algorithm.
    s.set_option(tcp::no_delay(true));
    asio::co_spawn(a.get_executor(), Serve(std::move(s)), asio::detached);
  }
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: webhook_sink PORT COUNT_FILE\n");
    return 2;
  }
  asio::io_context io(1);
  tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"),
                       static_cast<unsigned short>(std::stoi(argv[1]))});
  asio::co_spawn(io, Accept(std::move(a)), asio::detached);
  asio::steady_timer t(io);
  std::string path = argv[2];
  std::function<void(boost::system::error_code)> tick =
      [&](boost::system::error_code) {
        { std::ofstream(path + ".tmp") << count; }
        std::rename((path + ".tmp").c_str(), path.c_str());
        t.expires_after(std::chrono::milliseconds(200));
        t.async_wait(tick);
      };
  tick({});
  io.run();
}
