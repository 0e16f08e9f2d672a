#pragma once

// The pure half of HTTP ingress: one connection's stream of HTTP/1.1 requests, parsed with
// http_parser and checked against the listener's `http:` settings, and a request body split into
// records. No sockets, clock, logging or counters: the owner (HttpConnection) answers, counts and
// forwards through HttpRequestHandler, so this part can be tested and fuzzed without a socket.
//
// Per request: the head is checked in this order — path (404), method (405), credentials (the
// handler decides: 401/429), Content-Type (415), Content-Encoding (415), a length or chunked
// (411), Content-Length over max_body_bytes (413), `Expect: 100-continue` — then the body is
// collected within max_body_bytes as received (413) and max_decompressed_bytes after gzip (413;
// corrupt gzip 400), and the whole body is handed over. A malformed request is 400, a head over
// max_header_bytes 431. After an answer that closes the connection nothing more is parsed.
//
// Header values that carry credentials and the body are wiped when released. Not thread-safe.

#include <http_parser.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/proxy_config.h"
#include "proxy/gzip_inflater.h"

namespace scrub::proxy {

enum class HttpBodyType : uint8_t { Ndjson, Json };

class HttpRequestHandler {
public:
  virtual ~HttpRequestHandler() = default;

  // A new request starts.
  virtual void onRequestBegin() {}
  // Path and method are right and the listener requires credentials: 0 lets the request go on;
  // an error status (with extra header lines, each ending "\r\n") answers it and closes.
  struct AuthAnswer {
    int status = 0;
    std::string extra_headers;
  };
  virtual AuthAnswer authorize(std::string_view authorization, std::string_view api_key) = 0;
  // The client waits for `100 Continue` before sending the body.
  virtual void onContinue() = 0;
  // An error answer; `close`: the connection ends after it.
  virtual void onReject(int status, const std::string& extra_headers, bool close) = 0;
  // A whole request: its body decoded and within the limits. `body` may be modified and is
  // wiped by the parser afterwards.
  virtual void onRequest(std::string& body, HttpBodyType type, bool keep_alive) = 0;
};

class HttpRequestParser {
public:
  // `http` and `handler` must outlive the parser.
  HttpRequestParser(const config::HttpListenerConfig& http, HttpRequestHandler& handler);
  ~HttpRequestParser();
  HttpRequestParser(const HttpRequestParser&) = delete;
  HttpRequestParser& operator=(const HttpRequestParser&) = delete;

  // Parses the next bytes of the stream. Does nothing once closed().
  void feed(std::string_view bytes);
  // An answer that ends the connection was given: the rest of the stream is to be discarded.
  bool closed() const { return closed_; }

private:
  static int onMessageBegin(http_parser* parser);
  static int onUrl(http_parser* parser, const char* at, size_t length);
  static int onHeaderField(http_parser* parser, const char* at, size_t length);
  static int onHeaderValue(http_parser* parser, const char* at, size_t length);
  static int onHeadersComplete(http_parser* parser);
  static int onBody(http_parser* parser, const char* at, size_t length);
  static int onMessageComplete(http_parser* parser);
  static const http_parser_settings& settings();

  void resetRequest();
  bool countHeaderBytes(size_t length); // false: over the limit (answered 431)
  void commitHeader();
  void checkHeaders();
  void reject(int status, const std::string& extra_headers = {}, bool close = true);

  const config::HttpListenerConfig& http_;
  HttpRequestHandler& handler_;
  http_parser parser_{};
  bool closed_ = false;

  // The request being parsed.
  std::string url_;
  std::string field_;
  std::string value_;
  bool in_value_ = false;
  size_t header_bytes_ = 0;
  std::string content_type_;
  std::string content_encoding_;
  std::string expect_;
  std::string authorization_;
  std::string api_key_;
  bool rejected_ = false; // an error answer was given for this request
  HttpBodyType body_type_ = HttpBodyType::Ndjson;
  std::optional<GzipInflater> inflater_;
  uint64_t received_bytes_ = 0;
  std::string body_;
};

// Splits a request body into records: NDJSON lines (blank ones skipped), or for JSON one object,
// or the elements of a top-level array (each element's raw text, trimmed). A JSON body is checked
// whole first: when it is malformed, returns false and `each` was not called. `body` must not be
// read through other views meanwhile (it is given simdjson's padding in place).
bool splitRecords(std::string& body, HttpBodyType type,
                  const std::function<void(std::string_view record)>& each);

} // namespace scrub::proxy
