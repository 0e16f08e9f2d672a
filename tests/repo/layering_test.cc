// Code depends one way: proxy -> filters -> rules. The pure layers never include libuv, never
// log, and never reach up. A wrong-way include fails here before it becomes a design.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

std::vector<std::string> includesOf(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("#include")) {
      out.push_back(line);
    }
  }
  return out;
}

void checkLayer(const std::string& folder, const std::vector<std::string>& forbidden) {
  const auto dir = std::filesystem::path(SCRUB_SOURCE_DIR) / folder;
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto ext = entry.path().extension();
    if (ext != ".h" && ext != ".cc") {
      continue;
    }
    ++files;
    for (const auto& include : includesOf(entry.path())) {
      for (const auto& bad : forbidden) {
        INFO(entry.path().string() << ": " << include);
        CHECK(include.find(bad) == std::string::npos);
      }
    }
  }
  CHECK(files > 0);
}

} // namespace

TEST_CASE("rules/ depends on nothing above it", "[repo][layering]") {
  checkLayer("rules", {"\"filters/", "\"proxy/", "\"config/", "<uv.h>", "spdlog", "simdjson"});
}

TEST_CASE("filters/ depends only on rules/", "[repo][layering]") {
  checkLayer("filters", {"\"proxy/", "\"config/", "<uv.h>", "spdlog"});
}
