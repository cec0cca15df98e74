#include "spool/record.h"

#include <cstring>

#include "base/crc32c.h"

namespace sesame::spool {

namespace {
// Lowercase hex digit values; -1 for anything else.
struct HexTable {
  int8_t v[256];
  constexpr HexTable() : v() {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    for (int i = 0; i < 10; ++i) v['0' + i] = static_cast<int8_t>(i);
    for (int i = 0; i < 6; ++i) v['a' + i] = static_cast<int8_t>(10 + i);
  }
};
constexpr HexTable kHexValues;
int HexValue(char c) { return kHexValues.v[static_cast<unsigned char>(c)]; }
constexpr char kHex[] = "0123456789abcdef";
// Where the dashes of an SES id are; everything else up to the suffix is hex.
constexpr size_t kSesIdLen = 60;
bool IsDash(size_t i) {
  return i == 16 || i == 25 || i == 30 || i == 35 || i == 40 || i == 53;
}
}  // namespace

std::optional<MessageKey> MessageKey::FromId(std::string_view id) {
  MessageKey k;
  bool ses = id.size() == kSesIdLen && id.substr(53) == "-000000" &&
             id.substr(0, 2) != "ff";
  for (size_t i = 0, nibble = 0; ses && i < 53; ++i) {
    if (IsDash(i)) {
      ses = id[i] == '-';
      continue;
    }
    int v = HexValue(id[i]);
    if (v < 0) {
      ses = false;
      break;
    }
    k.b_[nibble / 2] |= static_cast<uint8_t>(nibble % 2 ? v : v << 4);
    ++nibble;
  }
  if (ses) return k;
  if (id.size() > k.b_.size() - 2) return std::nullopt;
  k.b_.fill(0);
  k.b_[0] = 0xFF;
  k.b_[1] = static_cast<uint8_t>(id.size());
  std::memcpy(k.b_.data() + 2, id.data(), id.size());
  return k;
}

size_t MessageKey::Hash() const {
  uint64_t h;
  if (b_[0] != 0xFF) {
    // The UUID's last random bits: already uniform.
    std::memcpy(&h, b_.data() + 16, sizeof h);
    return static_cast<size_t>(h);
  }
  h = 14695981039346656037ull;  // FNV-1a over an inline id
  for (uint8_t c : b_) h = (h ^ c) * 1099511628211ull;
  return static_cast<size_t>(h);
}

std::string MessageKey::ToId() const {
  if (b_[0] == 0xFF)
    return std::string(reinterpret_cast<const char*>(b_.data()) + 2, b_[1]);
  std::string out;
  out.reserve(kSesIdLen);
  for (size_t nibble = 0; nibble < 48; ++nibble) {
    if (IsDash(out.size())) out += '-';
    uint8_t byte = b_[nibble / 2];
    out += kHex[nibble % 2 ? byte & 0xF : byte >> 4];
  }
  return out + "-000000";
}

namespace {

void PutU32(std::string* out, uint32_t v) {
  char b[4] = {char(v), char(v >> 8), char(v >> 16), char(v >> 24)};
  out->append(b, 4);
}
void PutU64(std::string* out, uint64_t v) {
  PutU32(out, uint32_t(v));
  PutU32(out, uint32_t(v >> 32));
}
uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(u[0]) | uint32_t(u[1]) << 8 | uint32_t(u[2]) << 16 |
         uint32_t(u[3]) << 24;
}
uint64_t GetU64(const char* p) {
  return GetU32(p) | uint64_t(GetU32(p + 4)) << 32;
}

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(char(v | 0x80));
    v >>= 7;
  }
  out->push_back(char(v));
}
void PutString(std::string* out, std::string_view s) {
  PutVarint(out, s.size());
  out->append(s);
}

