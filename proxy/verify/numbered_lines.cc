#include "proxy/verify/numbered_lines.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "proxy/line_framer.h"

namespace scrub::verify {

bool readNumberedLines(int fd, size_t max_line_bytes, const NumberedSink& sink) {
  proxy::LineFramer framer(max_line_bytes);
  // The framer calls back once for every '\n'-terminated segment that is not empty (after
  // dropping one trailing '\r'), and once at the end for a partial last line. Counting segments
  // the same way here, before handing the bytes over, gives each callback its line number.
  std::vector<uint64_t> numbers;
  size_t next = 0;
  uint64_t line = 0;            // '\n's seen so far
  uint64_t segment = 0;         // bytes of the current segment so far
  bool segment_only_cr = false; // the current segment is exactly "\r"
  uint64_t bytes_read = 0;
  auto take = [&]() -> uint64_t { return next < numbers.size() ? numbers[next++] : line + 1; };
  const proxy::LineFramer::Sink framer_sink{
      [&](std::string_view text, size_t capacity) { sink.on_line(take(), text, capacity); },
      [&] { sink.on_oversized(take()); }, [&] { sink.on_truncated(take()); }};
  for (;;) {
    auto space = framer.writable();
    const ssize_t n = ::read(fd, space.data(), space.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    numbers.clear();
    next = 0;
    if (n == 0) {
      if (segment > 0) {
        numbers.push_back(line + 1);
      }
      framer.finish(framer_sink);
      return true;
    }
    const char* data = space.data();
    const auto size = static_cast<size_t>(n);
    size_t from = 0;
    while (from < size) {
      const void* found = std::memchr(data + from, '\n', size - from);
      const size_t stop =
          found == nullptr ? size : static_cast<size_t>(static_cast<const char*>(found) - data);
      if (stop > from) {
        segment_only_cr = segment == 0 && stop - from == 1 && data[from] == '\r';
        segment += stop - from;
      }
      if (found == nullptr) {
        break;
      }
      ++line;
      if (segment > 0 && !segment_only_cr) {
        numbers.push_back(line);
      }
      segment = 0;
      segment_only_cr = false;
      from = stop + 1;
    }
    bytes_read += size;
    framer.commit(size, framer_sink);
    if (sink.on_progress) {
      sink.on_progress(bytes_read);
    }
  }
}

} // namespace scrub::verify
