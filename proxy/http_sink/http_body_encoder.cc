#include "proxy/http_sink/http_body_encoder.h"

#include "filters/json_escape.h"

namespace scrub::proxy {

using config::HttpSinkFormat;

std::string_view contentType(HttpSinkFormat format) {
  switch (format) {
  case HttpSinkFormat::Ndjson:
  case HttpSinkFormat::ElasticsearchBulk:
    return "application/x-ndjson";
  case HttpSinkFormat::JsonArray:
  case HttpSinkFormat::Loki:
  case HttpSinkFormat::SplunkHec:
    return "application/json";
  }
  return "application/json";
}

HttpBodyEncoder::HttpBodyEncoder(const config::HttpSinkConfig& config, std::string& out,
                                 uint64_t unix_ns)
    : config_(config), out_(out), unix_ns_(unix_ns) {
  switch (config_.format) {
  case HttpSinkFormat::JsonArray:
    out_ += '[';
    break;
  case HttpSinkFormat::Loki: {
    out_ += R"({"streams":[{"stream":{)";
    bool first = true;
    for (const auto& [name, value] : config_.labels) {
      if (!first) {
        out_ += ',';
      }
      first = false;
      filters::appendJsonString(out_, name);
      out_ += ':';
      filters::appendJsonString(out_, value);
    }
    out_ += R"(},"values":[)";
    break;
  }
  default:
    break;
  }
}

size_t HttpBodyEncoder::bound(const config::HttpSinkConfig& config, size_t bytes,
                              uint64_t records) {
  // Escaping a JSON text as a string at most doubles it (`"` and `\` gain a backslash; control
  // characters are already escaped in minified JSON). Per record: the action, event or
  // timestamp wrapper around it.
  size_t labels = 0;
  for (const auto& [name, value] : config.labels) {
    labels += 2 * (name.size() + value.size()) + 8;
  }
  const size_t per_record = 64 + 2 * (config.index.size() + config.sourcetype.size());
  return 2 * bytes + records * per_record + labels + 64;
}

void HttpBodyEncoder::add(std::string_view record) {
  switch (config_.format) {
  case HttpSinkFormat::Ndjson:
    out_.append(record);
    out_ += '\n';
    break;
  case HttpSinkFormat::JsonArray:
    if (records_ > 0) {
      out_ += ',';
    }
    out_.append(record);
    break;
  case HttpSinkFormat::ElasticsearchBulk:
    out_ += R"({"index":{"_index":)";
    filters::appendJsonString(out_, config_.index);
    out_ += "}}\n";
    out_.append(record);
    out_ += '\n';
    break;
  case HttpSinkFormat::Loki:
    if (records_ > 0) {
      out_ += ',';
    }
    out_ += "[\"";
    out_ += std::to_string(unix_ns_ + records_);
    out_ += "\",";
    // Loki stores a log line as text: the record's JSON, as a string.
    filters::appendJsonString(out_, record);
    out_ += ']';
    break;
  case HttpSinkFormat::SplunkHec:
    out_ += R"({"event":)";
    out_.append(record);
    out_ += R"(,"sourcetype":)";
    filters::appendJsonString(out_, config_.sourcetype);
    out_ += '}';
    break;
  }
  ++records_;
}

void HttpBodyEncoder::addLines(std::string_view lines) {
  size_t start = 0;
  while (start < lines.size()) {
    size_t end = lines.find('\n', start);
    if (end == std::string_view::npos) {
      end = lines.size();
    }
    if (end > start) {
      add(lines.substr(start, end - start));
    }
    start = end + 1;
  }
}

void HttpBodyEncoder::finish() {
  switch (config_.format) {
  case HttpSinkFormat::JsonArray:
    out_ += ']';
    break;
  case HttpSinkFormat::Loki:
    out_ += "]}]}";
    break;
  default:
    break;
  }
}

} // namespace scrub::proxy
