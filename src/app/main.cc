// sesame: the daemon (`serve`) and the command-line tools.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "base/ids.h"
#include "base/log.h"
#include "config/config.h"
#include "net/server.h"
#include "net/tls.h"
#include "spool/spool.h"

namespace sesame {
namespace {

constexpr char kUsage[] =
    "usage: sesame <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE]                 run the server (local profile "
    "without --config)\n"
    "  queue list [--json] [--config FILE | --data-dir DIR]\n"
    "                                        show queued messages\n"
    "  config check --config FILE            validate a configuration file\n"
    "  version                               print the version\n";

struct Args {
  std::vector<std::string> positional;
  std::string config_path;
  std::string data_dir;
  bool json = false;
};

Result<Args> ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto value = [&](std::string* out) -> Status {
      if (i + 1 >= argc) return Error::Permanent("usage", s + " needs a value");
      *out = argv[++i];
      return Ok{};
    };
    if (s == "--config" || s == "-c") {
      Status st = value(&a.config_path);
      if (!st.ok()) return st.error();
    } else if (s.rfind("--config=", 0) == 0) {
      a.config_path = s.substr(9);
    } else if (s == "--data-dir") {
      Status st = value(&a.data_dir);
      if (!st.ok()) return st.error();
    } else if (s == "--json") {
      a.json = true;
    } else if (s == "-h" || s == "--help") {
      a.positional.insert(a.positional.begin(), "help");
    } else if (!s.empty() && s[0] == '-') {
      return Error::Permanent("usage", "unknown option " + s);
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

Result<config::Config> LoadConfig(const Args& args) {
  if (args.config_path.empty()) return config::LocalProfile();
  return config::LoadConfigFile(args.config_path);
}

void ApplyLogLevel(const config::Config& c) {
  if (c.log_level == "debug") SetLogLevel(LogLevel::kDebug);
  if (c.log_level == "warn") SetLogLevel(LogLevel::kWarn);
  if (c.log_level == "error") SetLogLevel(LogLevel::kError);
}

int Serve(const Args& args) {
  auto cfg = LoadConfig(args);
  if (!cfg.ok()) {
    std::fprintf(stderr, "sesame: %s\n", cfg.error().message().c_str());
    return 2;
  }
  const config::Config& c = *cfg;
  ApplyLogLevel(c);

  // Signals: handled by one thread with sigwait; never in an event loop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ,
           SIG_IGN);  // a file-size limit must surface as EFBIG, i.e. 452

  std::string mkdir_err;
  if (::mkdir(c.data_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "sesame: cannot create data_dir %s: %s\n",
                 c.data_dir.c_str(), std::strerror(errno));
    return 1;
  }
  Status tls =
      net::EnsureSelfSignedCertificate(c.CertFile(), c.KeyFile(), c.hostname);
  if (!tls.ok()) {
    std::fprintf(stderr, "sesame: %s\n", tls.error().message().c_str());
    return 1;
  }
  spool::SpoolOptions so;
  so.dir = c.data_dir + "/spool";
  so.sync = c.spool_sync;
  so.segment_bytes = c.spool_segment_bytes;
  auto sp = spool::Spool::Open(so);
  if (!sp.ok()) {
    std::fprintf(stderr, "sesame: spool: %s\n", sp.error().message().c_str());
    return 1;
  }
  const auto& rec = (*sp)->recovery();
  SESAME_LOG(kInfo, "spool")
      << "recovered " << rec.messages << " queued messages from "
      << rec.segments << " segments (" << rec.quarantined
      << " corrupt regions quarantined, " << rec.torn_tails
      << " incomplete tails discarded)";

  net::Server server(c, sp->get());
  Status st = server.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "sesame: %s\n", st.error().message().c_str());
    return 1;
  }
  std::string smtp_port;
  std::printf("Sesame is running (%s profile, config: %s, data: %s)\n",
              c.profile.c_str(), c.source.c_str(), c.data_dir.c_str());
  for (const auto& b : server.bound()) {
    const char* what = b.name == "smtp"    ? "SMTP submission (STARTTLS, AUTH)"
                       : b.name == "smtps" ? "SMTP submission over implicit TLS"
                       : b.name == "mx"    ? "inbound MX (bounces, complaints)"
                                           : "HTTP (/health, /ready)";
    std::printf("  %-6s %s:%u  %s\n", b.name.c_str(), b.address.c_str(), b.port,
                what);
    if (b.name == "smtp") smtp_port = std::to_string(b.port);
  }
  if (!smtp_port.empty() && !c.smtp_users.empty()) {
    std::printf(
        "\nSend a first message:\n  swaks --server %s:%s --tls --auth-user %s "
        "--auth-password '%s' \\\n"
        "    --from you@example.com --to someone@example.com\n",
        c.smtp.address == "0.0.0.0" ? "127.0.0.1" : c.smtp.address.c_str(),
        smtp_port.c_str(), c.smtp_users[0].username.c_str(),
        c.smtp_users[0].password.c_str());
    std::printf("Then see it queued:\n  build/sesame queue list%s%s\n\n",
                args.config_path.empty() ? "" : " --config ",
                args.config_path.c_str());
  }
  std::fflush(stdout);

  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    SESAME_LOG(kInfo, "main")
        << "received " << strsignal(sig) << ", shutting down";
    server.Stop();
  });
  server.Run();
  signals.detach();
  (*sp)->Close();
  SESAME_LOG(kInfo, "main") << "stopped";
  ::_exit(0);  // the signal thread may still be in sigwait
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out;
}

