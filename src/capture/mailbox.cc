#include "capture/mailbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>

#include "base/json.h"
#include "mime/mime.h"

namespace sesame::capture {
namespace json = boost::json;

namespace {

bool WriteFileAtomically(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  ssize_t n = ::write(fd, data.data(), data.size());
  ::close(fd);
  return n == static_cast<ssize_t>(data.size()) &&
         ::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

Mailbox::Mailbox(std::string dir, const spool::Spool* spool)
    : dir_(std::move(dir)), spool_(spool) {
  std::ifstream f(dir_ + "/index.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const json::object& o = v.as_object();
    Entry e;
    auto str = [&](const char* k) {
      auto* x = o.if_contains(k);
      return x && x->is_string() ? std::string(x->as_string()) : "";
    };
    e.id = str("MessageId");
    e.from = str("From");
    e.timestamp = str("Timestamp");
    if (auto* d = o.if_contains("Destination"); d && d->is_array()) {
      for (const auto& x : d->as_array())
        if (x.is_string()) e.destinations.emplace_back(x.as_string());
    }
    e.filed = true;
    if (e.id.empty() || entries_.count(e.id)) continue;
    order_.push_back(e.id);
    entries_[e.id] = std::move(e);
  }
}

std::string Mailbox::IndexLine(const Entry& e) {
  std::string line = "{\"MessageId\":\"" + JsonEscape(e.id) + "\",\"From\":\"" +
                     JsonEscape(e.from) + "\",\"Destination\":[";
  for (size_t k = 0; k < e.destinations.size(); ++k)
    line += (k ? ",\"" : "\"") + JsonEscape(e.destinations[k]) + "\"";
  return line + "],\"Timestamp\":\"" + JsonEscape(e.timestamp) + "\"}\n";
}

Mailbox::Entry Mailbox::EntryOf(const spool::MessageMeta& meta) {
  Entry e;
  e.id = meta.id;
  e.from = meta.mail_from;
  e.timestamp = IsoTime(meta.created_ms);
  for (const auto& r : meta.recipients) e.destinations.push_back(r.address);
  return e;
}

void Mailbox::AddLocked(Entry e) {
  if (entries_.count(e.id)) return;
  order_.push_back(e.id);
  entries_[e.id] = std::move(e);
}

void Mailbox::Admitted(const spool::MessageMeta& meta) {
  Entry e = EntryOf(meta);
  std::lock_guard<std::mutex> lock(mu_);
  AddLocked(std::move(e));
}

Status Mailbox::File(const spool::MessageMeta& meta, const std::string& body) {
  ::mkdir(dir_.c_str(), 0700);
  std::string path = dir_ + "/" + meta.id + ".eml";
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dropped_.erase(meta.id)) return Status();
    auto it = entries_.find(meta.id);
    if (it != entries_.end() && it->second.filed) return Status();
  }
  // The body first, outside the lock: a reader meanwhile still takes it
  // from the spool.
  if (!WriteFileAtomically(path, body))
    return Error::Transient("io", "cannot write " + path);
  Entry fresh = EntryOf(meta);
  std::lock_guard<std::mutex> lock(mu_);
  if (dropped_.erase(meta.id)) {  // deleted while the file was written
    ::unlink(path.c_str());
    return Status();
  }
  AddLocked(fresh);  // internal mail, or admitted before a restart
  Entry& e = entries_[meta.id];
  e.filed = true;
  std::string line = IndexLine(e);
  int fd = ::open((dir_ + "/index.jsonl").c_str(),
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Error::Transient("io", "cannot open the mailbox index");
  ssize_t n = ::write(fd, line.data(), line.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size()))
    return Error::Transient("io", "cannot append to the mailbox index");
  return Status();
}

std::vector<Mailbox::Entry> Mailbox::List(const std::string& id,
                                          const std::string& from) {
  std::vector<Entry> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& k : order_) {
    const Entry& e = entries_.at(k);
    if (!id.empty() && e.id != id) continue;
    if (!from.empty() && mime::AddrSpec(e.from) != from) continue;
    out.push_back(e);
  }
  return out;
}

std::string Mailbox::Raw(const Entry& e) const {
  if (!e.filed) {
    auto body = spool_->ReadBody(e.id);
    if (body.ok()) return std::move(*body);
    // Filed since the listing (and retired from the spool): the file has it.
  }
  std::ifstream f(dir_ + "/" + e.id + ".eml", std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

void Mailbox::Delete(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> kept;
  for (const auto& k : order_) {
    if (!id.empty() && k != id) {
      kept.push_back(k);
      continue;
    }
    auto it = entries_.find(k);
    if (it->second.filed) {
      ::unlink((dir_ + "/" + k + ".eml").c_str());
    } else {
      dropped_.insert(k);
    }
    entries_.erase(it);
  }
  order_ = std::move(kept);
  RewriteIndexLocked();
}

void Mailbox::RewriteIndexLocked() {
  std::string all;
  for (const auto& k : order_) {
    const Entry& e = entries_.at(k);
    if (e.filed) all += IndexLine(e);
  }
  ::mkdir(dir_.c_str(), 0700);
  WriteFileAtomically(dir_ + "/index.jsonl", all);
}

}  // namespace sesame::capture
