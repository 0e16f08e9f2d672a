#include "proxy/http_request.h"

#include <simdjson.h>

#include <algorithm>

#include "proxy/wipe.h"

namespace scrub::proxy {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' ||
                           text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

// One parser of each kind per thread (per worker), reused for every request.
simdjson::dom::parser& domParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}
simdjson::ondemand::parser& ondemandParser() {
  thread_local simdjson::ondemand::parser parser;
  return parser;
}

} // namespace

HttpRequestParser::HttpRequestParser(const config::HttpListenerConfig& http,
                                     HttpRequestHandler& handler)
    : http_(http), handler_(handler) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

HttpRequestParser::~HttpRequestParser() {
  wipe(body_);
  wipe(authorization_);
  wipe(api_key_);
  wipe(value_);
}

const http_parser_settings& HttpRequestParser::settings() {
  static const http_parser_settings s = [] {
    http_parser_settings out{};
    out.on_message_begin = onMessageBegin;
    out.on_url = onUrl;
    out.on_header_field = onHeaderField;
    out.on_header_value = onHeaderValue;
    out.on_headers_complete = onHeadersComplete;
    out.on_body = onBody;
    out.on_message_complete = onMessageComplete;
    return out;
  }();
  return s;
}

void HttpRequestParser::feed(std::string_view bytes) {
  if (closed_) {
    return;
  }
  const size_t parsed = http_parser_execute(&parser_, &settings(), bytes.data(), bytes.size());
  if (closed_) {
    return; // answered with close: the rest is discarded
  }
  const auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_HEADER_OVERFLOW) {
    reject(431);
  } else if (err != HPE_OK || parsed != bytes.size()) {
    reject(400);
  }
}

void HttpRequestParser::resetRequest() {
  url_.clear();
  field_.clear();
  wipe(value_);
  in_value_ = false;
  header_bytes_ = 0;
  content_type_.clear();
  content_encoding_.clear();
  expect_.clear();
  wipe(authorization_);
  wipe(api_key_);
  rejected_ = false;
  inflater_.reset();
  received_bytes_ = 0;
  wipe(body_);
}

int HttpRequestParser::onMessageBegin(http_parser* parser) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  self->resetRequest();
  self->handler_.onRequestBegin();
  return 0;
}

bool HttpRequestParser::countHeaderBytes(size_t length) {
  header_bytes_ += length;
  if (header_bytes_ > http_.max_header_bytes) {
    reject(431);
    return false;
  }
  return true;
}

int HttpRequestParser::onUrl(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (!self->countHeaderBytes(length)) {
    return -1;
  }
  self->url_.append(at, length);
  return 0;
}

int HttpRequestParser::onHeaderField(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (!self->countHeaderBytes(length)) {
    return -1;
  }
  if (self->in_value_) {
    self->commitHeader();
  }
  self->field_.append(at, length);
  return 0;
}

int HttpRequestParser::onHeaderValue(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (!self->countHeaderBytes(length)) {
    return -1;
  }
  self->in_value_ = true;
  self->value_.append(at, length);
  return 0;
}

void HttpRequestParser::commitHeader() {
  const std::string name = lower(field_);
  if (name == "content-type") {
    content_type_ = lower(trimmed(value_));
  } else if (name == "content-encoding") {
    content_encoding_ = lower(trimmed(value_));
  } else if (name == "expect") {
    expect_ = lower(trimmed(value_));
  } else if (name == "authorization") {
    authorization_ = value_;
  } else if (!http_.api_key_header.empty() && name == lower(http_.api_key_header)) {
    api_key_ = value_;
  }
  field_.clear();
  wipe(value_);
  in_value_ = false;
}

int HttpRequestParser::onHeadersComplete(http_parser* parser) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (self->in_value_) {
    self->commitHeader();
  }
  self->checkHeaders();
  return 0;
}

void HttpRequestParser::checkHeaders() {
  const std::string_view path = std::string_view(url_).substr(0, url_.find('?'));
  if (path != http_.path) {
    reject(404);
    return;
  }
  if (parser_.method != HTTP_POST) {
    reject(405, "Allow: POST\r\n");
    return;
  }
  if (http_.authRequired()) {
    const auto answer = handler_.authorize(authorization_, api_key_);
    if (answer.status != 0) {
      reject(answer.status, answer.extra_headers);
      return;
    }
  }
  const std::string_view media =
      trimmed(std::string_view(content_type_).substr(0, content_type_.find(';')));
  if (media == "application/x-ndjson" || media == "application/ndjson" ||
      media == "application/jsonl" || media == "application/jsonlines") {
    body_type_ = HttpBodyType::Ndjson;
  } else if (media == "application/json") {
    body_type_ = HttpBodyType::Json;
  } else {
    reject(415);
    return;
  }
  if (content_encoding_ == "gzip" || content_encoding_ == "x-gzip") {
    inflater_.emplace(http_.max_decompressed_bytes);
  } else if (!content_encoding_.empty() && content_encoding_ != "identity") {
    reject(415);
    return;
  }
  const bool chunked = (parser_.flags & F_CHUNKED) != 0;
  const bool has_length = (parser_.flags & F_CONTENTLENGTH) != 0;
  if (!chunked && !has_length) {
    reject(411);
    return;
  }
  if (has_length && parser_.content_length > http_.max_body_bytes) {
    reject(413);
    return;
  }
  if (expect_ == "100-continue") {
    handler_.onContinue();
  }
}

