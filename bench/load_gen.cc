// End-to-end load generator and counting sink for bench/proxy_bench.sh (one libuv loop).
//
// It listens as the sink (the proxy, or socat, under test forwards to it), opens C connections to
// the target, and replays corpus lines over them at full speed or at a fixed rate. Every line
// sent carries a unique sequence id as its first field: a corpus line `{...}` goes out as
// `{"_id":SEQ,...}`. The default rules keep `_id` and preserve key order, so every forwarded line
// starts with `{"_id":SEQ` and the sink can match it to its send time: the time the line was
// handed to uv_write, and the time the read that completed it returned at the sink.
//
// Reports input MB/s (bytes of the lines as sent), lines/s delivered, p50/p99/p999 latency from
// send to sink receipt, lines sent/received. It checks itself: each id must arrive exactly once
// and nothing else may arrive (`_id` makes every line non-empty, so the rules drop none);
// --expect-identical also compares every line to what was sent (relays), --check-canaries checks
// that no planted personal value of the first corpus pass arrives (filtering proxy). Any failure
// is loud and makes the exit code 1.
//
// Bounded: at most --lines lines, at most --duration seconds of sending, then at most
// --drain-timeout seconds for the rest to arrive. Loopback addresses only.
//
// Output: a human summary on stderr and one `result key=value ...` line on stdout. With
// `--target -` it first prints `sink 127.0.0.1:PORT` on stdout once the sink listens, and reads
// the target HOST:PORT from stdin (the system under test is started between the two); after the
// result it keeps the sink open until stdin closes (at most kLingerMs), so that the system under
// test can be stopped first and never sees its sink go away.
//
// Fixed rate (--rate): due lines go out every --tick-us microseconds (a timerfd on the loop),
// spread round-robin over the connections; the rate is computed from the start, so a late tick
// sends more. Send times are taken at uv_write, so a generator that falls behind shows as a
// lower send_rate and as window_stalls, not as latency.

#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/synthetic_corpus.h"

namespace {

constexpr size_t kBatchBytes = 64 << 10; // the most one uv_write carries
constexpr size_t kSinkReadBytes = 256 << 10;
constexpr uint64_t kStartTimeoutMs = 15000; // connections and sink connections must be up by then
constexpr uint64_t kLingerMs = 30000; // with `--target -`: the most the sink waits for stdin EOF
constexpr std::string_view kIdPrefix = "{\"_id\":";

struct Options {
  std::string target; // HOST:PORT, or "-" to read it from stdin once the sink listens
  std::string sink_listen = "127.0.0.1:0";
  unsigned connections = 4;
  uint64_t lines = 100000;
  double duration_s = 5;
  double rate = 0;      // lines/s over all connections; 0: full speed
  double tick_us = 100; // fixed rate: how often due lines are sent
  uint64_t seed = 42;
  uint64_t corpus_lines = 20000;
  std::string corpus_file;
  unsigned sink_connections = 0; // wait for this many sink connections before sending
  double drain_timeout_s = 10;
  size_t window_bytes = 256 << 10; // per connection, written but not yet completed
  bool expect_identical = false;
  bool check_canaries = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "load_gen: %s\n"
               "usage: load_gen --target HOST:PORT|- [--sink-listen HOST:PORT] [--connections C]\n"
               "                [--lines N] [--duration S] [--rate LINES_PER_SEC] [--tick-us US]\n"
               "                [--seed S] [--corpus-lines N] [--corpus FILE]\n"
               "                [--sink-connections K] [--drain-timeout S] [--window BYTES]\n"
               "                [--expect-identical] [--check-canaries]\n",
               why.c_str());
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage(arg + " needs a value");
      }
      return argv[++i];
    };
    auto number = [&]() -> double {
      const std::string text = value();
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end != '\0' || v < 0) {
        usage(arg + ": not a non-negative number: " + text);
      }
      return v;
    };
    if (arg == "--target") {
      o.target = value();
    } else if (arg == "--sink-listen") {
      o.sink_listen = value();
    } else if (arg == "--connections") {
      o.connections = static_cast<unsigned>(number());
    } else if (arg == "--lines") {
      o.lines = static_cast<uint64_t>(number());
    } else if (arg == "--duration") {
      o.duration_s = number();
    } else if (arg == "--rate") {
      o.rate = number();
    } else if (arg == "--tick-us") {
      o.tick_us = std::max(10.0, number());
    } else if (arg == "--seed") {
      o.seed = static_cast<uint64_t>(number());
    } else if (arg == "--corpus-lines") {
      o.corpus_lines = static_cast<uint64_t>(number());
    } else if (arg == "--corpus") {
      o.corpus_file = value();
    } else if (arg == "--sink-connections") {
      o.sink_connections = static_cast<unsigned>(number());
    } else if (arg == "--drain-timeout") {
      o.drain_timeout_s = number();
    } else if (arg == "--window") {
      o.window_bytes = static_cast<size_t>(number());
    } else if (arg == "--expect-identical") {
      o.expect_identical = true;
    } else if (arg == "--check-canaries") {
      o.check_canaries = true;
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (o.target.empty()) {
    usage("--target is required");
  }
  if (o.connections == 0 || o.lines == 0 || o.corpus_lines == 0) {
    usage("--connections, --lines and --corpus-lines must be positive");
  }
  return o;
}

