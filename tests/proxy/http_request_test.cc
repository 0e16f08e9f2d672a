#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "proxy/http_request.h"

using scrub::proxy::HttpBodyType;
using scrub::proxy::HttpRequestParser;

namespace {

struct Recorded : scrub::proxy::HttpRequestHandler {
  std::vector<int> answers; // error statuses, then 200 for each request delivered
  std::vector<std::string> records;
  int continues = 0;
  int auth_calls = 0;
  bool closed = false;

  AuthAnswer authorize(std::string_view authorization, std::string_view) override {
    ++auth_calls;
    return authorization == "Bearer good" ? AuthAnswer{} : AuthAnswer{401, {}};
  }
  void onContinue() override { ++continues; }
  void onReject(int status, const std::string&, bool close) override {
    answers.push_back(status);
    closed = closed || close;
  }
  void onRequest(std::string& body, HttpBodyType type, bool) override {
    if (!scrub::proxy::splitRecords(body, type,
                                    [&](std::string_view r) { records.emplace_back(r); })) {
      answers.push_back(400);
      return;
    }
    answers.push_back(200);
  }
};

std::string post(std::string_view type, std::string_view body, std::string_view extra = "") {
  return "POST /v1/logs HTTP/1.1\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra) +
         "\r\n" + std::string(body);
}

Recorded run(const std::string& stream, const scrub::config::HttpListenerConfig& http = {},
             size_t chunk = 7) {
  Recorded r;
  HttpRequestParser parser(http, r);
  for (size_t at = 0; at < stream.size(); at += chunk) {
    parser.feed(std::string_view(stream).substr(at, chunk));
  }
  return r;
}

} // namespace

TEST_CASE("http request: NDJSON and JSON bodies split into records, keep-alive", "[proxy][http]") {
  const auto r = run(post("application/x-ndjson", "{\"a\":1}\r\n\n  {\"b\":2}") +
                     post("application/json", " [ {\"c\":[1]} , 2 ,\"s\" ] ") +
                     post("application/json; charset=utf-8", "{\"d\":4}"));
  CHECK(r.answers == std::vector<int>{200, 200, 200});
  CHECK(r.records == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":[1]}", "2", "\"s\"",
                                              "{\"d\":4}"});
  CHECK_FALSE(r.closed);
}

TEST_CASE("http request: errors are answered in the documented order", "[proxy][http]") {
  CHECK(run("GET /v1/logs HTTP/1.1\r\n\r\n").answers == std::vector<int>{405});
  CHECK(run(post("application/json", "{}").replace(5, 8, "/other")).answers ==
        std::vector<int>{404});
  CHECK(run(post("text/plain", "{}")).answers == std::vector<int>{415});
  CHECK(run(post("application/json", "{}", "Content-Encoding: br\r\n")).answers ==
        std::vector<int>{415});
  CHECK(run("POST /v1/logs HTTP/1.1\r\nContent-Type: application/json\r\n\r\n").answers ==
        std::vector<int>{411});
  scrub::config::HttpListenerConfig small;
  small.max_body_bytes = 4;
  small.max_header_bytes = 64;
  CHECK(run(post("application/json", "{\"a\":1}"), small).answers == std::vector<int>{413});
  CHECK(run(post("application/json", "{}", "X-Padding: " + std::string(100, 'x') + "\r\n"), small)
            .answers == std::vector<int>{431});
  CHECK(run("NOT HTTP\r\n\r\n").answers == std::vector<int>{400});
  // A malformed JSON body is refused without closing; the next request is served.
  const auto bad = run(post("application/json", "{bad}") + post("application/json", "{}"));
  CHECK(bad.answers == std::vector<int>{400, 200});
  CHECK(bad.records == std::vector<std::string>{"{}"});
}

TEST_CASE("http request: nothing is parsed after an answer that closes", "[proxy][http]") {
  const auto r = run("GET /x HTTP/1.1\r\n\r\n" + post("application/json", "{}"));
  CHECK(r.answers == std::vector<int>{404});
  CHECK(r.closed);
  CHECK(r.records.empty());
}

TEST_CASE("http request: credentials are asked for only when configured", "[proxy][http]") {
  CHECK(run(post("application/json", "{}")).auth_calls == 0);
  scrub::config::HttpListenerConfig http;
  http.api_keys.push_back({"k1", std::string(32, 'k')});
  const auto denied = run(post("application/json", "{}"), http);
  CHECK(denied.auth_calls == 1);
  CHECK(denied.answers == std::vector<int>{401});
  const auto allowed =
      run(post("application/json", "{}", "Authorization: Bearer good\r\nExpect: 100-continue\r\n"),
          http);
  CHECK(allowed.answers == std::vector<int>{200});
  CHECK(allowed.continues == 1);
}
