#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/result.h"

namespace sesame {

// One text document kept somewhere (a file on one node, a row of the shared
// store on a cluster), read again only when it changed and replaced whole.
// The seam that lets the access keys and IAM state live in the data
// directory of a single node and in PostgreSQL for several, as leveldb's Env
// lets its tables live anywhere.
//
// Not thread-safe: each owner (KeyStore, IamStore) calls it under its own
// mutex.
class Blob {
 public:
  virtual ~Blob() = default;
  // The text when it changed since the last call (the first call always
  // reads), nullopt when unchanged; "" when the document does not exist.
  virtual Result<std::optional<std::string>> ReadIfChanged() = 0;
  // Replaces the document durably; the next ReadIfChanged reads it back.
  virtual Status Write(const std::string& text) = 0;
  // The next ReadIfChanged reads the document where it is kept, past any
  // cache in front (a key another process created a moment ago).
  virtual void ReadThrough() {}
  // Where it lives, for messages ("/var/lib/sesame/keys", "store blob iam").
  virtual std::string Name() const = 0;
};

// A file, replaced atomically (temp file, fsync, rename, mode 0600); a stat
// per read tells a change, so another process's writes are seen at once.
std::unique_ptr<Blob> FileBlob(std::string path);

}  // namespace sesame
