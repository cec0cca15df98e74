#include "spool/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "base/crc32c.h"
#include "base/ids.h"
#include "base/log.h"

namespace sesame::spool {
namespace {

constexpr char kLog[] = "spool";

Error IoError(const std::string& what, int err) {
  // Every I/O failure is transient for the client: it may retry later.
  bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
  return Error::Transient(full ? "no_space" : "io",
                          what + ": " + std::strerror(err));
}

Status PreadAll(int fd, char* buf, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return IoError("read", errno);
    }
    if (r == 0) return Error::Permanent("corrupt", "unexpected end of file");
    buf += r;
    n -= r;
    off += r;
  }
  return Ok{};
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("fsync " + dir, err);
  return Ok{};
}

Status MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return IoError("mkdir " + dir, errno);
  return Ok{};
}

// Segment numbers found in dir, ascending.
Result<std::vector<uint32_t>> ListSegments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return IoError("opendir " + dir, errno);
  std::vector<uint32_t> out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() == 12 && name.compare(8, 4, ".seg") == 0 &&
        name.find_first_not_of("0123456789abcdef") == 8) {
      out.push_back(
          static_cast<uint32_t>(std::stoul(name.substr(0, 8), nullptr, 16)));
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string SegmentName(uint32_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08x.seg", n);
  return buf;
}

void SortOldestFirst(std::vector<MessageInfo>* list) {
  std::sort(list->begin(), list->end(),
            [](const MessageInfo& a, const MessageInfo& b) {
              return a.meta.created_ms != b.meta.created_ms
                         ? a.meta.created_ms < b.meta.created_ms
                         : a.meta.id < b.meta.id;
            });
}

Spool::Entry EntryOf(const MessageInfo& info) {
  Spool::Entry e;
  e.record = info.record;
  e.segment = info.segment;
  e.state_segment = info.state_segment;
  e.state_record = info.state_record;
  return e;
}

// Replays records straight into the index, in file order: a message's
// record adds its entry and appends its MessageInfo to a vector, a state
// record replaces its recipients, a remove record drops both. While
// replaying, an entry's state_record holds its slot in that vector (one
// hash table for a million messages, not two); Take() puts the real
// locations back.
class Replayer {
 public:
  explicit Replayer(Spool::Index* index) : index_(index) {}

  // (segment holding a remove record, segment holding that message's body)
  std::vector<std::pair<uint32_t, uint32_t>> tombstones;

  void Reserve(size_t n) { index_->reserve(n); }

  // Returns false when the meta does not decode (the caller treats the
  // record as corrupt).
  bool Apply(uint32_t segment, const RecordHeader& h, std::string_view meta,
             uint64_t body_offset) {
    switch (h.type) {
      case RecordType::kMessage: {
        auto m = DecodeMeta(meta);
        if (!m.ok()) return false;
        auto key = MessageKey::FromId(m->id);
        if (!key) return false;  // no spool writes such ids
        MessageInfo info;
        info.size = h.body_len;
        info.segment = segment;
        info.body_offset = body_offset;
        info.body_crc = h.body_crc;
        info.record = body_offset - h.meta_len - kRecordHeaderSize;
        info.meta = std::move(*m);
        auto [it, fresh] = index_->try_emplace(*key);
        if (fresh) {
          it->second.state_record = infos_.size();
          infos_.push_back(std::move(info));
        } else {
          infos_[it->second.state_record] = std::move(info);  // seen again
        }
        it->second.segment = segment;
        return true;
      }
      case RecordType::kState: {
        auto s = DecodeState(meta);
        if (!s.ok()) return false;
        auto key = MessageKey::FromId(s->first);
        auto it = key ? index_->find(*key) : index_->end();
        if (it != index_->end()) {
          MessageInfo& info = infos_[it->second.state_record];
          info.meta.recipients = std::move(s->second);
          info.state_segment = segment;
          info.state_record = body_offset - h.meta_len - kRecordHeaderSize;
        }
        return true;
      }
      case RecordType::kRemove: {
        auto s = DecodeState(meta);
        if (!s.ok()) return false;
        auto key = MessageKey::FromId(s->first);
        auto it = key ? index_->find(*key) : index_->end();
        if (it != index_->end()) {
          tombstones.emplace_back(segment, it->second.segment);
          infos_[it->second.state_record] = MessageInfo();
          index_->erase(it);
        }
        return true;
      }
    }
    return false;
  }

  // The live messages (in the index's order), moved out; the index gets
  // its real entries.
  std::vector<MessageInfo> Take() {
    std::vector<MessageInfo> out;
    out.reserve(index_->size());
    for (auto& [key, e] : *index_) {
      MessageInfo& info = infos_[e.state_record];
      e = EntryOf(info);
      out.push_back(std::move(info));
    }
    infos_.clear();
    infos_.shrink_to_fit();
    return out;
  }

 private:
  Spool::Index* index_;
  std::vector<MessageInfo> infos_;
};

// Scans one segment. With `repair`, corrupt regions are copied into
// quarantine_dir and an incomplete tail is truncated away.
class SegmentScanner {
 public:
  SegmentScanner(std::string path, uint32_t segment, bool repair,
                 std::string quarantine_dir, RecoveryReport* report,
                 Replayer* replayer)
      : path_(std::move(path)),
        segment_(segment),
        repair_(repair),
        quarantine_dir_(std::move(quarantine_dir)),
        report_(report),
        replayer_(replayer) {}

  Status Scan() {
    int fd = ::open(path_.c_str(), (repair_ ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return IoError("open " + path_, errno);
    fd_ = fd;
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      return IoError("stat " + path_, errno);
    }
    size_ = static_cast<uint64_t>(st.st_size);
    Status s = ScanRecords();
    ::close(fd_);
    return s;
  }

 private:
  Status ScanRecords() {
    char fh[kFileHeaderSize];
    if (size_ < kFileHeaderSize || !PreadAll(fd_, fh, sizeof fh, 0).ok() ||
        !DecodeFileHeader(std::string_view(fh, sizeof fh)).ok()) {
      if (size_ == 0) {
        Bad(0, 0, true, "empty segment (crashed while creating it)");
        return Ok{};
      }
      Bad(0, size_, false, "bad segment header");
      return Ok{};
    }
    uint64_t off = kFileHeaderSize;
    while (off < size_) {
      if (size_ - off < kRecordHeaderSize) {
        Bad(off, size_, true, "incomplete record header at end of segment");
        break;
      }
      char hb[kRecordHeaderSize];
      Status rs = ReadAhead(hb, sizeof hb, off);
      if (!rs.ok()) return rs;
      auto h = DecodeRecordHeader(std::string_view(hb, sizeof hb));
      if (!h.ok()) {
        off = Skip(off, h.error().message());
        continue;
      }
      uint64_t total = kRecordHeaderSize + h->meta_len + h->body_len;
      if (total > size_ - off) {
        // The header checksum holds, so the lengths are genuine: the writer
        // died before finishing this record, which was never acknowledged.
        Bad(off, size_, true, "incomplete record at end of segment");
        break;
      }
      std::string meta(h->meta_len, '\0');
      rs = ReadAhead(meta.data(), meta.size(), off + kRecordHeaderSize);
      if (!rs.ok()) return rs;
      if (crc32c::Value(meta) != h->meta_crc) {
        off = Skip(off, "metadata checksum mismatch");
        continue;
      }
      if (!replayer_->Apply(segment_, *h, meta,
                            off + kRecordHeaderSize + h->meta_len)) {
        Bad(off, off + total, false, "undecodable metadata");
      } else {
        ++report_->records;
      }
      off += total;
    }
    return Ok{};
  }

  // Reads through a window of kWindow bytes: the scan reads every header
  // and meta in file order, and with small bodies one read serves thousands
  // of records (two preads per record made start-up with a million queued
  // take seconds). A large body is skipped by moving the window past it.
  static constexpr size_t kWindow = 1 << 20;
  Status ReadAhead(char* dst, size_t n, uint64_t off) {
    if (off < window_off_ || off + n > window_off_ + window_.size()) {
      if (n > kWindow) return PreadAll(fd_, dst, n, off);
      size_t want = static_cast<size_t>(
          std::min<uint64_t>(kWindow, size_ > off ? size_ - off : 0));
      if (want < n) want = n;
      window_.resize(want);
      Status s = PreadAll(fd_, window_.data(), want, off);
      if (!s.ok()) {
        window_.clear();
        return s;
      }
      window_off_ = off;
    }
    std::memcpy(dst, window_.data() + (off - window_off_), n);
    return Ok{};
  }

  // Finds the next offset after `from` holding a record whose header and
  // metadata checksums verify; quarantines the bytes in between.
  uint64_t Skip(uint64_t from, const std::string& why) {
    uint64_t next = FindNext(from + 1);
    Bad(from, next, /*torn_tail=*/false, why);
    return next;
  }

  uint64_t FindNext(uint64_t from) {
    const unsigned char magic[4] = {
        kRecordMagic & 0xFF, (kRecordMagic >> 8) & 0xFF,
        (kRecordMagic >> 16) & 0xFF, kRecordMagic >> 24};
    std::string buf(1 << 20, '\0');
    uint64_t pos = from;
    while (pos + kRecordHeaderSize <= size_) {
      size_t n =
          static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - pos));
      if (!PreadAll(fd_, buf.data(), n, pos).ok()) return size_;
      for (size_t i = 0; i + 4 <= n; ++i) {
        if (std::memcmp(buf.data() + i, magic, 4) != 0) continue;
        uint64_t cand = pos + i;
        if (size_ - cand < kRecordHeaderSize) return size_;
        char hb[kRecordHeaderSize];
        if (!PreadAll(fd_, hb, sizeof hb, cand).ok()) continue;
        auto h = DecodeRecordHeader(std::string_view(hb, sizeof hb));
        if (!h.ok() ||
            kRecordHeaderSize + h->meta_len + h->body_len > size_ - cand)
          continue;
        std::string meta(h->meta_len, '\0');
        if (!PreadAll(fd_, meta.data(), meta.size(), cand + kRecordHeaderSize)
                 .ok())
          continue;
        if (crc32c::Value(meta) == h->meta_crc) return cand;
      }
      if (n < 4) break;
      pos += n - 3;  // overlap so a magic across chunks is found
    }
    return size_;
  }

  void Bad(uint64_t begin, uint64_t end, bool torn_tail,
           const std::string& why) {
    std::string name = SegmentName(segment_);
    std::string line = name + " bytes [" + std::to_string(begin) + ", " +
                       std::to_string(end) + "): " + why;
    if (torn_tail) {
      ++report_->torn_tails;
      SESAME_LOG(kWarn, kLog)
          << "discarding " << line << " (never acknowledged)";
    } else {
      ++report_->quarantined;
      report_->problems.push_back(line);
      SESAME_LOG(kError, kLog) << "quarantining corrupt region " << line;
    }
    if (!repair_) return;
    if (end > begin) {
      std::string qpath =
          quarantine_dir_ + "/" + name + "." + std::to_string(begin) + ".bad";
      int q =
          ::open(qpath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (q >= 0) {
        std::string buf(1 << 20, '\0');
        for (uint64_t pos = begin; pos < end;) {
          size_t n =
              static_cast<size_t>(std::min<uint64_t>(buf.size(), end - pos));
          if (!PreadAll(fd_, buf.data(), n, pos).ok() ||
              ::write(q, buf.data(), n) != ssize_t(n))
            break;
          pos += n;
        }
        ::fsync(q);
        ::close(q);
      } else {
        SESAME_LOG(kError, kLog)
            << "cannot write " << qpath << ": " << std::strerror(errno);
      }
    }
    if (torn_tail && end == size_ && begin >= kFileHeaderSize) {
      if (::ftruncate(fd_, static_cast<off_t>(begin)) == 0) {
        ::fdatasync(fd_);
        size_ = begin;
      }
    }
  }

  std::string path_;
  uint32_t segment_;
  bool repair_;
  std::string quarantine_dir_;
  RecoveryReport* report_;
  Replayer* replayer_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string window_;  // ReadAhead's bytes, from window_off_
  uint64_t window_off_ = 0;
};

}  // namespace

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {}

