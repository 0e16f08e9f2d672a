#pragma once

// What an Elasticsearch / OpenSearch `_bulk` answer says about each record of the request.
// `_bulk` answers 200 even when some documents were not stored: the body then holds
// `"errors":true` and one item per action, in request order, each with its own HTTP status
// (429 when the node's queue is full, 400 for a mapping error, ...). Treating that 200 as
// delivered would lose those records without a word, so the sink reads the answer.
//
// Pure: no I/O, no logging. The body is the sink's answer and may quote document values (error
// reasons carry a preview of the value that failed to parse): nothing of it is kept but the
// statuses, and string values are skipped, never copied.

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

namespace scrub::proxy {

struct BulkResponse {
  enum class Kind : uint8_t {
    Stored,     // no `"errors":true`: every record was taken
    SomeFailed, // `"errors":true` and one status per record: see `retry` and `refused`
    Unreadable, // `"errors":true`, but the items cannot be matched to the records
  };
  Kind kind = Kind::Stored;
  std::vector<uint32_t> retry;   // records answered 408, 429 or 5xx: worth sending again
  std::vector<uint32_t> refused; // records answered another non-2xx: the sink will not take them
  std::map<long, uint64_t> failed_statuses; // status -> records, for the log
};

// `body` must be readable for simdjson::SIMDJSON_PADDING bytes past its end (the caller's
// buffer reserves them). `records`: how many records the request carried.
BulkResponse readBulkResponse(std::string_view body, size_t readable, uint64_t records);

} // namespace scrub::proxy
