#include "proxy/gzip_inflater.h"

#include <algorithm>

namespace scrub::proxy {

GzipInflater::GzipInflater(uint64_t max_output_bytes) : max_output_bytes_(max_output_bytes) {
  // 16 + MAX_WBITS: gzip wrapper only.
  ready_ = inflateInit2(&stream_, 16 + MAX_WBITS) == Z_OK;
  if (!ready_) {
    failed_ = Status::Corrupt;
  }
}

GzipInflater::~GzipInflater() {
  if (ready_) {
    inflateEnd(&stream_);
  }
}

GzipInflater::Status GzipInflater::feed(std::string_view input, std::string& out) {
  if (failed_ != Status::Ok) {
    return failed_;
  }
  if (finished_) {
    // Bytes after the end of the stream: concatenated members are not accepted.
    if (!input.empty()) {
      failed_ = Status::Corrupt;
    }
    return failed_;
  }
  stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream_.avail_in = static_cast<uInt>(input.size());
  constexpr size_t kStep = 64 << 10;
  while (stream_.avail_in > 0 || !finished_) {
    const uint64_t room = max_output_bytes_ - produced_;
    // One byte more than allowed: producing it proves the output is too large.
    const size_t step = static_cast<size_t>(std::min<uint64_t>(kStep, room + 1));
    const size_t before = out.size();
    out.resize(before + step);
    stream_.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    stream_.avail_out = static_cast<uInt>(step);
    const int rc = inflate(&stream_, Z_NO_FLUSH);
    const size_t got = step - stream_.avail_out;
    out.resize(before + got);
    produced_ += got;
    if (produced_ > max_output_bytes_) {
      failed_ = Status::TooLarge;
      return failed_;
    }
    if (rc == Z_STREAM_END) {
      finished_ = true;
      if (stream_.avail_in > 0) {
        failed_ = Status::Corrupt;
        return failed_;
      }
      break;
    }
    if (rc == Z_BUF_ERROR || (rc == Z_OK && got == 0 && stream_.avail_in == 0)) {
      break; // needs more input
    }
    if (rc != Z_OK) {
      failed_ = Status::Corrupt;
      return failed_;
    }
    if (stream_.avail_in == 0 && stream_.avail_out > 0) {
      break;
    }
  }
  return Status::Ok;
}

} // namespace scrub::proxy