Spool::~Spool() {
  Close();
  if (active_fd_ >= 0) ::close(active_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string Spool::SegmentPath(uint32_t number) const {
  return options_.dir + "/" + SegmentName(number);
}

Result<std::unique_ptr<Spool>> Spool::Open(SpoolOptions options) {
  std::unique_ptr<Spool> spool(new Spool(std::move(options)));
  const std::string& dir = spool->options_.dir;
  Status s = MakeDir(dir);
  if (!s.ok()) return s.error();
  s = MakeDir(dir + "/quarantine");
  if (!s.ok()) return s.error();
  std::string lock = dir + "/LOCK";
  spool->lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (spool->lock_fd_ < 0) return IoError("open " + lock, errno);
  if (::flock(spool->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Error::Permanent(
        "locked", "spool " + dir + " is in use by another sesame process");
  }
  s = spool->Recover();
  if (!s.ok()) return s.error();
  spool->writer_ = std::thread([p = spool.get()] { p->WriterLoop(); });
  return spool;
}

Status Spool::Recover() {
  auto segments = ListSegments(options_.dir);
  if (!segments.ok()) return segments.error();
  // The replay needs each message's whole metadata (states replace its
  // recipients); the index keeps only locations, and the metadata is kept
  // for the consumers to take once (TakeRecovered).
  Replayer replayer(&index_);
  // About one message per 2 KB of segment: one rehash at most for 1 KB
  // messages, none for larger ones.
  uint64_t bytes = 0;
  for (uint32_t n : *segments) {
    struct stat st {};
    if (::stat(SegmentPath(n).c_str(), &st) == 0) bytes += uint64_t(st.st_size);
  }
  replayer.Reserve(static_cast<size_t>(bytes / 2048));
  for (uint32_t n : *segments) {
    SegmentScanner scanner(SegmentPath(n), n, true,
                           options_.dir + "/quarantine", &recovery_, &replayer);
    Status s = scanner.Scan();
    if (!s.ok()) return s;
    ++recovery_.segments;
  }
  recovered_ = replayer.Take();
  recovery_.messages = index_.size();
  uint32_t next = segments->empty() ? 1 : segments->back() + 1;
  // Recovery needs no free space: a full disk must not keep Sesame from
  // starting and delivering (which frees space). Without an active segment
  // the writer opens one when the first batch comes, and new mail is
  // refused until then.
  active_segment_ = next - 1;
  if (Status s = OpenActiveSegment(next); !s.ok()) {
    SESAME_LOG(kWarn, kLog) << "no active segment yet (" << s.error().message()
                            << "); new mail is refused until space returns";
    accepting_ = false;
  }
  for (uint32_t n : *segments) existing_segments_.insert(n);
  for (const auto& [key, e] : index_) Pin(e);
  for (auto [tomb, body] : replayer.tombstones) {
    if (body == tomb) continue;  // goes with its own segment
    ++tomb_pins_[tomb];
    tombstones_by_body_[body].push_back(tomb);
  }
  std::vector<uint32_t> all(segments->begin(), segments->end());
  CollectSegments(all);
  return Ok{};
}

std::vector<MessageInfo> Spool::TakeRecovered(
    const std::function<bool(const MessageMeta&)>& mine) {
  std::vector<MessageInfo> taken, kept;
  std::lock_guard<std::mutex> lock(index_mu_);
  for (MessageInfo& info : recovered_)
    (mine(info.meta) ? taken : kept).push_back(std::move(info));
  recovered_ = std::move(kept);
  recovered_.shrink_to_fit();
  return taken;
}

Result<std::vector<MessageInfo>> Spool::Inspect(const std::string& dir,
                                                RecoveryReport* report) {
  auto segments = ListSegments(dir);
  if (!segments.ok()) return segments.error();
  Index index;
  Replayer replayer(&index);
  for (uint32_t n : *segments) {
    SegmentScanner scanner(dir + "/" + SegmentName(n), n, false, "", report,
                           &replayer);
    Status s = scanner.Scan();
    if (!s.ok()) return s.error();
    ++report->segments;
  }
  std::vector<MessageInfo> out = replayer.Take();
  report->messages = out.size();
  SortOldestFirst(&out);
  return out;
}

Status Spool::OpenActiveSegment(uint32_t number) {
  std::string path = SegmentPath(number);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("create " + path, errno);
  std::string header = EncodeFileHeader(number);
  if (::write(fd, header.data(), header.size()) != ssize_t(header.size()) ||
      (options_.sync && ::fdatasync(fd) != 0)) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return IoError("write " + path, err ? err : ENOSPC);
  }
  if (options_.sync) {
    Status s = FsyncDir(options_.dir);
    if (!s.ok()) {
      ::close(fd);
      return s;
    }
  }
  if (active_fd_ >= 0) ::close(active_fd_);
  uint32_t previous = active_segment_;
  active_fd_ = fd;
  active_segment_ = number;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    existing_segments_.insert(number);
    if (previous)
      CollectSegments(
          {previous});  // the old active one may be all dead already
  }
  active_size_ = header.size();
  return Ok{};
}

void Spool::Commit(MessageMeta meta, std::string body, Callback done) {
  auto key = MessageKey::FromId(meta.id);
  if (!key) {
    if (done)
      done(Error::Permanent("invalid",
                            "unusable message id " + meta.id.substr(0, 80)));
    return;
  }
  Request r;
  r.type = RecordType::kMessage;
  r.meta = EncodeMeta(meta);
  r.body = std::move(body);
  r.key = *key;
  r.message = std::move(meta);
  r.done = std::move(done);
  Enqueue(std::move(r));
}

void Spool::UpdateState(const std::string& id,
                        std::vector<Recipient> recipients, Callback done) {
  auto key = MessageKey::FromId(id);
  if (!key) {
    if (done) done(Error::Permanent("not_found", "no message " + id));
    return;
  }
  Request r;
  r.type = RecordType::kState;
  r.meta = EncodeState(id, recipients);
  r.key = *key;
  r.done = std::move(done);
  Enqueue(std::move(r));
}

void Spool::Remove(const std::string& id, Callback done) {
  auto key = MessageKey::FromId(id);
  if (!key) {
    if (done) done(Error::Permanent("not_found", "no message " + id));
    return;
  }
  Request r;
  r.type = RecordType::kRemove;
  r.meta = EncodeState(id, {});
  r.key = *key;
  r.done = std::move(done);
  Enqueue(std::move(r));
}

bool Spool::Accepting() const {
  int64_t now = NowMillis();
  int64_t last = space_checked_ms_.load(std::memory_order_relaxed);
  if (now - last >= 250 &&
      space_checked_ms_.compare_exchange_strong(last, now)) {
    struct statvfs st {};
    if (::statvfs(options_.dir.c_str(), &st) == 0) {
      uint64_t free_bytes = uint64_t(st.f_bavail) * st.f_frsize;
      accepting_ =
          free_bytes >= std::max<uint64_t>(options_.min_free_bytes, 1 << 20);
    }
  }
  return accepting_.load(std::memory_order_relaxed);
}

// Moves the new-message requests of `batch` out (and returns them), or,
// with messages=false, everything else; the order of both is kept.
std::vector<Spool::Request> Spool::TakeRequests(std::vector<Request>& batch,
                                                bool messages) {
  std::vector<Request> taken, kept;
  for (Request& r : batch)
    ((r.type == RecordType::kMessage) == messages ? taken : kept)
        .push_back(std::move(r));
  batch.swap(kept);
  return taken;
}

// Fails the batch's new messages at once (transient: the client retries
// later) and keeps its state and removal records.
void Spool::RefuseMessages(std::vector<Request>& batch) {
  for (Request& r : TakeRequests(batch, /*messages=*/true)) {
    if (r.done)
      r.done(Error::Transient(
          "no_space",
          "insufficient system storage: the spool's filesystem "
          "is (nearly) full"));
  }
}

// After a failed batch: its messages stay in `batch` and are refused
// (their callbacks get the error), but state and removal records describe
// deliveries that happened: they move to retry_ and are written again with
// the next batch (at most every 500 ms while nothing else comes, so a full
// disk is not spun on). Their callbacks wait until then.
void Spool::KeepForRetry(std::vector<Request>& batch) {
  for (Request& r : TakeRequests(batch, /*messages=*/false))
    retry_.push_back(std::move(r));
}

void Spool::Enqueue(Request req) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!stop_) {
      queue_.push_back(std::move(req));
      queue_cv_.notify_one();
      return;
    }
  }
  if (req.done) req.done(Error::Transient("closed", "spool is shutting down"));
}

