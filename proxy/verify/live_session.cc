#include "proxy/verify/live_session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include "filters/json_escape.h"
#include "proxy/verify/http_capture.h"
#include "proxy/verify/http_target.h"
#include "proxy/verify/numbered_lines.h"

namespace scrub::verify {
namespace {

using Clock = std::chrono::steady_clock;

class Fd {
public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = -1;
  }

private:
  int fd_;
};

std::string errnoText(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

Result<sockaddr_storage> resolve(const TcpAddress& address, socklen_t& length) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  const int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Error{address.text() + ": cannot resolve: " + ::gai_strerror(rc)};
  }
  sockaddr_storage storage{};
  std::memcpy(&storage, found->ai_addr, found->ai_addrlen);
  length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return storage;
}

std::string boundAddress(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return "?";
  }
  char host[INET6_ADDRSTRLEN] = {};
  uint16_t port = 0;
  if (storage.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "tcp://[" + std::string(host) + "]:" + std::to_string(port);
  }
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(&storage);
  ::inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
  port = ntohs(in4->sin_port);
  return "tcp://" + std::string(host) + ":" + std::to_string(port);
}

int remainingMs(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1000));
}

Result<Fd> listenOn(const TcpAddress& address) {
  socklen_t length = 0;
  auto storage = resolve(address, length);
  if (!storage.ok()) {
    return storage.error();
  }
  Fd fd(::socket(storage->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    return Error{errnoText("capture socket")};
  }
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*storage), length) != 0) {
    return Error{errnoText(address.text() + ": cannot bind capture address")};
  }
  if (::listen(fd.get(), 64) != 0) {
    return Error{errnoText(address.text() + ": cannot listen")};
  }
  return fd;
}

// Connects, retrying while the target refuses (it may still be starting) until the deadline.
Result<Fd> connectTo(const TcpAddress& address, Clock::time_point deadline) {
  socklen_t length = 0;
  auto storage = resolve(address, length);
  if (!storage.ok()) {
    return storage.error();
  }
  std::string last = "timed out";
  while (Clock::now() < deadline) {
    Fd fd(::socket(storage->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
      return Error{errnoText("target socket")};
    }
    int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*storage), length);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd.get(), POLLOUT, 0};
      rc = ::poll(&p, 1, remainingMs(deadline));
      int err = 0;
      socklen_t err_len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
      if (rc == 1 && err == 0) {
        return fd;
      }
      errno = rc == 1 ? err : ETIMEDOUT;
    } else if (rc == 0) {
      return fd;
    }
    last = std::strerror(errno);
    if (errno != ECONNREFUSED) {
      break;
    }
    // Refused: the target is not listening yet. Wait a little (bounded by the deadline) and retry.
    ::poll(nullptr, 0, std::min(remainingMs(deadline), 20));
  }
  return Error{address.text() + ": cannot connect to target: " + last};
}

Result<std::string> readTargetFromStdin(Clock::time_point deadline) {
  std::string line;
  char c = 0;
  while (true) {
    pollfd p{0, POLLIN, 0};
    const int ms = remainingMs(deadline);
    if (ms == 0) {
      return Error{"--target -: no target address on stdin before the deadline"};
    }
    const int rc = ::poll(&p, 1, ms);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc == 0) {
      continue;
    }
    const ssize_t n = ::read(0, &c, 1);
    if (n <= 0) {
      return Error{"--target -: stdin ended before a target address"};
    }
    if (c == '\n') {
      break;
    }
    line.push_back(c);
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.pop_back();
  }
  return line;
}

struct Origin {
  uint32_t corpus;
  uint64_t line;
};

struct Expected {
  std::deque<Origin> pending;
  std::vector<Origin> matched;
};

} // namespace

