#include "proxy/verify/http_capture.h"

#include <algorithm>
#include <cctype>

namespace scrub::verify {
namespace {

constexpr uint64_t kMaxBody = 256 << 20;

} // namespace

HttpCaptureConnection::HttpCaptureConnection() {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

bool HttpCaptureConnection::feed(std::string_view data, const OnRecord& on_record,
                                 std::string& reply) {
  static const http_parser_settings settings = [] {
    http_parser_settings s{};
    s.on_header_field = onHeaderField;
    s.on_header_value = onHeaderValue;
    s.on_headers_complete = onHeadersComplete;
    s.on_body = onBody;
    s.on_message_complete = onMessageComplete;
    return s;
  }();
  on_record_ = &on_record;
  reply_ = &reply;
  const size_t parsed = http_parser_execute(&parser_, &settings, data.data(), data.size());
  on_record_ = nullptr;
  reply_ = nullptr;
  return !failed_ && HTTP_PARSER_ERRNO(&parser_) == HPE_OK && parsed == data.size();
}

int HttpCaptureConnection::onHeaderField(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpCaptureConnection*>(parser->data);
  if (self->in_value_) {
    self->commitHeader();
  }
  self->field_.append(at, length);
  return 0;
}

int HttpCaptureConnection::onHeaderValue(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpCaptureConnection*>(parser->data);
  self->in_value_ = true;
  self->value_.append(at, length);
  return 0;
}

void HttpCaptureConnection::commitHeader() {
  std::string name = field_;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name == "content-encoding" && value_.find("gzip") != std::string::npos) {
    gzip_ = true;
  }
  field_.clear();
  value_.clear();
  in_value_ = false;
}

int HttpCaptureConnection::onHeadersComplete(http_parser* parser) {
  auto* self = static_cast<HttpCaptureConnection*>(parser->data);
  if (self->in_value_) {
    self->commitHeader();
  }
  if (self->gzip_) {
    self->inflater_ = std::make_unique<proxy::GzipInflater>(kMaxBody);
  }
  return 0;
}

int HttpCaptureConnection::onBody(http_parser* parser, const char* at, size_t length) {
  auto* self = static_cast<HttpCaptureConnection*>(parser->data);
  if (self->inflater_) {
    if (self->inflater_->feed(std::string_view(at, length), self->body_) !=
        proxy::GzipInflater::Status::Ok) {
      self->failed_ = true;
      return -1;
    }
    return 0;
  }
  if (self->body_.size() + length > kMaxBody) {
    self->failed_ = true;
    return -1;
  }
  self->body_.append(at, length);
  return 0;
}

int HttpCaptureConnection::onMessageComplete(http_parser* parser) {
  auto* self = static_cast<HttpCaptureConnection*>(parser->data);
  ++self->requests_;
  splitRecords(self->body_, *self->on_record_);
  self->body_.clear();
  self->inflater_.reset();
  self->gzip_ = false;
  *self->reply_ += "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n";
  if (http_should_keep_alive(parser) == 0) {
    *self->reply_ += "Connection: close\r\n";
  }
  *self->reply_ += "\r\n{}";
  return 0;
}

void splitRecords(std::string_view body, const HttpCaptureConnection::OnRecord& on_record) {
  size_t start = body.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && body[start] == '[') {
    // Elements end at a ',' or the closing ']' outside any string or nested value.
    int depth = 0;
    bool in_string = false;
    size_t begin = start + 1;
    for (size_t i = start; i < body.size(); ++i) {
      const char c = body[i];
      if (in_string) {
        if (c == '\\') {
          ++i;
        } else if (c == '"') {
          in_string = false;
        }
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if (c == ']' || c == '}') {
        if (--depth == 0) {
          if (i > begin) {
            on_record(body.substr(begin, i - begin));
          }
          return;
        }
      } else if (c == ',' && depth == 1) {
        on_record(body.substr(begin, i - begin));
        begin = i + 1;
      }
    }
    return;
  }
  size_t begin = 0;
  while (begin < body.size()) {
    size_t end = body.find('\n', begin);
    if (end == std::string_view::npos) {
      end = body.size();
    }
    if (end > begin) {
      on_record(body.substr(begin, end - begin));
    }
    begin = end + 1;
  }
}

} // namespace scrub::verify
