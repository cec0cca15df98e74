#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.h"
#include "metrics/registry.h"
#include "spool/record.h"

namespace sesame::spool {

struct SpoolOptions {
  std::string dir;                        // <data_dir>/spool
  uint64_t segment_bytes = 256ull << 20;  // rotate the active segment past this
  bool sync = true;  // fdatasync before acknowledging (tests may not)
  // New messages are refused (transient "no_space") while the filesystem
  // has less free space than this; state updates and removals still go
  // through, so delivery can go on and free space.
  uint64_t min_free_bytes = 64ull << 20;
};

// One queued message: its metadata (with the latest recipient states) and
// where its records are.
struct MessageInfo {
  MessageMeta meta;
  uint64_t size = 0;           // body bytes
  uint32_t segment = 0;        // holds the message record and body
  uint32_t state_segment = 0;  // holds the latest state record, 0 if none
  uint64_t body_offset = 0;
  uint32_t body_crc = 0;
  uint64_t record = 0;        // the message record's header
  uint64_t state_record = 0;  // the latest state record's header
  // The commit listener's copy of the header block, when the spool was asked
  // to capture it (events need it; it is cut from the body still in memory
  // at commit, so nobody reads it back from disk). Empty otherwise.
  std::string header_block;
};

struct RecoveryReport {
  size_t segments = 0;
  size_t messages = 0;     // live after replay
  size_t records = 0;      // valid records read
  size_t quarantined = 0;  // corrupt regions copied to quarantine/
  size_t torn_tails =
      0;  // incomplete records at a segment end (never acknowledged)
  std::vector<std::string> problems;  // one line per quarantined region
};

// The durable message store. Bodies and metadata are appended to segment
// files by one writer thread; requests that arrive while it syncs are
// written and synced together (group commit), and each request's callback
// runs only after its bytes are on disk. The in-memory index holds, per
// message, only where its records are (Entry: 24 bytes under a 24-byte
// key); metadata and bodies are read back from the segments on demand.
//
// Owned by the application. Thread-safe: Commit/UpdateState/Remove may be
// called from any thread; callbacks run on the writer thread and must only
// post work elsewhere. The index is guarded by a mutex that the writer takes
// once per batch.
class Spool {
 public:
  using Callback = std::function<void(Status)>;

  // Opens (creating if needed) the spool directory, takes its lock, and
  // recovers the index from every segment; corrupt regions are quarantined.
  static Result<std::unique_ptr<Spool>> Open(SpoolOptions options);
  // Reads the spool without locking or repairing: for CLI inspection while
  // a server may be running.
  static Result<std::vector<MessageInfo>> Inspect(const std::string& dir,
                                                  RecoveryReport* report);

  ~Spool();

  // Appends a message with its body; `done` runs once it is durable or failed.
  void Commit(MessageMeta meta, std::string body, Callback done);
  // Records new recipient states for a queued message.
  void UpdateState(const std::string& id, std::vector<Recipient> recipients,
                   Callback done);
  // Marks a message finished; its space is reclaimed with its segment.
  void Remove(const std::string& id, Callback done);

  // Called on the writer thread for every newly durable message (after its
  // commit callback). Set before traffic starts; used by delivery.
  // Asked once per batch, on the writer thread: capture header blocks?
  void SetCaptureHeaders(std::function<bool()> want) {
    capture_headers_ = std::move(want);
  }
  void SetCommitListener(std::function<void(const MessageInfo&)> listener) {
    listener_ = std::move(listener);
  }

  // False while the disk is too full for new messages (checked at most
  // four times a second; a failed write clears it at once). Thread-safe,
  // cheap: SMTP checks it at MAIL, the API before a send, /ready always.
  bool Accepting() const;

  std::vector<MessageInfo> List() const;
  size_t size() const;
  Result<MessageInfo> Find(const std::string& id) const;
  // Reads and verifies a body (blocking I/O: call off the event loop).
  Result<std::string> ReadBody(const std::string& id) const;
  // The header block of a message (up to max_bytes, not checksummed: the
  // whole body's CRC needs the whole body), for records that want headers
  // only.
  Result<std::string> ReadHeaderBlock(const std::string& id,
                                      size_t max_bytes) const;
  const RecoveryReport& recovery() const { return recovery_; }

  // Statistics for metrics and benchmarks.
  uint64_t batches() const;
  // Segment files present (for tests and metrics).
  size_t segment_count() const;
  uint64_t synced_records() const;
  // The spool's families for /metrics (all read lock-free or under the
  // counters' own short locks).
  void RegisterMetrics(metrics::Registry* registry) const;

  // The messages recovery found, in commit order, with their metadata (read
  // once by the scan, so start-up does not read it again): the ones `mine`
  // selects are moved out and forgotten here. The delivery engine and the
  // inbound processor each take theirs once at start-up.
  std::vector<MessageInfo> TakeRecovered(
      const std::function<bool(const MessageMeta&)>& mine);

