#include "spool/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>

#include "base/ids.h"
#include "base/log.h"

namespace sesame::spool {
namespace {

namespace fs = std::filesystem;

// A spool directory for one test, with helpers to write messages, reopen,
// and damage segment files at chosen offsets, in the manner of leveldb's
// log_test.
class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogLevel(LogLevel::kNone);  // corruption cases log by design
    dir_ = fs::temp_directory_path() /
           ("spool_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override {
    spool_.reset();
    fs::remove_all(dir_);
  }

  SpoolOptions Options() {
    SpoolOptions o;
    o.dir = dir_.string();
    return o;
  }
  void Open() {
    spool_.reset();
    auto s = Spool::Open(Options());
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    spool_ = std::move(*s);
  }
  static MessageMeta Meta(int i) {
    MessageMeta m;
    m.id = NewMessageId(1700000000000 + i);
    m.created_ms = 1700000000000 + i;
    m.mail_from = "sender" + std::to_string(i) + "@example.com";
    m.recipients.resize(2);
    m.recipients[0].address = "a" + std::to_string(i) + "@example.org";
    m.recipients[1].address = "b@example.net";
    m.client_ip = "127.0.0.1";
    m.source = "smtp";
    return m;
  }
  static std::string Body(int i) {
    return "Subject: " + std::to_string(i) + "\r\n\r\n" +
           std::string(100 + i, 'x') + "\r\n";
  }

  Status CommitSync(MessageMeta m, std::string body) {
    std::promise<Status> p;
    spool_->Commit(std::move(m), std::move(body),
                   [&](Status s) { p.set_value(s); });
    return p.get_future().get();
  }
  std::vector<std::string> WriteMessages(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      MessageMeta m = Meta(i);
      ids.push_back(m.id);
      EXPECT_TRUE(CommitSync(m, Body(i)).ok());
    }
    return ids;
  }
  // Path of the only (or last) segment holding records.
  std::string DataSegment() {
    std::vector<std::string> segs;
    for (auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".seg" &&
          fs::file_size(e.path()) > kFileHeaderSize) {
        segs.push_back(e.path().string());
      }
    }
    std::sort(segs.begin(), segs.end());
    return segs.empty() ? "" : segs.back();
  }
  // Offsets of each record in a segment (walking the headers).
  std::vector<uint64_t> RecordOffsets(const std::string& path) {
    std::string data = ReadFile(path);
    std::vector<uint64_t> offs;
    uint64_t off = kFileHeaderSize;
    while (off + kRecordHeaderSize <= data.size()) {
      auto h = DecodeRecordHeader(
          std::string_view(data).substr(off, kRecordHeaderSize));
      if (!h.ok()) break;
      offs.push_back(off);
      off += kRecordHeaderSize + h->meta_len + h->body_len;
    }
    return offs;
  }
  static std::string ReadFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  static void WriteFile(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << data;
  }
  void FlipByte(const std::string& path, uint64_t off) {
    std::string d = ReadFile(path);
    d[off] ^= 0x5A;
    WriteFile(path, d);
  }
  size_t QuarantineFiles() {
    size_t n = 0;
    for (auto& e : fs::directory_iterator(dir_ / "quarantine"))
      n += e.is_regular_file();
    return n;
  }

  fs::path dir_;
  std::unique_ptr<Spool> spool_;
};

TEST_F(SpoolTest, EmptySpoolRecoversNothing) {
  Open();
  EXPECT_EQ(spool_->size(), 0u);
  Open();
  EXPECT_EQ(spool_->size(), 0u);
  EXPECT_EQ(spool_->recovery().quarantined, 0u);
}

