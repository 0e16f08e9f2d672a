#pragma once

// For the fuzz targets: checks that text is one valid JSON object by visiting every value with
// simdjson On Demand. Numbers are checked against the JSON grammar instead of converted: the
// filter forwards numbers byte-exact (1e400, 100000000000000000000000), which are valid JSON that
// simdjson's DOM refuses to convert. A Visitor can also judge each step of the paths:
//   bool key(State, std::string_view key, State& next)   entering an object member
//   bool index(State, State& next)                        entering an array element
//   bool scalar(State)                                    a number, true, false or null here
//   bool string(State, std::string_view text)             a string here (unescaped)

#include <simdjson.h>

#include <string_view>

namespace scrub::fuzz {

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
inline bool jsonNumber(std::string_view text) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      ++i;
    }
    return i > from;
  };
  if (i < text.size() && text[i] == '-') {
    ++i;
  }
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) {
      return false;
    }
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      ++i;
    }
    if (!digits()) {
      return false;
    }
  }
  return i == text.size();
}

struct AnyPath {
  using State = int;
  bool key(State, std::string_view, State&) { return true; }
  bool index(State, State&) { return true; }
  bool scalar(State) { return true; }
  bool string(State, std::string_view) { return true; }
};

template <typename Visitor>
bool walkJson(simdjson::ondemand::value value, typename Visitor::State state, Visitor& visitor) {
  using simdjson::ondemand::json_type;
  json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) {
    return false;
  }
  switch (type) {
  case json_type::object: {
    simdjson::ondemand::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) {
      return false;
    }
    for (auto field : object) {
      std::string_view key;
      simdjson::ondemand::value inner;
      typename Visitor::State next{};
      if (field.error() != simdjson::SUCCESS ||
          field.unescaped_key().get(key) != simdjson::SUCCESS || !visitor.key(state, key, next) ||
          field.value().get(inner) != simdjson::SUCCESS || !walkJson(inner, next, visitor)) {
        return false;
      }
    }
    return true;
  }
  case json_type::array: {
    simdjson::ondemand::array array;
    if (value.get_array().get(array) != simdjson::SUCCESS) {
      return false;
    }
    for (auto element : array) {
      simdjson::ondemand::value inner;
      typename Visitor::State next{};
      if (element.get(inner) != simdjson::SUCCESS || !visitor.index(state, next) ||
          !walkJson(inner, next, visitor)) {
        return false;
      }
    }
    return true;
  }
  case json_type::string: {
    std::string_view text;
    return value.get_string().get(text) == simdjson::SUCCESS && visitor.string(state, text);
  }
  case json_type::number:
    return jsonNumber(value.raw_json_token()) && visitor.scalar(state);
  case json_type::boolean: {
    bool b = false;
    return value.get_bool().get(b) == simdjson::SUCCESS && visitor.scalar(state);
  }
  case json_type::null: {
    bool is_null = false;
    return value.is_null().get(is_null) == simdjson::SUCCESS && is_null && visitor.scalar(state);
  }
  }
  return false;
}

// Whether `text` is exactly one valid JSON object (or, unless `object_only`, one array), with no
// white space around it (the filter's output is minified), every step accepted by `visitor` from
// `state`.
template <typename Visitor>
bool validJson(std::string_view text, typename Visitor::State state, Visitor& visitor,
               bool object_only = true) {
  simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(text);
  // First pass: the root's own text must be the whole text (On Demand 3.0 has no at_end()).
  simdjson::ondemand::document doc;
  simdjson::ondemand::json_type type;
  std::string_view raw;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc.type().get(type) != simdjson::SUCCESS) {
    return false;
  }
  if (type == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS ||
        object.raw_json().get(raw) != simdjson::SUCCESS) {
      return false;
    }
  } else if (type == simdjson::ondemand::json_type::array && !object_only) {
    simdjson::ondemand::array array;
    if (doc.get_array().get(array) != simdjson::SUCCESS ||
        array.raw_json().get(raw) != simdjson::SUCCESS) {
      return false;
    }
  } else {
    return false;
  }
  if (raw != text) {
    return false;
  }
  // Second pass: every value, every step.
  simdjson::ondemand::value root;
  return parser.iterate(padded).get(doc) == simdjson::SUCCESS &&
         doc.get_value().get(root) == simdjson::SUCCESS && walkJson(root, state, visitor);
}

inline bool validJsonObject(std::string_view text) {
  AnyPath any;
  return validJson(text, 0, any);
}

} // namespace scrub::fuzz
