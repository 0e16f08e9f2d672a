#include "proxy/gzip_inflater.h"

#include <zlib.h>

#include <catch2/catch.hpp>

using scrub::proxy::GzipInflater;

namespace {

std::string gzipOf(const std::string& text) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

} // namespace

TEST_CASE("GzipInflater decodes in pieces") {
  const std::string text = "{\"a\":1}\n{\"b\":2}\n";
  const std::string gz = gzipOf(text);
  GzipInflater inflater(1024);
  std::string out;
  for (char c : gz) {
    REQUIRE(inflater.feed(std::string_view(&c, 1), out) == GzipInflater::Status::Ok);
  }
  CHECK(inflater.finished());
  CHECK(out == text);
}

TEST_CASE("GzipInflater refuses a zip bomb at the bound") {
  const std::string gz = gzipOf(std::string(8 << 20, '0'));
  CHECK(gz.size() < (64 << 10));
  GzipInflater inflater(1 << 20);
  std::string out;
  CHECK(inflater.feed(gz, out) == GzipInflater::Status::TooLarge);
  CHECK(out.size() <= (1 << 20) + 1);
  CHECK(inflater.feed("x", out) == GzipInflater::Status::TooLarge);
}

TEST_CASE("GzipInflater: exactly at the bound is fine") {
  const std::string text(4096, 'x');
  GzipInflater inflater(4096);
  std::string out;
  CHECK(inflater.feed(gzipOf(text), out) == GzipInflater::Status::Ok);
  CHECK(inflater.finished());
  CHECK(out == text);
}

TEST_CASE("GzipInflater: corrupt or truncated input") {
  GzipInflater corrupt(1024);
  std::string out;
  CHECK(corrupt.feed("\x1f\x8b not gzip at all", out) == GzipInflater::Status::Corrupt);
  const std::string gz = gzipOf("{\"a\":1}\n");
  GzipInflater truncated(1024);
  out.clear();
  CHECK(truncated.feed(std::string_view(gz).substr(0, gz.size() - 4), out) ==
        GzipInflater::Status::Ok);
  CHECK_FALSE(truncated.finished());
  GzipInflater trailing(1024);
  out.clear();
  CHECK(trailing.feed(gz + "junk", out) == GzipInflater::Status::Corrupt);
}
