#pragma once

// Errors as values at module borders. g++ 12 has no std::expected, so this is the small subset
// the project needs: a value or an Error, checked with ok().

#include <string>
#include <utility>
#include <variant>

namespace scrub {

// Where in a source file something was said. Lines and columns are 1-based, as editors show them.
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;

  std::string str() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

struct Error {
  std::string message; // already carries "file:line:col: " when it concerns a file

  static Error at(const SourcePos& pos, const std::string& what) {
    return Error{pos.str() + ": " + what};
  }
};

template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

  const Error& error() const { return std::get<1>(state_); }

private:
  std::variant<T, Error> state_;
};

// For operations that return nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

} // namespace scrub
