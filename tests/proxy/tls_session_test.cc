// proxy/tls: a client and a server TlsSession talking to each other in memory (no sockets), with
// a throwaway CA and certificates made by the `openssl` command in a temporary directory.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "proxy/tls/tls_context.h"
#include "proxy/tls/tls_session.h"

using namespace scrub;
using namespace scrub::proxy::tls;

namespace {

// A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, all signed by
// the CA, plus a second CA that signed nothing here. Made once per test run.
class Pki {
public:
  static const Pki& get() {
    static const Pki pki;
    return pki;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

private:
  Pki() {
    std::string pattern = (std::filesystem::temp_directory_path() / "scrub-tls-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
    std::ofstream(dir_ / "server.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    const std::string d = dir_.string();
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    run("openssl req -x509" + key + " -keyout " + d + "/ca.key -out " + d +
        "/ca.crt -days 2 -subj /CN=scrub-test-ca");
    run("openssl req -x509" + key + " -keyout " + d + "/other-ca.key -out " + d +
        "/other-ca.crt -days 2 -subj /CN=scrub-other-ca");
    for (const std::string name : {"server", "client"}) {
      run("openssl req" + key + " -keyout " + d + "/" + name + ".key -out " + d + "/" + name +
          ".csr -subj /CN=" + (name == "server" ? "localhost" : "scrub-client"));
      run("openssl x509 -req -in " + d + "/" + name + ".csr -CA " + d + "/ca.crt -CAkey " + d +
          "/ca.key -set_serial 7 -days 2 -out " + d + "/" + name + ".crt -extfile " + d + "/" +
          name + ".ext");
    }
  }
  ~Pki() { std::filesystem::remove_all(dir_); }
  static void run(const std::string& command) {
    REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
  }
  std::filesystem::path dir_;
};

config::TlsServerConfig serverConfig() {
  const Pki& pki = Pki::get();
  config::TlsServerConfig config;
  config.cert_file = pki.path("server.crt");
  config.key_file = pki.path("server.key");
  return config;
}

config::TlsClientConfig clientConfig() {
  config::TlsClientConfig config;
  config.ca_file = Pki::get().path("ca.crt");
  return config;
}

TlsContextPtr make(Result<TlsContextPtr> result) {
  INFO((result.ok() ? std::string() : result.error().message));
  REQUIRE(result.ok());
  return *result;
}

// Moves ciphertext both ways until neither side has anything to send.
void pump(TlsSession& a, TlsSession& b) {
  for (int round = 0; round < 20; ++round) {
    std::string to_b;
    std::string to_a;
    a.takeOutput(to_b);
    b.takeOutput(to_a);
    if (to_a.empty() && to_b.empty()) {
      return;
    }
    b.feed(to_b);
    a.feed(to_a);
  }
}

std::string readAll(TlsSession& session, TlsSession::ReadStatus* last = nullptr) {
  std::string text;
  char buffer[7]; // small on purpose: reads come in pieces
  for (;;) {
    const auto result = session.read(buffer);
    if (result.status != TlsSession::ReadStatus::Data) {
      if (last != nullptr) {
        *last = result.status;
      }
      return text;
    }
    text.append(buffer, result.n);
  }
}

} // namespace

TEST_CASE("tls session: client and server handshake, exchange data, close_notify", "[tls]") {
  for (const std::string version : {"1.2", "1.3"}) {
    auto server_config = serverConfig();
    server_config.min_version = version;
    TlsSession server(make(TlsContext::server(server_config)));
    TlsSession client(make(TlsContext::client(clientConfig(), "localhost")));
    client.start();
    pump(client, server);
    REQUIRE(client.handshakeDone());
    REQUIRE(server.handshakeDone());
    CHECK(client.description().rfind(version == "1.3" ? "TLSv1.3" : "TLSv1.", 0) == 0);

    REQUIRE(client.write("{\"_id\":1}\n{\"_id\":2}\n"));
    pump(client, server);
    CHECK(readAll(server) == "{\"_id\":1}\n{\"_id\":2}\n");
    REQUIRE(server.write("HTTP/1.1 200 OK\r\n"));
    pump(client, server);
    CHECK(readAll(client) == "HTTP/1.1 200 OK\r\n");

    client.close();
    pump(client, server);
    TlsSession::ReadStatus last{};
    CHECK(readAll(server, &last).empty());
    CHECK(last == TlsSession::ReadStatus::Closed);
  }
}

TEST_CASE("tls session: an IP literal is verified against the IP SANs", "[tls]") {
  TlsSession server(make(TlsContext::server(serverConfig())));
  TlsSession client(make(TlsContext::client(clientConfig(), "127.0.0.1")));
  client.start();
  pump(client, server);
  CHECK(client.handshakeDone());
  CHECK_FALSE(client.failed());
}

TEST_CASE("tls session: verification failures fail the handshake with the verify reason", "[tls]") {
  SECTION("unknown CA") {
    auto config = clientConfig();
    config.ca_file = Pki::get().path("other-ca.crt");
    TlsSession server(make(TlsContext::server(serverConfig())));
    TlsSession client(make(TlsContext::client(config, "localhost")));
    client.start();
    pump(client, server);
    CHECK(client.failed());
    CHECK_FALSE(client.handshakeDone());
    CHECK_THAT(client.error(), Catch::Contains("certificate verify failed"));
    CHECK_THAT(client.error(), Catch::Contains("unable to get local issuer certificate"));
    CHECK(server.failed()); // the client's alert
    CHECK_FALSE(client.write("x"));
  }
  SECTION("wrong host name, also through server_name") {
    auto config = clientConfig();
    TlsSession server(make(TlsContext::server(serverConfig())));
    config.server_name = "logs.example.org";
    TlsSession client(make(TlsContext::client(config, "localhost")));
    client.start();
    pump(client, server);
    CHECK(client.failed());
    CHECK_THAT(client.error(), Catch::Contains("hostname mismatch"));
  }
  SECTION("insecure_skip_verify accepts both") {
    auto config = clientConfig();
    config.ca_file = Pki::get().path("other-ca.crt");
    config.server_name = "logs.example.org";
    config.insecure_skip_verify = true;
    TlsSession server(make(TlsContext::server(serverConfig())));
    TlsSession client(make(TlsContext::client(config, "localhost")));
    client.start();
    pump(client, server);
    CHECK(client.handshakeDone());
  }
}

TEST_CASE("tls session: a server with client_ca_file requires a client certificate", "[tls]") {
  auto server_config = serverConfig();
  server_config.client_ca_file = Pki::get().path("ca.crt");
  auto server_context = make(TlsContext::server(server_config));
  SECTION("without one: refused") {
    TlsSession server(server_context);
    TlsSession client(make(TlsContext::client(clientConfig(), "localhost")));
    client.start();
    pump(client, server);
    // TLS 1.3: the client finishes before the server has judged its (missing) certificate.
    REQUIRE(server.failed());
    CHECK_THAT(server.error(), Catch::Contains("certificate"));
    CHECK_FALSE(server.handshakeDone());
  }
  SECTION("with one signed by the CA: accepted") {
    auto config = clientConfig();
    config.cert_file = Pki::get().path("client.crt");
    config.key_file = Pki::get().path("client.key");
    TlsSession server(server_context);
    TlsSession client(make(TlsContext::client(config, "localhost")));
    client.start();
    pump(client, server);
    CHECK(server.handshakeDone());
    CHECK_THAT(server.peerSubject(), Catch::Contains("scrub-client"));
  }
}

TEST_CASE("tls context: errors name the file and the reason", "[tls]") {
  const Pki& pki = Pki::get();
  auto config = serverConfig();
  SECTION("missing certificate") {
    config.cert_file = pki.path("nope.crt");
    auto result = TlsContext::server(config);
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Catch::Contains("cert_file " + pki.path("nope.crt")));
    CHECK_THAT(result.error().message, Catch::Contains("No such file"));
  }
  SECTION("key of another certificate") {
    config.key_file = pki.path("client.key");
    auto result = TlsContext::server(config);
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Catch::Contains(pki.path("client.key")));
    CHECK_THAT(result.error().message, Catch::Contains("does not match"));
  }
  SECTION("a key file as certificate") {
    config.cert_file = pki.path("server.key");
    auto result = TlsContext::server(config);
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Catch::Contains("not a PEM certificate"));
  }
  SECTION("missing client CA") {
    config.client_ca_file = pki.path("nope-ca.crt");
    auto result = TlsContext::server(config);
    REQUIRE_FALSE(result.ok());
    CHECK_THAT(result.error().message, Catch::Contains("client_ca_file"));
  }
  SECTION("description names the serial") {
    auto context = make(TlsContext::server(config));
    CHECK_THAT(context->description(), Catch::Contains("serial 07"));
    CHECK_THAT(context->description(),
               Catch::Contains("CN = localhost") || Catch::Contains("CN=localhost"));
  }
}
