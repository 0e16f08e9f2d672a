// proxy/verify/http_capture: verify's HTTP sink side — requests parsed, bodies split into records
// (NDJSON or a JSON array), gzip decoded, each request answered 200.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "proxy/http_sink/gzip_body.h"
#include "proxy/verify/http_capture.h"

using namespace scrub::verify;

namespace {

std::vector<std::string> split(std::string_view body) {
  std::vector<std::string> out;
  splitRecords(body, [&](std::string_view record) { out.emplace_back(record); });
  return out;
}

} // namespace

TEST_CASE("an HTTP sink body splits into its records", "[verify][live]") {
  CHECK(split("{\"a\":1}\n{\"b\":[1,2]}\n") ==
        std::vector<std::string>{"{\"a\":1}", "{\"b\":[1,2]}"});
  CHECK(split("[{\"a\":\"x,]\\\"\"},{\"b\":[1,{\"c\":2}]}]") ==
        std::vector<std::string>{"{\"a\":\"x,]\\\"\"}", "{\"b\":[1,{\"c\":2}]}"});
  CHECK(split("[]").empty());
  CHECK(split("").empty());
}

TEST_CASE("the HTTP capture answers each request after taking its records", "[verify][live]") {
  HttpCaptureConnection connection;
  std::vector<std::string> records;
  const HttpCaptureConnection::OnRecord take = [&](std::string_view r) { records.emplace_back(r); };
  std::string reply;
  const std::string first = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-ndjson\r\n"
                            "Content-Length: 8\r\n\r\n{\"a\":1}\n";
  // Split anywhere: the parser keeps state between reads.
  REQUIRE(connection.feed(std::string_view(first).substr(0, 20), take, reply));
  CHECK(reply.empty());
  REQUIRE(connection.feed(std::string_view(first).substr(20), take, reply));
  CHECK(records == std::vector<std::string>{"{\"a\":1}"});
  CHECK(reply.starts_with("HTTP/1.1 200 OK\r\n"));

  std::string packed;
  REQUIRE(scrub::proxy::gzipBody("[{\"b\":2},{\"c\":3}]", packed));
  const std::string second = "POST /x HTTP/1.1\r\nContent-Type: application/json\r\n"
                             "Content-Encoding: gzip\r\nContent-Length: " +
                             std::to_string(packed.size()) + "\r\n\r\n" + packed;
  reply.clear();
  REQUIRE(connection.feed(second, take, reply));
  CHECK(records == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"});
  CHECK(connection.requests() == 2);
  CHECK_FALSE(connection.feed("GARBAGE\r\n\r\n", take, reply));
}
