// proxy/file_watcher: content changes are reported once per burst, a write of the same bytes is
// not, a symlink swap in the directory is; the loop closes with no handle left.

#include <catch2/catch.hpp>

#include <uv.h>

#include <filesystem>
#include <fstream>

#include "proxy/file_watcher.h"

using namespace scrub::proxy;

namespace {

std::filesystem::path tempDir() {
  char pattern[] = "/tmp/scrub-watch-test-XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  return pattern;
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// Runs the loop until `done` or a guard timer (10 s) fires.
void runUntil(uv_loop_t* loop, const std::function<bool()>& done) {
  uv_timer_t guard{};
  uv_timer_init(loop, &guard);
  bool expired = false;
  guard.data = &expired;
  uv_timer_start(
      &guard, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, 10000, 0);
  while (!done() && !expired) {
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  REQUIRE_FALSE(expired);
}

} // namespace

TEST_CASE("file watcher: content changes, not events; symlink swaps count", "[proxy][reload][uv]") {
  const auto dir = tempDir();
  const auto plain = dir / "plain.yaml";
  writeFile(plain, "a");
  std::filesystem::create_directory(dir / "v1");
  writeFile(dir / "v1" / "rules.yaml", "one");
  std::filesystem::create_directory_symlink("v1", dir / "..data");
  std::filesystem::create_symlink("..data/rules.yaml", dir / "rules.yaml");

  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  std::vector<std::vector<std::string>> reports;
  FileWatcher watcher(&loop, 20,
                      [&](const std::vector<std::string>& changed) { reports.push_back(changed); });
  CHECK(watcher.watch({{plain.string(), ""}, {(dir / "rules.yaml").string(), ""}}).empty());

  writeFile(plain, "b");
  runUntil(&loop, [&] { return reports.size() == 1; });
  CHECK(reports[0] == std::vector<std::string>{plain.string()});

  // The same bytes again, then a real change: only the change is reported.
  writeFile(plain, "b");
  writeFile(dir / "other.txt", "noise");
  writeFile(plain, "c");
  runUntil(&loop, [&] { return reports.size() == 2; });
  CHECK(reports[1] == std::vector<std::string>{plain.string()});

  // The ConfigMap swap: a new directory, a new ..data link renamed over the old one.
  std::filesystem::create_directory(dir / "v2");
  writeFile(dir / "v2" / "rules.yaml", "two");
  std::filesystem::create_directory_symlink("v2", dir / "..data_tmp");
  std::filesystem::rename(dir / "..data_tmp", dir / "..data");
  std::filesystem::remove_all(dir / "v1");
  runUntil(&loop, [&] { return reports.size() == 3; });
  CHECK(reports[2] == std::vector<std::string>{(dir / "rules.yaml").string()});

  watcher.close();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  std::filesystem::remove_all(dir);
}
