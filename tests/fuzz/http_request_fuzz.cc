// Fuzz target: proxy/http_request (HTTP ingress request handling without a socket). The input is
// a byte stream from one client, cut into reads of fuzzer-chosen sizes; the first byte also
// picks whether the listener requires an API key. Checks: nothing is parsed after an answer that
// closes the connection; a delivered body is within the configured limits; records are
// non-empty, trimmed, NDJSON records hold no newline and JSON records are valid JSON;
// authorize() is asked only when credentials are configured.

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http_auth.h"
#include "proxy/http_request.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using scrub::proxy::HttpBodyType;

class Recorder : public scrub::proxy::HttpRequestHandler {
public:
  explicit Recorder(const scrub::config::HttpListenerConfig& http) : http_(http) {}

  AuthAnswer authorize(std::string_view authorization, std::string_view api_key) override {
    SCRUB_FUZZ_CHECK(http_.authRequired(), "authorize() without credentials configured");
    SCRUB_FUZZ_CHECK(!closed_, "callback after a closing answer");
    const auto decision = scrub::proxy::authenticate(http_, authorization, api_key);
    if (decision.result != scrub::proxy::AuthDecision::Result::Ok) {
      return {401, "WWW-Authenticate: Bearer realm=\"scrubproxy\"\r\n"};
    }
    return {};
  }
  void onRequestBegin() override { SCRUB_FUZZ_CHECK(!closed_, "request after a closing answer"); }
  void onContinue() override { SCRUB_FUZZ_CHECK(!closed_, "100 after a closing answer"); }
  void onReject(int status, const std::string&, bool close) override {
    SCRUB_FUZZ_CHECK(!closed_, "answer after a closing answer");
    SCRUB_FUZZ_CHECK(status >= 400 && status < 600, "error answer without an error status");
    closed_ = closed_ || close;
  }
  void onRequest(std::string& body, HttpBodyType type, bool) override {
    SCRUB_FUZZ_CHECK(!closed_, "request after a closing answer");
    SCRUB_FUZZ_CHECK(body.size() <= http_.max_decompressed_bytes, "body over the limit");
    scrub::proxy::splitRecords(body, type, [&](std::string_view record) {
      SCRUB_FUZZ_CHECK(!record.empty(), "empty record");
      SCRUB_FUZZ_CHECK(record.front() != ' ' && record.back() != ' ', "record not trimmed");
      if (type == HttpBodyType::Ndjson) {
        SCRUB_FUZZ_CHECK(record.find('\n') == std::string_view::npos, "newline in a record");
      } else {
        simdjson::dom::element root;
        SCRUB_FUZZ_CHECK(checker_.parse(std::string(record)).get(root) == simdjson::SUCCESS,
                         "a JSON record is not JSON");
      }
    });
  }
  bool closed() const { return closed_; }

private:
  const scrub::config::HttpListenerConfig& http_;
  simdjson::dom::parser checker_;
  bool closed_ = false;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  scrub::config::HttpListenerConfig http;
  http.max_body_bytes = 64 << 10;
  http.max_decompressed_bytes = 256 << 10;
  http.max_header_bytes = 2048;
  if ((data[0] & 1) != 0) {
    http.api_keys.push_back({"k1", std::string(32, 'k')});
  }
  const size_t chunk = 1 + data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  Recorder recorder(http);
  scrub::proxy::HttpRequestParser parser(http, recorder);
  size_t at = 0;
  while (at < stream.size()) {
    const size_t n = std::min(chunk, stream.size() - at);
    parser.feed(stream.substr(at, n));
    at += n;
    SCRUB_FUZZ_CHECK(parser.closed() == recorder.closed(), "parser and answers disagree");
  }
  return 0;
}
