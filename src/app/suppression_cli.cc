// `sesame suppression ...`: the account suppression list from the command
// line, straight from the state store (so it works with the server up or
// down; SQLite's WAL lets both write).
#include "app/suppression_cli.h"

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "store/store.h"

namespace sesame::app {

namespace {

namespace json = boost::json;

bool PlausibleAddress(const std::string& a) {
  size_t at = a.rfind('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() &&
         a.find_first_of(" \t\r\n<>,") == std::string::npos &&
         a.find('.', at) != std::string::npos;
}

std::string Doc(const std::string& address, const std::string& reason) {
  return "{\"EmailAddress\":\"" + JsonEscape(address) + "\",\"Reason\":\"" +
         reason +
         "\",\"LastUpdateTime\":" + std::to_string(NowMillis() / 1000) +
         ",\"Attributes\":{}}";
}

// One import line: CSV "address,REASON" or JSON {"EmailAddress","Reason"}.
bool ParseLine(const std::string& raw, std::string* address,
               std::string* reason, std::string* why) {
  std::string line = TrimCopy(raw, " \t\r");
  if (line.empty()) return false;
  if (line[0] == '{') {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) {
      *why = "not a JSON object";
      return true;
    }
    auto* a = v.as_object().if_contains("EmailAddress");
    auto* r = v.as_object().if_contains("Reason");
    *address = a && a->is_string() ? std::string(a->as_string()) : "";
    *reason = r && r->is_string() ? std::string(r->as_string()) : "";
  } else {
    size_t comma = line.find(',');
    *address = TrimCopy(line.substr(0, comma));
    *reason =
        comma == std::string::npos ? "" : TrimCopy(line.substr(comma + 1));
    if (size_t c2 = reason->find(','); c2 != std::string::npos)
      *reason = TrimCopy(reason->substr(0, c2));
  }
  if (!PlausibleAddress(*address)) {
    *why = "not an email address: '" + *address + "'";
  } else if (*reason != "BOUNCE" && *reason != "COMPLAINT") {
    *why = "the reason must be BOUNCE or COMPLAINT, not '" + *reason + "'";
  }
  return true;
}

}  // namespace

int Suppression(store::Store* store, const std::vector<std::string>& pos,
                bool as_json) {
  std::string sub = pos.size() >= 2 ? pos[1] : "list";
  if (sub == "list" || sub == "export") {
    // export writes to a file when one is named; both print every entry.
    FILE* out = stdout;
    if (sub == "export" && pos.size() >= 3) {
      out = std::fopen(pos[2].c_str(), "w");
      if (!out) {
        std::fprintf(stderr, "sesame: cannot write %s\n", pos[2].c_str());
        return 1;
      }
    }
    bool csv = sub == "export" && !as_json;
    if (csv) std::fprintf(out, "EmailAddress,Reason,LastUpdateTime\n");
    std::string after;
    size_t n = 0;
    while (true) {
      auto page = store->List("suppressed", after, 1000);
      if (!page.ok()) {
        std::fprintf(stderr, "sesame: %s\n", page.error().message().c_str());
        return 1;
      }
      if (page->empty()) break;
      for (const auto& [name, doc] : *page) {
        boost::system::error_code ec;
        json::value v = json::parse(doc, ec);
        if (ec || !v.is_object()) continue;
        const json::object& o = v.as_object();
        std::string address(o.at("EmailAddress").as_string());
        std::string reason(o.at("Reason").as_string());
        int64_t when =
            o.contains("LastUpdateTime") && o.at("LastUpdateTime").is_int64()
                ? o.at("LastUpdateTime").as_int64()
                : 0;
        if (as_json)
          std::fprintf(out, "%s\n", doc.c_str());
        else if (csv)
          std::fprintf(out, "%s,%s,%s\n", address.c_str(), reason.c_str(),
                       IsoTime(when * 1000).c_str());
        else
          std::fprintf(out, "%-40s %-9s %s\n", address.c_str(), reason.c_str(),
                       IsoTime(when * 1000).c_str());
        ++n;
      }
      after = page->back().first;
    }
    if (out != stdout) {
      std::fclose(out);
      std::fprintf(stderr, "exported %zu addresses\n", n);
    }
    return 0;
  }
  if (sub == "add" && pos.size() >= 3) {
    std::string reason = pos.size() >= 4 ? pos[3] : "BOUNCE";
    std::string address, r, why;
    ParseLine(pos[2] + "," + reason, &address, &r, &why);
    if (!why.empty()) {
      std::fprintf(stderr, "sesame: %s\n", why.c_str());
      return 2;
    }
    Status s = store->Put("suppressed", AsciiLowerCopy(address),
                          Doc(address, r), false);
    if (!s.ok()) {
      std::fprintf(stderr, "sesame: %s\n", s.error().message().c_str());
      return 1;
    }
    std::printf("suppressed %s (%s)\n", address.c_str(), r.c_str());
    return 0;
  }
  if (sub == "remove" && pos.size() >= 3) {
    auto r = store->Delete("suppressed", AsciiLowerCopy(pos[2]));
    if (!r.ok() || !*r) {
      std::fprintf(stderr, "sesame: %s is not on the suppression list\n",
                   pos[2].c_str());
      return 1;
    }
    std::printf("removed %s\n", pos[2].c_str());
    return 0;
  }
  if (sub == "import" && pos.size() >= 3) {
    std::ifstream in(pos[2]);
    if (!in) {
      std::fprintf(stderr, "sesame: cannot read %s\n", pos[2].c_str());
      return 1;
    }
    // Everything is checked before anything is written: a bad line imports
    // nothing.
    std::vector<std::pair<std::string, std::string>> entries;
    std::string line;
    int n = 0, errors = 0;
    while (std::getline(in, line)) {
      ++n;
      std::string address, reason, why;
      if (n == 1 && line.rfind("EmailAddress", 0) == 0) continue;  // header
      if (!ParseLine(line, &address, &reason, &why)) continue;
      if (!why.empty()) {
        std::fprintf(stderr, "%s:%d: %s\n", pos[2].c_str(), n, why.c_str());
        ++errors;
        continue;
      }
      entries.emplace_back(address, reason);
    }
    if (errors) {
      std::fprintf(stderr, "sesame: %d bad lines; nothing imported\n", errors);
      return 2;
    }
    for (const auto& [address, reason] : entries) {
      Status s = store->Put("suppressed", AsciiLowerCopy(address),
                            Doc(address, reason), false);
      if (!s.ok()) {
        std::fprintf(stderr, "sesame: %s\n", s.error().message().c_str());
        return 1;
      }
    }
    std::printf("imported %zu addresses\n", entries.size());
    return 0;
  }
  std::fprintf(stderr,
               "sesame: usage: sesame suppression list [--json] | add ADDRESS "
               "[BOUNCE|COMPLAINT] | remove ADDRESS | import FILE | export "
               "[FILE] [--json]\n");
  return 2;
}

}  // namespace sesame::app
