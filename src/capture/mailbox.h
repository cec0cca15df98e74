#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "spool/spool.h"

namespace sesame::capture {

// The local mailbox of capture mode (LocalStack's /_aws/ses): mail that is
// kept instead of delivered. It is read-your-writes: admission lists a
// message (Admitted) before its send is answered, and until the engine files
// it (File: <dir>/<id>.eml plus a line of <dir>/index.jsonl) its body is
// read from the spool.
//
// Owned by the app; written by admission (any thread) and the delivery
// engine, read by the API. Thread-safe: one mutex guards the in-memory
// index; file writes happen outside it.
class Mailbox {
 public:
  // Loads <dir>/index.jsonl if there is one.
  Mailbox(std::string dir, const spool::Spool* spool);

  struct Entry {
    std::string id, from, timestamp;  // timestamp: ISO 8601
    std::vector<std::string> destinations;
    bool filed = false;  // false: the body is still only in the spool
  };

  // A committed message whose send is about to be acknowledged.
  void Admitted(const spool::MessageMeta& meta);
  // Files the message (engine thread). A message deleted in the meantime
  // stays deleted.
  Status File(const spool::MessageMeta& meta, const std::string& body);
  // Entries in the order they were admitted; `id` and `from` ("" = any)
  // filter them (`from` compares the address).
  std::vector<Entry> List(const std::string& id, const std::string& from);
  // The raw message of an entry ("" when it is gone).
  std::string Raw(const Entry& e) const;
  // Deletes one message, or all when `id` is empty.
  void Delete(const std::string& id);

 private:
  static Entry EntryOf(const spool::MessageMeta& meta);
  void AddLocked(Entry e);
  void RewriteIndexLocked();
  static std::string IndexLine(const Entry& e);

  const std::string dir_;
  const spool::Spool* spool_;
  std::mutex mu_;  // guards order_, entries_, dropped_ and index.jsonl
  std::vector<std::string> order_;
  std::map<std::string, Entry> entries_;
  std::set<std::string> dropped_;  // deleted before they were filed
};

}  // namespace sesame::capture
