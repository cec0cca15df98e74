// The outbox's recovery catalogue: what Load makes of logs a crash or a
// full disk left behind.

#include "events/outbox.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace sesame::events {
namespace {

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/outbox_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void Write(const std::string& file, const std::string& text) {
    std::ofstream(dir_ + "/" + file, std::ios::binary) << text;
  }
  std::string Read(const std::string& file) {
    std::ifstream f(dir_ + "/" + file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  std::string dir_;
};

TEST_F(OutboxTest, AppendThenLoadRoundTrips) {
  {
    Outbox out(dir_);
    (void)out.Load();
    ASSERT_TRUE(out.Open().ok());
    auto a = out.NewRecord("t1", R"({"eventType":"Send"})", 1000);
    auto b = out.NewRecord("t2", R"({"x":1})", 2000);
    b->sns.subject = "ALARM: high bounces";
    ASSERT_TRUE(out.Append({a, b}));
    out.AddOwed(2);
    out.WriteAcks({{"sub1", a->seq, AckKind::kDelivered}});
    EXPECT_EQ(out.owed(), 1);
  }
  Outbox again(dir_);
  auto loaded = again.Load();
  ASSERT_EQ(loaded.records.size(), 2u);
  EXPECT_EQ(loaded.records[1]->topic, "t1");
  EXPECT_EQ(loaded.records[1]->created_ms, 1000);
  EXPECT_EQ(loaded.records[2]->json, R"({"x":1})");
  EXPECT_EQ(loaded.records[2]->sns.subject, "ALARM: high bounces");
  EXPECT_EQ(loaded.acked["sub1"].count(1), 1u);
  EXPECT_EQ(again.next_seq(), 3u);  // sequence numbers never repeat
}

TEST_F(OutboxTest, TornAndGarbledLinesAreSkipped) {
  Write("outbox.log",
        "1\t10\tt\t{\"a\":1}\n"
        "garbage without tabs\n"
        "0\t10\tt\t{\"zero seq\":1}\n"
        "2\t20\tt\t{\"b\":2}\n"
        "3\t30\tt");  // torn by a crash mid-write
  Write("acks.log",
        "sub 1 A\n"
        "sub x A\n"   // not a number
        "sub 2 AD\n"  // two kinds
        "sub 2");     // torn
  Outbox out(dir_);
  auto loaded = out.Load();
  ASSERT_EQ(loaded.records.size(), 2u);
  EXPECT_TRUE(loaded.records.count(1));
  EXPECT_TRUE(loaded.records.count(2));
  EXPECT_EQ(loaded.acked["sub"].size(), 1u);
  EXPECT_EQ(out.next_seq(), 3u);
}

TEST_F(OutboxTest, DeadLettersFollowTheLastAckKind) {
  Write("outbox.log", "1\t1\tt\t{}\n2\t1\tt\t{}\n3\t1\tt\t{}\n");
  Write("acks.log",
        "s 1 D\n"                  // dead
        "s 2 D\ns 2 R\n"           // dead, then redriven: owed again
        "s 3 D\ns 3 R\ns 3 A\n");  // redriven and delivered
  Outbox out(dir_);
  auto loaded = out.Load();
  EXPECT_EQ(loaded.dead["s"], (std::set<uint64_t>{1}));
  EXPECT_EQ(loaded.acked["s"], (std::set<uint64_t>{3}));
}

TEST_F(OutboxTest, SettledLogsStartAfreshOnOpen) {
  Write("outbox.log", "1\t1\tt\t{}\n");
  Write("acks.log", "s 1 A\n");
  Outbox settled(dir_);
  (void)settled.Load();
  ASSERT_TRUE(settled.Open().ok());  // nothing owed: both logs emptied
  EXPECT_EQ(Read("outbox.log"), "");
  EXPECT_EQ(Read("acks.log"), "");
}

TEST_F(OutboxTest, OwedLogsAreKeptOnOpen) {
  Write("outbox.log", "1\t1\tt\t{}\n");
  Outbox owed(dir_);
  (void)owed.Load();
  owed.AddOwed(1);  // a subscriber still waits for record 1
  ASSERT_TRUE(owed.Open().ok());
  EXPECT_EQ(Read("outbox.log"), "1\t1\tt\t{}\n");
}

TEST_F(OutboxTest, RedriveAndDeadLetterAccounting) {
  Outbox out(dir_);
  (void)out.Load();
  ASSERT_TRUE(out.Open().ok());
  out.AddOwed(3);
  out.WriteAcks({{"s", 1, AckKind::kDead}, {"s", 2, AckKind::kDelivered}});
  EXPECT_EQ(out.owed(), 1);
  EXPECT_EQ(out.dead(), 1);
  out.WriteAcks({{"s", 1, AckKind::kRedriven}});
  EXPECT_EQ(out.owed(), 2);
  EXPECT_EQ(out.dead(), 0);
}

TEST_F(OutboxTest, AnUnwritableDirectoryFailsToOpen) {
  Outbox out(dir_ + "/missing/dir");
  (void)out.Load();
  Status s = out.Open();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("cannot open the outbox"),
            std::string::npos);
}

}  // namespace
}  // namespace sesame::events
