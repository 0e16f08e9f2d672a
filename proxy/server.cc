#include "proxy/server.h"

#include <netdb.h>
#include <unistd.h>

#include <curl/curl.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

#include "config/config_diff.h"
#include "config/default_config.h"
#include "proxy/alerts/alert_message.h"
#include "proxy/logging.h"
#include "rules/digest.h"
#include "rules/rule_loader.h"

namespace scrub::proxy {
namespace {

// After the drain deadline, how long the workers get to close what they hold before the process
// exits regardless (only a write stuck in a kernel call can take that long).
constexpr uint64_t kHardDeadlineMs = 5000;
// A save is often several events (truncate, write, rename; a ConfigMap swap is a few renames):
// one look once they have settled.
constexpr uint64_t kWatchDebounceMs = 200;

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) {
    if (!text.empty()) {
      text += ", ";
    }
    text += item;
  }
  return text;
}

std::string specsText(const std::vector<std::string>& specs) {
  if (specs.empty()) {
    return "openfn-retry-ids";
  }
  std::string text;
  for (const auto& spec : specs) {
    text += (text.empty() ? "" : ",") + spec;
  }
  return text;
}

std::string listenerWhere(const config::ListenerConfig& listener) {
  return listener.pos.file.empty() ? std::string("--listen") : listener.pos.str();
}

} // namespace

struct Server::Totals {
  uint64_t lines_in = 0;
  uint64_t lines_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  uint64_t tls_handshake_failures = 0;
  std::array<uint64_t, filters::kDropReasonCount> dropped{};
  struct Sink {
    uint64_t queued = 0, delivered = 0, overflow = 0, at_risk = 0, resent = 0, lost = 0,
             undelivered = 0, connects = 0, failures = 0;
    uint64_t batches_delivered = 0, batches_failed = 0, batches_dropped = 0, rejected = 0,
             retries = 0;
  };
  std::vector<Sink> sinks;
};

Server::Server(config::ProxyConfig config) : config_(std::move(config)) {}

