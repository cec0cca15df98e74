#include "events/outbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "base/ids.h"
#include "base/log.h"

namespace sesame::events {
namespace {

constexpr char kLog[] = "events";

// "seq\tcreated\ttopic\tjson[\tsubject]"; nullptr for a torn line.
std::shared_ptr<Record> ParseRecord(const std::string& line) {
  size_t t1 = line.find('\t'), t2 = line.find('\t', t1 + 1),
         t3 = line.find('\t', t2 + 1);
  if (t3 == std::string::npos) return nullptr;
  auto r = std::make_shared<Record>();
  r->seq = std::strtoull(line.substr(0, t1).c_str(), nullptr, 10);
  r->created_ms =
      std::strtoll(line.substr(t1 + 1, t2 - t1 - 1).c_str(), nullptr, 10);
  r->topic = line.substr(t2 + 1, t3 - t2 - 1);
  r->json = line.substr(t3 + 1);
  // The optional fifth field: the notification subject (alarms). JSON never
  // holds a raw tab, so a tab after the record separates it.
  if (size_t t4 = r->json.find('\t'); t4 != std::string::npos) {
    r->sns.subject = r->json.substr(t4 + 1);
    r->json.resize(t4);
  }
  return r->seq ? r : nullptr;
}

}  // namespace

Outbox::~Outbox() {
  SyncAcksIfDue(true);
  if (outbox_fd_ >= 0) ::close(outbox_fd_);
  if (acks_fd_ >= 0) ::close(acks_fd_);
}

Outbox::Loaded Outbox::Load() {
  Loaded out;
  std::ifstream records(dir_ + "/outbox.log");
  std::string line;
  while (std::getline(records, line)) {
    auto r = ParseRecord(line);
    if (!r) continue;
    next_seq_ = std::max<uint64_t>(next_seq_, r->seq + 1);
    out.records[r->seq] = std::move(r);
  }
  std::ifstream acks(dir_ + "/acks.log");
  while (std::getline(acks, line)) {
    std::istringstream is(line);
    std::string sub, kind;
    uint64_t seq = 0;
    if (!(is >> sub >> seq >> kind) || kind.size() != 1) continue;
    if (kind[0] == 'A') {
      out.acked[sub].insert(seq);
      out.dead[sub].erase(seq);
    } else if (kind[0] == 'D') {
      out.dead[sub].insert(seq);
    } else if (kind[0] == 'R') {
      out.dead[sub].erase(seq);
    }
  }
  return out;
}

Status Outbox::Open() {
  if (owed_ == 0 && dead_ == 0) {
    ::unlink((dir_ + "/outbox.log").c_str());
    ::unlink((dir_ + "/acks.log").c_str());
  }
  outbox_fd_ = ::open((dir_ + "/outbox.log").c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  acks_fd_ = ::open((dir_ + "/acks.log").c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (outbox_fd_ < 0 || acks_fd_ < 0)
    return Error::Permanent("events", "cannot open the outbox in " + dir_);
  return Ok{};
}

std::shared_ptr<Record> Outbox::NewRecord(std::string topic, std::string json,
                                          int64_t now_ms) {
  auto r = std::make_shared<Record>();
  r->seq = next_seq_++;
  r->created_ms = now_ms;
  r->topic = std::move(topic);
  r->json = std::move(json);
  return r;
}

bool Outbox::Append(const std::vector<RecordPtr>& records) {
  std::string out;
  for (const auto& r : records) {
    out += std::to_string(r->seq) + "\t" + std::to_string(r->created_ms) +
           "\t" + r->topic + "\t" + r->json;
    if (!r->sns.subject.empty()) out += "\t" + r->sns.subject;
    out += "\n";
  }
  bool ok = ::write(outbox_fd_, out.data(), out.size()) ==
                static_cast<ssize_t>(out.size()) &&
            ::fdatasync(outbox_fd_) == 0;
  if (!ok)
    SESAME_LOG(kError, kLog) << "outbox write failed: events may be lost";
  last_append_ms_ = NowMillis();
  return ok;
}

void Outbox::WriteAcks(const std::vector<Ack>& acks) {
  std::string text;
  for (const auto& a : acks) {
    text += a.sub + " " + std::to_string(a.seq) + " " +
            static_cast<char>(a.kind) + "\n";
    if (a.kind == AckKind::kDelivered) --owed_;
    if (a.kind == AckKind::kDead) {
      --owed_;
      ++dead_;
    }
    if (a.kind == AckKind::kRedriven) {
      ++owed_;
      --dead_;
    }
  }
  if (text.empty()) return;
  if (::write(acks_fd_, text.data(), text.size()) !=
      static_cast<ssize_t>(text.size()))
    SESAME_LOG(kError, kLog) << "ack log write failed";
  acks_dirty_ = true;
}

void Outbox::SyncAcksIfDue(bool force) {
  if (!acks_dirty_ || acks_fd_ < 0) return;
  int64_t now = NowMillis();
  if (!force && now - last_ack_sync_ms_ <= 200) return;
  ::fdatasync(acks_fd_);
  acks_dirty_ = false;
  last_ack_sync_ms_ = now;
}

void Outbox::MaybeCompact() {
  if (owed_ != 0 || dead_ != 0) return;
  struct stat st;
  if (::fstat(outbox_fd_, &st) != 0 || st.st_size < 16 * 1024 * 1024) return;
  if (::ftruncate(outbox_fd_, 0) == 0 && ::ftruncate(acks_fd_, 0) == 0) {
    ::fdatasync(outbox_fd_);
    ::fdatasync(acks_fd_);
  }
}

}  // namespace sesame::events