int HttpRequestParser::onBody(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (self->rejected_) {
    return 0; // keep-alive after a rejection that did not close: read past the body
  }
  self->received_bytes_ += length;
  if (self->received_bytes_ > self->http_.max_body_bytes) {
    self->reject(413);
    return -1;
  }
  if (self->inflater_) {
    switch (self->inflater_->feed(std::string_view(at, length), self->body_)) {
    case GzipInflater::Status::Ok:
      return 0;
    case GzipInflater::Status::TooLarge:
      self->reject(413);
      return -1;
    case GzipInflater::Status::Corrupt:
      self->reject(400);
      return -1;
    }
  }
  self->body_.append(at, length);
  return 0;
}

int HttpRequestParser::onMessageComplete(http_parser* parser) {
  auto* self = static_cast<HttpRequestParser*>(parser->data);
  if (self->rejected_) {
    return 0;
  }
  if (self->inflater_ && !self->inflater_->finished()) {
    self->reject(400);
    return -1;
  }
  const bool keep_alive = http_should_keep_alive(parser) != 0;
  self->handler_.onRequest(self->body_, self->body_type_, keep_alive);
  wipe(self->body_);
  return 0;
}

void HttpRequestParser::reject(int status, const std::string& extra_headers, bool close) {
  rejected_ = true;
  if (closed_) {
    return;
  }
  wipe(body_);
  inflater_.reset();
  handler_.onReject(status, extra_headers, close);
  if (close) {
    closed_ = true;
    if (HTTP_PARSER_ERRNO(&parser_) == HPE_OK) {
      http_parser_pause(&parser_, 1); // parse nothing more; the rest is discarded
    }
  }
}

bool splitRecords(std::string& body, HttpBodyType type,
                  const std::function<void(std::string_view record)>& each) {
  const std::string_view all(body);
  if (type == HttpBodyType::Ndjson) {
    size_t start = 0;
    while (start < all.size()) {
      size_t end = all.find('\n', start);
      if (end == std::string_view::npos) {
        end = all.size();
      }
      const std::string_view one = trimmed(all.substr(start, end - start));
      if (!one.empty()) {
        each(one);
      }
      start = end + 1;
    }
    return true;
  }
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING); // before any view into it
  const std::string_view doc_text = trimmed(std::string_view(body));
  // Checked whole first: a malformed body is refused with nothing of it forwarded.
  simdjson::dom::element root;
  if (doc_text.empty() ||
      domParser().parse(body.data(), body.size(), /*realloc_if_needed=*/false).get(root) !=
          simdjson::SUCCESS) {
    return false;
  }
  if (!root.is_array()) {
    each(doc_text);
    return true;
  }
  simdjson::ondemand::document doc;
  simdjson::ondemand::array array;
  if (ondemandParser().iterate(body.data(), body.size(), body.capacity()).get(doc) !=
          simdjson::SUCCESS ||
      doc.get_array().get(array) != simdjson::SUCCESS) {
    return false;
  }
  for (auto element : array) {
    simdjson::ondemand::value value;
    std::string_view raw;
    simdjson::ondemand::json_type json_type;
    if (element.get(value) != simdjson::SUCCESS ||
        value.type().get(json_type) != simdjson::SUCCESS) {
      break; // cannot happen after the DOM check
    }
    simdjson::error_code error = simdjson::SUCCESS;
    if (json_type == simdjson::ondemand::json_type::object) {
      simdjson::ondemand::object object;
      error = value.get_object().get(object);
      if (error == simdjson::SUCCESS) {
        error = object.raw_json().get(raw);
      }
    } else if (json_type == simdjson::ondemand::json_type::array) {
      simdjson::ondemand::array inner;
      error = value.get_array().get(inner);
      if (error == simdjson::SUCCESS) {
        error = inner.raw_json().get(raw);
      }
    } else {
      raw = value.raw_json_token();
    }
    if (error != simdjson::SUCCESS) {
      break;
    }
    each(trimmed(raw));
  }
  return true;
}

} // namespace scrub::proxy
