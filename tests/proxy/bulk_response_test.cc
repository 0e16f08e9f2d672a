// Reading an Elasticsearch / OpenSearch `_bulk` answer: which records to send again, which the
// sink refused, and when the answer cannot be matched to the records.

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <string>

#include "proxy/http_sink/bulk_response.h"

using scrub::proxy::BulkResponse;
using scrub::proxy::readBulkResponse;

namespace {

// The answer in a buffer with simdjson's padding after it, as the sink keeps it.
BulkResponse read(const std::string& body, uint64_t records) {
  std::string buffer;
  buffer.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  buffer.assign(body);
  return readBulkResponse(buffer, buffer.capacity(), records);
}

std::string item(const char* action, int status, const char* extra = "") {
  return std::string("{\"") + action +
         "\":{\"_index\":\"logs\",\"_id\":\"x\",\"status\":" + std::to_string(status) + extra +
         "}}";
}

} // namespace

TEST_CASE("bulk answer: stored unless it says errors:true", "[http_sink][bulk]") {
  CHECK(read(R"({"took":3,"errors":false,"items":[)" + item("index", 201) + "]}", 1).kind ==
        BulkResponse::Kind::Stored);
  // Not a bulk answer at all (a receiver that only speaks the request format): the 2xx decides.
  CHECK(read(R"({"ok":true})", 3).kind == BulkResponse::Kind::Stored);
  CHECK(read("stored", 3).kind == BulkResponse::Kind::Stored);
  CHECK(read("", 3).kind == BulkResponse::Kind::Stored);
  // errors:true with every item 2xx (possible when only warnings were raised).
  const auto fine = read(
      R"({"errors":true,"items":[)" + item("index", 201) + "," + item("create", 200) + "]}", 2);
  CHECK(fine.kind == BulkResponse::Kind::SomeFailed);
  CHECK(fine.retry.empty());
  CHECK(fine.refused.empty());
}

TEST_CASE("bulk answer: per record, retry 408/429/5xx, refuse the other failures",
          "[http_sink][bulk]") {
  const char* reason =
      R"(,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [age] of type [long]. Preview of field's value: 'Amra Canary'"})";
  const std::string body = R"({"took":30,"errors":true,"items":[)" + item("index", 201) + "," +
                           item("index", 429) + "," + item("index", 400, reason) + "," +
                           item("update", 200) + "," + item("delete", 503) + "," +
                           item("create", 409) + "," + item("index", 408) + "]}";
  const auto answer = read(body, 7);
  REQUIRE(answer.kind == BulkResponse::Kind::SomeFailed);
  CHECK(answer.retry == std::vector<uint32_t>{1, 4, 6});
  CHECK(answer.refused == std::vector<uint32_t>{2, 5});
  CHECK(answer.failed_statuses ==
        std::map<long, uint64_t>{{400, 1}, {408, 1}, {409, 1}, {429, 1}, {503, 1}});
  // Field order does not matter ("items" before "errors").
  const auto reordered = read(
      R"({"items":[)" + item("index", 429) + "," + item("index", 201) + R"(],"errors":true})", 2);
  REQUIRE(reordered.kind == BulkResponse::Kind::SomeFailed);
  CHECK(reordered.retry == std::vector<uint32_t>{0});
}

TEST_CASE("bulk answer: errors:true that cannot be matched to the records", "[http_sink][bulk]") {
  const std::string two = item("index", 201) + "," + item("index", 429);
  const auto fewer = read(R"({"errors":true,"items":[)" + two + "]}", 3);
  CHECK(fewer.kind == BulkResponse::Kind::Unreadable); // fewer items than records
  CHECK(fewer.retry.empty());                          // and nothing half-read is listed
  CHECK(fewer.failed_statuses.empty());
  CHECK(read(R"({"errors":true,"items":[)" + two + "]}", 1).kind ==
        BulkResponse::Kind::Unreadable); // more
  CHECK(read(R"({"errors":true})", 1).kind == BulkResponse::Kind::Unreadable);
  CHECK(read(R"({"errors":true,"items":[{"index":{"_id":"x"}}]})", 1).kind ==
        BulkResponse::Kind::Unreadable); // no status
  CHECK(read(R"({"errors":true,"items":[{"index":{"status":"429"}}]})", 1).kind ==
        BulkResponse::Kind::Unreadable); // not a number
  CHECK(read(R"({"errors":true,"items":[{"index":{"status":42}}]})", 1).kind ==
        BulkResponse::Kind::Unreadable); // not an HTTP status
  CHECK(read(R"({"errors":true,"items":[)" + item("index", 201), 1).kind ==
        BulkResponse::Kind::Unreadable); // cut short
  // Without simdjson's padding behind it the answer is not read at all.
  const std::string body = R"({"errors":true,"items":[)" + item("index", 201) + "]}";
  CHECK(readBulkResponse(body, body.size(), 1).kind == BulkResponse::Kind::Unreadable);
}
