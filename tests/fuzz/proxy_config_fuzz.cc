// Fuzz target: config/proxy_config. Any text either loads or fails with an Error; a config that
// loads is also validated as a whole. `${env:…}` expands to nothing here.

#include <cstdint>
#include <string_view>

#include "config/proxy_config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  scrub::config::LoadOptions options;
  options.get_env = [](const char*) -> const char* { return nullptr; };
  auto loaded = scrub::config::loadConfigFromText(text, "fuzz.yaml", options);
  if (!loaded.ok()) {
    SCRUB_FUZZ_CHECK(!loaded.error().message.empty(), "error without a message");
    return 0;
  }
  const auto status = scrub::config::validateConfig(*loaded);
  SCRUB_FUZZ_CHECK(status.ok() || !status.error().message.empty(), "error without a message");
  for (const auto& listener : loaded->listeners) {
    SCRUB_FUZZ_CHECK(scrub::config::parseListenAddress(listener.address.url()).ok(),
                     "a listener's canonical url does not parse again");
  }
  return 0;
}
