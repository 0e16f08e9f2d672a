// Fuzz target: proxy/http_sink/bulk_response (an Elasticsearch `_bulk` answer, read by the HTTP
// sink). The first byte is how many records the request carried; the rest is the sink's answer.
// Checks: only an answer that could be matched to the records lists any; listed records are
// within the request, in order, each once, either to retry or refused; the statuses counted
// add up to the records listed.

#include <simdjson.h>

#include <cstdint>
#include <numeric>
#include <string>

#include "proxy/http_sink/bulk_response.h"
#include "tests/fuzz/fuzz_check.h"

using scrub::proxy::BulkResponse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  const uint64_t records = data[0];
  std::string answer;
  answer.reserve(size - 1 + simdjson::SIMDJSON_PADDING);
  answer.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  const BulkResponse read = scrub::proxy::readBulkResponse(answer, answer.capacity(), records);

  if (read.kind != BulkResponse::Kind::SomeFailed) {
    SCRUB_FUZZ_CHECK(read.retry.empty() && read.refused.empty() && read.failed_statuses.empty(),
                     "records listed without an answer matched to them");
    return 0;
  }
  std::vector<bool> seen(records, false);
  for (const auto* list : {&read.retry, &read.refused}) {
    for (size_t i = 0; i < list->size(); ++i) {
      const uint32_t record = (*list)[i];
      SCRUB_FUZZ_CHECK(record < records, "a record beyond the request");
      SCRUB_FUZZ_CHECK(i == 0 || (*list)[i - 1] < record, "records out of order");
      SCRUB_FUZZ_CHECK(!seen[record], "a record listed twice");
      seen[record] = true;
    }
  }
  uint64_t counted = 0;
  for (const auto& [status, n] : read.failed_statuses) {
    SCRUB_FUZZ_CHECK(status >= 300 && status <= 599, "a counted status that is not a failure");
    counted += n;
  }
  SCRUB_FUZZ_CHECK(counted == read.retry.size() + read.refused.size(),
                   "statuses counted differ from records listed");
  return 0;
}
