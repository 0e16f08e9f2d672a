#include "proxy/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <array>
#include <chrono>
#include <ctime>

namespace scrub::proxy {
namespace {

constexpr std::array<const char*, 4> kLoggerNames = {"proxy", "conn", "sink", "rules"};

// {"time":"2025-01-02T03:04:05.678Z","level":"info","logger":"proxy","msg":"..."}
class JsonFormatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string out;
    out.reserve(96 + msg.payload.size());
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = seconds.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    const size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(millis));
    out += "{\"time\":\"";
    out += stamp;
    out += "\",\"level\":";
    const auto level = spdlog::level::to_string_view(msg.level);
    appendJsonLogString(out, std::string_view(level.data(), level.size()));
    out += ",\"logger\":";
    appendJsonLogString(out, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    out += ",\"msg\":";
    appendJsonLogString(out, std::string_view(msg.payload.data(), msg.payload.size()));
    out += "}\n";
    dest.append(out.data(), out.data() + out.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

spdlog::sink_ptr sharedSink() {
  static spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

spdlog::logger& named(const char* name) {
  if (auto existing = spdlog::get(name)) {
    return *existing;
  }
  auto logger = std::make_shared<spdlog::logger>(name, sharedSink());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l [%n] %v");
  spdlog::register_logger(logger);
  return *logger;
}

} // namespace

void appendJsonLogString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\u00";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void setupLogging(const config::LogConfig& config) {
  const auto level = spdlog::level::from_str(config.level);
  for (const char* name : kLoggerNames) {
    spdlog::logger& logger = named(name);
    if (config.format == config::LogFormat::Json) {
      logger.set_formatter(std::make_unique<JsonFormatter>());
    } else {
      logger.set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l [%n] %v");
    }
    logger.set_level(level);
    logger.flush_on(spdlog::level::trace);
  }
}

spdlog::logger& proxyLog() {
  static spdlog::logger& logger = named("proxy");
  return logger;
}
spdlog::logger& connLog() {
  static spdlog::logger& logger = named("conn");
  return logger;
}
spdlog::logger& sinkLog() {
  static spdlog::logger& logger = named("sink");
  return logger;
}
spdlog::logger& rulesLog() {
  static spdlog::logger& logger = named("rules");
  return logger;
}

} // namespace scrub::proxy
