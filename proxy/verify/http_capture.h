#pragma once

// verify --live --capture http://…: one connection from a proxy's HTTP sink. Requests are parsed
// with http_parser; each body (gzip decoded) is split into records — NDJSON lines, or the
// elements of a JSON array (the proxy's `ndjson` and `json_array` formats, whose records are the
// filter's output byte for byte) — and every request is answered 200 once its records were
// taken. Pure bookkeeping over bytes: the caller owns the socket.

#include <http_parser.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/gzip_inflater.h"

namespace scrub::verify {

class HttpCaptureConnection {
public:
  using OnRecord = std::function<void(std::string_view record)>;

  HttpCaptureConnection();
  HttpCaptureConnection(const HttpCaptureConnection&) = delete;
  HttpCaptureConnection& operator=(const HttpCaptureConnection&) = delete;

  // Feeds bytes received; records of every complete request go to `on_record`, answers are
  // appended to `reply`. False on a malformed request (the connection should be closed).
  bool feed(std::string_view data, const OnRecord& on_record, std::string& reply);
  uint64_t requests() const { return requests_; }

private:
  static int onHeaderField(http_parser* parser, const char* at, size_t length);
  static int onHeaderValue(http_parser* parser, const char* at, size_t length);
  static int onHeadersComplete(http_parser* parser);
  static int onBody(http_parser* parser, const char* at, size_t length);
  static int onMessageComplete(http_parser* parser);
  void commitHeader();

  http_parser parser_{};
  std::string field_;
  std::string value_;
  bool in_value_ = false;
  bool gzip_ = false;
  std::unique_ptr<proxy::GzipInflater> inflater_;
  std::string body_;
  bool failed_ = false;
  uint64_t requests_ = 0;
  const OnRecord* on_record_ = nullptr;
  std::string* reply_ = nullptr;
};

// Splits an HTTP sink body into its records: a JSON array's elements (`[a,b]`, as the proxy
// writes it: minified, elements separated by ',' at depth 1) or NDJSON lines.
void splitRecords(std::string_view body, const HttpCaptureConnection::OnRecord& on_record);

} // namespace scrub::verify