TEST_F(SpoolTest, CommitThenRecoverEverything) {
  Open();
  auto ids = WriteMessages(50);
  Open();
  ASSERT_EQ(spool_->size(), 50u);
  EXPECT_EQ(spool_->recovery().quarantined, 0u);
  EXPECT_EQ(spool_->recovery().torn_tails, 0u);
  for (int i = 0; i < 50; ++i) {
    auto info = spool_->Find(ids[i]);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->meta.mail_from, Meta(i).mail_from);
    ASSERT_EQ(info->meta.recipients.size(), 2u);
    EXPECT_EQ(info->meta.recipients[0].address, Meta(i).recipients[0].address);
    auto body = spool_->ReadBody(ids[i]);
    ASSERT_TRUE(body.ok()) << body.error().ToString();
    EXPECT_EQ(*body, Body(i));
  }
  auto list = spool_->List();
  ASSERT_EQ(list.size(), 50u);
  EXPECT_EQ(list.front().meta.id, ids.front());  // oldest first
}

TEST(MessageKeyTest, SesIdsPackAndShortIdsStayInline) {
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewMessageId(1700000000000 + i * 7919);
    auto key = MessageKey::FromId(id);
    ASSERT_TRUE(key.has_value()) << id;
    EXPECT_EQ(key->ToId(), id);
  }
  auto a = MessageKey::FromId(NewMessageId(1)), b = MessageKey::FromId("id-1");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->ToId(), "id-1");
  EXPECT_FALSE(*a == *b);
  EXPECT_FALSE(MessageKey::FromId("x-" + std::string(30, 'y')).has_value());
  // An SES-shaped id with a non-hex digit is not packed (and too long to
  // keep inline).
  std::string bad = NewMessageId(1);
  bad[20] = 'g';
  EXPECT_FALSE(MessageKey::FromId(bad).has_value());
}

TEST_F(SpoolTest, StateUpdatesAreReadBackFromDiskAndRecovered) {
  Open();
  auto ids = WriteMessages(3);
  auto meta = spool_->Find(ids[1]);
  ASSERT_TRUE(meta.ok());
  auto rcpts = meta->meta.recipients;
  rcpts[0].status = RecipientStatus::kDelivered;
  rcpts[1].attempts = 3;
  rcpts[1].last_response = "451 4.4.1 try later";
  std::promise<Status> p;
  spool_->UpdateState(ids[1], rcpts, [&](Status s) { p.set_value(s); });
  ASSERT_TRUE(p.get_future().get().ok());
  for (int round = 0; round < 2; ++round) {
    auto info = spool_->Find(ids[1]);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->meta.recipients[0].status, RecipientStatus::kDelivered);
    EXPECT_EQ(info->meta.recipients[1].attempts, 3u);
    EXPECT_EQ(info->meta.recipients[1].last_response, "451 4.4.1 try later");
    EXPECT_EQ(info->meta.mail_from, Meta(1).mail_from);
    Open();  // and again from recovery
    auto recovered = spool_->TakeRecovered(
        [&](const MessageMeta& m) { return m.id == ids[1]; });
    ASSERT_EQ(recovered.size(), 1u);
    EXPECT_EQ(recovered[0].meta.recipients[1].attempts, 3u);
    EXPECT_TRUE(spool_
                    ->TakeRecovered(
                        [&](const MessageMeta& m) { return m.id == ids[1]; })
                    .empty());  // taken once
  }
}

TEST_F(SpoolTest, TruncationAtEveryOffsetOfLastRecordKeepsTheRest) {
  Open();
  WriteMessages(3);
  spool_.reset();
  std::string seg = DataSegment();
  std::string full = ReadFile(seg);
  auto offs = RecordOffsets(seg);
  ASSERT_EQ(offs.size(), 3u);
  for (uint64_t cut = offs[2]; cut < full.size(); ++cut) {
    WriteFile(seg, full.substr(0, cut));
    Open();
    EXPECT_EQ(spool_->size(), 2u) << "cut at " << cut;
    EXPECT_EQ(spool_->recovery().quarantined, 0u);
    EXPECT_EQ(spool_->recovery().torn_tails, cut == offs[2] ? 0u : 1u) << cut;
    spool_.reset();
    // Recovery truncated the torn tail away; clean up new empty segments.
    for (auto& e : fs::directory_iterator(dir_)) {
      if (e.path().extension() == ".seg" && e.path() != seg)
        fs::remove(e.path());
    }
    EXPECT_EQ(fs::file_size(seg), offs[2]);
  }
}

