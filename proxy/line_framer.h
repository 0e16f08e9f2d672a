#pragma once

// Splits a byte stream into lines on '\n' (a trailing '\r' is dropped too), without copying a
// line that arrived whole. The buffer always keeps simdjson's padding after its data, so every
// line handed out can be parsed in place.
//
// A line longer than max_line_bytes is never delivered, in part or whole: its bytes are
// discarded up to the next '\n' and it is reported once as oversized. At end of stream a
// partial line is reported as truncated and discarded. Consumed bytes are zeroed before the
// buffer reuses or frees them (no payload lingers in memory longer than needed).
//
// Memory grows with need: a connection starts with a small buffer and doubles it only when a
// line or a burst of reads does not fit, up to max_line_bytes + one read. A thousand quiet
// connections cost a thousand small buffers, not a thousand maximum-size ones.
//
// No I/O: the owner reads into writable() and calls commit(). Not thread-safe.

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace scrub::proxy {

class LineFramer {
public:
  struct Sink {
    // `capacity`: bytes readable from line.data(), at least line.size() + SIMDJSON_PADDING.
    std::function<void(std::string_view line, size_t capacity)> on_line;
    std::function<void()> on_oversized;
    std::function<void()> on_truncated;
  };

  static constexpr size_t kInitialBytes = 4096;

  LineFramer(size_t max_line_bytes, size_t read_chunk_bytes = 64 * 1024);
  ~LineFramer();
  LineFramer(const LineFramer&) = delete;
  LineFramer& operator=(const LineFramer&) = delete;

  // Space to read the next bytes into; never empty.
  std::span<char> writable();
  // `n` bytes were written at writable().data(): deliver every complete line.
  void commit(size_t n, const Sink& sink);
  // End of stream: a partial line left is reported as truncated.
  void finish(const Sink& sink);

  size_t buffered() const { return end_ - begin_; }
  // Bytes allocated now (including padding); grows with need up to maxCapacity().
  size_t capacity() const { return capacity_; }
  size_t maxCapacity() const { return max_capacity_; }

private:
  size_t usable() const;
  void compact();
  void grow();

  size_t max_line_bytes_;
  size_t read_chunk_bytes_;
  size_t max_capacity_;
  size_t capacity_;
  std::unique_ptr<char[]> buffer_;
  size_t begin_ = 0;    // first byte of the pending partial line
  size_t end_ = 0;      // one past the last byte received
  size_t scanned_ = 0;  // bytes from begin_ already known to hold no '\n'
  size_t offered_ = 0;  // size of the span writable() last returned
  bool filled_ = false; // the last read filled all it was offered: the stream is busy
  bool discarding_ = false;
};

} // namespace scrub::proxy
