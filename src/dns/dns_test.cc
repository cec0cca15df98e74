#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "dns/message.h"
#include "dns/resolver.h"

namespace sesame::dns {
namespace {

// Builds a DNS response by hand: header, one question, answers.
struct WireBuilder {
  std::string w;
  void U16(uint16_t v) {
    w.push_back(char(v >> 8));
    w.push_back(char(v));
  }
  void U32(uint32_t v) {
    U16(uint16_t(v >> 16));
    U16(uint16_t(v));
  }
  void Name(const std::string& n) {
    size_t start = 0;
    while (start < n.size()) {
      size_t dot = n.find('.', start);
      if (dot == std::string::npos) dot = n.size();
      w.push_back(char(dot - start));
      w.append(n, start, dot - start);
      start = dot + 1;
    }
    w.push_back(0);
  }
};

TEST(DnsMessage, ParsesMxWithCompressionAndAddresses) {
  WireBuilder b;
  b.U16(1);
  b.U16(0x8180);
  b.U16(1);
  b.U16(2);
  b.U16(0);
  b.U16(1);
  size_t qname = b.w.size();
  b.Name("Example.COM");
  b.U16(15);
  b.U16(1);
  // MX 10 mx1.example.com (compressed owner and suffix)
  b.U16(0xC000 | uint16_t(qname));
  b.U16(15);
  b.U16(1);
  b.U32(300);
  std::string rdata;
  {
    WireBuilder r;
    r.U16(10);
    r.w += "\x03mx1";
    r.U16(0xC000 | uint16_t(qname));
    rdata = r.w;
  }
  b.U16(uint16_t(rdata.size()));
  b.w += rdata;
  // Null MX: 0 "."
  b.U16(0xC000 | uint16_t(qname));
  b.U16(15);
  b.U16(1);
  b.U32(60);
  b.U16(3);
  b.U16(0);
  b.w.push_back(0);
  // Additional A
  b.Name("mx1.example.com");
  b.U16(1);
  b.U16(1);
  b.U32(120);
  b.U16(4);
  b.w += std::string("\x7f\x00\x00\x02", 4);

  auto m = ParseMessage(b.w);
  ASSERT_TRUE(m.ok()) << m.error().message();
  ASSERT_EQ(m->answers.size(), 2u);
  EXPECT_EQ(m->answers[0].name, "example.com");
  EXPECT_EQ(m->answers[0].preference, 10);
  EXPECT_EQ(m->answers[0].target, "mx1.example.com");
  EXPECT_EQ(m->answers[0].ttl, 300u);
  EXPECT_EQ(m->answers[1].target, "");
  ASSERT_EQ(m->additional.size(), 1u);
  EXPECT_EQ(m->additional[0].address, "127.0.0.2");
  for (size_t cut = 0; cut < b.w.size(); ++cut) {
    EXPECT_FALSE(ParseMessage(b.w.substr(0, cut)).ok()) << cut;
  }
}

TEST(DnsMessage, RejectsCompressionLoop) {
  WireBuilder b;
  b.U16(1);
  b.U16(0x8180);
  b.U16(1);
  b.U16(0);
  b.U16(0);
  b.U16(0);
  b.U16(0xC00C);  // points at itself
  b.U16(15);
  b.U16(1);
  EXPECT_FALSE(ParseMessage(b.w).ok());
}

uint16_t FreeUdpPort() {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

// A real dnsmasq on a loopback port serving the test zone.
class DnsmasqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/sbin/dnsmasq", X_OK) != 0)
      GTEST_SKIP() << "dnsmasq not installed";
    port_ = FreeUdpPort();
    // A UDP socket that never answers: upstream for slow.test.
    blackhole_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(blackhole_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(blackhole_, reinterpret_cast<sockaddr*>(&a), &len);
    std::string slow =
        "--server=/slow.test/127.0.0.1#" + std::to_string(ntohs(a.sin_port));
    std::string portarg = "--port=" + std::to_string(port_);
    pid_ = fork();
    if (pid_ == 0) {
      execl("/usr/sbin/dnsmasq", "dnsmasq", "--keep-in-foreground",
            portarg.c_str(), "--listen-address=127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", "--no-poll", "--user=nobody",
            "--pid-file=", "--log-facility=/dev/null",
            "--mx-host=pref.test,mx-b.pref.test,20",
            "--mx-host=pref.test,mx-a.pref.test,10",
            "--mx-host=pref.test,mx-c.pref.test,10",
            "--host-record=mx-a.pref.test,127.0.0.2",
            "--host-record=mx-b.pref.test,127.0.0.3",
            "--host-record=mx-c.pref.test,127.0.0.5",
            "--host-record=implicit.test,127.0.0.4",
            "--dns-rr=nullmx.test,15,000000", "--local=/test/", slow.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ResolverOptions o;
    o.servers = "127.0.0.1:" + std::to_string(port_);
    o.timeout_ms = 300;
    o.tries = 1;
    auto r = Resolver::Create(o);
    ASSERT_TRUE(r.ok()) << r.error().message();
    resolver_ = std::move(*r);
  }
  void TearDown() override {
    resolver_.reset();
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (blackhole_ >= 0) close(blackhole_);
  }
  Result<MxResult> Mx(const std::string& d) {
    std::promise<Result<MxResult>> p;
    resolver_->ResolveMx(
        d, [&](Result<MxResult> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  uint16_t port_ = 0;
  int blackhole_ = -1;
  pid_t pid_ = -1;
  std::unique_ptr<Resolver> resolver_;
};

TEST_F(DnsmasqTest, PreferenceOrderAndShuffleAmongEquals) {
  std::set<std::string> firsts;
  for (int i = 0; i < 30; ++i) {
    auto r = Mx("pref.test");
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->hosts.size(), 3u);
    EXPECT_EQ(r->hosts[0].preference, 10);
    EXPECT_EQ(r->hosts[1].preference, 10);
    EXPECT_EQ(r->hosts[2].name, "mx-b.pref.test");
    EXPECT_EQ(r->hosts[2].addresses, std::vector<std::string>{"127.0.0.3"});
    EXPECT_FALSE(r->implicit);
    firsts.insert(r->hosts[0].name);
  }
  EXPECT_EQ(firsts.size(),
            2u);  // equal preferences are randomized (cached result too)
}

TEST_F(DnsmasqTest, ConcurrentLookupsOfOneNameShareAQuery) {
  std::atomic<int> ok{0};
  std::promise<void> all;
  constexpr int kN = 500;
  std::atomic<int> left{kN};
  for (int i = 0; i < kN; ++i) {
    resolver_->ResolveMx("pref.test", [&](Result<MxResult> r) {
      if (r.ok() && r->hosts.size() == 3) ++ok;
      if (--left == 0) all.set_value();
    });
  }
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  EXPECT_EQ(ok.load(), kN);
}

TEST_F(DnsmasqTest, ImplicitMx) {
  auto r = Mx("implicit.test");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->implicit);
  ASSERT_EQ(r->hosts.size(), 1u);
  EXPECT_EQ(r->hosts[0].addresses, std::vector<std::string>{"127.0.0.4"});
}

TEST_F(DnsmasqTest, NullMxIsPermanent) {
  auto r = Mx("nullmx.test");
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.error().transient());
  EXPECT_EQ(r.error().code(), "null_mx");
}

TEST_F(DnsmasqTest, NxdomainIsPermanentTimeoutIsTransient) {
  auto nx = Mx("nothere.test");
  ASSERT_FALSE(nx.ok());
  EXPECT_FALSE(nx.error().transient()) << nx.error().message();
  auto slow = Mx("x.slow.test");
  ASSERT_FALSE(slow.ok());
  EXPECT_TRUE(slow.error().transient()) << slow.error().message();
}

}  // namespace
}  // namespace sesame::dns