Server::~Server() {
  for (auto& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
  releaseListeners();
}

void Server::releaseListeners() {
  for (auto& bound : bound_) {
    closeListener(bound);
  }
  if (admin_bound_) {
    closeListener(*admin_bound_);
  }
}

std::string Server::adminUrl() const {
  return admin_bound_ ? admin_bound_->address.url() : std::string();
}

std::vector<std::string> Server::boundUrls() const {
  std::vector<std::string> urls;
  for (const auto& bound : bound_) {
    urls.push_back(bound.address.url());
  }
  return urls;
}

std::optional<StartFailure> Server::start() {
  workers_ =
      config_.workers != 0 ? config_.workers : std::max(1u, std::thread::hardware_concurrency());

  if (config_.source != config::kDefaultConfigName) {
    // The baseline a later change of the file is compared with (read right after it was loaded).
    std::ifstream in(config_.source, std::ios::binary);
    config_text_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Rules first: a rule file that does not load stops start-up before any socket exists.
  for (const auto& listener : config_.listeners) {
    auto loaded = rules::loadRules(listener.rules);
    if (!loaded.ok()) {
      return StartFailure{ExitCode::RulesInvalid, loaded.error().message + " (rules of listener '" +
                                                      listener.name + "' not loaded)"};
    }
    for (const auto& warning : loaded->warnings) {
      rulesLog().warn("{}", warning.str());
    }
    rule_slots_.push_back(std::make_unique<RuleSlot>(listener.rules, loaded->rules));
    rules_loaded_at_.push_back(std::chrono::system_clock::now());
  }

  for (const auto& sink : config_.sinks) {
    const SinkQueueLimits limits = shardLimits(sink, workers_);
    if (limits.max_bytes < 2 * kReadHeadroom) {
      return StartFailure{ExitCode::ConfigInvalid,
                          (sink.pos.file.empty() ? std::string("--sink") : sink.pos.str()) +
                              ": sink '" + sink.name + "': max_buffer_bytes leaves " +
                              std::to_string(limits.max_bytes >> 10) + "KiB to each of " +
                              std::to_string(workers_) + " workers; at least " +
                              std::to_string((2 * kReadHeadroom) >> 10) + "KiB each is needed"};
    }
    std::unique_ptr<tls::TlsSlot> tls_slot;
    // Built for https:// sinks too, though libcurl reads their files itself: a bad file then
    // stops start-up here, with the sink's position, rather than failing every request.
    if (sink.address.tls) {
      auto context = tls::TlsContext::client(sink.tls, sink.address.host);
      if (!context.ok()) {
        return StartFailure{ExitCode::ConfigInvalid,
                            (sink.pos.file.empty() ? std::string("--sink") : sink.pos.str()) +
                                ": sink '" + sink.name + "': tls: " + context.error().message};
      }
      tls_slot = std::make_unique<tls::TlsSlot>(*context);
    }
    sink_tls_.push_back(std::move(tls_slot));
    if (sink.address.kind == config::Address::Kind::Tcp) {
      addrinfo hints{};
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* result = nullptr;
      const int rc = ::getaddrinfo(sink.address.host.c_str(), nullptr, &hints, &result);
      if (result != nullptr) {
        ::freeaddrinfo(result);
      }
      // A name that does not exist will not start to; a DNS server that is not answering yet
      // may, so only the first stops start-up.
      if (rc == EAI_NONAME) {
        return StartFailure{ExitCode::SinkInvalid, "sink '" + sink.name + "': cannot resolve '" +
                                                       sink.address.host + "' in " +
                                                       sink.address.url()};
      }
    }
  }

  // HTTP sinks and the alert webhook use libcurl. Its global init is not thread-safe, so it runs
  // here, before any worker or sender thread exists (an implicit one in curl_easy_init could race).
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    return StartFailure{ExitCode::Failure, "libcurl failed to initialise"};
  }
  // Certificates before any socket: a missing, unreadable or mismatched file stops start-up.
  for (const auto& listener : config_.listeners) {
    if (!listener.address.tls) {
      tls_slots_.push_back(nullptr);
      continue;
    }
    auto context = tls::TlsContext::server(listener.tls);
    if (!context.ok()) {
      return StartFailure{ExitCode::ConfigInvalid, listenerWhere(listener) + ": listener '" +
                                                       listener.name +
                                                       "': tls: " + context.error().message};
    }
    tls_slots_.push_back(std::make_unique<tls::TlsSlot>(*context));
  }
  for (const auto& listener : config_.listeners) {
    auto bound = bindListener(listener.address, workers_);
    if (!bound.ok()) {
      releaseListeners();
      bound_.clear();
      return StartFailure{ExitCode::ListenFailed,
                          bound.error().message + " (listener '" + listener.name + "')"};
    }
    bound_.push_back(std::move(bound).value());
  }
  if (config_.admin.enabled) {
    auto bound = bindListener(config_.admin.address, 1);
    if (bound.ok()) {
      admin_bound_ = std::move(bound).value();
    } else if (config_.admin.configured) {
      releaseListeners();
      bound_.clear();
      return StartFailure{ExitCode::ListenFailed,
                          bound.error().message + " (admin endpoint; `--admin off` turns it off)"};
    } else {
      // Only the default port: a second proxy on the same host (or a test run) should still
      // start; it runs without the endpoint and says so.
      proxyLog().warn("admin endpoint not started: {} (choose another with --admin HOST:PORT or "
                      "`admin.listen`)",
                      bound.error().message);
    }
  }

  std::vector<std::string> listener_names;
  for (const auto& listener : config_.listeners) {
    listener_names.push_back(listener.name);
  }
  pii_attempts_ =
      std::make_unique<PiiAttemptTracker>(std::move(listener_names), config_.alerts.max_ids);
  if (!config_.alerts.webhook_url.empty()) {
    WebhookConfig webhook;
    webhook.url = config_.alerts.webhook_url;
    webhook.ca_file = config_.alerts.ca_file;
    webhook_ = std::make_unique<WebhookSender>(std::move(webhook));
  }

  shared_ = std::make_unique<WorkerShared>();
  shared_->config = &config_;
  shared_->pii_attempts = pii_attempts_.get();
  for (auto& slot : rule_slots_) {
    shared_->rule_slots.push_back(slot.get());
  }
  for (auto& slot : tls_slots_) {
    shared_->tls_slots.push_back(slot.get());
  }
  for (auto& slot : sink_tls_) {
    shared_->sink_tls.push_back(slot.get());
  }
  for (const auto& sink : config_.sinks) {
    if (sink.address.kind == config::Address::Kind::Stdout && !stdout_writer_) {
      stdout_writer_ = std::make_unique<StdoutWriter>(STDOUT_FILENO);
    }
  }
  shared_->stdout_writer = stdout_writer_.get();
  shared_->workers = workers_;
  shared_->on_finished = [this](unsigned) {
    finished_workers_.fetch_add(1);
    wakeMainLoop();
  };

  const std::vector<std::string> urls = boundUrls();
  for (unsigned i = 0; i < workers_; ++i) {
    std::vector<int> fds;
    for (auto& bound : bound_) {
      fds.push_back(bound.fds[i]);
      bound.fds[i] = -1; // the worker owns it now
    }
    auto worker = std::make_unique<Worker>(i, *shared_);
    auto status = worker->init(fds, urls);
    if (!status.ok()) {
      for (auto& ready : worker_objects_) {
        ready->closeUnstarted();
      }
      worker_objects_.clear();
      releaseListeners();
      return StartFailure{ExitCode::ListenFailed, status.error().message};
    }
    worker_objects_.push_back(std::move(worker));
  }
  return std::nullopt;
}

int Server::run() {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, onAsync);
  async_.data = this;
  {
    std::lock_guard lock(async_mutex_);
    async_ready_ = true;
  }
  for (auto* signal : {&sigterm_, &sigint_, &sighup_}) {
    uv_signal_init(&loop_, signal);
    signal->data = this;
  }
  uv_signal_start(&sigterm_, onSignal, SIGTERM);
  uv_signal_start(&sigint_, onSignal, SIGINT);
  uv_signal_start(&sighup_, onSignal, SIGHUP);
  uv_timer_init(&loop_, &stats_timer_);
  stats_timer_.data = this;
  uv_timer_init(&loop_, &deadline_);
  deadline_.data = this;
  uv_timer_init(&loop_, &alert_timer_);
  alert_timer_.data = this;
  const auto alert_window = static_cast<uint64_t>(config_.alerts.window.count());
  uv_timer_start(&alert_timer_, onAlertTimer, alert_window, alert_window);
  if (webhook_) {
    webhook_->start();
  }
  if (const auto interval = static_cast<uint64_t>(config_.log.stats_interval.count());
      interval > 0) {
    uv_timer_start(&stats_timer_, onStatsTimer, interval, interval);
  }
  started_ms_ = uv_now(&loop_);
  if (admin_bound_) {
    admin_ = std::make_unique<AdminServer>(
        &loop_, [this](std::string_view path) { return adminPage(path); });
    const int fd = admin_bound_->fds[0];
    admin_bound_->fds[0] = -1; // the admin server owns it now
    if (auto status = admin_->open(fd); !status.ok()) {
      proxyLog().error("{}", status.error().message);
      admin_->close();
    } else {
      proxyLog().info("admin endpoint on {} (/metrics, /healthz, /readyz, /rules)", adminUrl());
    }
  }
  watcher_ = std::make_unique<FileWatcher>(
      &loop_, kWatchDebounceMs,
      [this](const std::vector<std::string>& changed) { onFilesChanged(changed); });
  rewatch();

  if (stdout_writer_) {
    stdout_writer_->start();
  }
  for (auto& worker : worker_objects_) {
    Worker* raw = worker.get();
    threads_.emplace_back([raw] { raw->run(); });
  }
  proxyLog().info("scrubproxy started: pid {}, {} workers, config {}", ::getpid(), workers_,
                  config_.source);
  for (size_t i = 0; i < config_.listeners.size(); ++i) {
    const auto& listener = config_.listeners[i];
    const auto rules = rule_slots_[i]->get();
    std::string sinks;
    for (const auto& name : listener.sinks) {
      const auto* sink = config_.findSink(name);
      sinks += (sinks.empty() ? "" : ", ") + name + " (" + sink->address.url() + ")";
    }
    proxyLog().info("listening on {} (listener '{}', rules '{}' from {}, sinks {})",
                    bound_[i].address.url(), listener.name, rules->name, specsText(listener.rules),
                    sinks);
    if (tls_slots_[i]) {
      proxyLog().info(
          "listener '{}': TLS certificate {}{}", listener.name, tls_slots_[i]->get()->description(),
          listener.tls.client_ca_file.empty()
              ? std::string()
              : "; client certificates required (CAs from " + listener.tls.client_ca_file + ")");
    }
  }
  for (const auto& sink : config_.sinks) {
    if (sink.address.tls && sink.tls.insecure_skip_verify) {
      sinkLog().warn("sink '{}' ({}): tls.insecure_skip_verify is set: the sink's certificate and "
                     "name are NOT verified; anyone on the path can read and change what is sent",
                     sink.name, sink.address.url());
    }
  }
  // A stop asked for before the loop ran (requestStop from another thread) is seen now.
  if (stop_requested_.load()) {
    wakeMainLoop();
  }

  uv_run(&loop_, UV_RUN_DEFAULT);

  for (auto& thread : threads_) {
    thread.join();
  }
  threads_.clear();
  int exit_code = static_cast<int>(ExitCode::Ok);
  for (const auto& worker : worker_objects_) {
    if (worker->loopCloseResult() != 0) {
      exit_code = static_cast<int>(ExitCode::Failure);
    }
  }
  const Totals t = totals();
  uint64_t undelivered = 0;
  for (const auto& sink : t.sinks) {
    undelivered += sink.undelivered + sink.lost + sink.rejected;
  }
  logStats("final", /*always=*/true);
  const int loop_rc = uv_loop_close(&loop_);
  if (loop_rc != 0) {
    proxyLog().error("main event loop closed with handles still open ({})", uv_strerror(loop_rc));
    exit_code = static_cast<int>(ExitCode::Failure);
  }
  releaseListeners();
  if (undelivered > 0) {
    proxyLog().warn("stopped with {} lines not delivered (see the final sink stats above)",
                    undelivered);
  }
  proxyLog().info("stopped: lines_in={} forwarded={} not_delivered={} exit={}", t.lines_in,
                  t.lines_out, undelivered, exit_code);
  return exit_code;
}