// HOST:PORT with a loopback IPv4 HOST: the benchmark never sends anywhere else.
bool parseLoopback(const std::string& text, sockaddr_in* addr) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  std::string host = text.substr(0, colon);
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  char* end = nullptr;
  const long port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535 ||
      uv_ip4_addr(host.c_str(), static_cast<int>(port), addr) != 0) {
    return false;
  }
  return (ntohl(addr->sin_addr.s_addr) >> 24) == 127;
}

// Corpus lines without their opening '{': a line goes out as `{"_id":SEQ,` + body.
struct Corpus {
  std::vector<std::string> bodies;
  std::vector<std::vector<std::string>> canaries; // per line; empty when read from a file
};

Corpus loadCorpus(const Options& o) {
  Corpus c;
  auto add = [&c](std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (line.size() < 2 || line.front() != '{' || line.back() != '}') {
      return false; // not an object: cannot carry an id first
    }
    line.remove_prefix(1);
    const bool empty_object = line.find_first_not_of(" \t") == line.size() - 1;
    c.bodies.emplace_back(empty_object ? std::string_view("}") : line);
    return true;
  };
  if (!o.corpus_file.empty()) {
    std::ifstream in(o.corpus_file);
    if (!in) {
      usage("cannot read " + o.corpus_file);
    }
    std::string line;
    while (c.bodies.size() < o.corpus_lines && std::getline(in, line)) {
      add(line);
    }
    if (c.bodies.empty()) {
      usage(o.corpus_file + " holds no JSON object lines");
    }
    return c;
  }
  scrub::corpus::CorpusGenerator generator(o.seed);
  while (c.bodies.size() < o.corpus_lines) {
    auto line = generator.next();
    if (add(line.json)) {
      c.canaries.push_back(std::move(line.canaries));
    }
  }
  return c;
}

void appendLine(std::string& out, uint64_t seq, const std::string& body) {
  out += kIdPrefix;
  char digits[24];
  const int n = std::snprintf(digits, sizeof digits, "%" PRIu64, seq);
  out.append(digits, static_cast<size_t>(n));
  if (body.size() > 1) {
    out += ',';
  }
  out += body;
  out += '\n';
}

// Timestamps per sequence id, zero until set. calloc: untouched pages cost no memory.
class Stamps {
public:
  explicit Stamps(uint64_t n)
      : data_(static_cast<uint64_t*>(std::calloc(n + 1, sizeof(uint64_t)))) {
    if (!data_) {
      std::fprintf(stderr, "load_gen: out of memory for %" PRIu64 " timestamps\n", n);
      std::exit(1);
    }
  }
  uint64_t& operator[](uint64_t i) { return data_.get()[i]; }

private:
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint64_t, Free> data_;
};

