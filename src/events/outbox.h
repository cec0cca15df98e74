#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace sesame::events {

// What the delivery thread computes once per record for SNS deliveries.
struct SnsSignature {
  std::string subject;  // "" = SES's event subject
  std::string id, timestamp, signature;
  std::string envelope;  // the notification JSON up to UnsubscribeURL
};

// One outbox record: an SES event (or an alarm message) for one topic.
struct Record {
  uint64_t seq = 0;
  std::string topic;
  std::string json;  // the SES event
  int64_t created_ms = 0;
  // Computed by the delivery thread on first delivery (only it touches it).
  mutable SnsSignature sns;
};
using RecordPtr = std::shared_ptr<const Record>;

// How a subscriber settled a record.
enum class AckKind : char { kDelivered = 'A', kDead = 'D', kRedriven = 'R' };
struct Ack {
  std::string sub;  // subscription id
  uint64_t seq;
  AckKind kind;
};

// The publisher's durable outbox, apart from the mail spool: outbox.log holds
// records ("seq\tcreated_ms\ttopic\tjson[\tsubject]\n"), acks.log how each
// subscription settled them ("sub seq A|D|R\n"). Records are group-committed
// (one write and fdatasync per batch); acks are synced lazily, since a lost
// ack costs one redelivery (at-least-once). It also counts what is still
// owed: records × subscribers not settled, and dead letters.
//
// Owned by the Publisher. Load and Open run before its threads start; then
// Append, WriteAcks, SyncAcksIfDue and MaybeCompact run on the ingest thread
// only. NewRecord and the counters are atomic: any thread.
class Outbox {
 public:
  explicit Outbox(std::string dir) : dir_(std::move(dir)) {}
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // What the logs hold: every record, and per subscription the records it
  // acknowledged and those in its dead-letter store. A torn last line is
  // skipped.
  struct Loaded {
    std::map<uint64_t, RecordPtr> records;
    std::map<std::string, std::set<uint64_t>> acked, dead;
  };
  Loaded Load();
  // Opens the logs for appending; when nothing is owed they start afresh.
  Status Open();

  std::shared_ptr<Record> NewRecord(std::string topic, std::string json,
                                    int64_t now_ms);
  uint64_t next_seq() const { return next_seq_; }
  // Appends and syncs a batch; false (logged) when the disk refused it.
  bool Append(const std::vector<RecordPtr>& records);
  int64_t last_append_ms() const { return last_append_ms_; }
  void WriteAcks(const std::vector<Ack>& acks);
  // Syncs the ack log when written to and at least 200 ms after the last
  // sync (or at once when `force`).
  void SyncAcksIfDue(bool force = false);
  // When everything written has been settled, the logs start afresh
  // instead of growing forever.
  void MaybeCompact();

  // Owed deliveries (records × subscribers) and dead letters, as the
  // publisher hands records out; WriteAcks settles them.
  void AddOwed(int64_t n) { owed_ += n; }
  void AddDead(int64_t n) { dead_ += n; }
  int64_t owed() const { return owed_; }
  int64_t dead() const { return dead_; }

 private:
  std::string dir_;
  int outbox_fd_ = -1, acks_fd_ = -1;
  std::atomic<uint64_t> next_seq_{1};
  std::atomic<int64_t> owed_{0}, dead_{0};
  int64_t last_append_ms_ = 0, last_ack_sync_ms_ = 0;
  bool acks_dirty_ = false;
};

}  // namespace sesame::events
