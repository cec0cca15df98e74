// `sesame bounce-parse FILE…` and `sesame bounce-eval DIR LABELS`: the
// feedback analyzer from the command line, and its accuracy on a labelled
// corpus (Sisimai's set-of-emails).
#include "app/feedback_cli.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/json.h"
#include "feedback/report.h"

namespace sesame::app {

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::stringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

std::string Quote(std::string_view s) { return "\"" + JsonEscape(s) + "\""; }

std::string ReportJson(const std::string& file, const feedback::Report& r) {
  std::string out = "{\"file\":" + Quote(file) +
                    ",\"kind\":" + Quote(feedback::KindName(r.kind));
  if (r.kind == feedback::ReportKind::kComplaint) {
    out += ",\"feedbackType\":" + Quote(r.feedback_type) +
           ",\"userAgent\":" + Quote(r.user_agent) +
           ",\"arrivalDate\":" + Quote(r.arrival_date);
  }
  if (!r.reporting_mta.empty())
    out += ",\"reportingMta\":" + Quote(r.reporting_mta);
  std::string mid = r.OriginalHeader("message-id");
  if (!mid.empty()) out += ",\"originalMessageId\":" + Quote(mid);
  out += ",\"recipients\":[";
  for (size_t i = 0; i < r.recipients.size(); ++i) {
    const auto& x = r.recipients[i];
    out += std::string(i ? "," : "") + "{\"address\":" + Quote(x.address) +
           ",\"action\":" + Quote(x.action) + ",\"status\":" + Quote(x.status);
    if (r.kind == feedback::ReportKind::kBounce ||
        r.kind == feedback::ReportKind::kNone) {
      out += ",\"replyCode\":" + Quote(x.reply_code) +
             ",\"diagnosticCode\":" + Quote(x.diagnostic) +
             ",\"bounceType\":" + Quote(x.classification.bounce_type) +
             ",\"bounceSubType\":" + Quote(x.classification.bounce_subtype) +
             ",\"reason\":" + Quote(x.classification.reason);
      if (!x.remote_mta.empty()) out += ",\"remoteMta\":" + Quote(x.remote_mta);
    }
    out += "}";
  }
  return out + "]}";
}

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

// Sisimai's reasons in Sesame's words (docs/feedback.md has the same table).
std::string MapSisimaiReason(const std::string& r) {
  static const std::map<std::string, std::string> kMap = {
      {"userunknown", "user_unknown"},
      {"mailboxfull", "mailbox_full"},
      {"systemfull", "mailbox_full"},
      {"hostunknown", "domain_not_found"},
      {"hasmoved", "moved"},
      {"notaccept", "not_accepting"},
      {"suspend", "mailbox_disabled"},
      {"expired", "expired"},
      {"mesgtoobig", "message_too_large"},
      {"exceedlimit", "message_too_large"},
      {"toomanyconn", "rate_limited"},
      {"speeding", "rate_limited"},
      {"networkerror", "network_error"},
      {"systemerror", "system_error"},
      {"mailererror", "system_error"},
      {"blocked", "policy_block"},
      {"rejected", "policy_block"},
      {"policyviolation", "policy_block"},
      {"requireptr", "policy_block"},
      {"badreputation", "policy_block"},
      {"norelaying", "policy_block"},
      {"failedstarttls", "policy_block"},
      {"spamdetected", "content_rejected"},
      {"virusdetected", "content_rejected"},
      {"contenterror", "content_rejected"},
      {"notcompliantrfc", "content_rejected"},
      {"filtered", "filtered"},
      {"authfailure", "auth_failure"},
      {"securityerror", "auth_failure"},
      {"syntaxerror", "syntax_error"},
      {"onhold", "undetermined"},
      {"undefined", "undetermined"},
      {"delivered", "delivered"},
      {"feedback", "complaint"},
      {"vacation", "auto_reply"},
  };
  auto it = kMap.find(r);
  return it == kMap.end() ? "?" + r : it->second;
}

int BounceParse(const std::vector<std::string>& files) {
  if (files.empty()) {
    std::fprintf(stderr, "sesame: usage: sesame bounce-parse FILE...\n");
    return 2;
  }
  int status = 0;
  for (const auto& f : files) {
    std::string text;
    if (!ReadFile(f, &text)) {
      std::fprintf(stderr, "sesame: cannot read %s\n", f.c_str());
      status = 1;
      continue;
    }
    std::string json = ReportJson(f, feedback::Analyze(text));
    if (!IsValidUtf8(text)) {
      // The output stays valid UTF-8 (ill-formed bytes become U+FFFD); say
      // so, since addresses and diagnostics may have been altered.
      json.pop_back();
      json +=
          ",\"warnings\":[\"the input is not valid UTF-8: undecodable bytes "
          "are shown as U+FFFD\"]}";
    }
    std::printf("%s\n", json.c_str());
  }
  return status;
}

int BounceEval(const std::string& dir, const std::string& labels_path,
               bool verbose) {
  std::ifstream labels(labels_path);
  if (!labels) {
    std::fprintf(stderr, "sesame: cannot read %s\n", labels_path.c_str());
    return 2;
  }
  std::map<std::string, feedback::Report> cache;
  std::string line;
  std::getline(labels, line);  // header
  int total = 0, found = 0, hard_agree = 0, reason_agree = 0;
  std::map<std::string, int> reason_total, reason_ok;
  while (std::getline(labels, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string field;
    while (std::getline(ss, field, '\t')) f.push_back(field);
    f.resize(9);
    const std::string& path = f[0];
    if (!cache.count(path)) {
      std::string text;
      if (!ReadFile(dir + "/" + path, &text)) {
        std::fprintf(stderr, "sesame: cannot read %s/%s\n", dir.c_str(),
                     path.c_str());
        return 2;
      }
      cache[path] = feedback::Analyze(text);
    }
    const feedback::Report& r = cache[path];
    ++total;
    std::string want = MapSisimaiReason(f[2]);
    ++reason_total[want];
    const feedback::ReportRecipient* match = nullptr;
    for (const auto& x : r.recipients) {
      if (Lower(x.address) == Lower(f[1]) || Lower(x.original) == Lower(f[1]))
        match = &x;
    }
    if (!match) {
      if (verbose)
        std::printf(
            "MISS %s %s (kind %s, %zu recipients%s%s)\n", path.c_str(),
            f[1].c_str(), feedback::KindName(r.kind), r.recipients.size(),
            r.recipients.empty() ? "" : ": ",
            r.recipients.empty() ? "" : r.recipients[0].address.c_str());
      continue;
    }
    ++found;
    std::string got = r.kind == feedback::ReportKind::kComplaint ? "complaint"
                      : r.kind == feedback::ReportKind::kAutoReply
                          ? "auto_reply"
                          : match->classification.reason;
    bool hard = match->classification.bounce_type == "Permanent" &&
                r.kind == feedback::ReportKind::kBounce;
    if (hard == (f[3] == "1")) {
      ++hard_agree;
    } else if (verbose) {
      std::printf("HARD %s %s want %s got %s/%s (%s)\n", path.c_str(),
                  f[1].c_str(), f[3].c_str(),
                  match->classification.bounce_type.c_str(), got.c_str(),
                  match->status.c_str());
    }
    if (got == want) {
      ++reason_agree;
      ++reason_ok[want];
    } else if (verbose) {
      std::string d = match->diagnostic.substr(0, 160);
      for (char& c : d)
        if (c == '\n') c = ' ';
      std::printf("REASON %s want %s got %s [%s|%s] %s\n", path.c_str(),
                  want.c_str(), got.c_str(), match->status.c_str(),
                  match->reply_code.c_str(), d.c_str());
    }
  }
  auto pct = [](int a, int b) { return b ? 100.0 * a / b : 0.0; };
  std::string per_reason;
  for (const auto& [k, n] : reason_total) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s\"%s\":[%d,%d]",
                  per_reason.empty() ? "" : ",", k.c_str(), reason_ok[k], n);
    per_reason += buf;
  }
  std::printf(
      "{\"labels\":%d,\"recipientsFound\":%d,\"recipientExtraction\":%.2f,"
      "\"hardSoftAgreement\":%.2f,\"reasonAgreement\":%.2f,"
      "\"perReason\":{%s}}\n",
      total, found, pct(found, total), pct(hard_agree, found),
      pct(reason_agree, found), per_reason.c_str());
  return 0;
}

}  // namespace sesame::app