double percentile(std::vector<uint64_t>& values, double p) {
  if (values.empty()) {
    return 0;
  }
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(k), values.end());
  return static_cast<double>(values[k]);
}

class LoadGen {
public:
  LoadGen(Options options, Corpus corpus)
      : o_(std::move(options)), corpus_(std::move(corpus)), send_ns_(o_.lines), recv_ns_(o_.lines) {
  }

  int run();

private:
  struct Client {
    uv_tcp_t tcp{};
    uv_connect_t connect{};
    LoadGen* gen = nullptr;
    size_t in_flight = 0;
    bool connected = false;
    char scratch[64];
  };
  struct Write {
    uv_write_t req{};
    std::string bytes;
    Client* client = nullptr;
  };
  struct SinkConn {
    uv_tcp_t tcp{};
    LoadGen* gen = nullptr;
    std::vector<char> buf;
    size_t used = 0;
  };

  static void onConnect(uv_connect_t* req, int status);
  static void onClientAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  static void onClientRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*);
  static void onWrite(uv_write_t* req, int status);
  static void onSinkConnection(uv_stream_t* server, int status);
  static void onSinkAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  static void onSinkRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*);
  static void onTick(uv_poll_t* poll, int status, int events);
  void tick();
  static void onGuard(uv_timer_t* timer);

  void maybeStart();
  bool canSend(uint64_t now) const { return next_seq_ <= o_.lines && now < send_deadline_ns_; }
  void pump(Client& client);
  bool pumpOnce(Client& client);
  uint64_t sendBatch(Client& client, uint64_t max_lines);
  void sendingDone(uint64_t now);
  void handleLine(std::string_view line, uint64_t now);
  void checkFinished();
  void fail(const std::string& why);
  void finish();
  void report();
  void closeSink();
  static void onStdinAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  static void onStdinRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*);
  uint64_t sent() const { return next_seq_ - 1; }

  Options o_;
  Corpus corpus_;
  Stamps send_ns_;
  Stamps recv_ns_;
  uv_loop_t loop_{};
  uv_tcp_t server_{};
  // Fixed rate: a timerfd watched by the loop, so lines go out every --tick-us microseconds
  // (libuv's own timers tick in milliseconds: bursts that large would show up as latency).
  int tick_fd_ = -1;
  uv_poll_t tick_{};
  bool tick_open_ = false;
  uv_timer_t guard_{}; // start-up timeout, then drain timeout
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<std::unique_ptr<SinkConn>> sinks_;
  std::vector<std::unique_ptr<Write>> spare_writes_;
  std::string expected_; // scratch for --expect-identical
  // With `--target -`: the sink stays open after the report until stdin closes, so that the system
  // under test can be stopped first and never sees its sink go away.
  bool handshake_ = false;
  uv_pipe_t stdin_{};
  bool stdin_open_ = false;
  char stdin_scratch_[64];
  int exit_code_ = 0;

  unsigned connected_ = 0;
  bool started_ = false;
  bool sending_done_ = false;
  bool finished_ = false;
  std::string failure_;
  uint64_t next_seq_ = 1;
  size_t next_client_ = 0;   // round-robin start in rate mode
  uint64_t batch_lines_ = 1; // full speed: the most lines one write carries
  uint64_t start_ns_ = 0;
  uint64_t send_deadline_ns_ = 0;
  uint64_t send_end_ns_ = 0;
  uint64_t last_recv_ns_ = 0;
  uint64_t bytes_sent_ = 0;
  uint64_t window_stalls_ = 0; // rate mode: a connection's window was full when lines were due

  uint64_t received_ = 0;
  uint64_t bytes_received_ = 0; // as sent: the input bytes of the lines that arrived
  uint64_t bytes_out_ = 0;      // as received
  uint64_t duplicates_ = 0;
  uint64_t unknown_ = 0; // no id prefix, or an id never sent
  uint64_t mismatched_ = 0;
  uint64_t leaked_ = 0;
  uint64_t partial_ = 0; // bytes after the last newline when a sink connection closed
};

