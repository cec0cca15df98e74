#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sesame::smtp {

// Incremental decoder for message content, fed in fragments of any size.
//
// In DATA mode it removes dot-stuffing and stops exactly after CRLF "." CRLF
// (RFC 5321 4.1.1.4); no other sequence ends the data, so none of the SMTP
// smuggling sequences ("\n.\n", "\r.\r\n", ...) can. In BDAT mode it only
// validates. Either way it flags bare CR, bare LF, NUL, lines longer than
// 1000 octets, and content beyond the size limit; after the first problem it
// discards content but keeps scanning for the end, so the framing of the
// session is never lost. Owned by one session; not thread-safe.
class DataDecoder {
 public:
  enum class Problem { kNone, kBareCr, kBareLf, kNul, kLineTooLong, kTooBig };
  enum class Mode { kDotStuffed, kBinaryChunk };

  DataDecoder(Mode mode, uint64_t max_size)
      : mode_(mode), max_size_(max_size) {}

  // Consumes bytes from `in`, appending decoded content to `out` while no
  // problem has been seen. Returns the number of bytes consumed, which is
  // less than in.size() only when the end of data was reached (DATA mode).
  size_t Feed(std::string_view in, std::string* out);

  // BDAT chunks continue the line state across chunks.
  bool done() const { return state_ == State::kDone; }
  Problem problem() const { return problem_; }
  uint64_t size() const { return size_; }
  // Oversize wins over other problems: the client should learn the limit.
  bool too_big() const { return size_ > max_size_; }
  // True when the decoded content has a non-ASCII octet.
  bool eight_bit() const { return eight_bit_; }

  static const char* Describe(Problem p);

 private:
  enum class State { kLineStart, kDot, kDotCr, kMid, kCr, kDone };
  void Flag(Problem p) {
    if (problem_ == Problem::kNone) problem_ = p;
  }
  void Emit(std::string* out, const char* p, size_t n);

  Mode mode_;
  uint64_t max_size_;
  State state_ = State::kLineStart;
  Problem problem_ = Problem::kNone;
  uint64_t size_ = 0;
  size_t line_len_ = 0;
  bool eight_bit_ = false;
};

}  // namespace sesame::smtp
