#pragma once

// Shared by the rules tests: load inline YAML and get the rule set or the error, and a temporary
// folder for rule files that include each other.

#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "rules/rule_loader.h"

namespace scrub::rules::testing {

inline LoadedRules loadOk(std::string_view yaml, const LoadOptions& options = {},
                          std::string_view file_name = "r.yaml") {
  auto loaded = loadRulesFromText(yaml, file_name, options);
  if (!loaded.ok()) {
    FAIL("unexpected load error: " << loaded.error().message);
  }
  return std::move(loaded).value();
}

inline std::string loadError(std::string_view yaml, const LoadOptions& options = {},
                             std::string_view file_name = "r.yaml") {
  auto loaded = loadRulesFromText(yaml, file_name, options);
  if (loaded.ok()) {
    FAIL("expected a load error for:\n" << yaml);
  }
  return loaded.error().message;
}

// A fresh folder under /tmp, removed with everything in it when the test ends.
class TempDir {
public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "scrub-rules-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `text` to `name` inside the folder and returns the full path.
  std::string write(const std::string& name, std::string_view text) const {
    const auto file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out << text;
    out.close();
    REQUIRE(out.good());
    return file.string();
  }

private:
  std::filesystem::path path_;
};

} // namespace scrub::rules::testing
