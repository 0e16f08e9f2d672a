#pragma once

// Streaming gzip decoder with a bound on the decompressed size, so a small request cannot
// expand into gigabytes (a "zip bomb"): feed() stops as soon as the output would pass the limit.
// Not copyable; the zlib state is freed by the destructor.

#include <zlib.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace scrub::proxy {

class GzipInflater {
public:
  enum class Status : uint8_t { Ok, TooLarge, Corrupt };

  explicit GzipInflater(uint64_t max_output_bytes);
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  // Appends what `input` decodes to `out`. After TooLarge or Corrupt the inflater stays failed.
  Status feed(std::string_view input, std::string& out);
  // Whether the gzip stream ended (its trailer was read). Call after the last feed().
  bool finished() const { return finished_; }

private:
  z_stream stream_{};
  bool ready_ = false;
  bool finished_ = false;
  Status failed_ = Status::Ok;
  uint64_t max_output_bytes_;
  uint64_t produced_ = 0;
};

} // namespace scrub::proxy
