#include "dns/message.h"

#include <arpa/inet.h>

namespace sesame::dns {
namespace {

Error Bad(const std::string& what) {
  return Error::Permanent("dns_format", "malformed DNS message: " + what);
}

class Reader {
 public:
  explicit Reader(std::string_view w) : w_(w) {}
  bool U16(size_t* pos, uint16_t* v) const {
    if (*pos + 2 > w_.size()) return false;
    *v = static_cast<uint16_t>(uint8_t(w_[*pos]) << 8 | uint8_t(w_[*pos + 1]));
    *pos += 2;
    return true;
  }
  bool U32(size_t* pos, uint32_t* v) const {
    uint16_t hi, lo;
    if (!U16(pos, &hi) || !U16(pos, &lo)) return false;
    *v = uint32_t(hi) << 16 | lo;
    return true;
  }
  // Reads a possibly compressed name starting at *pos; advances *pos past
  // the name as it appears at that position.
  bool Name(size_t* pos, std::string* out) const {
    out->clear();
    size_t p = *pos;
    bool jumped = false;
    int hops = 0;
    while (true) {
      if (p >= w_.size()) return false;
      uint8_t len = uint8_t(w_[p]);
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= w_.size() || ++hops > 32) return false;
        size_t target = size_t(len & 0x3F) << 8 | uint8_t(w_[p + 1]);
        if (!jumped) *pos = p + 2;
        jumped = true;
        p = target;
        continue;
      }
      if (len & 0xC0) return false;
      if (len == 0) {
        if (!jumped) *pos = p + 1;
        return true;
      }
      if (p + 1 + len > w_.size() || out->size() + len > 255) return false;
      if (!out->empty()) out->push_back('.');
      for (size_t i = 0; i < len; ++i) {
        char c = w_[p + 1 + i];
        out->push_back(c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c);
      }
      p += 1 + len;
    }
  }
  std::string_view Slice(size_t pos, size_t n) const {
    return w_.substr(pos, n);
  }
  size_t size() const { return w_.size(); }

 private:
  std::string_view w_;
};

}  // namespace

Result<Message> ParseMessage(std::string_view wire) {
  Reader r(wire);
  size_t pos = 0;
  uint16_t id, flags, qd, an, ns, ar;
  if (!r.U16(&pos, &id) || !r.U16(&pos, &flags) || !r.U16(&pos, &qd) ||
      !r.U16(&pos, &an) || !r.U16(&pos, &ns) || !r.U16(&pos, &ar)) {
    return Bad("short header");
  }
  Message m;
  m.rcode = flags & 0xF;
  std::string name;
  for (int i = 0; i < qd; ++i) {
    uint16_t t, c;
    if (!r.Name(&pos, &name) || !r.U16(&pos, &t) || !r.U16(&pos, &c))
      return Bad("question");
  }
  for (int section = 0; section < 3; ++section) {
    int count = section == 0 ? an : section == 1 ? ns : ar;
    for (int i = 0; i < count; ++i) {
      Record rec;
      uint16_t cls, rdlen;
      if (!r.Name(&pos, &rec.name) || !r.U16(&pos, &rec.type) ||
          !r.U16(&pos, &cls) || !r.U32(&pos, &rec.ttl) ||
          !r.U16(&pos, &rdlen) || pos + rdlen > r.size()) {
        return Bad("resource record");
      }
      size_t rd = pos;
      pos += rdlen;
      if (rec.type == 15) {
        size_t p = rd;
        if (!r.U16(&p, &rec.preference) || !r.Name(&p, &rec.target) ||
            p > rd + rdlen)
          return Bad("MX rdata");
      } else if (rec.type == 16) {
        std::string_view raw = r.Slice(rd, rdlen);
        for (size_t k = 0; k < raw.size();) {
          size_t n = static_cast<unsigned char>(raw[k]);
          if (k + 1 + n > raw.size()) return Bad("TXT rdata");
          rec.text.append(raw.substr(k + 1, n));
          k += 1 + n;
        }
      } else if (rec.type == 5) {
        size_t p = rd;
        if (!r.Name(&p, &rec.target)) return Bad("CNAME rdata");
      } else if (rec.type == 1 || rec.type == 28) {
        if ((rec.type == 1 && rdlen != 4) || (rec.type == 28 && rdlen != 16))
          return Bad("address length");
        char buf[INET6_ADDRSTRLEN];
        std::string_view raw = r.Slice(rd, rdlen);
        inet_ntop(rec.type == 1 ? AF_INET : AF_INET6, raw.data(), buf,
                  sizeof buf);
        rec.address = buf;
      } else {
        continue;
      }
      if (section == 0) m.answers.push_back(std::move(rec));
      if (section == 2) m.additional.push_back(std::move(rec));
    }
  }
  return m;
}

}  // namespace sesame::dns