TEST_F(SpoolTest, CorruptionInEachPartQuarantinesOneRecord) {
  struct Case {
    const char* name;
    uint64_t delta;  // offset within the middle record to damage
  };
  const Case cases[] = {{"magic", 0},       {"type", 4},
                        {"meta_len", 9},    {"body_len", 17},
                        {"header_crc", 29}, {"meta", kRecordHeaderSize + 3}};
  for (const auto& c : cases) {
    fs::remove_all(dir_);
    Open();
    auto ids = WriteMessages(3);
    spool_.reset();
    std::string seg = DataSegment();
    auto offs = RecordOffsets(seg);
    FlipByte(seg, offs[1] + c.delta);
    Open();
    SCOPED_TRACE(c.name);
    EXPECT_EQ(spool_->size(), 2u);
    EXPECT_TRUE(spool_->Find(ids[0]).ok());
    EXPECT_FALSE(spool_->Find(ids[1]).ok());
    EXPECT_TRUE(spool_->Find(ids[2]).ok());
    EXPECT_EQ(spool_->recovery().quarantined, 1u);
    EXPECT_EQ(QuarantineFiles(), 1u);
    ASSERT_EQ(spool_->recovery().problems.size(), 1u);
    EXPECT_NE(spool_->recovery().problems[0].find(std::to_string(offs[1])),
              std::string::npos);
  }
}

TEST_F(SpoolTest, BodyCorruptionIsFoundOnReadNotRecovery) {
  Open();
  auto ids = WriteMessages(2);
  spool_.reset();
  std::string seg = DataSegment();
  auto offs = RecordOffsets(seg);
  auto h = DecodeRecordHeader(ReadFile(seg).substr(offs[0], kRecordHeaderSize));
  FlipByte(seg, offs[0] + kRecordHeaderSize + h->meta_len + 5);
  Open();
  EXPECT_EQ(spool_->size(), 2u);
  auto body = spool_->ReadBody(ids[0]);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.error().code(), "corrupt");
  EXPECT_TRUE(spool_->ReadBody(ids[1]).ok());
}

TEST_F(SpoolTest, BadSegmentHeaderQuarantinesSegmentOnly) {
  Open();
  WriteMessages(2);
  Open();  // the next writes go to a new segment
  ASSERT_TRUE(CommitSync(Meta(10), Body(10)).ok());
  spool_.reset();
  std::vector<std::string> segs;
  for (auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() == ".seg") segs.push_back(e.path().string());
  }
  std::sort(segs.begin(), segs.end());
  FlipByte(segs[0], 2);
  Open();
  EXPECT_EQ(spool_->size(), 1u);
  EXPECT_EQ(spool_->recovery().quarantined, 1u);
}

TEST_F(SpoolTest, GarbageAppendedIsQuarantined) {
  Open();
  WriteMessages(2);
  spool_.reset();
  std::string seg = DataSegment();
  WriteFile(seg, ReadFile(seg) + std::string(100, '\0') + "random junk");
  Open();
  EXPECT_EQ(spool_->size(), 2u);
  EXPECT_EQ(spool_->recovery().quarantined + spool_->recovery().torn_tails, 1u);
}

TEST_F(SpoolTest, StateAndRemoveRecordsReplay) {
  Open();
  auto ids = WriteMessages(3);
  std::vector<Recipient> r = Meta(0).recipients;
  r[0].status = RecipientStatus::kDelivered;
  r[1].attempts = 2;
  r[1].last_response = "451 4.7.1 try later";
  std::promise<void> a, b;
  spool_->UpdateState(ids[0], r, [&](Status s) {
    EXPECT_TRUE(s.ok());
    a.set_value();
  });
  spool_->Remove(ids[1], [&](Status s) {
    EXPECT_TRUE(s.ok());
    b.set_value();
  });
  a.get_future().get();
  b.get_future().get();
  Open();
  EXPECT_EQ(spool_->size(), 2u);
  auto info = spool_->Find(ids[0]);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->meta.recipients[0].status, RecipientStatus::kDelivered);
  EXPECT_EQ(info->meta.recipients[1].attempts, 2u);
  EXPECT_EQ(info->meta.recipients[1].last_response, "451 4.7.1 try later");
  EXPECT_FALSE(spool_->Find(ids[1]).ok());
}

