#include "proxy/file_watcher.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "rules/digest.h"

namespace scrub::proxy {
namespace {

std::string directoryOf(const std::string& path) {
  // The directory as written, not resolved: in a ConfigMap mount the file's own directory is
  // the stable one; its `..data` link is what changes.
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

} // namespace

FileWatcher::FileWatcher(uv_loop_t* loop, uint64_t debounce_ms, OnChange on_change)
    : loop_(loop), debounce_ms_(debounce_ms), on_change_(std::move(on_change)) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
}

FileWatcher::~FileWatcher() = default;

std::string FileWatcher::contentHash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return {};
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return rules::sha256Hex(text);
}

std::vector<std::string> FileWatcher::watch(const std::map<std::string, std::string>& files) {
  std::vector<std::string> failed;
  if (!open_) {
    return failed;
  }
  std::map<std::string, std::string> hashes;
  std::set<std::string> wanted_dirs;
  for (const auto& [path, hash] : files) {
    const auto known = hashes_.find(path);
    hashes[path] = known != hashes_.end() ? known->second : hash.empty() ? contentHash(path) : hash;
    wanted_dirs.insert(directoryOf(path));
  }
  hashes_ = std::move(hashes);
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (wanted_dirs.count(it->first) == 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(&it->second->handle), onDirClosed);
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& dir : wanted_dirs) {
    if (dirs_.count(dir) != 0) {
      continue;
    }
    auto* watch = new DirWatch{this, dir, {}};
    uv_fs_event_init(loop_, &watch->handle);
    watch->handle.data = watch;
    dirs_[dir] = watch;
    if (!startDir(*watch)) {
      failed.push_back(dir);
    }
  }
  return failed;
}

bool FileWatcher::startDir(DirWatch& watch) {
  return uv_fs_event_start(&watch.handle, onEvent, watch.dir.c_str(), 0) == 0;
}

void FileWatcher::close() {
  if (!open_) {
    return;
  }
  open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  for (auto& [dir, watch] : dirs_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle), onDirClosed);
  }
  dirs_.clear();
}

void FileWatcher::onDirClosed(uv_handle_t* handle) {
  delete static_cast<DirWatch*>(handle->data);
}

void FileWatcher::onEvent(uv_fs_event_t* handle, const char*, int, int) {
  // Whatever happened (even an error: the directory may have gone), look again after the burst.
  FileWatcher* self = static_cast<DirWatch*>(handle->data)->owner;
  if (self->open_) {
    uv_timer_start(&self->timer_, onTimer, self->debounce_ms_, 0);
  }
}

void FileWatcher::onTimer(uv_timer_t* timer) {
  static_cast<FileWatcher*>(timer->data)->check();
}

void FileWatcher::check() {
  for (auto& [dir, watch] : dirs_) {
    uv_fs_event_stop(&watch->handle);
    startDir(*watch);
  }
  std::vector<std::string> changed;
  for (auto& [path, hash] : hashes_) {
    std::string now = contentHash(path);
    if (now != hash) {
      hash = std::move(now);
      changed.push_back(path);
    }
  }
  if (!changed.empty()) {
    on_change_(changed);
  }
}

} // namespace scrub::proxy
