#pragma once

// Frames a file descriptor exactly as the proxy does (LineFramer: same splitting, same
// max_line_bytes, same padding) and tells each delivered line's 1-based line number in the file,
// so a leak report can point a tester at `corpus.jsonl:1234`. The framer skips empty lines
// without a callback; the numbering here accounts for them.

#include <cstdint>
#include <functional>
#include <string_view>

namespace scrub::verify {

struct NumberedSink {
  std::function<void(uint64_t number, std::string_view line, size_t capacity)> on_line;
  std::function<void(uint64_t number)> on_oversized;
  std::function<void(uint64_t number)> on_truncated;    // a last line without '\n'
  std::function<void(uint64_t bytes_read)> on_progress; // after every read; may be empty
};

// Returns false on a read error (errno is left set). Memory stays bounded by the framer's
// buffer whatever the file size.
bool readNumberedLines(int fd, size_t max_line_bytes, const NumberedSink& sink);

} // namespace scrub::verify
