#include "proxy/line_framer.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>

#include "proxy/wipe.h"

// Invariant: every byte outside [begin_, end_) is zero — consumed lines are wiped as they are
// delivered — so releasing the buffer only needs to wipe the pending bytes, not all of it.

namespace scrub::proxy {
namespace {

constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;

} // namespace

LineFramer::LineFramer(size_t max_line_bytes, size_t read_chunk_bytes)
    : max_line_bytes_(max_line_bytes), read_chunk_bytes_(read_chunk_bytes),
      // A whole max-size line (+ '\r\n') and one read must fit, with padding behind them.
      max_capacity_(max_line_bytes + 2 + read_chunk_bytes + kPadding),
      capacity_(std::min(max_capacity_, kInitialBytes + kPadding)), buffer_(new char[capacity_]()) {
}

LineFramer::~LineFramer() {
  wipe(buffer_.get() + begin_, end_ - begin_);
}

size_t LineFramer::usable() const {
  return capacity_ - kPadding;
}

std::span<char> LineFramer::writable() {
  if (begin_ > 0 && usable() - end_ < usable() / 2) {
    compact();
  }
  // Grow when the pending line leaves little room (up to the maximum line), or when reads keep
  // filling the buffer (up to two reads' worth: more would only cost memory per connection).
  const bool cramped = usable() - end_ < std::min(read_chunk_bytes_, usable() / 4);
  const bool busy = filled_ && usable() < 2 * read_chunk_bytes_;
  if (capacity_ < max_capacity_ && (cramped || busy)) {
    grow();
  }
  filled_ = false;
  offered_ = usable() - end_;
  return {buffer_.get() + end_, offered_};
}

void LineFramer::compact() {
  const size_t pending = end_ - begin_;
  std::memmove(buffer_.get(), buffer_.get() + begin_, pending);
  wipe(buffer_.get() + pending, end_ - pending);
  begin_ = 0;
  end_ = pending;
}

void LineFramer::grow() {
  const size_t grown = std::min(max_capacity_, std::max(capacity_ * 2, kInitialBytes + kPadding));
  std::unique_ptr<char[]> bigger(new char[grown]());
  const size_t pending = end_ - begin_;
  std::memcpy(bigger.get(), buffer_.get() + begin_, pending);
  wipe(buffer_.get() + begin_, pending);
  buffer_ = std::move(bigger);
  capacity_ = grown;
  begin_ = 0;
  end_ = pending;
}

void LineFramer::commit(size_t n, const Sink& sink) {
  filled_ = n == offered_;
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

} // namespace scrub::proxy
