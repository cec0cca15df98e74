#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "base/ids.h"
#include "base/json.h"

namespace sesame {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{true};

// The first SES-format message id in `s` ("01" + 14 hex, "-", a UUID,
// "-000000": 60 characters), or "".
std::string_view FindMessageId(std::string_view s) {
  for (size_t i = 0; i + 60 <= s.size(); ++i) {
    if (s[i] != '0' || s[i + 1] != '1' || s[i + 16] != '-' ||
        s.substr(i + 53, 7) != "-000000")
      continue;
    std::string candidate(s.substr(i, 60));
    if (IsMessageId(candidate)) return s.substr(i, 60);
  }
  return {};
}
const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kNone:
      return "NONE";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
void SetLogJson(bool json) { g_json.store(json); }
bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void LogLine(LogLevel level, std::string_view component,
             std::string_view message) {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  int millis =
      static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                           now.time_since_epoch())
                           .count() %
                       1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, millis);
  std::string line;
  line.reserve(96 + message.size());
  if (g_json.load(std::memory_order_relaxed)) {
    line.append("{\"time\":\"").append(stamp).append("\",\"level\":\"");
    line.append(LevelName(level)).append("\",\"component\":\"");
    line.append(JsonEscape(component)).append("\",\"message\":\"");
    line.append(JsonEscape(message)).append("\"");
    std::string_view id = FindMessageId(message);
    if (!id.empty()) line.append(",\"messageId\":\"").append(id).append("\"");
    line.append("}\n");
  } else {
    line.append(stamp).append(" ").append(LevelName(level)).append(" ");
    line.append(component).append(": ").append(message).append("\n");
  }
  ssize_t unused = ::write(2, line.data(), line.size());
  (void)unused;
}

}  // namespace sesame