TEST_F(SpoolTest, ConcurrentCommitsShareSyncs) {
  Open();
  constexpr int kThreads = 8, kPer = 100;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        std::promise<Status> p;
        spool_->Commit(Meta(t * 1000 + i), Body(i),
                       [&](Status s) { p.set_value(s); });
        if (p.get_future().get().ok()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPer);
  EXPECT_EQ(spool_->synced_records(), uint64_t(kThreads * kPer));
  EXPECT_LT(spool_->batches(),
            uint64_t(kThreads * kPer));  // group commit happened
  Open();
  EXPECT_EQ(spool_->size(), size_t(kThreads * kPer));
}

TEST_F(SpoolTest, SecondOpenIsRefused) {
  Open();
  auto second = Spool::Open(Options());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), "locked");
}

// A write error (here: the file-size limit, as a full disk would) fails the
// batch with a transient error, leaves the segment on a record boundary,
// and later commits succeed.
TEST_F(SpoolTest, WriteErrorIsTransientAndLosesNothingAcknowledged) {
  Open();
  auto ids = WriteMessages(2);
  spool_.reset();
  const MessageMeta after = Meta(6);  // its id, kept for the check below
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    auto s = Spool::Open(Options());
    if (!s.ok()) ::_exit(10);
    struct rlimit rl = {64 * 1024, 64 * 1024};
    ::setrlimit(RLIMIT_FSIZE, &rl);
    std::promise<Status> p;
    (*s)->Commit(Meta(5), std::string(200 * 1024, 'z'),
                 [&](Status st) { p.set_value(st); });
    Status st = p.get_future().get();
    if (st.ok() || !st.error().transient()) ::_exit(11);
    // The next message (once the 250 ms free-space check has run again)
    // is accepted: a write error does not stop the spool.
    ::usleep(300 * 1000);
    std::promise<Status> q;
    (*s)->Commit(after, Body(6), [&](Status st2) { q.set_value(st2); });
    if (!q.get_future().get().ok()) ::_exit(12);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  Open();
  EXPECT_EQ(spool_->size(), 3u);
  EXPECT_EQ(spool_->recovery().quarantined, 0u);
  EXPECT_TRUE(spool_->Find(ids[0]).ok());
  EXPECT_TRUE(spool_->Find(ids[1]).ok());
  EXPECT_TRUE(spool_->Find(after.id).ok());  // committed after the error
}

TEST_F(SpoolTest, WithoutFreeSpaceNewMailIsRefusedButDeliveryProgresses) {
  Open();
  auto ids = WriteMessages(2);
  spool_.reset();
  auto opts = Options();
  opts.min_free_bytes = 1ull << 62;  // no filesystem has that much free
  auto s = Spool::Open(opts);
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE((*s)->Accepting());
  std::promise<Status> p;
  (*s)->Commit(Meta(7), Body(7), [&](Status st) { p.set_value(st); });
  Status refused = p.get_future().get();
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().transient());
  EXPECT_EQ(refused.error().code(), "no_space");
  // Delivery's records still go through: a removal frees the message.
  std::promise<Status> q;
  (*s)->Remove(ids[0], [&](Status st) { q.set_value(st); });
  EXPECT_TRUE(q.get_future().get().ok());
  EXPECT_EQ((*s)->size(), 1u);
  s->reset();
  Open();
  EXPECT_EQ(spool_->size(), 1u);
  EXPECT_TRUE(spool_->Find(ids[1]).ok());
}

TEST_F(SpoolTest, ReadHeaderBlockReadsOnlyTheHeaders) {
  Open();
  MessageMeta m = Meta(3);
  ASSERT_TRUE(CommitSync(m, Body(3)).ok());
  auto head = spool_->ReadHeaderBlock(m.id, 16 * 1024);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, "Subject: 3");
  auto cut = spool_->ReadHeaderBlock(m.id, 4);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(*cut, "Subj");
  EXPECT_FALSE(spool_->ReadHeaderBlock("nope", 100).ok());
}

