#include "proxy/cli/run_options.h"

#include <cstdlib>

#include "config/default_config.h"
#include "proxy/cli/command_line.h"

namespace scrub::cli {
namespace {

RunConfig failed(proxy::ExitCode code, std::string message) {
  RunConfig out;
  out.code = code;
  out.error = std::move(message);
  return out;
}

} // namespace

RunConfig buildRunConfig(const Args& args, const config::LoadOptions& options) {
  auto parsed = parseArgs(args, {{"--config", "--listen", "--sink", "--rules", "--workers",
                                  "--log-format", "--log-level", "--api-key-env", "--admin"},
                                 {"--allow-public"}});
  if (!parsed.ok()) {
    return failed(proxy::ExitCode::Usage, parsed.error().message);
  }
  if (!parsed->positional.empty()) {
    return failed(proxy::ExitCode::Usage, "unexpected argument '" + parsed->positional[0] + "'");
  }
  config::Overrides overrides;
  overrides.listen = parsed->all("--listen");
  overrides.sinks = parsed->all("--sink");
  overrides.rules = parsed->all("--rules");
  overrides.allow_public = parsed->has("--allow-public");
  overrides.admin = parsed->last("--admin");
  if (auto workers = parsed->last("--workers")) {
    auto n = parseCount("--workers", *workers);
    if (!n.ok()) {
      return failed(proxy::ExitCode::Usage, n.error().message);
    }
    overrides.workers = static_cast<unsigned>(std::min<uint64_t>(*n, 1u << 20));
  }
  if (auto format = parsed->last("--log-format")) {
    if (*format == "text") {
      overrides.log_format = config::LogFormat::Text;
    } else if (*format == "json") {
      overrides.log_format = config::LogFormat::Json;
    } else {
      return failed(proxy::ExitCode::Usage, "--log-format: expected text or json");
    }
  }
  overrides.log_level = parsed->last("--log-level");

  auto loaded = parsed->last("--config")
                    ? config::loadConfig(*parsed->last("--config"), options)
                    : config::loadConfigFromText(config::defaultConfigText(),
                                                 config::kDefaultConfigName, options);
  if (!loaded.ok()) {
    return failed(config::isSinkAddressError(loaded.error()) ? proxy::ExitCode::SinkInvalid
                                                             : proxy::ExitCode::ConfigInvalid,
                  loaded.error().message);
  }
  RunConfig out;
  out.config = std::move(loaded).value();
  if (auto status = config::applyOverrides(out.config, overrides); !status.ok()) {
    return failed(config::isSinkAddressError(status.error()) ? proxy::ExitCode::SinkInvalid
                                                             : proxy::ExitCode::Usage,
                  status.error().message);
  }
  if (auto name = parsed->last("--api-key-env")) {
    // The key itself never appears in a message: only the variable's name.
    const char* value =
        options.get_env ? options.get_env(name->c_str()) : std::getenv(name->c_str());
    if (value == nullptr || *value == '\0') {
      return failed(proxy::ExitCode::Usage,
                    "--api-key-env: environment variable " + *name + " is not set");
    }
    std::string key(value);
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
      key.pop_back();
    }
    if (key.size() < config::kMinApiKeyBytes) {
      return failed(proxy::ExitCode::Usage,
                    "--api-key-env: the key in " + *name + " is shorter than " +
                        std::to_string(config::kMinApiKeyBytes) + " characters");
    }
    bool any = false;
    for (auto& listener : out.config.listeners) {
      if (listener.address.http) {
        listener.http.api_keys.push_back({"env:" + *name, key});
        any = true;
      }
    }
    if (!any) {
      return failed(proxy::ExitCode::Usage, "--api-key-env: no http:// listener to protect");
    }
  }
  if (auto status = config::validateConfig(out.config); !status.ok()) {
    return failed(proxy::ExitCode::ConfigInvalid, status.error().message);
  }
  return out;
}

} // namespace scrub::cli
