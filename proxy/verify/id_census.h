#pragma once

// `verify --expect-keep _id,_xform_id`: which retry ids a line carries, to prove that the rules
// keep what retries need. A line's ids are the (key, value) pairs of every member, at any
// depth, whose key is listed and whose value is a JSON integer. Ids inside strings (a
// JSON.stringify'd object) are text, not counted, in input and output alike.
//
// Parses with simdjson DOM: an offline check, off the proxy's data path.

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace scrub::verify {

struct IdValue {
  uint16_t key; // index into the expected keys
  bool negative;
  uint64_t magnitude;

  auto operator<=>(const IdValue&) const = default;
};

class IdCensus {
public:
  explicit IdCensus(std::vector<std::string> keys) : keys_(std::move(keys)) {}

  const std::vector<std::string>& keys() const { return keys_; }

  // The ids in `json`, sorted. `capacity` as for LineFilter::filter (>= size + padding).
  // False when the text does not parse (such a line is dropped by the filter anyway).
  bool collect(std::string_view json, size_t capacity, std::vector<IdValue>& ids);
  // The same for text without padding (copied first).
  bool collectCopy(std::string_view json, std::vector<IdValue>& ids);

  // Per expected key, how many of `before` are missing from `after` (both sorted; multisets).
  static void lost(const std::vector<IdValue>& before, const std::vector<IdValue>& after,
                   std::vector<std::pair<uint16_t, uint64_t>>& lost_per_key);

private:
  void walk(simdjson::dom::element element, std::vector<IdValue>& ids, int depth);

  std::vector<std::string> keys_;
  simdjson::dom::parser parser_;
  std::string copy_;
};

} // namespace scrub::verify
