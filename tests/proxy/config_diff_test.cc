// config/config_diff: which sections of a config file changed, as YAML trees.

#include <catch2/catch.hpp>

#include "config/config_diff.h"

using namespace scrub::config;

namespace {

constexpr const char* kBefore = R"(version: 1
workers: 2   # a comment
listeners:
  - name: in
    listen: tcp://127.0.0.1:0
    rules: [a.yaml]
sinks:
  - {name: out, address: stdout}
)";

std::vector<std::string> diff(const std::string& after) {
  auto sections = changedSections(kBefore, after);
  REQUIRE(sections.ok());
  return *sections;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

} // namespace

TEST_CASE("config diff: comments and layout are no change; sections are named",
          "[config][reload]") {
  CHECK(diff(kBefore).empty());
  CHECK(diff(replaced(kBefore, "workers: 2   # a comment", "workers: 2")).empty());
  CHECK(
      diff(replaced(kBefore, "- {name: out, address: stdout}", "- name: out\n    address: stdout"))
          .empty());
  CHECK(diff(replaced(kBefore, "workers: 2", "workers: 3")) == std::vector<std::string>{"workers"});
  CHECK(diff(replaced(kBefore, "[a.yaml]", "[b.yaml]")) ==
        std::vector<std::string>{"listeners.rules"});
  CHECK(diff(replaced(kBefore, "127.0.0.1:0", "127.0.0.1:1")) ==
        std::vector<std::string>{"listeners"});
  CHECK(diff(std::string(kBefore) + "limits: {max_connections: 5}\n") ==
        std::vector<std::string>{"limits"});
  CHECK_FALSE(changedSections(kBefore, "a: [").ok());
}
