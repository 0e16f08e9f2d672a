#include "proxy/verify/id_census.h"

#include <algorithm>

namespace scrub::verify {

bool IdCensus::collect(std::string_view json, size_t capacity, std::vector<IdValue>& ids) {
  ids.clear();
  simdjson::dom::element root;
  if (capacity < json.size() + simdjson::SIMDJSON_PADDING) {
    return collectCopy(json, ids);
  }
  if (parser_.parse(json.data(), json.size(), false).get(root)) {
    return false;
  }
  walk(root, ids, 0);
  std::sort(ids.begin(), ids.end());
  return true;
}

bool IdCensus::collectCopy(std::string_view json, std::vector<IdValue>& ids) {
  copy_.assign(json);
  copy_.append(simdjson::SIMDJSON_PADDING, '\0');
  return collect(std::string_view(copy_.data(), json.size()), copy_.size(), ids);
}

void IdCensus::walk(simdjson::dom::element element, std::vector<IdValue>& ids, int depth) {
  // simdjson's DOM already refuses documents deeper than its own limit; this guards the stack.
  if (depth > 1024) {
    return;
  }
  simdjson::dom::object object;
  simdjson::dom::array array;
  if (!element.get_object().get(object)) {
    for (auto field : object) {
      for (size_t k = 0; k < keys_.size(); ++k) {
        if (field.key != keys_[k]) {
          continue;
        }
        const auto value = field.value;
        if (value.is_uint64()) {
          ids.push_back({static_cast<uint16_t>(k), false, value.get_uint64().value_unsafe()});
        } else if (value.is_int64()) {
          const int64_t v = value.get_int64().value_unsafe();
          ids.push_back(
              {static_cast<uint16_t>(k), v < 0,
               v < 0 ? uint64_t(0) - static_cast<uint64_t>(v) : static_cast<uint64_t>(v)});
        }
      }
      walk(field.value, ids, depth + 1);
    }
  } else if (!element.get_array().get(array)) {
    for (auto child : array) {
      walk(child, ids, depth + 1);
    }
  }
}

void IdCensus::lost(const std::vector<IdValue>& before, const std::vector<IdValue>& after,
                    std::vector<std::pair<uint16_t, uint64_t>>& lost_per_key) {
  lost_per_key.clear();
  size_t j = 0;
  for (const IdValue& id : before) {
    while (j < after.size() && after[j] < id) {
      ++j;
    }
    if (j < after.size() && after[j] == id) {
      ++j;
      continue;
    }
    auto it = std::find_if(lost_per_key.begin(), lost_per_key.end(),
                           [&](const auto& entry) { return entry.first == id.key; });
    if (it == lost_per_key.end()) {
      lost_per_key.emplace_back(id.key, 1);
    } else {
      ++it->second;
    }
  }
}

} // namespace scrub::verify
