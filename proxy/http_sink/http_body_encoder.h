#pragma once

// How an HTTP sink packs a batch of records into one request body, per format (see
// config::HttpSinkFormat). Pure: no I/O, no clock (the caller passes the time), no logging.
// Records are minified JSON texts as the filter wrote them, without their '\n'.
//
// The shapes follow each receiver's documented API:
// - ndjson:        `<record>\n` per record                          (application/x-ndjson)
// - json_array:    `[<record>,<record>]`                             (application/json)
// - elasticsearch: `{"index":{"_index":"<index>"}}\n<record>\n` per record, the _bulk API's
//                  action and source lines, ending with a newline   (application/x-ndjson)
// - loki:          `{"streams":[{"stream":{<labels>},"values":[["<ns>","<record>"],…]}]}`, the
//                  push API; the timestamp is a string of Unix nanoseconds, one per record,
//                  increasing by 1 ns within a batch so that order survives (application/json)
// - splunk_hec:    `{"event":<record>,"sourcetype":"<sourcetype>"}` per record, concatenated,
//                  as the HTTP Event Collector's /services/collector/event takes a batch
//                  (application/json)

#include <cstdint>
#include <string>
#include <string_view>

#include "config/proxy_config.h"

namespace scrub::proxy {

// The Content-Type of a body in `format`.
std::string_view contentType(config::HttpSinkFormat format);

class HttpBodyEncoder {
public:
  // Appends to `out`, which the caller owns (and wipes); `unix_ns` stamps Loki entries.
  HttpBodyEncoder(const config::HttpSinkConfig& config, std::string& out, uint64_t unix_ns);

  // The most a body of `records` records totalling `bytes` (with their '\n') can take: reserve
  // it, so appending never reallocates and leaves a copy of payload in freed memory.
  static size_t bound(const config::HttpSinkConfig& config, size_t bytes, uint64_t records);

  void add(std::string_view record);
  // Every record of `lines` ('\n'-terminated records, as a sink queue chunk holds them).
  void addLines(std::string_view lines);
  // Closes the body; add() may not follow.
  void finish();
  uint64_t records() const { return records_; }

private:
  const config::HttpSinkConfig& config_;
  std::string& out_;
  uint64_t unix_ns_;
  uint64_t records_ = 0;
};

} // namespace scrub::proxy
