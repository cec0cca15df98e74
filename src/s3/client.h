#pragma once

#include <string>

#include "base/result.h"

namespace sesame::s3 {

struct Options {
  std::string endpoint;  // "http://127.0.0.1:4568" (path-style requests)
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string ca_file;  // extra trust for an https endpoint
  int timeout_ms = 30000;
};

// Sesame's own S3 client: PutObject with SigV4 (service "s3", the payload's
// SHA-256 signed), path-style, over httpc. Used by the receiving S3 action;
// archive tiers will reuse it. Errors: a refused request (4xx) is permanent
// with S3's error code and message; 5xx, throttling and network failures
// are transient. Stateless; thread-safe.
class Client {
 public:
  explicit Client(Options options) : options_(std::move(options)) {}

  Status PutObject(const std::string& bucket, const std::string& key,
                   const std::string& body,
                   const std::string& content_type = "message/rfc822");
  // S3's bucket naming rules (3-63 lower-case letters, digits, '.', '-';
  // starting and ending with a letter or digit). Pure.
  static bool ValidBucketName(const std::string& bucket);

 private:
  Options options_;
};

}  // namespace sesame::s3
