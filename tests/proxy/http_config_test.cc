// The http:// listener keys of config/proxy_config and the --api-key-env flag.

#include <catch2/catch.hpp>

#include <map>
#include <memory>

#include "config/proxy_config.h"
#include "proxy/cli/run_options.h"

using namespace scrub;
using namespace scrub::config;

namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef";

LoadOptions env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  LoadOptions options;
  options.get_env = [shared](const char* name) -> const char* {
    const auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
  return options;
}

std::string httpYaml(const std::string& http_block) {
  return "version: 1\nlisteners:\n  - listen: http://127.0.0.1:0\n" + http_block +
         "sinks:\n  - name: out\n    address: stdout\n";
}

std::string errorOf(const std::string& text, const LoadOptions& options = {}) {
  auto loaded = loadConfigFromText(text, "proxy.yaml", options);
  REQUIRE_FALSE(loaded.ok());
  return loaded.error().message;
}

} // namespace

TEST_CASE("http listener addresses") {
  auto http = parseListenAddress("http://127.0.0.1:8080");
  REQUIRE(http.ok());
  CHECK(http->http);
  CHECK(http->url() == "http://127.0.0.1:8080");
  auto https = parseListenAddress("https://127.0.0.1:8443");
  REQUIRE(https.ok());
  CHECK((https->http && https->tls));
  CHECK(https->url() == "https://127.0.0.1:8443");
  CHECK_FALSE(parseListenAddress("http://127.0.0.1:99999").ok());
  CHECK_FALSE(parseListenAddress("tcp://127.0.0.1:1")->http);
}

TEST_CASE("http listener keys") {
  auto loaded = loadConfigFromText(httpYaml("    http:\n      path: /ingest\n"
                                            "      max_body_bytes: 1MiB\n"
                                            "      api_key_header: X-Token\n"
                                            "      api_keys:\n"
                                            "        - {id: ci, key: \"${env:K}\"}\n"
                                            "      basic_users:\n"
                                            "        - {user: bob, password: \"${env:P}\"}\n"),
                                   "proxy.yaml", env({{"K", kKey}, {"P", "long enough pw"}}));
  REQUIRE(loaded.ok());
  const auto& http = loaded->listeners[0].http;
  CHECK(http.path == "/ingest");
  CHECK(http.max_body_bytes == (1u << 20));
  CHECK(http.api_key_header == "X-Token");
  REQUIRE(http.api_keys.size() == 1);
  CHECK(http.api_keys[0].id == "ci");
  CHECK(http.api_keys[0].secret == kKey);
  REQUIRE(http.basic_users.size() == 1);
  CHECK(http.authRequired());
}

TEST_CASE("http listener config errors") {
  CHECK(errorOf(httpYaml("    http:\n      pth: /x\n")) ==
        "proxy.yaml:5:7: listeners.http: unknown key 'pth' (did you mean 'path'?)");
  // A secret written inline is refused, and not echoed.
  const std::string inline_error =
      errorOf(httpYaml("    http:\n      api_keys:\n        - {id: a, key: " + kKey + "}\n"));
  CHECK(inline_error.starts_with("proxy.yaml:6:"));
  CHECK(inline_error.find("reference") != std::string::npos);
  CHECK(inline_error.find(kKey) == std::string::npos);
  // Too short, from the environment.
  const std::string short_error =
      errorOf(httpYaml("    http:\n      api_keys:\n        - {id: a, key: \"${env:K}\"}\n"),
              env({{"K", "short"}}));
  CHECK(short_error.find("shorter than 32") != std::string::npos);
  CHECK(short_error.find("short\"") == std::string::npos);
  CHECK(errorOf(httpYaml("    http:\n      basic_users:\n"
                         "        - {user: a, password: \"${env:P}\"}\n"),
                env({{"P", "elevenchars"}}))
            .find("shorter than 12") != std::string::npos);
  CHECK(errorOf("version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n    http:\n"
                "      path: /x\nsinks:\n  - name: out\n    address: stdout\n") ==
        "proxy.yaml:5:7: listeners.http: only for an http:// or https:// listener");
}

TEST_CASE("run flag api-key-env protects every http listener") {
  auto run = cli::buildRunConfig({"--listen", "http://127.0.0.1:0", "--api-key-env", "K"},
                                 env({{"K", kKey}}));
  REQUIRE(run.ok());
  REQUIRE(run.config.listeners[0].http.api_keys.size() == 1);
  CHECK(run.config.listeners[0].http.api_keys[0].id == "env:K");
  auto missing =
      cli::buildRunConfig({"--listen", "http://127.0.0.1:0", "--api-key-env", "K"}, env({}));
  CHECK(missing.code == proxy::ExitCode::Usage);
  auto short_key = cli::buildRunConfig({"--listen", "http://127.0.0.1:0", "--api-key-env", "K"},
                                       env({{"K", "tiny-key"}}));
  CHECK(short_key.error.find("shorter than 32") != std::string::npos);
  CHECK(short_key.error.find("tiny-key") == std::string::npos);
  auto no_http = cli::buildRunConfig({"--listen", "tcp://127.0.0.1:0", "--api-key-env", "K"},
                                     env({{"K", kKey}}));
  CHECK_FALSE(no_http.ok());
}