void Server::requestStop() {
  stop_requested_.store(true);
  wakeMainLoop();
}

void Server::wakeMainLoop() {
  std::lock_guard lock(async_mutex_);
  if (async_ready_) {
    uv_async_send(&async_);
  }
}

void Server::onSignal(uv_signal_t* signal, int signum) {
  auto* self = static_cast<Server*>(signal->data);
  if (signum == SIGHUP) {
    self->reloadTls();
    self->reload("SIGHUP");
    self->rewatch();
    return;
  }
  const char* name = signum == SIGTERM ? "SIGTERM" : "SIGINT";
  if (self->stopping_ && !self->aborted_) {
    proxyLog().warn("{} again: giving up the drain", name);
    onDeadline(&self->deadline_);
    return;
  }
  self->beginStop(name);
}

void Server::onAsync(uv_async_t* async) {
  auto* self = static_cast<Server*>(async->data);
  if (self->stop_requested_.load() && !self->stopping_) {
    self->beginStop("request");
  }
  if (self->finished_workers_.load() == self->workers_ && !self->finished_) {
    self->finishRun();
  }
}

void Server::beginStop(const char* why) {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  const auto deadline = static_cast<uint64_t>(config_.limits.shutdown_timeout.count());
  proxyLog().info("stopping ({}): no new connections; draining queued lines to the sinks "
                  "(deadline {}ms)",
                  why, deadline);
  uv_timer_stop(&stats_timer_);
  uv_timer_stop(&alert_timer_);
  uv_signal_stop(&sighup_);
  if (watcher_) {
    watcher_->close();
  }
  for (auto& worker : worker_objects_) {
    worker->requestStop();
  }
  uv_timer_start(&deadline_, onDeadline, deadline, 0);
}