void Spool::Close() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stop_) {
      if (writer_.joinable()) writer_.join();
      return;
    }
    stop_ = true;
    queue_cv_.notify_one();
  }
  if (writer_.joinable()) writer_.join();
}

void Spool::WriterLoop() {
  std::vector<Request> batch;
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> crcs;
  std::vector<uint32_t> touched;  // segments whose pins dropped in this batch
  while (true) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      // Idle, the writer sleeps until work comes; with records to retry
      // (a full disk) it looks again every 500 ms.
      auto ready = [&] { return !queue_.empty() || stop_; };
      if (retry_.empty()) {
        queue_cv_.wait(lock, ready);
      } else {
        queue_cv_.wait_for(lock, std::chrono::milliseconds(500), ready);
      }
      if (queue_.empty() && stop_) {
        for (Request& r : retry_) {
          if (r.done) r.done(Error::Transient("closed", "spool closed"));
        }
        return;
      }
      if (queue_.empty() && retry_.empty()) continue;
      batch.swap(queue_);
    }
    if (!retry_.empty()) {
      // Earlier states and removals first, in their order.
      batch.insert(batch.begin(), std::make_move_iterator(retry_.begin()),
                   std::make_move_iterator(retry_.end()));
      retry_.clear();
    }
    if (!Accepting()) RefuseMessages(batch);
    if (batch.empty()) continue;
    Status s = WriteBatch(batch, &offsets, &crcs);
    if (!s.ok() && s.error().code() == "no_space") accepting_ = false;
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(index_mu_);
      ++batches_;
      synced_records_ += batch.size();
      for (size_t i = 0; i < batch.size(); ++i) {
        Request& r = batch[i];
        uint64_t record = offsets[i] - r.meta.size() - kRecordHeaderSize;
        if (r.type == RecordType::kMessage) {
          Entry e;
          e.segment = active_segment_;
          e.record = record;
          Pin(e);
          index_[r.key] = e;
        } else if (r.type == RecordType::kState) {
          auto it = index_.find(r.key);
          if (it != index_.end()) {
            Entry& e = it->second;
            if (e.state_segment) {
              touched.push_back(e.state_segment);
              --live_pins_[e.state_segment];
            }
            e.state_segment = active_segment_;
            e.state_record = record;
            ++live_pins_[active_segment_];
          }
        } else {
          auto it = index_.find(r.key);
          if (it != index_.end()) {
            Unpin(it->second, &touched);
            if (it->second.segment != active_segment_) {
              ++tomb_pins_[active_segment_];
              tombstones_by_body_[it->second.segment].push_back(
                  active_segment_);
            }
            index_.erase(it);
          }
        }
      }
      CollectSegments(touched);
      touched.clear();
    } else {
      SESAME_LOG(kError, kLog)
          << "batch of " << batch.size() << " failed: " << s.error().message();
      KeepForRetry(batch);
    }
    // The listener gets the metadata from the request (the index keeps
    // none), for messages still queued (a removal may have followed in the
    // same batch).
    std::vector<MessageInfo> committed;
    if (s.ok() && listener_) {
      bool headers = capture_headers_ && capture_headers_();
      std::lock_guard<std::mutex> lock(index_mu_);
      for (size_t i = 0; i < batch.size(); ++i) {
        Request& r = batch[i];
        if (r.type != RecordType::kMessage) continue;
        auto it = index_.find(r.key);
        if (it == index_.end()) continue;
        MessageInfo info;
        info.meta = std::move(r.message);
        info.size = r.body.size();
        info.segment = it->second.segment;
        info.body_offset = offsets[i];
        info.body_crc = crcs[i];
        info.record = it->second.record;
        if (headers) {
          size_t end = r.body.find("\r\n\r\n");
          info.header_block =
              r.body.substr(0, end == std::string::npos ? 64 * 1024 : end);
        }
        committed.push_back(std::move(info));
      }
    }
    for (Request& r : batch) {
      r.body.clear();
      r.body.shrink_to_fit();  // bodies never outlive their commit in RAM
      if (r.done) r.done(s);
    }
    for (const MessageInfo& info : committed) listener_(info);
    batch.clear();
  }
}