int LoadGen::run() {
  uv_loop_init(&loop_);
  sockaddr_in sink_addr{};
  if (!parseLoopback(o_.sink_listen, &sink_addr)) {
    usage("--sink-listen must be a loopback HOST:PORT: " + o_.sink_listen);
  }
  uv_tcp_init(&loop_, &server_);
  server_.data = this;
  int rc = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&sink_addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 4096, onSinkConnection);
  }
  if (rc != 0) {
    std::fprintf(stderr, "load_gen: cannot listen on %s: %s\n", o_.sink_listen.c_str(),
                 uv_strerror(rc));
    return 1;
  }
  sockaddr_storage bound{};
  int length = sizeof bound;
  uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&bound), &length);
  char host[64] = {};
  uv_ip4_name(reinterpret_cast<const sockaddr_in*>(&bound), host, sizeof host);
  std::printf("sink %s:%d\n", host, ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port));
  std::fflush(stdout);

  std::string target = o_.target;
  if (target == "-") {
    handshake_ = true;
    // The system under test starts now and may already connect to the sink: the kernel holds
    // those connections in the backlog until the loop runs.
    char line[256];
    if (std::fgets(line, sizeof line, stdin) == nullptr) {
      std::fprintf(stderr, "load_gen: no target on stdin\n");
      return 1;
    }
    target = line;
    while (!target.empty() && (target.back() == '\n' || target.back() == '\r')) {
      target.pop_back();
    }
  }
  sockaddr_in target_addr{};
  if (!parseLoopback(target, &target_addr)) {
    usage("the target must be a loopback HOST:PORT: " + target);
  }

  if (o_.rate > 0) {
    tick_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tick_fd_ < 0 || uv_poll_init(&loop_, &tick_, tick_fd_) != 0) {
      std::fprintf(stderr, "load_gen: timerfd: %s\n", std::strerror(errno));
      return 1;
    }
    tick_.data = this;
    tick_open_ = true;
  }
  uv_timer_init(&loop_, &guard_);
  guard_.data = this;
  uv_timer_start(&guard_, onGuard, kStartTimeoutMs, 0);
  for (unsigned i = 0; i < o_.connections; ++i) {
    auto client = std::make_unique<Client>();
    client->gen = this;
    uv_tcp_init(&loop_, &client->tcp);
    client->tcp.data = client.get();
    client->connect.data = client.get();
    rc = uv_tcp_connect(&client->connect, &client->tcp,
                        reinterpret_cast<const sockaddr*>(&target_addr), onConnect);
    clients_.push_back(std::move(client));
    if (rc != 0) {
      fail(std::string("connect: ") + uv_strerror(rc));
      break;
    }
  }

  uv_run(&loop_, UV_RUN_DEFAULT);
  const int close_rc = uv_loop_close(&loop_);
  if (tick_fd_ >= 0) {
    ::close(tick_fd_);
  }

  if (close_rc != 0) {
    std::fprintf(stderr, "load_gen: event loop closed with handles open: %s\n",
                 uv_strerror(close_rc));
    return 1;
  }
  return exit_code_;
}

