#include "proxy/http_sink/bulk_response.h"

#include <simdjson.h>

#include "proxy/http_sink/delivery_policy.h"

namespace scrub::proxy {
namespace {

namespace od = simdjson::ondemand;

// The status of one item, `{"index":{"_index":…,"status":201,…}}` (the action's name varies:
// index, create, update, delete). -1 when the item has no readable status.
int64_t itemStatus(od::value item) {
  od::object object;
  if (item.get_object().get(object)) {
    return -1;
  }
  for (auto field : object) {
    od::value action;
    if (field.value().get(action)) {
      return -1;
    }
    od::object result;
    if (action.get_object().get(result)) {
      return -1;
    }
    int64_t status = -1;
    if (result.find_field_unordered("status").get_int64().get(status)) {
      return -1;
    }
    return status; // an item holds exactly one action
  }
  return -1;
}

} // namespace

BulkResponse readBulkResponse(std::string_view body, size_t readable, uint64_t records) {
  BulkResponse out;
  if (readable < body.size() + simdjson::SIMDJSON_PADDING) {
    out.kind = BulkResponse::Kind::Unreadable;
    return out;
  }
  // A parser per answer: answers come once per batch, so its allocation does not matter.
  od::parser parser;
  od::document document;
  od::object root;
  bool errors = false;
  if (parser.iterate(body.data(), body.size(), readable).get(document) ||
      document.get_object().get(root) ||
      root.find_field_unordered("errors").get_bool().get(errors) || !errors) {
    return out; // only an explicit `"errors":true` says that something was not stored
  }
  // From here on an answer that cannot be matched to the records lists none of them.
  const BulkResponse unreadable{BulkResponse::Kind::Unreadable, {}, {}, {}};
  od::array items;
  if (root.find_field_unordered("items").get_array().get(items)) {
    return unreadable;
  }
  uint32_t index = 0;
  for (auto element : items) {
    od::value item;
    if (element.get(item) || index >= records) {
      return unreadable;
    }
    const int64_t status = itemStatus(item);
    if (status < 100 || status > 599) {
      return unreadable;
    }
    if (status >= 300) {
      ++out.failed_statuses[static_cast<long>(status)];
      const bool again = judgeAttempt(true, static_cast<long>(status)) == BatchVerdict::Retry;
      (again ? out.retry : out.refused).push_back(index);
    }
    ++index;
  }
  if (index != records) {
    return unreadable;
  }
  out.kind = BulkResponse::Kind::SomeFailed;
  return out;
}

} // namespace scrub::proxy