Status Spool::WriteBatch(std::vector<Request>& batch,
                         std::vector<uint64_t>* body_offsets,
                         std::vector<uint32_t>* crcs_out) {
  if (active_fd_ < 0 || active_size_ >= options_.segment_bytes) {
    Status s = OpenActiveSegment(active_segment_ + 1);
    if (!s.ok()) return s;
  }
  // Headers and metadata in one buffer; bodies referenced in place.
  std::string heads;
  std::vector<size_t> head_ends;
  std::vector<uint32_t>& crcs = *crcs_out;
  crcs.assign(batch.size(), 0);
  body_offsets->assign(batch.size(), 0);
  uint64_t pos = active_size_;
  for (size_t i = 0; i < batch.size(); ++i) {
    Request& r = batch[i];
    crcs[i] = r.body.empty() ? 0 : crc32c::Value(r.body);
    AppendRecordHeader(&heads, r.type, r.meta, r.body.size(), crcs[i]);
    heads.append(r.meta);
    head_ends.push_back(heads.size());
    pos += kRecordHeaderSize + r.meta.size();
    (*body_offsets)[i] = pos;
    pos += r.body.size();
  }
  std::vector<iovec> iov;
  size_t prev = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    iov.push_back({heads.data() + prev, head_ends[i] - prev});
    prev = head_ends[i];
    if (!batch[i].body.empty())
      iov.push_back({batch[i].body.data(), batch[i].body.size()});
  }
  uint64_t off = active_size_;
  size_t idx = 0;
  int err = 0;
  while (idx < iov.size()) {
    int cnt = static_cast<int>(std::min<size_t>(iov.size() - idx, IOV_MAX));
    ssize_t n = ::pwritev(active_fd_, &iov[idx], cnt, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) {
      err = ENOSPC;
      break;
    }
    off += n;
    size_t left = static_cast<size_t>(n);
    while (left > 0 && idx < iov.size()) {
      if (left >= iov[idx].iov_len) {
        left -= iov[idx].iov_len;
        ++idx;
      } else {
        iov[idx].iov_base = static_cast<char*>(iov[idx].iov_base) + left;
        iov[idx].iov_len -= left;
        left = 0;
      }
    }
  }
  if (err == 0 && options_.sync && ::fdatasync(active_fd_) != 0) err = errno;
  if (err != 0) {
    // Drop the partial batch so the segment ends on a record boundary. After
    // a failed sync the page cache cannot be trusted, so move to a new segment.
    if (::ftruncate(active_fd_, static_cast<off_t>(active_size_)) != 0 ||
        options_.sync) {
      ::close(active_fd_);
      active_fd_ = -1;
    }
    return IoError("append to " + SegmentName(active_segment_), err);
  }
  active_size_ = off;
  return Ok{};
}