// Once everything has arrived (or the run failed): the summary on stderr, the result on stdout.
void LoadGen::report() {
  std::vector<uint64_t> latencies;
  latencies.reserve(received_);
  for (uint64_t seq = 1; seq <= sent(); ++seq) {
    if (recv_ns_[seq] != 0) {
      latencies.push_back(recv_ns_[seq] > send_ns_[seq] ? recv_ns_[seq] - send_ns_[seq] : 0);
    }
  }
  const double max_us =
      latencies.empty() ? 0 : *std::max_element(latencies.begin(), latencies.end()) / 1e3;
  const double p50 = percentile(latencies, 0.50) / 1e3;
  const double p99 = percentile(latencies, 0.99) / 1e3;
  const double p999 = percentile(latencies, 0.999) / 1e3;
  const uint64_t end_ns = std::max(last_recv_ns_, send_end_ns_);
  const double seconds = end_ns > start_ns_ && started_ ? (end_ns - start_ns_) / 1e9 : 0;
  const double send_seconds =
      send_end_ns_ > start_ns_ && started_ ? (send_end_ns_ - start_ns_) / 1e9 : 0;
  const double in_mb_s = seconds > 0 ? bytes_received_ / seconds / 1e6 : 0;
  const double out_mb_s = seconds > 0 ? bytes_out_ / seconds / 1e6 : 0;
  const double lines_s = seconds > 0 ? received_ / seconds : 0;
  const double send_rate = send_seconds > 0 ? sent() / send_seconds : 0;
  const uint64_t lost = sent() - received_;

  std::fprintf(stderr,
               "load_gen: %u connections, %s: sent %" PRIu64 " lines (%.1f MB) in %.2fs "
               "(%.0f lines/s), received %" PRIu64 " in %.2fs: %.1f MB/s in, %.1f MB/s out, "
               "%.0f lines/s; latency p50 %.0fus p99 %.0fus p99.9 %.0fus max %.0fus\n",
               o_.connections, o_.rate > 0 ? "fixed rate" : "full speed", sent(), bytes_sent_ / 1e6,
               send_seconds, send_rate, received_, seconds, in_mb_s, out_mb_s, lines_s, p50, p99,
               p999, max_us);
  std::printf("result sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64 " duplicates=%" PRIu64
              " unknown=%" PRIu64 " mismatched=%" PRIu64 " leaked=%" PRIu64 " partial=%" PRIu64
              " window_stalls=%" PRIu64 " seconds=%.3f in_mb_s=%.1f out_mb_s=%.1f lines_s=%.0f "
              "send_rate=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
              sent(), received_, lost, duplicates_, unknown_, mismatched_, leaked_, partial_,
              window_stalls_, seconds, in_mb_s, out_mb_s, lines_s, send_rate, p50, p99, p999,
              max_us);
  std::fflush(stdout);

  if (failure_.empty()) {
    if (lost != 0 || duplicates_ != 0 || unknown_ != 0 || mismatched_ != 0 || leaked_ != 0 ||
        partial_ != 0) {
      failure_ = "delivery check failed";
    }
  }
  if (!failure_.empty()) {
    std::fprintf(stderr,
                 "load_gen: FAILED: %s (lost=%" PRIu64 " duplicates=%" PRIu64 " unknown=%" PRIu64
                 " mismatched=%" PRIu64 " leaked=%" PRIu64 " partial=%" PRIu64 ")\n",
                 failure_.c_str(), lost, duplicates_, unknown_, mismatched_, leaked_, partial_);
    exit_code_ = 1;
  }
}

// --- clients -------------------------------------------------------------------------------------

void LoadGen::onConnect(uv_connect_t* req, int status) {
  auto* client = static_cast<Client*>(req->data);
  LoadGen* self = client->gen;
  if (self->finished_) {
    return;
  }
  if (status != 0) {
    self->fail(std::string("connect to the target: ") + uv_strerror(status));
    return;
  }
  client->connected = true;
  ++self->connected_;
  // Small fixed-rate batches must not wait for Nagle.
  uv_tcp_nodelay(&client->tcp, 1);
  // The target never talks back; reading tells us when it hangs up.
  uv_read_start(reinterpret_cast<uv_stream_t*>(&client->tcp), onClientAlloc, onClientRead);
  self->maybeStart();
}

void LoadGen::onClientAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* client = static_cast<Client*>(handle->data);
  *buf = uv_buf_init(client->scratch, sizeof client->scratch);
}

void LoadGen::onClientRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* client = static_cast<Client*>(stream->data);
  if (nread < 0 && !client->gen->finished_) {
    client->gen->fail(std::string("the target closed a connection: ") +
                      uv_strerror(static_cast<int>(nread)));
  }
}

