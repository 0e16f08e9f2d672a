#include "proxy/line_framer.h"

#include <simdjson.h>

#include <cstring>

namespace scrub::proxy {
namespace {

void wipe(char* data, size_t n) {
  // A plain memset of memory about to be reused may be elided; this one may not.
  volatile char* p = data;
  for (size_t i = 0; i < n; ++i) {
    p[i] = 0;
  }
}

}  // namespace

LineFramer::LineFramer(size_t max_line_bytes, size_t read_chunk_bytes)
    : max_line_bytes_(max_line_bytes),
      read_chunk_bytes_(read_chunk_bytes),
      // A whole max-size line (+ '\r\n') and one read must fit, with padding behind them.
      capacity_(max_line_bytes + 2 + read_chunk_bytes + simdjson::SIMDJSON_PADDING),
      buffer_(new char[capacity_]()) {}

LineFramer::~LineFramer() { wipe(buffer_.get(), capacity_); }

std::span<char> LineFramer::writable() {
  const size_t usable = capacity_ - simdjson::SIMDJSON_PADDING;
  if (usable - end_ < read_chunk_bytes_ && begin_ > 0) {
    compact();
  }
  return {buffer_.get() + end_, usable - end_};
}

void LineFramer::compact() {
  const size_t pending = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, pending);
    wipe(buffer_.get() + pending, end_ - pending);
  }
  begin_ = 0;
  end_ = pending;
}

void LineFramer::commit(size_t n, const Sink& sink) {
  end_ += n;
  char* data = buffer_.get();
  while (begin_ < end_) {
    const size_t from = begin_ + scanned_;
    const void* found = std::memchr(data + from, '\n', end_ - from);
    if (found == nullptr) {
      scanned_ = end_ - begin_;
      break;
    }
    const size_t newline = static_cast<const char*>(found) - data;
    size_t line_end = newline;
    if (line_end > begin_ && data[line_end - 1] == '\r') {
      --line_end;
    }
    const size_t length = line_end - begin_;
    if (discarding_) {
      discarding_ = false;
      sink.on_oversized();
    } else if (length > max_line_bytes_) {
      sink.on_oversized();
    } else if (length > 0) {
      sink.on_line(std::string_view(data + begin_, length), capacity_ - begin_);
    }
    wipe(data + begin_, newline + 1 - begin_);
    begin_ = newline + 1;
    scanned_ = 0;
  }
  if (begin_ == end_) {
    begin_ = end_ = scanned_ = 0;
    return;
  }
  if (end_ - begin_ > max_line_bytes_ + 1) {
    // Too long already: drop what we have and keep discarding until the next newline.
    wipe(data + begin_, end_ - begin_);
    begin_ = end_ = scanned_ = 0;
    discarding_ = true;
    return;
  }
  if (begin_ > 0 && end_ == capacity_ - simdjson::SIMDJSON_PADDING) {
    compact();
  }
}

void LineFramer::finish(const Sink& sink) {
  if (end_ > begin_ || discarding_) {
    if (discarding_) {
      sink.on_oversized();
    } else {
      sink.on_truncated();
    }
  }
  wipe(buffer_.get() + begin_, end_ - begin_);
  begin_ = end_ = scanned_ = 0;
  discarding_ = false;
}

}  // namespace scrub::proxy
