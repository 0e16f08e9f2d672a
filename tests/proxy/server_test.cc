// proxy/server in-process: start-up failures leave nothing open and say what to fix; a running
// server moves lines from clients to a TCP sink with two workers and stops with every event loop
// closed (run() returns 1 if any uv_loop_close() failed).

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "proxy/cli/run_options.h"
#include "proxy/logging.h"
#include "proxy/server.h"

using namespace scrub;
using namespace scrub::proxy;

namespace {

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// A listening socket on 127.0.0.1:0; returns its port.
uint16_t listenLoopback(Fd& fd) {
  fd.fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd.fd, 64) == 0);
  socklen_t length = sizeof addr;
  ::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&addr), &length);
  return ntohs(addr.sin_port);
}

int connectLoopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

uint16_t portOf(const std::string& url) {
  return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

void quietLogs() {
  std::signal(SIGPIPE, SIG_IGN);
  config::LogConfig log;
  log.level = "off";
  setupLogging(log);
}

} // namespace

TEST_CASE("a listen address in use stops start-up with one line and nothing bound",
          "[proxy][server]") {
  quietLogs();
  Fd taken(-1);
  const uint16_t port = listenLoopback(taken);
  auto run = cli::buildRunConfig({"--listen", "tcp://127.0.0.1:" + std::to_string(port), "--listen",
                                  "tcp://127.0.0.1:0", "--workers", "2"});
  REQUIRE(run.ok());
  Server server(std::move(run.config));
  auto failure = server.start();
  REQUIRE(failure);
  CHECK(failure->code == ExitCode::ListenFailed);
  CHECK(failure->message == "cannot listen on tcp://127.0.0.1:" + std::to_string(port) +
                                ": address already in use (listener 'listen1')");
}

TEST_CASE("rules that do not load stop start-up with their file:line:col", "[proxy][server]") {
  quietLogs();
  const auto path = std::filesystem::temp_directory_path() / "scrub-server-test-rules.yaml";
  {
    std::ofstream(path) << "version: 1\nname: broken\npolicy: allowlist\nkeep:\n  - path: _id\n"
                           "    vaule: '[0-9]+'\n";
  }
  auto run = cli::buildRunConfig({"--listen", "tcp://127.0.0.1:0", "--rules", path.string()});
  REQUIRE(run.ok());
  Server server(std::move(run.config));
  auto failure = server.start();
  REQUIRE(failure);
  CHECK(failure->code == ExitCode::RulesInvalid);
  CHECK(failure->message.starts_with(path.string() + ":6:5: "));
  CHECK(failure->message.find("vaule") != std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("a sink host that does not exist stops start-up", "[proxy][server]") {
  quietLogs();
  auto run = cli::buildRunConfig(
      {"--listen", "tcp://127.0.0.1:0", "--sink", "tcp://no-such-host.invalid:514"});
  REQUIRE(run.ok());
  Server server(std::move(run.config));
  auto failure = server.start();
  REQUIRE(failure);
  CHECK(failure->code == ExitCode::SinkInvalid);
  CHECK(failure->message ==
        "sink 'sink': cannot resolve 'no-such-host.invalid' in tcp://no-such-host.invalid:514");
}

TEST_CASE("the server carries lines from clients to a TCP sink and every loop closes",
          "[proxy][server][uv]") {
  quietLogs();
  Fd sink(-1);
  const uint16_t sink_port = listenLoopback(sink);
  auto run = cli::buildRunConfig({"--listen", "tcp://127.0.0.1:0", "--sink",
                                  "tcp://127.0.0.1:" + std::to_string(sink_port), "--workers", "2",
                                  "--log-level", "off"});
  REQUIRE(run.ok());
  Server server(std::move(run.config));
  REQUIRE_FALSE(server.start());
  const uint16_t port = portOf(server.boundUrls().at(0));
  CHECK(port != 0);
  int exit_code = -1;
  std::thread runner([&] { exit_code = server.run(); });

  constexpr int kClients = 4;
  constexpr int kPerClient = 500;
  for (int c = 0; c < kClients; ++c) {
    Fd client(connectLoopback(port));
    std::string data;
    for (int i = 0; i < kPerClient; ++i) {
      data += R"({"level":"info","_id":)" + std::to_string(c * kPerClient + i + 1) +
              R"(,"secret":"x"})" + "\n";
    }
    REQUIRE(::send(client.fd, data.data(), data.size(), 0) == ssize_t(data.size()));
  }

  // Accept the workers' sink connections and read until every line is there.
  std::vector<pollfd> fds{{sink.fd, POLLIN, 0}};
  std::string received;
  std::vector<Fd*> owned;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::count(received.begin(), received.end(), '\n') < kClients * kPerClient &&
         std::chrono::steady_clock::now() < deadline) {
    REQUIRE(::poll(fds.data(), fds.size(), 100) >= 0);
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) {
        continue;
      }
      if (i == 0) {
        owned.push_back(new Fd(::accept(sink.fd, nullptr, nullptr)));
        fds.push_back({owned.back()->fd, POLLIN, 0});
        continue;
      }
      char chunk[65536];
      const ssize_t n = ::recv(fds[i].fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        received.append(chunk, static_cast<size_t>(n));
      }
    }
  }
  server.requestStop();
  runner.join();
  for (Fd* fd : owned) {
    delete fd;
  }
  CHECK(exit_code == 0);
  std::set<std::string> lines;
  size_t start = 0;
  while (start < received.size()) {
    const size_t end = received.find('\n', start);
    lines.insert(received.substr(start, end - start));
    start = end + 1;
  }
  CHECK(lines.size() == size_t(kClients * kPerClient));
  CHECK(lines.count(R"({"level":"info","_id":1})") == 1);
  CHECK(received.find("secret") == std::string::npos);
}