TEST_F(SpoolTest, SegmentsAreReclaimedWithoutResurrection) {
  // Every batch in a segment of its own, so records land where we say.
  auto opts = Options();
  opts.segment_bytes = 1;
  auto open = [&] {
    spool_.reset();
    auto s = Spool::Open(opts);
    ASSERT_TRUE(s.ok());
    spool_ = std::move(*s);
  };
  auto sync = [&](auto fn) {
    std::promise<Status> p;
    fn([&](Status s) { p.set_value(s); });
    ASSERT_TRUE(p.get_future().get().ok());
  };
  open();
  MessageMeta a = Meta(1), b = Meta(2);
  ASSERT_TRUE(
      CommitSync(a, Body(1)).ok());  // segment 2 (1 was the first active)
  ASSERT_TRUE(CommitSync(b, Body(2)).ok());  // segment 3
  std::vector<Recipient> st = b.recipients;
  st[0].status = RecipientStatus::kDelivered;
  sync([&](auto cb) {
    spool_->UpdateState(b.id, st, cb);
  });                                                // b's state in segment 4
  sync([&](auto cb) { spool_->Remove(a.id, cb); });  // a's tombstone in 5
  // a's body segment is free now; b's body and state segments are pinned.
  size_t after_a = spool_->segment_count();
  open();
  EXPECT_EQ(spool_->size(), 1u);
  EXPECT_TRUE(spool_->Find(b.id).ok());
  EXPECT_FALSE(spool_->Find(a.id).ok());
  EXPECT_EQ(spool_->Find(b.id)->meta.recipients[0].status,
            RecipientStatus::kDelivered);
  sync([&](auto cb) { spool_->Remove(b.id, cb); });
  EXPECT_LT(spool_->segment_count(), after_a);
  open();
  EXPECT_EQ(spool_->size(), 0u);
  // Only the active segment and at most one holding the last tombstone remain.
  EXPECT_LE(spool_->segment_count(), 2u);
  size_t files = 0;
  for (auto& e : fs::directory_iterator(dir_))
    files += e.path().extension() == ".seg";
  EXPECT_EQ(files, spool_->segment_count());
}

TEST_F(SpoolTest, ManyMessagesDeliveredLeaveLittleBehind) {
  auto opts = Options();
  opts.segment_bytes = 64 * 1024;
  spool_.reset();
  auto s = Spool::Open(opts);
  ASSERT_TRUE(s.ok());
  spool_ = std::move(*s);
  std::vector<std::string> ids = WriteMessages(500);
  EXPECT_GT(spool_->segment_count(), 2u);
  for (const auto& id : ids) {
    std::promise<void> p;
    spool_->Remove(id, [&](Status) { p.set_value(); });
    p.get_future().get();
  }
  EXPECT_LE(spool_->segment_count(), 3u);
  Open();
  EXPECT_EQ(spool_->size(), 0u);
}

TEST(RecordFormat, MetaRoundTripAndRejectsTruncation) {
  MessageMeta m;
  m.id = "id-1";
  m.created_ms = 123456789;
  m.mail_from = "";
  m.recipients = {{"x@y.z", RecipientStatus::kFailed, 3, 99, "550 no"}};
  m.smtputf8 = true;
  m.tls = true;
  m.auth_user = "u";
  std::string enc = EncodeMeta(m);
  auto d = DecodeMeta(enc);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->id, "id-1");
  EXPECT_EQ(d->created_ms, 123456789);
  EXPECT_TRUE(d->smtputf8);
  EXPECT_FALSE(d->eight_bit);
  EXPECT_TRUE(d->tls);
  m.tls = false;  // and a record from before the flag reads as no TLS
  EXPECT_FALSE(DecodeMeta(EncodeMeta(m))->tls);
  EXPECT_EQ(d->recipients[0].status, RecipientStatus::kFailed);
  EXPECT_EQ(d->recipients[0].last_response, "550 no");
  for (size_t cut = 0; cut < enc.size(); ++cut) {
    EXPECT_FALSE(DecodeMeta(enc.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(DecodeMeta(enc + "x").ok());
}

}  // namespace
}  // namespace sesame::spool
