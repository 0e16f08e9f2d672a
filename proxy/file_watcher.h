#pragma once

// Watches files for a change of content, on one uv loop (the main thread's), for hot reload.
//
// Each file's *directory* is watched with uv_fs_event, not the file itself: an editor that saves
// by rename, and the Kubernetes ConfigMap update (`rules.yaml -> ..data/rules.yaml`, where
// `..data` is a symlink replaced atomically by a rename), both replace the inode a file watch
// would be bound to. Any event in a watched directory (re)starts a debounce timer; when it fires,
// every watched file is read (following symlinks) and its SHA-256 compared with the last one
// seen, so events that change nothing (touch, a swap to identical content, our own reads) do not
// reach the caller, and a burst of events is one change. The directory watches are re-armed after
// each check, in case a directory itself was replaced.
//
// A file that cannot be read counts as empty content: its reappearance is a change.
//
// Lifetime: like every uv owner here; close() closes the handles, and the object may be destroyed
// once the loop has run their close callbacks.

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace scrub::proxy {

class FileWatcher {
public:
  // Called on the loop thread with the watched paths whose content changed.
  using OnChange = std::function<void(const std::vector<std::string>& changed)>;

  FileWatcher(uv_loop_t* loop, uint64_t debounce_ms, OnChange on_change);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Watches exactly these paths from now on (path -> SHA-256 hex of the content the caller last
  // used, or empty to take the current content as the baseline). A path watched already keeps
  // the baseline this watcher last saw, so a file that failed to load is not reported again
  // until it changes again. Returns the directories that could not be watched.
  std::vector<std::string> watch(const std::map<std::string, std::string>& files);
  void close();

  static std::string contentHash(const std::string& path);

private:
  struct DirWatch {
    FileWatcher* owner = nullptr;
    std::string dir;
    uv_fs_event_t handle{};
  };

  static void onEvent(uv_fs_event_t* handle, const char* filename, int events, int status);
  static void onTimer(uv_timer_t* timer);
  static void onDirClosed(uv_handle_t* handle);
  bool startDir(DirWatch& watch);
  void check();

  uv_loop_t* loop_;
  uint64_t debounce_ms_;
  OnChange on_change_;
  uv_timer_t timer_{};
  bool open_ = true;
  std::map<std::string, std::string> hashes_; // path -> last content hash seen
  std::map<std::string, DirWatch*> dirs_;     // directory -> its watch (owned)
};

} // namespace scrub::proxy
