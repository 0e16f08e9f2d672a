#pragma once

// The running proxy: loads the rules, binds the listeners, starts the workers and the stdout
// writer, and handles signals on the main thread's own uv loop.
//
// start() either prepares everything or leaves nothing open (one message line and an exit code
// saying what to fix). run() then runs until SIGTERM/SIGINT: stop accepting, close client
// connections (a partial line is counted as truncated), drain the sinks within
// limits.shutdown_timeout, report what was not delivered, and return. A second signal gives up
// the drain at once. SIGHUP reloads every listener's rules: all load, or none is swapped and the
// old rules stay. It also reloads the certificate and key of every TLS listener, each on its own:
// new connections get the new one, established connections keep theirs, and a listener whose
// files do not load keeps its previous certificate.
// A change of a rule file's content reloads the rules the same way (FileWatcher, debounced;
// robust to the Kubernetes ConfigMap symlink swap). A change of the config file is checked: new
// rule lists of the same listeners are applied; anything else is logged as needing a restart.
//
// The admin endpoint (/metrics, /healthz, /readyz, /rules; server_admin.cc) is served from the
// same main loop: it reads the workers' single-writer counters and the reload state, which only
// this thread writes.

#include <uv.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/proxy_config.h"
#include "proxy/admin_server.h"
#include "proxy/alerts/pii_attempts.h"
#include "proxy/alerts/webhook_sender.h"
#include "proxy/file_watcher.h"
#include "proxy/listen_socket.h"
#include "proxy/rule_slot.h"
#include "proxy/stdout_writer.h"
#include "proxy/tls/tls_context.h"
#include "proxy/worker.h"

namespace scrub::proxy {

// Exit codes of `scrubproxy run` (documented in the usage text).
enum class ExitCode : int {
  Ok = 0,
  Failure = 1,       // a runtime failure (e.g. an event loop that did not close cleanly)
  Usage = 2,         // unknown flag or bad flag value
  ConfigInvalid = 3, // the config file or the combination of flags
  RulesInvalid = 4,  // a rule file does not load (file:line:col)
  SinkInvalid = 5,   // a sink address that cannot be used
  ListenFailed = 6,  // a listen address in use, not permitted or not available
};

struct StartFailure {
  ExitCode code;
  std::string message; // one line
};

class Server {
public:
  explicit Server(config::ProxyConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::optional<StartFailure> start();
  // Blocks until stopped; the exit code.
  int run();
  // Any thread: behave as on SIGTERM.
  void requestStop();
  // Before start(): how to build the config again when its file changes (the same file and flags).
  void setConfigLoader(std::function<Result<config::ProxyConfig>()> loader) {
    config_loader_ = std::move(loader);
  }

  unsigned workers() const { return workers_; }
  // `tcp://127.0.0.1:41234`: the listeners' addresses with the ports actually bound.
  std::vector<std::string> boundUrls() const;
  // `http://127.0.0.1:9464` with the port bound; empty when the endpoint is off.
  std::string adminUrl() const;

  // The admin pages (on the main loop's thread).
  AdminResponse adminPage(std::string_view path);

private:
  struct Totals;

  static void onSignal(uv_signal_t* signal, int signum);
  static void onAsync(uv_async_t* async);
  static void onStatsTimer(uv_timer_t* timer);
  static void onDeadline(uv_timer_t* timer);
  static void onHardDeadline(uv_timer_t* timer);
  static void onAlertTimer(uv_timer_t* timer);

  void wakeMainLoop();
  void beginStop(const char* why);
  void reloadTls();
  // Reloads every listener's rules (all or none); `why` names the trigger for the log. With
  // `specs` (one list per listener), those are loaded and become the listeners' specs.
  bool reload(const std::string& why, const std::vector<std::vector<std::string>>* specs = nullptr);
  // The rule files of the current rule sets, and the config file, to the watcher.
  void rewatch();
  void onFilesChanged(const std::vector<std::string>& changed);
  void onConfigFileChanged();
  std::string metricsText();
  AdminResponse readyPage();
  std::string rulesJson();
  void finishRun();
  Totals totals() const;
  void logStats(const char* prefix, bool always);
  void releaseListeners();
  void sendPiiAlerts();

  config::ProxyConfig config_;
  unsigned workers_ = 1;
  std::vector<std::unique_ptr<RuleSlot>> rule_slots_;
  std::vector<std::unique_ptr<tls::TlsSlot>> tls_slots_; // per listener; null: not TLS
  std::vector<std::unique_ptr<tls::TlsSlot>> sink_tls_;  // per sink; null: not TLS
  std::vector<BoundListener> bound_;
  std::unique_ptr<StdoutWriter> stdout_writer_;
  std::unique_ptr<PiiAttemptTracker> pii_attempts_;
  std::unique_ptr<WebhookSender> webhook_;
  std::unique_ptr<WorkerShared> shared_;
  std::vector<std::unique_ptr<Worker>> worker_objects_;
  std::vector<std::thread> threads_;

  // Builds the whole config again from the same file and flags (set by `scrubproxy run`); without
  // it a config file change is only reported.
  std::function<Result<config::ProxyConfig>()> config_loader_;
  std::string config_text_; // the config file as last seen (empty: the embedded default)
  std::unique_ptr<FileWatcher> watcher_;

  std::optional<BoundListener> admin_bound_;
  std::unique_ptr<AdminServer> admin_;

  // Reload state, main thread only.
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  std::string last_reload_error_; // of the last reload, when it failed (file:line:col: …)
  std::vector<std::chrono::system_clock::time_point> rules_loaded_at_; // per listener

  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};
  uv_signal_t sighup_{};
  uv_timer_t stats_timer_{};
  uv_timer_t deadline_{};
  uv_timer_t alert_timer_{};
  std::mutex async_mutex_; // guards async_ready_ and every uv_async_send on async_
  bool async_ready_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<unsigned> finished_workers_{0};
  bool stopping_ = false;
  bool aborted_ = false;
  bool finished_ = false;
  uint64_t started_ms_ = 0;
  uint64_t last_reported_lines_ = ~uint64_t{0};
};

} // namespace scrub::proxy