void Spool::Pin(const Entry& e) {
  ++live_pins_[e.segment];
  if (e.state_segment) ++live_pins_[e.state_segment];
}

void Spool::Unpin(const Entry& e, std::vector<uint32_t>* touched) {
  --live_pins_[e.segment];
  touched->push_back(e.segment);
  if (e.state_segment) {
    --live_pins_[e.state_segment];
    touched->push_back(e.state_segment);
  }
}

// A segment may go when no live message has its body or latest state in it
// and no remove record in it still shadows a message in an older segment;
// deleting it can free the segments holding those remove records in turn.
void Spool::CollectSegments(std::vector<uint32_t> candidates) {
  while (!candidates.empty()) {
    uint32_t seg = candidates.back();
    candidates.pop_back();
    if (seg == active_segment_ || !existing_segments_.count(seg)) continue;
    if (live_pins_[seg] > 0 || tomb_pins_[seg] > 0) continue;
    if (::unlink(SegmentPath(seg).c_str()) != 0 && errno != ENOENT) {
      SESAME_LOG(kWarn, kLog) << "cannot delete " << SegmentPath(seg) << ": "
                              << std::strerror(errno);
      continue;
    }
    existing_segments_.erase(seg);
    open_segments_.erase(seg);  // closed once its last reader is done
    live_pins_.erase(seg);
    tomb_pins_.erase(seg);
    ++segments_deleted_;
    auto it = tombstones_by_body_.find(seg);
    if (it != tombstones_by_body_.end()) {
      for (uint32_t tomb : it->second) {
        --tomb_pins_[tomb];
        candidates.push_back(tomb);
      }
      tombstones_by_body_.erase(it);
    }
  }
}