void Server::onDeadline(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  if (self->aborted_ || self->finished_) {
    return;
  }
  self->aborted_ = true;
  proxyLog().warn("shutdown deadline passed: giving up what the sinks still hold");
  for (auto& worker : self->worker_objects_) {
    worker->requestAbort();
  }
  if (self->stdout_writer_) {
    self->stdout_writer_->abort();
  }
  uv_timer_start(&self->deadline_, onHardDeadline, kHardDeadlineMs, 0);
}

void Server::onHardDeadline(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  self->logStats("final", /*always=*/true);
  proxyLog().error("workers did not finish {}ms after the deadline (a write is stuck); exiting",
                   kHardDeadlineMs);
  spdlog::shutdown();
  std::_Exit(static_cast<int>(ExitCode::Failure));
}

void Server::finishRun() {
  finished_ = true;
  // Attempts noted since the last window still get their alert.
  sendPiiAlerts();
  if (webhook_) {
    webhook_->stop(std::chrono::milliseconds(5000));
  }
  if (stdout_writer_) {
    stdout_writer_->stop();
  }
  {
    std::lock_guard lock(async_mutex_);
    async_ready_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  }
  for (auto* signal : {&sigterm_, &sigint_, &sighup_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(signal), nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&stats_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&alert_timer_), nullptr);
  if (admin_) {
    admin_->close();
  }
  if (watcher_) {
    watcher_->close();
  }
}