void LoadGen::maybeStart() {
  if (started_ || finished_ || connected_ < o_.connections || sinks_.size() < o_.sink_connections) {
    return;
  }
  started_ = true;
  uv_timer_stop(&guard_);
  start_ns_ = uv_hrtime();
  send_deadline_ns_ = start_ns_ + static_cast<uint64_t>(o_.duration_s * 1e9);
  if (o_.rate > 0) {
    const auto ns = static_cast<long>(o_.tick_us * 1000);
    const itimerspec spec{{ns / 1000000000, ns % 1000000000}, {ns / 1000000000, ns % 1000000000}};
    timerfd_settime(tick_fd_, 0, &spec, nullptr);
    uv_poll_start(&tick_, UV_READABLE, onTick);
    tick();
    return;
  }
  // Round-robin, one batch per connection per pass, so that every connection carries lines even
  // when there are many of them (the 1,000-connection run).
  batch_lines_ = std::max<uint64_t>(1, o_.lines / o_.connections);
  bool more = true;
  while (more && !sending_done_) {
    more = false;
    for (auto& client : clients_) {
      if (sending_done_) {
        break;
      }
      if (client->in_flight < o_.window_bytes) {
        pumpOnce(*client);
        more = true;
      }
    }
  }
}

bool LoadGen::pumpOnce(Client& client) {
  const uint64_t now = uv_hrtime();
  if (!canSend(now)) {
    sendingDone(now);
    return false;
  }
  sendBatch(client, batch_lines_);
  return true;
}

void LoadGen::pump(Client& client) {
  while (client.in_flight < o_.window_bytes && !sending_done_ && pumpOnce(client)) {
  }
}

uint64_t LoadGen::sendBatch(Client& client, uint64_t max_lines) {
  std::unique_ptr<Write> write;
  if (spare_writes_.empty()) {
    write = std::make_unique<Write>();
    write->bytes.reserve(kBatchBytes + 4096);
  } else {
    write = std::move(spare_writes_.back());
    spare_writes_.pop_back();
    write->bytes.clear();
  }
  const uint64_t first = next_seq_;
  while (write->bytes.size() < kBatchBytes && next_seq_ - first < max_lines &&
         next_seq_ <= o_.lines) {
    appendLine(write->bytes, next_seq_, corpus_.bodies[(next_seq_ - 1) % corpus_.bodies.size()]);
    ++next_seq_;
  }
  const uint64_t now = uv_hrtime();
  for (uint64_t seq = first; seq < next_seq_; ++seq) {
    send_ns_[seq] = now;
  }
  write->client = &client;
  write->req.data = write.get();
  client.in_flight += write->bytes.size();
  bytes_sent_ += write->bytes.size();
  const uv_buf_t buf = uv_buf_init(write->bytes.data(), static_cast<unsigned>(write->bytes.size()));
  Write* raw = write.release(); // owned by the request until onWrite
  if (const int rc =
          uv_write(&raw->req, reinterpret_cast<uv_stream_t*>(&client.tcp), &buf, 1, onWrite);
      rc != 0) {
    delete raw;
    fail(std::string("write: ") + uv_strerror(rc));
  }
  return next_seq_ - first;
}

void LoadGen::onWrite(uv_write_t* req, int status) {
  std::unique_ptr<Write> write(static_cast<Write*>(req->data));
  Client& client = *write->client;
  LoadGen* self = client.gen;
  client.in_flight -= write->bytes.size();
  self->spare_writes_.push_back(std::move(write));
  if (self->finished_) {
    return;
  }
  if (status != 0) {
    self->fail(std::string("write to the target: ") + uv_strerror(status));
    return;
  }
  if (self->o_.rate == 0) {
    self->pump(client);
  }
}

void LoadGen::onTick(uv_poll_t* poll, int, int) {
  auto* self = static_cast<LoadGen*>(poll->data);
  uint64_t expirations = 0;
  if (::read(self->tick_fd_, &expirations, sizeof expirations) < 0 && errno != EAGAIN) {
    self->fail(std::string("timerfd: ") + std::strerror(errno));
    return;
  }
  self->tick();
}

