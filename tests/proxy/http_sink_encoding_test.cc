// proxy/http_sink: the pure parts of an HTTP sink — request bodies per format (each against its
// receiver's documented shape), gzip, and what an attempt's outcome means for the batch.

#include <catch2/catch.hpp>
#include <zlib.h>

#include <string>

#include "config/proxy_config.h"
#include "proxy/http_sink/delivery_policy.h"
#include "proxy/http_sink/gzip_body.h"
#include "proxy/http_sink/http_body_encoder.h"

using namespace scrub::proxy;
using scrub::config::HttpSinkConfig;
using scrub::config::HttpSinkFormat;

namespace {

std::string encode(const HttpSinkConfig& config, std::string_view lines, uint64_t ns = 1000) {
  std::string out;
  out.reserve(HttpBodyEncoder::bound(config, lines.size(), 8));
  const size_t capacity = out.capacity();
  HttpBodyEncoder encoder(config, out, ns);
  encoder.addLines(lines);
  encoder.finish();
  CHECK(out.capacity() == capacity); // the bound held: no reallocation with payload in it
  return out;
}

HttpSinkConfig withFormat(HttpSinkFormat format) {
  HttpSinkConfig config;
  config.format = format;
  return config;
}

const std::string kLines = "{\"_id\":1,\"m\":\"a\\\"b\"}\n{\"_id\":2}\n";

std::string gunzip(const std::string& in) {
  z_stream stream{};
  REQUIRE(inflateInit2(&stream, 15 + 16) == Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&stream, Z_FINISH);
  out.resize(out.size() - stream.avail_out);
  inflateEnd(&stream);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

} // namespace

TEST_CASE("ndjson: one record per line", "[proxy][http_sink]") {
  const auto config = withFormat(HttpSinkFormat::Ndjson);
  CHECK(encode(config, kLines) == kLines);
  CHECK(contentType(config.format) == "application/x-ndjson");
}

TEST_CASE("json_array: the records as one JSON array", "[proxy][http_sink]") {
  const auto config = withFormat(HttpSinkFormat::JsonArray);
  CHECK(encode(config, kLines) == "[{\"_id\":1,\"m\":\"a\\\"b\"},{\"_id\":2}]");
  CHECK(encode(config, "") == "[]");
  CHECK(contentType(config.format) == "application/json");
}

TEST_CASE("elasticsearch: an action line before each record, ending in a newline",
          "[proxy][http_sink]") {
  auto config = withFormat(HttpSinkFormat::ElasticsearchBulk);
  config.index = "job-logs";
  CHECK(encode(config, kLines) == "{\"index\":{\"_index\":\"job-logs\"}}\n"
                                  "{\"_id\":1,\"m\":\"a\\\"b\"}\n"
                                  "{\"index\":{\"_index\":\"job-logs\"}}\n"
                                  "{\"_id\":2}\n");
  CHECK(contentType(config.format) == "application/x-ndjson");
}

TEST_CASE("loki: one stream with the labels, each record a string with a nanosecond timestamp",
          "[proxy][http_sink]") {
  auto config = withFormat(HttpSinkFormat::Loki);
  config.labels = {{"job", "scrubproxy"}, {"env", "st\"age"}};
  CHECK(encode(config, kLines, 1700000000000000000ULL) ==
        R"({"streams":[{"stream":{"job":"scrubproxy","env":"st\"age"},"values":[)"
        R"(["1700000000000000000","{\"_id\":1,\"m\":\"a\\\"b\"}"],)"
        R"(["1700000000000000001","{\"_id\":2}"]]}]})");
  CHECK(contentType(config.format) == "application/json");
}

TEST_CASE("splunk_hec: event objects with the sourcetype, concatenated", "[proxy][http_sink]") {
  auto config = withFormat(HttpSinkFormat::SplunkHec);
  config.sourcetype = "scrub:json";
  CHECK(encode(config, kLines) == R"({"event":{"_id":1,"m":"a\"b"},"sourcetype":"scrub:json"})"
                                  R"({"event":{"_id":2},"sourcetype":"scrub:json"})");
  CHECK(contentType(config.format) == "application/json");
}

TEST_CASE("a gzip body decodes to the plain one", "[proxy][http_sink]") {
  std::string plain;
  for (int i = 0; i < 1000; ++i) {
    plain += "{\"_id\":" + std::to_string(i) + "}\n";
  }
  std::string packed;
  REQUIRE(gzipBody(plain, packed));
  CHECK(packed.size() < plain.size());
  CHECK(static_cast<unsigned char>(packed[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(packed[1]) == 0x8b);
  CHECK(gunzip(packed) == plain);
  REQUIRE(gzipBody("", packed));
  CHECK(gunzip(packed).empty());
}

TEST_CASE("an attempt's outcome: 2xx delivers, 408/429/5xx and no answer retry, other 4xx drop",
          "[proxy][http_sink]") {
  CHECK(judgeAttempt(true, 200) == BatchVerdict::Delivered);
  CHECK(judgeAttempt(true, 204) == BatchVerdict::Delivered);
  CHECK(judgeAttempt(false, 0) == BatchVerdict::Retry);
  CHECK(judgeAttempt(false, 200) == BatchVerdict::Retry); // reset mid-answer: outcome unknown
  CHECK(judgeAttempt(true, 408) == BatchVerdict::Retry);
  CHECK(judgeAttempt(true, 429) == BatchVerdict::Retry);
  CHECK(judgeAttempt(true, 500) == BatchVerdict::Retry);
  CHECK(judgeAttempt(true, 503) == BatchVerdict::Retry);
  CHECK(judgeAttempt(true, 400) == BatchVerdict::Drop);
  CHECK(judgeAttempt(true, 401) == BatchVerdict::Drop);
  CHECK(judgeAttempt(true, 413) == BatchVerdict::Drop);
  CHECK(judgeAttempt(true, 301) == BatchVerdict::Drop); // redirects are not followed
}

TEST_CASE("Retry-After in seconds or as an HTTP date", "[proxy][http_sink]") {
  using std::chrono::milliseconds;
  const milliseconds cap(300000);
  const std::time_t now = 1445412480; // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parseRetryAfter("5", now, cap) == milliseconds(5000));
  CHECK(parseRetryAfter(" 0\r\n", now, cap) == milliseconds(0));
  CHECK(parseRetryAfter("999999999999999999999", now, cap) == cap);
  CHECK(parseRetryAfter("Wed, 21 Oct 2015 07:28:07 GMT", now, cap) == milliseconds(7000));
  CHECK(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now, cap) == milliseconds(0));
  CHECK(parseRetryAfter("Thu, 22 Oct 2015 07:28:00 GMT", now, cap) == cap);
  CHECK_FALSE(parseRetryAfter("soon", now, cap).has_value());
  CHECK_FALSE(parseRetryAfter("", now, cap).has_value());
  CHECK_FALSE(parseRetryAfter("-1", now, cap).has_value());
}