size_t Spool::segment_count() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  return existing_segments_.size();
}

std::vector<MessageInfo> Spool::List() const {
  std::vector<std::pair<MessageKey, Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    entries.assign(index_.begin(), index_.end());
  }
  // Read in file order, so the reads are sequential.
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second.segment != b.second.segment
               ? a.second.segment < b.second.segment
               : a.second.record < b.second.record;
  });
  std::vector<MessageInfo> out;
  out.reserve(entries.size());
  for (const auto& [key, e] : entries) {
    // A message removed meanwhile (its segment gone) is left out.
    auto info = Load(key.ToId(), e);
    if (info.ok()) out.push_back(std::move(*info));
  }
  SortOldestFirst(&out);
  return out;
}

size_t Spool::size() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  return index_.size();
}

Result<Spool::Entry> Spool::FindEntry(const std::string& id) const {
  auto key = MessageKey::FromId(id);
  std::lock_guard<std::mutex> lock(index_mu_);
  auto it = key ? index_.find(*key) : index_.end();
  if (it == index_.end())
    return Error::Permanent("not_found", "no message " + id);
  return it->second;
}

Result<MessageInfo> Spool::Find(const std::string& id) const {
  auto e = FindEntry(id);
  if (!e.ok()) return e.error();
  return Load(id, *e);
}