Result<TcpAddress> parseTcpAddress(const std::string& text, bool allow_port_zero, bool allow_http) {
  std::string_view scheme = "tcp://";
  if (allow_http && text.rfind("http://", 0) == 0) {
    scheme = "http://";
  } else if (text.rfind("https://", 0) == 0 || text.rfind("http://", 0) == 0) {
    return Error{text + ": HTTP(S) targets are not supported by verify --live yet; use "
                        "tcp://HOST:PORT"};
  }
  if (text.rfind(scheme, 0) != 0) {
    return Error{text + (allow_http ? ": expected tcp://HOST:PORT or http://HOST:PORT"
                                    : ": expected tcp://HOST:PORT")};
  }
  std::string rest = text.substr(scheme.size());
  if (scheme == "http://") {
    rest = rest.substr(0, rest.find('/'));
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return Error{text + ": expected tcp://HOST:PORT"};
  }
  TcpAddress address;
  address.host = rest.substr(0, colon);
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  const std::string port = rest.substr(colon + 1);
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || value > 65535) {
      return Error{text + ": bad port"};
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535 || (value == 0 && !allow_port_zero)) {
    return Error{text + ": bad port"};
  }
  address.port = static_cast<uint16_t>(value);
  address.http = scheme == "http://";
  return address;
}