std::string IsoTime(int64_t ms) {
  std::time_t secs = ms / 1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string MessageState(const spool::MessageMeta& m) {
  bool queued = false, failed = false, dead = false;
  for (const auto& r : m.recipients) {
    queued |= r.status == spool::RecipientStatus::kQueued;
    failed |= r.status == spool::RecipientStatus::kFailed;
    dead |= r.status == spool::RecipientStatus::kDeadLetter;
  }
  if (queued) return "queued";
  if (dead) return "dead-letter";
  return failed ? "failed" : "delivered";
}

int QueueList(const Args& args) {
  std::string data_dir = args.data_dir;
  if (data_dir.empty()) {
    auto cfg = LoadConfig(args);
    if (!cfg.ok()) {
      std::fprintf(stderr, "sesame: %s\n", cfg.error().message().c_str());
      return 2;
    }
    data_dir = cfg->data_dir;
  }
  spool::RecoveryReport report;
  auto list = spool::Spool::Inspect(data_dir + "/spool", &report);
  if (!list.ok()) {
    std::fprintf(stderr, "sesame: cannot read spool in %s: %s\n",
                 data_dir.c_str(), list.error().message().c_str());
    return 1;
  }
  int64_t now = NowMillis();
  if (args.json) {
    std::string out = "[";
    for (size_t i = 0; i < list->size(); ++i) {
      const auto& m = (*list)[i];
      out += i ? ",\n " : "\n ";
      out += "{\"MessageId\":\"" + JsonEscape(m.meta.id) + "\",\"From\":\"" +
             JsonEscape(m.meta.mail_from) + "\",\"Recipients\":[";
      for (size_t k = 0; k < m.meta.recipients.size(); ++k) {
        const auto& r = m.meta.recipients[k];
        out += (k ? "," : "") + std::string("{\"Address\":\"") +
               JsonEscape(r.address) + "\",\"Status\":\"" +
               spool::RecipientStatusName(r.status) +
               "\",\"Attempts\":" + std::to_string(r.attempts) + "}";
      }
      out += "],\"Size\":" + std::to_string(m.size) + ",\"CreatedAt\":\"" +
             IsoTime(m.meta.created_ms) + "\",\"AgeSeconds\":" +
             std::to_string((now - m.meta.created_ms) / 1000) +
             ",\"State\":\"" + MessageState(m.meta) + "\",\"Source\":\"" +
             JsonEscape(m.meta.source) + "\"}";
    }
    out += list->empty() ? "]\n" : "\n]\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else {
    std::printf("%-61s %-8s %9s %7s  %s -> %s\n", "ID", "STATE", "SIZE", "AGE",
                "FROM", "RECIPIENTS");
    for (const auto& m : *list) {
      std::string rcpts;
      for (const auto& r : m.meta.recipients)
        rcpts += (rcpts.empty() ? "" : ",") + r.address;
      std::printf("%-61s %-8s %9llu %6llds  <%s> -> %s\n", m.meta.id.c_str(),
                  MessageState(m.meta).c_str(),
                  static_cast<unsigned long long>(m.size),
                  static_cast<long long>((now - m.meta.created_ms) / 1000),
                  m.meta.mail_from.c_str(), rcpts.c_str());
    }
    std::printf("%zu messages\n", list->size());
  }
  if (report.quarantined) {
    std::fprintf(
        stderr,
        "warning: %zu corrupt regions in the spool (see the server log)\n",
        report.quarantined);
  }
  return 0;
}

int Main(int argc, char** argv) {
  auto args = ParseArgs(argc, argv);
  if (!args.ok()) {
    std::fprintf(stderr, "sesame: %s\n%s", args.error().message().c_str(),
                 kUsage);
    return 2;
  }
  const auto& pos = args->positional;
  std::string cmd = pos.empty() ? "help" : pos[0];
  if (cmd == "serve") return Serve(*args);
  if (cmd == "queue" && pos.size() >= 2 && pos[1] == "list")
    return QueueList(*args);
  if (cmd == "config" && pos.size() >= 2 && pos[1] == "check") {
    if (args->config_path.empty()) {
      std::fprintf(stderr, "sesame: config check needs --config FILE\n");
      return 2;
    }
    auto cfg = config::LoadConfigFile(args->config_path);
    if (!cfg.ok()) {
      std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
      return 1;
    }
    std::printf("%s: ok\n", args->config_path.c_str());
    return 0;
  }
  if (cmd == "version") {
    std::printf("sesame 0.1.0\n");
    return 0;
  }
  if (cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "sesame: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 2;
}

}  // namespace
}  // namespace sesame

int main(int argc, char** argv) { return sesame::Main(argc, argv); }
