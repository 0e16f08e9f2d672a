// The README's examples are the first thing a user runs: each ```console block is executed
// against the built binary and its stdout compared with what the README shows.

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Example {
  std::string command;
  std::string expected;
  int line = 0;
};

std::vector<Example> consoleExamples(const std::string& path) {
  std::ifstream in(path);
  std::vector<Example> examples;
  std::string line;
  bool in_block = false;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.starts_with("```")) {
      in_block = !in_block && line == "```console";
      continue;
    }
    if (!in_block) {
      continue;
    }
    if (line.starts_with("$ ")) {
      examples.push_back({line.substr(2), {}, number});
    } else if (!examples.empty()) {
      examples.back().expected += line + "\n";
    }
  }
  return examples;
}

std::string run(const std::string& command) {
  const std::string bin_dir = std::filesystem::path(SCRUB_BINARY).parent_path().string();
  const std::string full = "PATH='" + bin_dir + "':\"$PATH\" bash -c '" + [&] {
    std::string quoted;
    for (char c : command) {
      quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return quoted;
  }() + "'";
  FILE* pipe = popen(full.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    out.append(buffer.data(), n);
  }
  pclose(pipe);
  return out;
}

} // namespace

TEST_CASE("README console examples produce what the README shows", "[repo][readme]") {
  const auto examples = consoleExamples(std::string(SCRUB_SOURCE_DIR) + "/README.md");
  REQUIRE(examples.size() >= 5);
  for (const auto& example : examples) {
    INFO("README.md:" << example.line << ": $ " << example.command);
    CHECK(run(example.command) == example.expected);
  }
}

// The HTTP(S) sink examples are configuration, not commands: each ```yaml block of that section
// must load (with a listener added) and say what its text claims.
#include "config/proxy_config.h"

TEST_CASE("README HTTP(S) sink examples load", "[repo][readme]") {
  std::ifstream in(std::string(SCRUB_SOURCE_DIR) + "/README.md");
  std::vector<std::string> blocks;
  std::string line;
  bool in_section = false;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (line.starts_with("### ")) {
      in_section = line == "### HTTP(S) sinks";
    }
    if (!in_section) {
      continue;
    }
    if (line.starts_with("```")) {
      in_block = !in_block && line == "```yaml";
      if (in_block) {
        blocks.emplace_back();
      }
      continue;
    }
    if (in_block) {
      blocks.back() += line + "\n";
    }
  }
  REQUIRE(blocks.size() == 3);
  scrub::config::LoadOptions options;
  options.get_env = [](const char*) { return "secret-from-the-environment"; };
  const std::array<scrub::config::HttpSinkFormat, 3> formats = {
      scrub::config::HttpSinkFormat::Loki, scrub::config::HttpSinkFormat::ElasticsearchBulk,
      scrub::config::HttpSinkFormat::SplunkHec};
  for (size_t i = 0; i < blocks.size(); ++i) {
    INFO(blocks[i]);
    auto loaded = scrub::config::loadConfigFromText(
        "version: 1\nlisteners:\n  - listen: tcp://127.0.0.1:0\n" + blocks[i], "README.md",
        options);
    INFO((loaded.ok() ? std::string() : loaded.error().message));
    REQUIRE(loaded.ok());
    REQUIRE(loaded->sinks.size() == 1);
    CHECK(loaded->sinks[0].address.http);
    CHECK(loaded->sinks[0].http.format == formats[i]);
    CHECK(scrub::config::validateConfig(*loaded).ok());
  }
}