Result<LiveResult> runLiveSession(const std::vector<std::string>& corpora,
                                  const rules::RuleSet& rules, CanarySet& canaries,
                                  const LiveOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);
  LiveResult result;
  const auto start = Clock::now();

  // Expected records: what the same rules forward offline, keyed by the exact line.
  std::unordered_map<std::string, Expected> expected;
  std::string payload;
  filters::LineFilter filter(options.limits);
  filters::FilterCounters counters;
  counters.sizeFor(rules);
  std::string out;
  for (uint32_t index = 0; index < corpora.size(); ++index) {
    const std::string& path = corpora[index];
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Error{path + ": cannot read corpus"};
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!bytes.empty() && bytes.back() != '\n') {
      bytes.push_back('\n'); // corpora are concatenated on one connection
    }
    payload += bytes;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return Error{errnoText(path + ": cannot open corpus")};
    }
    const NumberedSink sink{[&](uint64_t number, std::string_view line, size_t capacity) {
                              ++result.lines_sent;
                              if (filter.filter(line, capacity, rules, out, counters) ==
                                  filters::DropReason::None) {
                                expected[out].pending.push_back({index, number});
                                ++result.expected;
                              }
                            },
                            [&](uint64_t) { ++result.lines_sent; },
                            [&](uint64_t) { ++result.lines_sent; },
                            {}};
    const bool ok = readNumberedLines(fd, options.limits.max_line_bytes, sink);
    ::close(fd);
    if (!ok) {
      return Error{errnoText(path + ": read error")};
    }
  }

  const auto deadline = start + options.deadline;
  auto listener = listenOn(options.capture);
  if (!listener.ok()) {
    return listener.error();
  }
  result.capture_address = boundAddress(listener->get());
  if (options.capture.http) {
    result.capture_address.replace(0, 3, "http");
  }
  std::fprintf(stderr, "verify: capture listening on %s\n", result.capture_address.c_str());
  std::fflush(stderr);

  TcpAddress target = options.target;
  std::string http_target = options.http_target;
  if (options.target_from_stdin) {
    auto text = readTargetFromStdin(deadline);
    if (!text.ok()) {
      return text.error();
    }
    if (text->rfind("http://", 0) == 0 || text->rfind("https://", 0) == 0) {
      http_target = *text;
    } else {
      auto parsed = parseTcpAddress(*text, false);
      if (!parsed.ok()) {
        return Error{"--target - (stdin): " + parsed.error().message};
      }
      target = *parsed;
    }
  }
  // TCP: one connection carries the whole corpus. HTTP: POSTs through libcurl, whose poll also
  // waits for the capture's sockets.
  std::unique_ptr<HttpTarget> poster;
  Result<Fd> sender = Fd();
  if (!http_target.empty()) {
    auto made =
        HttpTarget::create({http_target, options.target_api_key, options.target_ca_file}, payload);
    if (!made.ok()) {
      return made.error();
    }
    poster = std::move(made).value();
    result.target_address = http_target;
  } else {
    result.target_address = target.text();
    sender = connectTo(target, deadline);
    if (!sender.ok()) {
      return sender.error();
    }
  }
  std::fprintf(stderr, "verify: %s target %s; sending %llu lines\n",
               poster ? "posting to" : "connected to", result.target_address.c_str(),
               static_cast<unsigned long long>(result.lines_sent));
  std::fflush(stderr);

  struct Capture {
    Fd fd;
    std::string buffer;
    std::unique_ptr<HttpCaptureConnection> http; // --capture http://
    std::string reply;                           // HTTP answers not yet written
  };
  std::vector<Capture> captures;
  std::vector<LeakHit> hits;
  auto onReceived = [&](std::string_view line) {
    ++result.received;
    const Origin* origin = nullptr;
    auto found = expected.find(std::string(line));
    if (found == expected.end()) {
      ++result.unexpected;
    } else if (found->second.pending.empty()) {
      ++result.duplicated;
      origin = found->second.matched.empty() ? nullptr : &found->second.matched.front();
    } else {
      found->second.matched.push_back(found->second.pending.front());
      found->second.pending.pop_front();
      ++result.matched;
      origin = &found->second.matched.back();
    }
    canaries.scan(line, hits);
    for (const LeakHit& hit : hits) {
      ++result.leaks_total;
      ++result.leaks_by_form[std::string(hit.form)];
      if (result.leaks.size() < options.max_listed) {
        LeakRecord record;
        if (origin != nullptr) {
          record.corpus = corpora[origin->corpus];
          record.line = origin->line;
        } else {
          record.corpus = "(capture)";
          record.line = result.received; // the received record's ordinal
        }
        record.canary_id = canaries.canaries()[hit.canary].file_line;
        record.form = std::string(hit.form);
        result.leaks.push_back(std::move(record));
      }
    }
  };

  size_t sent = 0;
  std::vector<pollfd> fds;
  char chunk[65536];
  while (true) {
    if (poster) {
      sent = poster->bytesAcknowledged();
      result.bytes_sent = sent;
    }
    const bool all_sent = sent == payload.size();
    if (all_sent && sender.ok() && sender->get() >= 0) {
      ::shutdown(sender->get(), SHUT_WR);
      sender->reset();
    }
    if (all_sent && result.matched == result.expected) {
      break;
    }
    const int ms = remainingMs(deadline);
    if (ms == 0) {
      if (poster && !poster->answered()) {
        return Error{result.target_address + ": cannot connect to target: " + poster->lastError()};
      }
      result.deadline_passed = true;
      break;
    }
    fds.clear();
    fds.push_back({listener->get(), POLLIN, 0});
    fds.push_back({sender->get(), static_cast<short>(all_sent ? 0 : POLLOUT), 0});
    for (auto& capture : captures) {
      fds.push_back({capture.fd.get(),
                     static_cast<short>(POLLIN | (capture.reply.empty() ? 0 : POLLOUT)), 0});
    }
    if (poster) {
      if (auto polled = poster->poll(fds, ms); !polled.ok()) {
        return polled.error();
      }
    } else if (const int rc = ::poll(fds.data(), fds.size(), ms); rc < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error{errnoText("poll")};
    }
    // Captures accepted below were not polled this round: fds covers only the earlier ones.
    const size_t polled_captures = fds.size() - 2;
    if ((fds[0].revents & POLLIN) != 0) {
      while (true) {
        const int fd = ::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
          break;
        }
        ++result.capture_connections;
        captures.push_back({Fd(fd), {}, nullptr, {}});
        if (options.capture.http) {
          captures.back().http = std::make_unique<HttpCaptureConnection>();
        }
      }
    }
    if (sender->get() >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = ::send(sender->get(), payload.data() + sent,
                               std::min<size_t>(payload.size() - sent, 1 << 20), MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        result.bytes_sent = sent;
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        return Error{errnoText(result.target_address + ": send to target failed after " +
                               std::to_string(sent) + " bytes")};
      }
    }
    for (size_t i = 0; i < polled_captures; ++i) {
      if (fds[i + 2].revents == 0) {
        continue;
      }
      Capture& capture = captures[i];
      while (true) {
        const ssize_t n = ::read(capture.fd.get(), chunk, sizeof chunk);
        if (n > 0 && capture.http) {
          if (!capture.http->feed(std::string_view(chunk, static_cast<size_t>(n)), onReceived,
                                  capture.reply)) {
            capture.fd.reset(); // not HTTP we understand: nothing more is taken from it
            break;
          }
          continue;
        }
        if (n > 0) {
          capture.buffer.append(chunk, static_cast<size_t>(n));
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
          capture.fd.reset(); // closed; an unterminated tail is not a record
        }
        break;
      }
      size_t begin = 0;
      for (size_t nl = capture.buffer.find('\n'); nl != std::string::npos;
           nl = capture.buffer.find('\n', begin)) {
        if (nl > begin) {
          onReceived(std::string_view(capture.buffer).substr(begin, nl - begin));
        }
        begin = nl + 1;
      }
      capture.buffer.erase(0, begin);
      if (capture.fd.get() >= 0 && !capture.reply.empty()) {
        const ssize_t n =
            ::send(capture.fd.get(), capture.reply.data(), capture.reply.size(), MSG_NOSIGNAL);
        if (n > 0) {
          capture.reply.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          capture.fd.reset();
        }
      }
    }
    std::erase_if(captures, [](const Capture& c) { return c.fd.get() < 0; });
  }

  // Missing: expected records still pending, in corpus order.
  std::vector<Origin> missing;
  for (const auto& [line, entry] : expected) {
    result.missing += entry.pending.size();
    missing.insert(missing.end(), entry.pending.begin(), entry.pending.end());
  }
  std::sort(missing.begin(), missing.end(), [](const Origin& a, const Origin& b) {
    return a.corpus != b.corpus ? a.corpus < b.corpus : a.line < b.line;
  });
  for (const Origin& origin : missing) {
    if (result.missing_listed.size() >= options.max_listed) {
      break;
    }
    result.missing_listed.push_back({corpora[origin.corpus], origin.line});
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

std::string liveJson(const LiveResult& live) {
  using filters::appendJsonString;
  std::string out = "{\"capture\":";
  appendJsonString(out, live.capture_address);
  out += ",\"target\":";
  appendJsonString(out, live.target_address);
  auto number = [&](const char* name, uint64_t value) {
    out += ",\"";
    out += name;
    out += "\":" + std::to_string(value);
  };
  number("lines_sent", live.lines_sent);
  number("bytes_sent", live.bytes_sent);
  number("expected", live.expected);
  number("received", live.received);
  number("matched", live.matched);
  number("missing", live.missing);
  number("duplicated", live.duplicated);
  number("unexpected", live.unexpected);
  number("capture_connections", live.capture_connections);
  out += ",\"deadline_passed\":";
  out += live.deadline_passed ? "true" : "false";
  out += ",\"missing_records\":[";
  for (size_t i = 0; i < live.missing_listed.size(); ++i) {
    out += i == 0 ? "{\"corpus\":" : ",{\"corpus\":";
    appendJsonString(out, live.missing_listed[i].corpus);
    out += ",\"line\":" + std::to_string(live.missing_listed[i].line) + "}";
  }
  out += "],\"leaks_total\":" + std::to_string(live.leaks_total);
  out += ",\"leaks_by_form\":{";
  bool first = true;
  for (const auto& [form, count] : live.leaks_by_form) {
    out += first ? "" : ",";
    first = false;
    appendJsonString(out, form);
    out += ":" + std::to_string(count);
  }
  out += "},\"leaks\":[";
  for (size_t i = 0; i < live.leaks.size(); ++i) {
    const LeakRecord& leak = live.leaks[i];
    out += i == 0 ? "{\"corpus\":" : ",{\"corpus\":";
    appendJsonString(out, leak.corpus);
    out += ",\"line\":" + std::to_string(leak.line);
    out += ",\"canary_id\":" + std::to_string(leak.canary_id) + ",\"form\":";
    appendJsonString(out, leak.form);
    out += "}";
  }
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", live.seconds);
  out += "],\"seconds\":";
  out += seconds;
  out += ",\"result\":";
  out += live.clean() ? "\"clean\"" : "\"fail\"";
  out += "}";
  return out;
}

std::string liveSummary(const LiveResult& live) {
  std::ostringstream out;
  out << "live: target " << live.target_address << ", capture " << live.capture_address << "\n";
  out << "live: sent " << live.lines_sent << " lines, expected " << live.expected
      << " records, received " << live.received << " (matched " << live.matched << ", missing "
      << live.missing << ", duplicated " << live.duplicated << ", unexpected " << live.unexpected
      << ")" << (live.deadline_passed ? ", deadline passed" : "") << "\n";
  for (const auto& record : live.missing_listed) {
    out << "live: MISSING " << record.corpus << ":" << record.line << "\n";
  }
  out << "live: leaks in received records: " << live.leaks_total << "\n";
  for (const auto& leak : live.leaks) {
    out << "live: LEAK " << leak.corpus << ":" << leak.line << " canary " << leak.canary_id << " ("
        << leak.form << ")\n";
  }
  out << "live: result " << (live.clean() ? "clean" : "FAIL") << "\n";
  return out.str();
}

} // namespace scrub::verify