void Server::onAlertTimer(uv_timer_t* timer) {
  static_cast<Server*>(timer->data)->sendPiiAlerts();
}

void Server::sendPiiAlerts() {
  for (const auto& summary : pii_attempts_->drain()) {
    proxyLog().warn("{}", alertText(summary, config_.alerts.window));
    if (webhook_) {
      webhook_->send(alertJson(summary, config_.alerts.window));
    }
  }
}

void Server::reloadTls() {
  for (size_t i = 0; i < tls_slots_.size(); ++i) {
    if (!tls_slots_[i]) {
      continue;
    }
    const auto& listener = config_.listeners[i];
    auto context = tls::TlsContext::server(listener.tls);
    if (!context.ok()) {
      proxyLog().error("SIGHUP: listener '{}': tls: {}; it keeps its previous certificate ({})",
                       listener.name, context.error().message, tls_slots_[i]->get()->description());
      continue;
    }
    tls_slots_[i]->set(*context);
    proxyLog().info("SIGHUP: listener '{}': TLS certificate reloaded: {}; established connections "
                    "keep the previous one",
                    listener.name, (*context)->description());
  }
  // tls:// sinks: a rotated client certificate or CA bundle is used from the next connection on.
  // (https:// sinks: libcurl reads the files itself when it opens a connection.)
  for (size_t i = 0; i < sink_tls_.size(); ++i) {
    const auto& sink = config_.sinks[i];
    if (!sink_tls_[i] || sink.address.http) {
      continue;
    }
    auto context = tls::TlsContext::client(sink.tls, sink.address.host);
    if (!context.ok()) {
      proxyLog().error("SIGHUP: sink '{}': tls: {}; it keeps its previous TLS files ({})",
                       sink.name, context.error().message, sink_tls_[i]->get()->description());
      continue;
    }
    sink_tls_[i]->set(*context);
    proxyLog().info("SIGHUP: sink '{}': TLS files reloaded ({}); the connection open now keeps the "
                    "previous ones, the next one uses these",
                    sink.name, (*context)->description());
  }
}

bool Server::reload(const std::string& why, const std::vector<std::vector<std::string>>* specs) {
  rulesLog().info("{}: reloading the rules of {} listeners", why, config_.listeners.size());
  std::vector<rules::RuleSetPtr> fresh;
  for (size_t i = 0; i < rule_slots_.size(); ++i) {
    auto loaded = rules::loadRules(specs != nullptr ? (*specs)[i] : rule_slots_[i]->specs());
    if (!loaded.ok()) {
      rulesLog().error("{}", loaded.error().message);
      rulesLog().error("rules reload failed (listener '{}'): every listener keeps its previous "
                       "rules",
                       config_.listeners[i].name);
      ++reloads_failed_;
      last_reload_error_ = loaded.error().message;
      return false;
    }
    for (const auto& warning : loaded->warnings) {
      rulesLog().warn("{}", warning.str());
    }
    fresh.push_back(loaded->rules);
  }
  for (size_t i = 0; i < rule_slots_.size(); ++i) {
    if (specs != nullptr) {
      rule_slots_[i]->setSpecs((*specs)[i]);
      config_.listeners[i].rules = (*specs)[i];
    }
    rule_slots_[i]->set(fresh[i]);
    rules_loaded_at_[i] = std::chrono::system_clock::now();
    rulesLog().info("rules reloaded: listener '{}' now uses '{}' ({}), fingerprint {}",
                    config_.listeners[i].name, fresh[i]->name, specsText(rule_slots_[i]->specs()),
                    fresh[i]->fingerprint().substr(0, 16));
  }
  ++reloads_ok_;
  last_reload_error_.clear();
  return true;
}

