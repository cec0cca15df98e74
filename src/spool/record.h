#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sesame::spool {

// On-disk format of a spool segment (see docs/architecture.md):
//
//   file   := FileHeader record*
//   FileHeader (16 bytes) := "SESAMESP" u32le(version=1) u32le(segment number)
//   record := RecordHeader meta[meta_len] body[body_len]
//   RecordHeader (32 bytes, little-endian):
//     u32 magic 0x53505231 ("1RPS" on disk) | u8 type | u8[3] zero
//     u32 meta_len | u32 meta_crc | u64 body_len | u32 body_crc | u32
//     header_crc
//   header_crc = crc32c of the first 28 bytes; meta_crc and body_crc cover
//   meta and body. Recovery reads headers and metas only and seeks over bodies.
inline constexpr char kFileMagic[8] = {'S', 'E', 'S', 'A', 'M', 'E', 'S', 'P'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 16;
inline constexpr uint32_t kRecordMagic = 0x53505231;
inline constexpr size_t kRecordHeaderSize = 32;
inline constexpr uint32_t kMaxMetaLen = 16 << 20;

enum class RecordType : uint8_t { kMessage = 1, kState = 2, kRemove = 3 };

enum class RecipientStatus : uint8_t {
  kQueued = 0,
  kDelivered = 1,
  kFailed = 2,
  kDeadLetter = 3
};
const char* RecipientStatusName(RecipientStatus s);

struct Recipient {
  std::string address;
  RecipientStatus status = RecipientStatus::kQueued;
  uint32_t attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string last_response;
  int64_t expires_ms =
      0;  // 0: created_ms + the lifetime of the configuration set
};

// Everything recovery needs to rebuild the queue, without the body.
struct MessageMeta {
  std::string id;
  int64_t created_ms = 0;
  std::string mail_from;
  std::vector<Recipient> recipients;
  bool smtputf8 = false;
  bool eight_bit = false;
  bool tls = false;       // received under TLS (aws:SecureTransport)
  std::string auth_user;  // empty when not authenticated
  std::string client_ip;
  std::string source;      // listener or API that accepted it ("smtp", "smtps",
                           // "mx", "dsn", ...)
  std::string config_set;  // configuration set name, may be empty
};

// A message id in 24 bytes, the key of the spool's index and of the
// delivery engine's records (a std::string key costs 32 bytes plus a 64-byte
// heap block for an SES id). An SES id ("%016x-%08x-%04x-%04x-%04x-%012x-
// 000000", spec/ses.md 1.4) packs its 48 hex digits; any other id of at most
// 22 bytes (tests, hand-made spools) is kept inline behind a 0xFF marker,
// which no SES id produced by NewMessageId starts with ("01..."). Plain
// value, no thread concerns.
class MessageKey {
 public:
  MessageKey() = default;
  // nullopt when the id is neither an SES id (not starting with "ff") nor
  // short enough to keep inline.
  static std::optional<MessageKey> FromId(std::string_view id);
  std::string ToId() const;
  bool operator==(const MessageKey& o) const {
    return std::memcmp(b_.data(), o.b_.data(), b_.size()) == 0;
  }
  size_t Hash() const;

 private:
  std::array<uint8_t, 24> b_{};
};
struct MessageKeyHash {
  size_t operator()(const MessageKey& k) const noexcept { return k.Hash(); }
};

struct RecordHeader {
  RecordType type = RecordType::kMessage;
  uint32_t meta_len = 0;
  uint32_t meta_crc = 0;
  uint64_t body_len = 0;
  uint32_t body_crc = 0;
};

std::string EncodeFileHeader(uint32_t segment);
// Returns the segment number, or an error saying what is wrong.
Result<uint32_t> DecodeFileHeader(std::string_view bytes);

// Appends a 32-byte header for `meta` and a body of body_len/body_crc.
void AppendRecordHeader(std::string* out, RecordType type,
                        std::string_view meta, uint64_t body_len,
                        uint32_t body_crc);
// Parses and checks a header (magic, type, header crc, meta_len bound).
Result<RecordHeader> DecodeRecordHeader(std::string_view bytes);

std::string EncodeMeta(const MessageMeta& m);
Result<MessageMeta> DecodeMeta(std::string_view bytes);
// A kState record carries the id and the full recipient list.
std::string EncodeState(const std::string& id,
                        const std::vector<Recipient>& recipients);
Result<std::pair<std::string, std::vector<Recipient>>> DecodeState(
    std::string_view bytes);

}  // namespace sesame::spool
