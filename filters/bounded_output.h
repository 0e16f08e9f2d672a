#pragma once

// The fast walk's output, written into a buffer as long as the line. Everything the walk writes
// stands for bytes of the line in the same order (braces, a comma only between fields that had
// one, keys and values verbatim), so the output never outgrows the line; the bound is still
// checked, and a walk that would cross it hands the line back.
// Cheaper than std::string's appends, which keep a size, a terminator and a capacity check each.

#include <cstdint>
#include <cstring>
#include <string_view>

#include "rules/equal_bytes.h"

namespace scrub::filters {

class BoundedOutput {
public:
  BoundedOutput(char* begin, size_t capacity) : begin_(begin), at_(begin), end_(begin + capacity) {}

  void put(char c) {
    if (at_ == end_) [[unlikely]] {
      overflow_ = true;
      return;
    }
    *at_++ = c;
  }
  void put(std::string_view bytes) {
    if (static_cast<size_t>(end_ - at_) < bytes.size()) [[unlikely]] {
      overflow_ = true;
      return;
    }
    std::memcpy(at_, bytes.data(), bytes.size());
    at_ += bytes.size();
  }
  // `"body":` for a key whose bytes are a valid JSON string body as they stand.
  void putKey(std::string_view body) { putQuoted(body, true); }
  // `"body"` for a string value whose bytes are a valid JSON string body as they stand.
  void putString(std::string_view body) { putQuoted(body, false); }

  size_t size() const { return static_cast<size_t>(at_ - begin_); }
  void truncate(size_t size) { at_ = begin_ + size; }
  bool overflowed() const { return overflow_; }
  std::string_view written() const { return {begin_, size()}; }

private:
  // One bound check for the whole write: this runs for every key and string written.
  void putQuoted(std::string_view body, bool colon) {
    if (static_cast<size_t>(end_ - at_) < body.size() + (colon ? 3 : 2)) [[unlikely]] {
      overflow_ = true;
      return;
    }
    *at_++ = '"';
    copyShort(at_, body);
    at_ += body.size();
    *at_++ = '"';
    if (colon) {
      *at_++ = ':';
    }
  }

  // Keys and kept values are mostly under 16 bytes: two overlapping moves instead of a call to
  // memcpy, which cost more than the copy at these sizes (measured: FilterByLineType).
  static void copyShort(char* to, std::string_view bytes) {
    const size_t n = bytes.size();
    const char* from = bytes.data();
    if (n >= 8 && n <= 16) {
      const uint64_t head = rules::loadWord64(from);
      const uint64_t tail = rules::loadWord64(from + n - 8);
      std::memcpy(to, &head, 8);
      std::memcpy(to + n - 8, &tail, 8);
    } else if (n >= 4 && n < 8) {
      const uint32_t head = rules::loadWord32(from);
      const uint32_t tail = rules::loadWord32(from + n - 4);
      std::memcpy(to, &head, 4);
      std::memcpy(to + n - 4, &tail, 4);
    } else if (n > 16) {
      std::memcpy(to, from, n);
    } else {
      for (size_t i = 0; i < n; ++i) {
        to[i] = from[i];
      }
    }
  }

  char* begin_;
  char* at_;
  char* end_;
  bool overflow_ = false;
};

} // namespace scrub::filters