void Server::rewatch() {
  if (!watcher_) {
    return;
  }
  std::map<std::string, std::string> files;
  for (const auto& slot : rule_slots_) {
    for (const auto& source : slot->get()->sources) {
      if (!source.file.starts_with("builtin:")) {
        files.emplace(source.file, source.sha256);
      }
    }
  }
  if (config_.source != config::kDefaultConfigName) {
    files.emplace(config_.source, rules::sha256Hex(config_text_));
  }
  for (const auto& dir : watcher_->watch(files)) {
    rulesLog().warn("cannot watch {} for changes: its files reload on SIGHUP only", dir);
  }
}

void Server::onFilesChanged(const std::vector<std::string>& changed) {
  if (stopping_) {
    return;
  }
  std::vector<std::string> rule_files;
  bool config_changed = false;
  for (const auto& path : changed) {
    if (path == config_.source) {
      config_changed = true;
    } else {
      rule_files.push_back(path);
    }
  }
  if (config_changed) {
    onConfigFileChanged(); // reloads the rules too when it changed their lists
  } else if (!rule_files.empty()) {
    reload("rules file changed (" + joined(rule_files) + ")");
  }
  rewatch(); // the rule sets now loaded may include other files
}

void Server::onConfigFileChanged() {
  std::ifstream in(config_.source, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Compared with the text the running config came from (not the last version seen): what the
  // log says needs a restart is what differs from what runs.
  auto sections = config::changedSections(config_text_, text);
  if (!config_loader_) {
    proxyLog().warn("config file {} changed: needs a restart to apply (not applied)",
                    config_.source);
    return;
  }
  // The whole config is built again from the same file and flags: its errors carry
  // file:line:col, and a file that does not load is never half applied.
  auto rebuilt = config_loader_();
  if (!rebuilt.ok()) {
    ++reloads_failed_;
    last_reload_error_ = rebuilt.error().message;
    proxyLog().error("config file {} changed but does not load: {}; the running configuration "
                     "stays (a restart would fail)",
                     config_.source, rebuilt.error().message);
    return;
  }
  std::vector<std::string> restart;
  bool rules_changed = false;
  if (!sections.ok()) {
    restart.push_back("unknown");
  }
  for (const auto& section : sections.ok() ? *sections : std::vector<std::string>{}) {
    if (section == "listeners.rules") {
      rules_changed = true;
    } else {
      restart.push_back(section);
    }
  }
  if (!restart.empty()) {
    proxyLog().warn("config file {} changed ({}): needs a restart to apply (not applied)",
                    config_.source, joined(restart));
  }
  if (!rules_changed) {
    if (restart.empty()) {
      proxyLog().info("config file {} changed: nothing that matters to the running proxy",
                      config_.source);
    }
    return;
  }
  // New rule lists apply when the listeners are the same ones; flags such as --rules are part of
  // the rebuilt config, so an override keeps winning over the file.
  const auto& fresh = rebuilt->listeners;
  bool same_listeners = fresh.size() == config_.listeners.size();
  for (size_t i = 0; same_listeners && i < fresh.size(); ++i) {
    same_listeners = fresh[i].name == config_.listeners[i].name;
  }
  if (!same_listeners) {
    proxyLog().warn("config file {} changed the listeners' rule lists along with the listeners: "
                    "needs a restart to apply (not applied)",
                    config_.source);
    return;
  }
  std::vector<std::vector<std::string>> specs;
  bool differs = false;
  for (size_t i = 0; i < fresh.size(); ++i) {
    specs.push_back(fresh[i].rules);
    differs = differs || fresh[i].rules != rule_slots_[i]->specs();
  }
  if (differs) {
    reload("config file changed the listeners' rule lists", &specs);
  }
}

Server::Totals Server::totals() const {
  Totals t;
  t.sinks.resize(config_.sinks.size());
  for (const auto& worker : worker_objects_) {
    WorkerStats& w = worker->stats();
    t.lines_in += w.lines_in.get();
    t.lines_out += w.lines_out.get();
    t.bytes_in += w.bytes_in.get();
    t.bytes_out += w.bytes_out.get();
    t.accepted += w.connections_accepted.get();
    t.rejected += w.connections_rejected.get();
    for (size_t i = 0; i < t.dropped.size(); ++i) {
      t.dropped[i] += w.dropped[i].get();
    }
    for (size_t l = 0; l < config_.listeners.size(); ++l) {
      t.tls_handshake_failures += worker->listenerStats(l).tls_handshake_failures.get();
    }
    for (size_t s = 0; s < t.sinks.size(); ++s) {
      SinkStats& stats = worker->sinkStats(s);
      auto& sink = t.sinks[s];
      sink.queued += stats.lines_queued.get();
      sink.delivered += stats.lines_delivered.get();
      sink.overflow += stats.lines_overflow.get();
      sink.at_risk += stats.lines_at_risk.get();
      sink.resent += stats.lines_resent.get();
      sink.lost += stats.lines_lost.get();
      sink.undelivered += stats.lines_undelivered.get();
      sink.connects += stats.connects.get();
      sink.failures += stats.failures.get();
      sink.batches_delivered += stats.batches_delivered.get();
      sink.batches_failed += stats.batches_failed.get();
      sink.batches_dropped += stats.batches_dropped.get();
      sink.rejected += stats.lines_rejected.get();
      sink.retries += stats.retries.get();
    }
  }
  return t;
}

void Server::logStats(const char* prefix, bool always) {
  const Totals t = totals();
  if (!always && t.lines_in == last_reported_lines_) {
    return;
  }
  last_reported_lines_ = t.lines_in;
  uint64_t dropped = 0;
  std::string reasons;
  for (size_t i = 1; i < t.dropped.size(); ++i) {
    dropped += t.dropped[i];
    // Appended piecewise: GCC 12 -O3 reports a false -Wrestrict on the chained operator+.
    if (!reasons.empty()) {
      reasons.push_back(' ');
    }
    reasons.append(filters::kDropReasonNames[i]);
    reasons.push_back('=');
    reasons.append(std::to_string(t.dropped[i]));
  }
  proxyLog().info("{} stats: lines_in={} forwarded={} dropped={} ({}) bytes_in={} bytes_out={} "
                  "connections_open={} accepted={} rejected={} tls_handshake_failures={}",
                  prefix, t.lines_in, t.lines_out, dropped, reasons, t.bytes_in, t.bytes_out,
                  shared_ ? shared_->open_connections.load() : 0, t.accepted, t.rejected,
                  t.tls_handshake_failures);
  for (size_t s = 0; s < t.sinks.size(); ++s) {
    const auto& sink = t.sinks[s];
    if (config_.sinks[s].address.http) {
      sinkLog().info("{} sink '{}' ({}): queued={} delivered={} undelivered={} rejected={} "
                     "overflow={} batches_delivered={} batches_failed={} batches_dropped={} "
                     "retries={}",
                     prefix, config_.sinks[s].name, config_.sinks[s].address.url(), sink.queued,
                     sink.delivered, sink.undelivered, sink.rejected, sink.overflow,
                     sink.batches_delivered, sink.batches_failed, sink.batches_dropped,
                     sink.retries);
      continue;
    }
    sinkLog().info("{} sink '{}' ({}): queued={} delivered={} undelivered={} possibly_lost={} "
                   "resent={} overflow={} lost={} connects={} failures={}",
                   prefix, config_.sinks[s].name, config_.sinks[s].address.url(), sink.queued,
                   sink.delivered, sink.undelivered, sink.at_risk, sink.resent, sink.overflow,
                   sink.lost, sink.connects, sink.failures);
  }
}

void Server::onStatsTimer(uv_timer_t* timer) {
  static_cast<Server*>(timer->data)->logStats("periodic", /*always=*/false);
}

} // namespace scrub::proxy
