// Fuzz target: proxy/line_framer. The input is a byte stream cut into reads of fuzzer-chosen
// sizes; what the framer delivers must equal a plain model of the contract in line_framer.h
// (split on '\n', one trailing '\r' dropped, empty lines skipped, lines over the limit reported
// once as oversized, a partial line at the end reported as truncated), and every delivered line
// must be readable up to its padding.

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/line_framer.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

struct Outcome {
  std::vector<std::string> lines;
  size_t oversized = 0;
  size_t truncated = 0;
  bool operator==(const Outcome&) const = default;
};

Outcome model(std::string_view stream, size_t max_line_bytes) {
  Outcome out;
  size_t begin = 0;
  while (true) {
    const size_t newline = stream.find('\n', begin);
    if (newline == std::string_view::npos) {
      break;
    }
    std::string_view line = stream.substr(begin, newline - begin);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.size() > max_line_bytes) {
      ++out.oversized;
    } else if (!line.empty()) {
      out.lines.emplace_back(line);
    }
    begin = newline + 1;
  }
  const size_t rest = stream.size() - begin;
  // A partial line longer than the limit (plus a possible '\r') is already being discarded.
  if (rest > max_line_bytes + 1) {
    ++out.oversized;
  } else if (rest > 0) {
    ++out.truncated;
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) {
    return 0;
  }
  // Header: the line limit (1..512) and the read chunk (1..256); small values reach growth,
  // compaction and discarding with small inputs.
  const size_t max_line_bytes = 1 + ((size_t{data[0]} << 8 | data[1]) % 512);
  const size_t read_chunk = 1 + data[2];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 3, size - 3);

  scrub::proxy::LineFramer framer(max_line_bytes, read_chunk);
  Outcome got;
  const scrub::proxy::LineFramer::Sink sink{
      [&](std::string_view line, size_t capacity) {
        SCRUB_FUZZ_CHECK(capacity >= line.size() + simdjson::SIMDJSON_PADDING, "padding");
        SCRUB_FUZZ_CHECK(line.find('\n') == std::string_view::npos, "newline inside a line");
        SCRUB_FUZZ_CHECK(line.size() <= max_line_bytes, "over-long line delivered");
        // ASan checks the padding is really there.
        volatile char last = line.data()[capacity - 1];
        (void)last;
        got.lines.emplace_back(line);
      },
      [&] { ++got.oversized; }, [&] { ++got.truncated; }};

  // Read sizes vary with the bytes themselves, so the fuzzer controls the cuts.
  size_t at = 0;
  while (at < stream.size()) {
    auto space = framer.writable();
    SCRUB_FUZZ_CHECK(!space.empty(), "writable() empty");
    const size_t want = 1 + static_cast<unsigned char>(stream[at]) % read_chunk;
    const size_t n = std::min({want, space.size(), stream.size() - at});
    std::memcpy(space.data(), stream.data() + at, n);
    framer.commit(n, sink);
    at += n;
    SCRUB_FUZZ_CHECK(framer.capacity() <= framer.maxCapacity(), "buffer over its maximum");
  }
  framer.finish(sink);
  SCRUB_FUZZ_CHECK(framer.buffered() == 0, "bytes left after finish");
  SCRUB_FUZZ_CHECK(got == model(stream, max_line_bytes), "framer differs from the model");
  return 0;
}