void LoadGen::tick() {
  if (sending_done_ || finished_) {
    return;
  }
  const uint64_t now = uv_hrtime();
  if (!canSend(now)) {
    sendingDone(now);
    return;
  }
  const double elapsed_s = (now - start_ns_) / 1e9;
  const uint64_t due = std::min<uint64_t>(o_.lines, static_cast<uint64_t>(o_.rate * elapsed_s) + 1);
  if (due <= sent()) {
    return;
  }
  const uint64_t to_send = due - sent();
  const size_t n = clients_.size();
  const uint64_t each = to_send / n;
  const uint64_t extra = to_send % n;
  for (size_t i = 0; i < n; ++i) {
    Client& client = *clients_[(next_client_ + i) % n];
    uint64_t share = each + (i < extra ? 1 : 0);
    if (share > 0 && client.in_flight >= o_.window_bytes) {
      ++window_stalls_; // stays due: the next tick sends it
      continue;
    }
    while (share > 0 && !finished_) {
      share -= sendBatch(client, share);
    }
  }
  next_client_ = (next_client_ + extra) % n;
  if (next_seq_ > o_.lines) {
    sendingDone(uv_hrtime());
  }
}

void LoadGen::sendingDone(uint64_t now) {
  if (sending_done_) {
    return;
  }
  sending_done_ = true;
  send_end_ns_ = now;
  if (tick_open_) {
    uv_poll_stop(&tick_);
  }
  uv_timer_start(&guard_, onGuard, static_cast<uint64_t>(o_.drain_timeout_s * 1000), 0);
  checkFinished();
}

void LoadGen::onGuard(uv_timer_t* timer) {
  auto* self = static_cast<LoadGen*>(timer->data);
  if (!self->started_) {
    self->fail("not ready after " + std::to_string(kStartTimeoutMs / 1000) + "s: " +
               std::to_string(self->connected_) + "/" + std::to_string(self->o_.connections) +
               " connections to the target, " + std::to_string(self->sinks_.size()) + "/" +
               std::to_string(self->o_.sink_connections) + " sink connections");
    return;
  }
  char why[96];
  std::snprintf(why, sizeof why, "lines still missing %gs after the last was sent",
                self->o_.drain_timeout_s);
  self->fail(why);
}

// --- sink ----------------------------------------------------------------------------------------

void LoadGen::onSinkConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<LoadGen*>(server->data);
  if (status != 0 || self->finished_) {
    return;
  }
  auto conn = std::make_unique<SinkConn>();
  conn->gen = self;
  conn->buf.resize(kSinkReadBytes);
  uv_tcp_init(&self->loop_, &conn->tcp);
  conn->tcp.data = conn.get();
  SinkConn* raw = conn.get();
  self->sinks_.push_back(std::move(conn));
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&raw->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->tcp), nullptr);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&raw->tcp), onSinkAlloc, onSinkRead);
  self->maybeStart();
}

void LoadGen::onSinkAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* conn = static_cast<SinkConn*>(handle->data);
  if (conn->buf.size() - conn->used < kSinkReadBytes / 2) {
    conn->buf.resize(conn->buf.size() * 2); // a line longer than the buffer so far
  }
  *buf = uv_buf_init(conn->buf.data() + conn->used,
                     static_cast<unsigned>(conn->buf.size() - conn->used));
}

void LoadGen::onSinkRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* conn = static_cast<SinkConn*>(stream->data);
  LoadGen* self = conn->gen;
  if (nread < 0) {
    // The relay hung up (socat closes per client connection; the proxy when it stops).
    self->partial_ += conn->used;
    conn->used = 0;
    uv_read_stop(stream);
    return;
  }
  if (self->finished_) {
    return; // after the report: whatever still comes is not counted
  }
  const uint64_t now = uv_hrtime();
  const size_t scanned_from = conn->used;
  conn->used += static_cast<size_t>(nread);
  char* data = conn->buf.data();
  size_t begin = 0;
  const char* newline =
      static_cast<const char*>(std::memchr(data + scanned_from, '\n', conn->used - scanned_from));
  while (newline != nullptr) {
    const size_t end = static_cast<size_t>(newline - data);
    self->handleLine(std::string_view(data + begin, end - begin), now);
    begin = end + 1;
    newline = static_cast<const char*>(std::memchr(data + begin, '\n', conn->used - begin));
  }
  if (begin > 0) {
    std::memmove(data, data + begin, conn->used - begin);
    conn->used -= begin;
  }
  self->checkFinished();
}

