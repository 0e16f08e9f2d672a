// config/proxy_config: the `admin:` block and `--admin`: default, off, positions of errors, and
// the same "ask for a public bind" rule as listeners.

#include <catch2/catch.hpp>

#include "config/proxy_config.h"

using namespace scrub;
using namespace scrub::config;

namespace {

constexpr const char* kBase = "version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n"
                              "sinks:\n  - address: stdout\n";

} // namespace

TEST_CASE("the admin endpoint is on loopback 9464 unless configured", "[config][admin]") {
  auto loaded = loadConfigFromText(kBase, "proxy.yaml");
  REQUIRE(loaded.ok());
  CHECK(loaded->admin.enabled);
  CHECK_FALSE(loaded->admin.configured);
  CHECK(loaded->admin.address.url() == "http://127.0.0.1:9464");

  auto set =
      loadConfigFromText(std::string(kBase) + "admin:\n  listen: localhost:0\n", "proxy.yaml");
  REQUIRE(set.ok());
  CHECK(set->admin.configured);
  CHECK(set->admin.address.host == "localhost");
  CHECK(set->admin.address.port == 0);
  CHECK(validateConfig(*set).ok());

  auto off = loadConfigFromText(std::string(kBase) + "admin: {listen: 'off'}\n", "proxy.yaml");
  REQUIRE(off.ok());
  CHECK_FALSE(off->admin.enabled);

  Overrides flag;
  flag.admin = "127.0.0.1:9999";
  REQUIRE(applyOverrides(*off, flag).ok());
  CHECK(off->admin.enabled);
  CHECK(off->admin.address.port == 9999);
  flag.admin = "off";
  REQUIRE(applyOverrides(*off, flag).ok());
  CHECK_FALSE(off->admin.enabled);
  flag.admin = "example.com:80";
  auto bad = applyOverrides(*off, flag);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.starts_with("--admin 'example.com:80': expected HOST:PORT"));
}

TEST_CASE("admin config errors carry file:line:col", "[config][admin]") {
  auto typo =
      loadConfigFromText(std::string(kBase) + "admin:\n  lisen: 127.0.0.1:1\n", "proxy.yaml");
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.error().message == "proxy.yaml:7:3: admin: unknown key 'lisen' (did you mean "
                                "'listen'?)");
  auto port =
      loadConfigFromText(std::string(kBase) + "admin:\n  listen: 127.0.0.1:70000\n", "proxy.yaml");
  REQUIRE_FALSE(port.ok());
  CHECK(port.error().message.starts_with("proxy.yaml:7:11: admin.listen: '127.0.0.1:70000'"));
}

TEST_CASE("a public admin address must be asked for", "[config][admin]") {
  auto loaded =
      loadConfigFromText(std::string(kBase) + "admin:\n  listen: 0.0.0.0:9464\n", "proxy.yaml");
  REQUIRE(loaded.ok());
  auto status = validateConfig(*loaded);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message ==
        "proxy.yaml:7:11: http://0.0.0.0:9464 is not a loopback address; the admin endpoint "
        "would be reachable from the network, set `admin.allow_public: true` to mean it");
  auto allowed = loadConfigFromText(
      std::string(kBase) + "admin:\n  listen: 0.0.0.0:9464\n  allow_public: true\n", "proxy.yaml");
  REQUIRE(allowed.ok());
  CHECK(validateConfig(*allowed).ok());
  Overrides flag;
  flag.allow_public = true;
  REQUIRE(applyOverrides(*loaded, flag).ok());
  CHECK(validateConfig(*loaded).ok());
}