// Bounds-checked reader over a meta payload; every failure is "corrupt".
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      uint8_t b = in_[pos_++];
      *v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool String(std::string* s) {
    uint64_t n;
    if (!Varint(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool Byte(uint8_t* b) {
    if (pos_ >= in_.size()) return false;
    *b = in_[pos_++];
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

Error Corrupt(std::string msg) {
  return Error::Permanent("corrupt", std::move(msg));
}

void PutRecipients(std::string* out, const std::vector<Recipient>& rcpts) {
  PutVarint(out, rcpts.size());
  for (const auto& r : rcpts) {
    PutString(out, r.address);
    out->push_back(char(r.status));
    PutVarint(out, r.attempts);
    PutVarint(out, uint64_t(r.next_attempt_ms));
    PutString(out, r.last_response);
    PutVarint(out, uint64_t(r.expires_ms));
  }
}

bool GetRecipients(Reader* r, std::vector<Recipient>* rcpts) {
  uint64_t n;
  if (!r->Varint(&n) || n > 100000) return false;
  rcpts->resize(n);
  for (auto& rc : *rcpts) {
    uint8_t status;
    uint64_t attempts, next, expires;
    if (!r->String(&rc.address) || !r->Byte(&status) || status > 3 ||
        !r->Varint(&attempts) || !r->Varint(&next) ||
        !r->String(&rc.last_response) || !r->Varint(&expires)) {
      return false;
    }
    rc.expires_ms = int64_t(expires);
    rc.status = RecipientStatus(status);
    rc.attempts = uint32_t(attempts);
    rc.next_attempt_ms = int64_t(next);
  }
  return true;
}

}  // namespace

const char* RecipientStatusName(RecipientStatus s) {
  switch (s) {
    case RecipientStatus::kQueued:
      return "queued";
    case RecipientStatus::kDelivered:
      return "delivered";
    case RecipientStatus::kFailed:
      return "failed";
    case RecipientStatus::kDeadLetter:
      return "dead-letter";
  }
  return "?";
}

std::string EncodeFileHeader(uint32_t segment) {
  std::string out(kFileMagic, sizeof kFileMagic);
  PutU32(&out, kFormatVersion);
  PutU32(&out, segment);
  return out;
}

Result<uint32_t> DecodeFileHeader(std::string_view bytes) {
  if (bytes.size() < kFileHeaderSize)
    return Corrupt("segment shorter than its 16-byte header");
  if (std::memcmp(bytes.data(), kFileMagic, sizeof kFileMagic) != 0) {
    return Corrupt("bad segment magic");
  }
  uint32_t version = GetU32(bytes.data() + 8);
  if (version != kFormatVersion) {
    return Corrupt("unsupported segment format version " +
                   std::to_string(version));
  }
  return GetU32(bytes.data() + 12);
}

void AppendRecordHeader(std::string* out, RecordType type,
                        std::string_view meta, uint64_t body_len,
                        uint32_t body_crc) {
  size_t start = out->size();
  PutU32(out, kRecordMagic);
  out->push_back(char(type));
  out->append(3, '\0');
  PutU32(out, uint32_t(meta.size()));
  PutU32(out, crc32c::Value(meta));
  PutU64(out, body_len);
  PutU32(out, body_crc);
  PutU32(out, crc32c::Value(out->data() + start, 28));
}

Result<RecordHeader> DecodeRecordHeader(std::string_view b) {
  if (b.size() < kRecordHeaderSize) return Corrupt("truncated record header");
  if (GetU32(b.data()) != kRecordMagic) return Corrupt("bad record magic");
  if (GetU32(b.data() + 28) != crc32c::Value(b.data(), 28))
    return Corrupt("record header checksum mismatch");
  RecordHeader h;
  uint8_t type = b[4];
  if (type < 1 || type > 3 || b[5] || b[6] || b[7])
    return Corrupt("unknown record type");
  h.type = RecordType(type);
  h.meta_len = GetU32(b.data() + 8);
  h.meta_crc = GetU32(b.data() + 12);
  h.body_len = GetU64(b.data() + 16);
  h.body_crc = GetU32(b.data() + 24);
  if (h.meta_len > kMaxMetaLen) return Corrupt("meta length out of range");
  if (h.type != RecordType::kMessage && h.body_len != 0)
    return Corrupt("body on a non-message record");
  return h;
}

std::string EncodeMeta(const MessageMeta& m) {
  std::string out;
  PutString(&out, m.id);
  PutVarint(&out, uint64_t(m.created_ms));
  PutString(&out, m.mail_from);
  PutRecipients(&out, m.recipients);
  // Flag bits; records written before bit 2 existed read it as 0.
  out.push_back(
      char((m.smtputf8 ? 1 : 0) | (m.eight_bit ? 2 : 0) | (m.tls ? 4 : 0)));
  PutString(&out, m.auth_user);
  PutString(&out, m.client_ip);
  PutString(&out, m.source);
  PutString(&out, m.config_set);
  return out;
}

Result<MessageMeta> DecodeMeta(std::string_view bytes) {
  Reader r(bytes);
  MessageMeta m;
  uint64_t created;
  uint8_t flags;
  if (!r.String(&m.id) || !r.Varint(&created) || !r.String(&m.mail_from) ||
      !GetRecipients(&r, &m.recipients) || !r.Byte(&flags) ||
      !r.String(&m.auth_user) || !r.String(&m.client_ip) ||
      !r.String(&m.source) || !r.String(&m.config_set) || !r.done()) {
    return Corrupt("malformed message metadata");
  }
  if (m.id.empty() || m.recipients.empty())
    return Corrupt("message metadata without id or recipients");
  m.created_ms = int64_t(created);
  m.smtputf8 = flags & 1;
  m.eight_bit = flags & 2;
  m.tls = flags & 4;
  return m;
}

std::string EncodeState(const std::string& id,
                        const std::vector<Recipient>& recipients) {
  std::string out;
  PutString(&out, id);
  PutRecipients(&out, recipients);
  return out;
}

Result<std::pair<std::string, std::vector<Recipient>>> DecodeState(
    std::string_view bytes) {
  Reader r(bytes);
  std::pair<std::string, std::vector<Recipient>> s;
  if (!r.String(&s.first) || !GetRecipients(&r, &s.second) || !r.done()) {
    return Corrupt("malformed state record");
  }
  return s;
}

}  // namespace sesame::spool
