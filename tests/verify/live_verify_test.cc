// `scrubproxy verify --live` against the real proxy binary over real sockets: verify listens on
// its capture port, the proxy's sink points there, and verify sends the corpus to the proxy.
// Nothing waits by sleeping: each step waits for a line on a child's stderr, with a deadline.

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/verify/verify_test_support.h"

namespace {

using scrub::testing::readFile;
using scrub::testing::runScrubproxy;
using scrub::testing::ScratchDir;

constexpr auto kDeadline = std::chrono::seconds(60);

// A child `scrubproxy ARGS` with stdin on a pipe, stdout to a file and stderr collected by a
// thread so the child never blocks on a full pipe.
class Child {
public:
  Child(const std::vector<std::string>& args, const std::string& stdout_path) {
    int in[2];
    int err[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(err[1], 2);
      const int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(out, 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(SCRUB_BINARY));
      for (const auto& arg : args) {
        argv.push_back(const_cast<char*>(arg.c_str()));
      }
      argv.push_back(nullptr);
      ::execv(SCRUB_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(err[1]);
    stdin_ = in[1];
    stderr_ = err[0];
    reader_ = std::thread([this] {
      char buffer[4096];
      ssize_t n = 0;
      while ((n = ::read(stderr_, buffer, sizeof buffer)) > 0) {
        const std::lock_guard lock(mutex_);
        log_.append(buffer, static_cast<size_t>(n));
        changed_.notify_all();
      }
      const std::lock_guard lock(mutex_);
      eof_ = true;
      changed_.notify_all();
    });
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (stdin_ >= 0) {
      ::close(stdin_);
    }
    if (reader_.joinable()) {
      reader_.join();
    }
    ::close(stderr_);
  }

  // The first capture group of `pattern` in the stderr collected so far, waiting for it.
  std::string waitFor(const std::string& pattern) {
    const std::regex re(pattern);
    std::unique_lock lock(mutex_);
    std::smatch match;
    const bool found = changed_.wait_for(
        lock, kDeadline, [&] { return std::regex_search(log_, match, re) || eof_; });
    INFO("stderr so far:\n" << log_);
    REQUIRE(found);
    REQUIRE(std::regex_search(log_, match, re));
    return match[1].str();
  }

  void writeStdin(const std::string& text) {
    REQUIRE(::write(stdin_, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  }

  int wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void terminate() { ::kill(pid_, SIGTERM); }
  std::string log() {
    const std::lock_guard lock(mutex_);
    return log_;
  }

private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int stdin_ = -1;
  int stderr_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;
  bool eof_ = false;
};

struct LiveRun {
  int exit_code = -1;
  std::string out;
  std::string report;
  std::string verify_log;
};

// verify first (capture on port 0), then the proxy with its sink on that port, then verify
// learns the proxy's listen port on stdin.
// With `rules` empty both sides run their default pack; otherwise both run that file (verify
// computes the expected records with the rules the proxy was given).
// `scheme` is the capture's (the proxy's sink), `target` the proxy listener's: tcp, http, or
// https (then the proxy gets a config file with dir's cert.pem / key.pem, and verify trusts
// cert.pem through --target-ca).
LiveRun runLive(ScratchDir& dir, const std::string& rules, const std::string& scheme = "tcp",
                const std::string& target = "tcp") {
  std::vector<std::string> verify_args = {"verify",       "--live",
                                          "--capture",    scheme + "://127.0.0.1:0",
                                          "--target",     "-",
                                          "--corpus",     dir.file("corpus.jsonl"),
                                          "--canaries",   dir.file("canaries.txt"),
                                          "--report",     dir.file("report.json"),
                                          "--deadline",   "60s",
                                          "--max-listed", "20"};
  if (!rules.empty()) {
    verify_args.push_back("--rules");
    verify_args.push_back(rules);
  }
  if (target == "https") {
    verify_args.push_back("--target-ca");
    verify_args.push_back(dir.file("cert.pem"));
  }
  Child verify(verify_args, dir.file("verify.out"));
  const std::string capture_port =
      verify.waitFor("capture listening on " + scheme + R"(://127\.0\.0\.1:(\d+))");
  std::vector<std::string> proxy_args = {"run", "--listen", target + "://127.0.0.1:0", "--sink",
                                         scheme + "://127.0.0.1:" + capture_port +
                                             (scheme == "http" ? "/capture" : "")};
  if (!rules.empty()) {
    proxy_args.push_back("--rules");
    proxy_args.push_back(rules);
  }
  if (target == "https") { // a TLS listener needs its certificate from a config file
    std::ofstream(dir.file("proxy.yaml"))
        << "version: 1\nlisteners:\n  - listen: https://127.0.0.1:0\n    tls:\n"
        << "      cert_file: " << dir.file("cert.pem")
        << "\n      key_file: " << dir.file("key.pem") << "\nsinks:\n  - address: " << proxy_args[4]
        << "\n";
    proxy_args = {"run", "--config", dir.file("proxy.yaml")};
  }
  Child proxy(proxy_args, dir.file("proxy.out"));
  const std::string listen_port =
      proxy.waitFor("listening on " + target + R"(://127\.0\.0\.1:(\d+) )");
  verify.writeStdin(target + "://127.0.0.1:" + listen_port +
                    (target.starts_with("http") ? "/v1/logs" : "") + "\n");
  LiveRun run;
  run.exit_code = verify.wait();
  run.verify_log = verify.log();
  proxy.terminate();
  proxy.wait();
  run.out = readFile(dir.file("verify.out"));
  run.report = readFile(dir.file("report.json"));
  return run;
}

void makeCorpus(ScratchDir& dir) {
  const auto gen =
      runScrubproxy("gen-corpus --lines 2000 --seed 3 --canaries '" + dir.file("canaries.txt") +
                    "' --out '" + dir.file("corpus.jsonl") + "'");
  REQUIRE(gen.exit_code == 0);
}

} // namespace

TEST_CASE("verify --live: a clean proxy delivers every expected record, no leak",
          "[verify][live]") {
  ScratchDir dir;
  makeCorpus(dir);
  const LiveRun run = runLive(dir, "");
  INFO(run.out << run.verify_log);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("missing 0,") != std::string::npos);
  CHECK(run.out.find("live: result clean") != std::string::npos);
  CHECK(run.report.find("\"live\":{") != std::string::npos);
  CHECK(run.report.find("\"missing\":0,") != std::string::npos);
  CHECK(run.report.find("\"leaks_total\":0,") != std::string::npos);
  CHECK(run.report.find("\"deadline_passed\":false") != std::string::npos);
}

TEST_CASE("verify --live --capture http://: acts as the proxy's HTTP sink", "[verify][live]") {
  ScratchDir dir;
  makeCorpus(dir);
  const LiveRun run = runLive(dir, "", "http");
  INFO(run.out << run.verify_log);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("missing 0,") != std::string::npos);
  CHECK(run.out.find("duplicated 0,") != std::string::npos);
  CHECK(run.out.find("live: result clean") != std::string::npos);
  CHECK(run.report.find("\"capture\":\"http://127.0.0.1:") != std::string::npos);
}

TEST_CASE("verify --live --target http://: posts the corpus to the proxy's HTTP ingress",
          "[verify][live]") {
  ScratchDir dir;
  makeCorpus(dir);
  const LiveRun run = runLive(dir, "", "http", "http");
  INFO(run.out << run.verify_log);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("missing 0,") != std::string::npos);
  CHECK(run.out.find("live: result clean") != std::string::npos);
  CHECK(run.report.find("\"target\":\"http://127.0.0.1:") != std::string::npos);
}

TEST_CASE("verify --live --target https://: posts over TLS, verified with --target-ca",
          "[verify][live]") {
  ScratchDir dir;
  makeCorpus(dir);
  // A throwaway self-signed certificate for 127.0.0.1, made here (no key in the repo).
  const std::string make_cert =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
      "subjectAltName=IP:127.0.0.1 -keyout '" +
      dir.file("key.pem") + "' -out '" + dir.file("cert.pem") + "' >/dev/null 2>&1";
  REQUIRE(std::system(make_cert.c_str()) == 0);
  const LiveRun run = runLive(dir, "", "tcp", "https");
  INFO(run.out << run.verify_log);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("missing 0,") != std::string::npos);
  CHECK(run.out.find("live: result clean") != std::string::npos);
  CHECK(run.report.find("\"target\":\"https://127.0.0.1:") != std::string::npos);
}

