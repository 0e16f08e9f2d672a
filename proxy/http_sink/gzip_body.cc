#include "proxy/http_sink/gzip_body.h"

#include <zlib.h>

#include "proxy/wipe.h"

namespace scrub::proxy {

bool gzipBody(std::string_view in, std::string& out) {
  wipe(out);
  z_stream stream{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  // deflateBound covers the zlib wrapper; the gzip one is 18 bytes against zlib's 6.
  const size_t bound = deflateBound(&stream, static_cast<uLong>(in.size())) + 32;
  if (out.capacity() < bound) {
    std::string().swap(out);
    out.reserve(bound);
  }
  out.resize(bound);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  const size_t written = out.size() - stream.avail_out;
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) {
    wipe(out);
    return false;
  }
  out.resize(written);
  return true;
}

} // namespace scrub::proxy
