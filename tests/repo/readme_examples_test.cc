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