TEST_CASE("verify --live: a proxy on weak rules is caught leaking", "[verify][live]") {
  ScratchDir dir;
  makeCorpus(dir);
  {
    std::ofstream weak(dir.file("weak.yaml"));
    weak << "version: 1\nname: weak-for-live-tests\npolicy: allowlist\nkeep:\n"
            "  - 'message[]'\n  - '**._id'\n";
  }
  const LiveRun run = runLive(dir, dir.file("weak.yaml"));
  INFO(run.out << run.verify_log);
  CHECK(run.exit_code == 1);
  CHECK(run.out.find("missing 0,") != std::string::npos); // every record arrived, and leaked
  CHECK(run.out.find("live: LEAK ") != std::string::npos);
  CHECK(run.out.find("live: result FAIL") != std::string::npos);
  CHECK(run.report.find("\"leaks_total\":0,") == std::string::npos);
}

TEST_CASE("verify --live: usage and connection errors exit 2", "[verify][live]") {
  ScratchDir dir;
  makeCorpus(dir);
  const std::string inputs =
      " --corpus '" + dir.file("corpus.jsonl") + "' --canaries '" + dir.file("canaries.txt") + "'";
  const auto https = runScrubproxy("verify --live --target https://127.0.0.1:1/v1/logs --capture "
                                   "tcp://127.0.0.1:0 --deadline 300ms" +
                                       inputs,
                                   true);
  CHECK(https.exit_code == 2);
  CHECK(https.out.find("cannot connect") != std::string::npos);
  CHECK(runScrubproxy("verify --live --capture tcp://127.0.0.1:0" + inputs).exit_code == 2);
  CHECK(runScrubproxy("verify --target tcp://127.0.0.1:9 --capture tcp://127.0.0.1:0" + inputs)
            .exit_code == 2);
  // Nothing listens on the target (a port just released): connection refused until the deadline.
  const auto refused = runScrubproxy("verify --live --target tcp://127.0.0.1:1 --capture "
                                     "tcp://127.0.0.1:0 --deadline 300ms" +
                                         inputs,
                                     true);
  CHECK(refused.exit_code == 2);
  CHECK(refused.out.find("cannot connect") != std::string::npos);
}
