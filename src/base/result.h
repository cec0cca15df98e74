#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace sesame {

// Whether retrying the same operation later could succeed. This single bit
// drives SMTP 4xx vs 5xx, retry vs bounce, and HTTP 5xx vs 4xx.
enum class Severity { kTransient, kPermanent };

// An error value: a short machine-readable code, whether it is transient or
// permanent, and a human-readable message. Cheap to copy; thread-compatible.
class Error {
 public:
  Error(Severity severity, std::string code, std::string message)
      : severity_(severity),
        code_(std::move(code)),
        message_(std::move(message)) {}

  static Error Transient(std::string code, std::string message) {
    return Error(Severity::kTransient, std::move(code), std::move(message));
  }
  static Error Permanent(std::string code, std::string message) {
    return Error(Severity::kPermanent, std::move(code), std::move(message));
  }

  bool transient() const { return severity_ == Severity::kTransient; }
  Severity severity() const { return severity_; }
  const std::string& code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const {
    return code_ + (transient() ? " (transient): " : " (permanent): ") +
           message_;
  }

 private:
  Severity severity_;
  std::string code_;
  std::string message_;
};

// Result<T> holds either a T or an Error, in the manner of std::expected.
// Accessing the wrong alternative aborts: it is a programming error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    Check(true);
    return std::get<0>(v_);
  }
  const T& value() const& {
    Check(true);
    return std::get<0>(v_);
  }
  T&& value() && {
    Check(true);
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    Check(false);
    return std::get<1>(v_);
  }

 private:
  void Check(bool want_value) const {
    if (ok() != want_value) std::abort();
  }
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
struct Ok {};
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Ok) {}                                                  // NOLINT
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    if (ok_) std::abort();
    return error_;
  }

 private:
  Error error_{Severity::kPermanent, "", ""};
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace sesame