  // Stops the writer after draining queued requests.
  void Close();

  // Where one queued message's records are (24 bytes: lengths and
  // checksums are in the records' own headers, read with the record).
  struct Entry {
    uint64_t record = 0;        // the message record's header
    uint64_t state_record = 0;  // the latest state record's header
    uint32_t segment = 0;
    uint32_t state_segment = 0;  // 0: no state record yet
  };
  // An open segment file, shared by readers (pread needs no lock); closed
  // when the last reader lets go of a deleted segment.
  struct SegmentFile {
    int fd = -1;
    explicit SegmentFile(int f) : fd(f) {}
    SegmentFile(const SegmentFile&) = delete;
    SegmentFile& operator=(const SegmentFile&) = delete;
    ~SegmentFile();
  };
  Result<std::shared_ptr<const SegmentFile>> OpenSegment(uint32_t n) const;
  // One record read back from a segment: its verified header and metadata,
  // and the first bytes of its body that came with the same read.
  struct OpenRecord {
    std::shared_ptr<const SegmentFile> file;
    RecordHeader header;
    std::string meta;
    std::string body_prefix;
    uint64_t body_offset = 0;
  };
  // Reads a record with one pread of its header, metadata and up to
  // `body_bytes` of body (more reads only when the metadata is larger).
  Result<OpenRecord> ReadRecord(uint32_t segment, uint64_t offset,
                                size_t body_bytes) const;
  Result<std::string> ReadBodyPrefix(const std::string& id, uint64_t max_bytes,
                                     bool verify) const;
  // Nodes come from a pool (Spool::index_pool_): packed in large blocks,
  // with no allocator header each, and apart from the short-lived metadata
  // that recovery frees, so that memory goes back to the system.
  using Index = std::pmr::unordered_map<MessageKey, Entry, MessageKeyHash>;

 private:
  struct Request {
    RecordType type;
    std::string meta;  // encoded
    std::string body;
    MessageMeta message;  // kMessage: for the commit listener
    MessageKey key;
    Callback done;
  };

  explicit Spool(SpoolOptions options);
  // The entry for `id`, copied under the index lock.
  Result<Entry> FindEntry(const std::string& id) const;
  // Reads a message's metadata and latest state back from its segments
  // (blocking I/O).
  Result<MessageInfo> Load(const std::string& id, const Entry& e) const;
  Status Recover();
  Status OpenActiveSegment(uint32_t number);
  void Enqueue(Request req);
  void WriterLoop();
  static std::vector<Request> TakeRequests(std::vector<Request>& batch,
                                           bool messages);
  void RefuseMessages(std::vector<Request>& batch);
  void KeepForRetry(std::vector<Request>& batch);
  Status WriteBatch(std::vector<Request>& batch,
                    std::vector<uint64_t>* body_offsets,
                    std::vector<uint32_t>* crcs);
  std::string SegmentPath(uint32_t number) const;
  // Segment reclamation; REQUIRES: index_mu_ held (or recovery,
  // single-threaded).
  void Pin(const Entry& e);
  void Unpin(const Entry& e, std::vector<uint32_t>* touched);
  void CollectSegments(std::vector<uint32_t> candidates);

  SpoolOptions options_;
  int lock_fd_ = -1;
  RecoveryReport recovery_;

  // Writer-thread state.
  int active_fd_ = -1;
  uint32_t active_segment_ = 0;
  uint64_t active_size_ = 0;
  std::thread writer_;
  std::function<void(const MessageInfo&)> listener_;
  std::function<bool()> capture_headers_;

  // Guards queue_ and stop_.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<Request> queue_;
  bool stop_ = false;

  // Guards index_ and stats.
  mutable std::mutex index_mu_;
  std::pmr::unsynchronized_pool_resource index_pool_;  // index_mu_
  Index index_{&index_pool_};
  // Segments open for reading (index_mu_).
  mutable std::unordered_map<uint32_t, std::shared_ptr<const SegmentFile>>
      open_segments_;
  std::vector<MessageInfo> recovered_;  // until taken (TakeRecovered)
  // Free-space state (see Accepting()); lock-free.
  mutable std::atomic<bool> accepting_{true};
  mutable std::atomic<int64_t> space_checked_ms_{0};
  // State and removal records whose batch failed (a full disk): written
  // again before the next batch, so delivery progress is not lost.
  // Writer thread only.
  std::vector<Request> retry_;
  std::set<uint32_t> existing_segments_;
  std::map<uint32_t, int64_t> live_pins_;
  std::map<uint32_t, int64_t> tomb_pins_;
  std::map<uint32_t, std::vector<uint32_t>> tombstones_by_body_;
  uint64_t segments_deleted_ = 0;
  uint64_t batches_ = 0;
  uint64_t synced_records_ = 0;
};

}  // namespace sesame::spool