void LoadGen::handleLine(std::string_view line, uint64_t now) {
  if (line.substr(0, kIdPrefix.size()) != kIdPrefix) {
    ++unknown_;
    return;
  }
  uint64_t seq = 0;
  size_t i = kIdPrefix.size();
  for (; i < line.size() && line[i] >= '0' && line[i] <= '9' && i < kIdPrefix.size() + 19; ++i) {
    seq = seq * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  if (i == kIdPrefix.size() || i == line.size() || (line[i] != ',' && line[i] != '}') || seq == 0 ||
      seq >= next_seq_) {
    ++unknown_;
    return;
  }
  if (recv_ns_[seq] != 0) {
    ++duplicates_;
    return;
  }
  recv_ns_[seq] = now;
  last_recv_ns_ = now;
  ++received_;
  bytes_out_ += line.size() + 1;
  const size_t index = (seq - 1) % corpus_.bodies.size();
  const std::string& body = corpus_.bodies[index];
  // The input size of this line: prefix, digits, ',', body, '\n'.
  bytes_received_ +=
      kIdPrefix.size() + (i - kIdPrefix.size()) + (body.size() > 1 ? 1 : 0) + body.size() + 1;
  if (o_.expect_identical) {
    expected_.clear();
    appendLine(expected_, seq, body);
    if (std::string_view(expected_).substr(0, expected_.size() - 1) != line) {
      ++mismatched_;
    }
  }
  if (o_.check_canaries && seq <= corpus_.canaries.size()) {
    for (const std::string& canary : corpus_.canaries[index]) {
      if (line.find(canary) != std::string_view::npos) {
        ++leaked_;
        break;
      }
    }
  }
}

void LoadGen::checkFinished() {
  if (sending_done_ && !finished_ && received_ >= sent()) {
    finish();
  }
}

void LoadGen::fail(const std::string& why) {
  if (failure_.empty()) {
    failure_ = why;
    std::fprintf(stderr, "load_gen: %s\n", why.c_str());
  }
  if (!sending_done_ && started_) {
    send_end_ns_ = uv_hrtime();
  }
  sending_done_ = true;
  finish();
}

namespace {

void closeHandle(void* handle) {
  auto* h = static_cast<uv_handle_t*>(handle);
  if (!uv_is_closing(h)) {
    uv_close(h, nullptr);
  }
}

} // namespace

void LoadGen::finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  // Handles are freed after uv_run returns, i.e. after their close callbacks.
  if (tick_open_) {
    closeHandle(&tick_);
  }
  uv_timer_stop(&guard_);
  for (auto& client : clients_) {
    closeHandle(&client->tcp);
  }
  report();
  if (handshake_ && uv_guess_handle(0) == UV_NAMED_PIPE && uv_pipe_init(&loop_, &stdin_, 0) == 0) {
    stdin_.data = this;
    stdin_open_ = true;
    if (uv_pipe_open(&stdin_, 0) == 0 &&
        uv_read_start(reinterpret_cast<uv_stream_t*>(&stdin_), onStdinAlloc, onStdinRead) == 0) {
      uv_timer_start(
          &guard_, [](uv_timer_t* t) { static_cast<LoadGen*>(t->data)->closeSink(); }, kLingerMs,
          0);
      return;
    }
  }
  closeSink();
}

void LoadGen::onStdinAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<LoadGen*>(handle->data);
  *buf = uv_buf_init(self->stdin_scratch_, sizeof self->stdin_scratch_);
}

void LoadGen::onStdinRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  if (nread < 0) {
    static_cast<LoadGen*>(stream->data)->closeSink();
  }
}

void LoadGen::closeSink() {
  closeHandle(&guard_);
  closeHandle(&server_);
  for (auto& sink : sinks_) {
    closeHandle(&sink->tcp);
  }
  if (stdin_open_) {
    closeHandle(&stdin_);
  }
}

} // namespace

int main(int argc, char** argv) {
  Options options = parseOptions(argc, argv);
  Corpus corpus = loadCorpus(options);
  LoadGen gen(std::move(options), std::move(corpus));
  return gen.run();
}