Spool::SegmentFile::~SegmentFile() {
  if (fd >= 0) ::close(fd);
}

Result<std::shared_ptr<const Spool::SegmentFile>> Spool::OpenSegment(
    uint32_t n) const {
  std::lock_guard<std::mutex> lock(index_mu_);
  auto it = open_segments_.find(n);
  if (it != open_segments_.end()) return it->second;
  if (!existing_segments_.count(n))
    return Error::Permanent("not_found", "no segment " + SegmentName(n));
  std::string path = SegmentPath(n);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open " + path, errno);
  auto file = std::make_shared<const SegmentFile>(fd);
  open_segments_[n] = file;
  return file;
}

Result<Spool::OpenRecord> Spool::ReadRecord(uint32_t segment, uint64_t offset,
                                            size_t body_bytes) const {
  auto file = OpenSegment(segment);
  if (!file.ok()) return file.error();
  OpenRecord r;
  r.file = std::move(*file);
  // Header, a typical meta and the wanted body bytes in one read; a short
  // read is fine (the record may end the file).
  std::string buf(kRecordHeaderSize + 1024 + body_bytes, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(r.file->fd, buf.data() + got, buf.size() - got,
                        static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("read " + SegmentName(segment), errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < kRecordHeaderSize)
    return Error::Permanent("corrupt",
                            "record past the end of " + SegmentName(segment));
  auto h = DecodeRecordHeader(std::string_view(buf.data(), kRecordHeaderSize));
  if (!h.ok()) return h.error();
  r.header = *h;
  size_t meta_end = kRecordHeaderSize + h->meta_len;
  if (meta_end <= got) {
    r.meta.assign(buf.data() + kRecordHeaderSize, h->meta_len);
    size_t body_got = std::min<uint64_t>(got - meta_end, h->body_len);
    r.body_prefix.assign(buf.data() + meta_end, std::min(body_got, body_bytes));
  } else {
    r.meta.assign(h->meta_len, '\0');
    Status s = PreadAll(r.file->fd, r.meta.data(), r.meta.size(),
                        offset + kRecordHeaderSize);
    if (!s.ok()) return s.error();
  }
  if (crc32c::Value(r.meta) != h->meta_crc)
    return Error::Permanent(
        "corrupt", "metadata checksum mismatch in " + SegmentName(segment));
  r.body_offset = offset + meta_end;
  return r;
}

Result<MessageInfo> Spool::Load(const std::string& id, const Entry& e) const {
  auto rec = ReadRecord(e.segment, e.record, 0);
  if (!rec.ok()) return rec.error();
  auto m = DecodeMeta(rec->meta);
  if (!m.ok() || m->id != id)
    return Error::Permanent("corrupt", "unreadable metadata for " + id);
  MessageInfo info;
  info.meta = std::move(*m);
  info.size = rec->header.body_len;
  info.segment = e.segment;
  info.body_offset = rec->body_offset;
  info.body_crc = rec->header.body_crc;
  info.record = e.record;
  if (e.state_segment) {
    auto state = ReadRecord(e.state_segment, e.state_record, 0);
    if (!state.ok()) return state.error();
    auto st = DecodeState(state->meta);
    if (!st.ok() || st->first != id)
      return Error::Permanent("corrupt", "unreadable state for " + id);
    info.meta.recipients = std::move(st->second);
    info.state_segment = e.state_segment;
    info.state_record = e.state_record;
  }
  return info;
}

// Up to max_bytes of a body; `verify` (the whole body only) checks its CRC.
Result<std::string> Spool::ReadBodyPrefix(const std::string& id,
                                          uint64_t max_bytes,
                                          bool verify) const {
  auto e = FindEntry(id);
  if (!e.ok()) return e.error();
  // Most bodies come with the record's first read.
  auto rec = ReadRecord(e->segment, e->record, 16 * 1024);
  if (!rec.ok()) return rec.error();
  uint64_t want = std::min<uint64_t>(rec->header.body_len, max_bytes);
  std::string body = std::move(rec->body_prefix);
  if (body.size() > want) body.resize(want);
  if (body.size() < want) {
    size_t have = body.size();
    body.resize(want);
    Status s = PreadAll(rec->file->fd, body.data() + have, want - have,
                        rec->body_offset + have);
    if (!s.ok()) return s.error();
  }
  if (verify && crc32c::Value(body) != rec->header.body_crc)
    return Error::Permanent("corrupt", "body checksum mismatch for " + id);
  return body;
}

Result<std::string> Spool::ReadBody(const std::string& id) const {
  return ReadBodyPrefix(id, UINT64_MAX, true);
}

Result<std::string> Spool::ReadHeaderBlock(const std::string& id,
                                           size_t max_bytes) const {
  auto head = ReadBodyPrefix(id, max_bytes, false);
  if (!head.ok()) return head.error();
  head->resize(std::min(head->size(), head->find("\r\n\r\n")));
  return head;
}

uint64_t Spool::batches() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  return batches_;
}

uint64_t Spool::synced_records() const {
  std::lock_guard<std::mutex> lock(index_mu_);
  return synced_records_;
}

void Spool::RegisterMetrics(metrics::Registry* registry) const {
  registry->Add([this](metrics::Writer& w) {
    w.Gauge("sesame_queue_depth", "Messages in the spool.", size());
    w.Counter("sesame_spool_syncs_total",
              "Group commits (one write and one fdatasync each).", batches());
    w.Counter("sesame_spool_records_total", "Records made durable.",
              synced_records());
    w.Gauge("sesame_spool_segments", "Spool segment files on disk.",
            segment_count());
  });
}

}  // namespace sesame::spool
