#pragma once

#include <sstream>
#include <string_view>

namespace sesame {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kNone = 4 };

// Sets the minimum level written to stderr. Thread-safe.
void SetLogLevel(LogLevel level);
// JSON lines ({"time","level","component","message"[,"messageId"]}; the
// default) or plain text. A line that names a message carries its id as
// "messageId", found in the text, so `grep`/`jq` follow one message.
void SetLogJson(bool json);
bool LogEnabled(LogLevel level);
// Writes one line "<time> <level> <component>: <message>" to stderr with a
// single write(2), so lines from several threads never interleave.
void LogLine(LogLevel level, std::string_view component,
             std::string_view message);

// Streams into a line and emits it on destruction: LOG(kInfo, "smtp") << "x".
class LogMessage {
 public:
  LogMessage(LogLevel level, std::string_view component)
      : level_(level), component_(component) {}
  ~LogMessage() { LogLine(level_, component_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::string_view component_;
  std::ostringstream stream_;
};

}  // namespace sesame

namespace sesame {
// Turns the streamed expression into void so the macro is one expression
// (safe inside an unbraced if/else).
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace sesame

#define SESAME_LOG(level, component)                                   \
  !::sesame::LogEnabled(::sesame::LogLevel::level)                     \
      ? (void)0                                                        \
      : ::sesame::LogVoidify() &                                       \
            ::sesame::LogMessage(::sesame::LogLevel::level, component) \
                .stream()
