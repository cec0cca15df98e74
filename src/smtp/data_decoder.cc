#include "smtp/data_decoder.h"

namespace sesame::smtp {
namespace {
constexpr size_t kMaxLineOctets = 998;  // 1000 with CRLF (RFC 5321 4.5.3.1.6)
}

const char* DataDecoder::Describe(Problem p) {
  switch (p) {
    case Problem::kNone:
      return "no problem";
    case Problem::kBareCr:
      return "bare CR (not followed by LF)";
    case Problem::kBareLf:
      return "bare LF (not preceded by CR)";
    case Problem::kNul:
      return "NUL octet";
    case Problem::kLineTooLong:
      return "line longer than 1000 octets";
    case Problem::kTooBig:
      return "message exceeds the size limit";
  }
  return "?";
}

void DataDecoder::Emit(std::string* out, const char* p, size_t n) {
  size_ += n;
  if (size_ > max_size_) Flag(Problem::kTooBig);
  if (problem_ == Problem::kNone) out->append(p, n);
}

size_t DataDecoder::Feed(std::string_view in, std::string* out) {
  const char* p = in.data();
  const char* end = p + in.size();
  const bool dots = mode_ == Mode::kDotStuffed;
  while (p < end && state_ != State::kDone) {
    switch (state_) {
      case State::kLineStart:
        line_len_ = 0;
        if (dots && *p == '.') {
          state_ = State::kDot;
          ++line_len_;
          ++p;
          continue;
        }
        state_ = State::kMid;
        continue;  // reprocess this byte as ordinary text
      case State::kDot:
        // A leading dot followed by anything but CR is a stuffed dot: drop it.
        if (*p == '\r') {
          state_ = State::kDotCr;
          ++p;
          continue;
        }
        state_ = State::kMid;
        continue;
      case State::kDotCr:
        if (*p == '\n') {
          state_ = State::kDone;
          ++p;
          continue;
        }
        // ".\r" then something else: the dot was stuffed and the CR is bare.
        Flag(Problem::kBareCr);
        Emit(out, "\r", 1);
        state_ = State::kMid;
        continue;
      case State::kCr:
        if (*p == '\n') {
          Emit(out, "\r\n", 2);
          state_ = State::kLineStart;
          ++p;
          continue;
        }
        Flag(Problem::kBareCr);
        Emit(out, "\r", 1);
        state_ = State::kMid;
        continue;
      case State::kMid: {
        // Fast path: copy the run of ordinary octets in one append.
        const char* run = p;
        while (p < end && *p != '\r' && *p != '\n' && *p != '\0') {
          eight_bit_ |= static_cast<unsigned char>(*p) >= 0x80;
          ++p;
        }
        if (p > run) {
          line_len_ += p - run;
          if (line_len_ > kMaxLineOctets) Flag(Problem::kLineTooLong);
          Emit(out, run, p - run);
        }
        if (p == end) break;
        if (*p == '\r') {
          state_ = State::kCr;
        } else if (*p == '\n') {
          Flag(Problem::kBareLf);
          ++line_len_;
        } else {
          Flag(Problem::kNul);
          ++line_len_;
        }
        ++p;
        continue;
      }
      case State::kDone:
        break;
    }
  }
  return p - in.data();
}

}  // namespace sesame::smtp
