#pragma once

// OpenSSL contexts built from the config: one server context per tls:// or https:// listener,
// one client context per tls:// sink. A context is immutable once built and shared: every
// connection takes a reference when it starts, so a context swapped out on SIGHUP lives on in
// the connections that use it (SSL_new also holds its own reference).
//
// The control plane: building reads the certificate, key and CA files and returns an Error that
// names the file and OpenSSL's reason. Nothing here logs.

#include <openssl/ssl.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "config/proxy_config.h"
#include "rules/result.h"

namespace scrub::proxy::tls {

class TlsContext {
public:
  enum class Role : uint8_t { Server, Client };

  // Server: certificate chain and key (they must match), TLS 1.2 or 1.3 minimum, and when
  // client_ca_file is set, a client certificate signed by those CAs is required.
  static Result<std::shared_ptr<const TlsContext>> server(const config::TlsServerConfig& config);
  // Client: verifies the peer against ca_file or the system's CAs (unless insecure_skip_verify),
  // TLS 1.2 minimum, optional client certificate. `server_name` (config.server_name, else the
  // sink's host) is sent as SNI and verified against the certificate.
  static Result<std::shared_ptr<const TlsContext>> client(const config::TlsClientConfig& config,
                                                          const std::string& host);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const { return ctx_; }
  Role role() const { return role_; }
  // Client: the name sent as SNI and checked against the peer's certificate.
  const std::string& serverName() const { return server_name_; }
  bool verifyPeer() const { return verify_peer_; }
  // A short description of the certificate for the log ("subject ..., serial ..."); a client
  // context without one says "no client certificate".
  const std::string& description() const { return description_; }

private:
  TlsContext(SSL_CTX* ctx, Role role) : ctx_(ctx), role_(role) {}

  SSL_CTX* ctx_;
  Role role_;
  std::string server_name_;
  bool verify_peer_ = true;
  std::string description_;
};

using TlsContextPtr = std::shared_ptr<const TlsContext>;

// OpenSSL's queued errors as one line ("reason; reason"), emptying the queue. `fallback` when
// the queue was empty.
std::string takeOpenSslErrors(const char* fallback = "unknown error");

// The context of one TLS listener or tls:// sink. SIGHUP builds a new one on the main thread and
// swaps it in; workers take the current one for each new connection (accepted or, for a sink,
// opened), so established connections keep theirs.
class TlsSlot {
public:
  explicit TlsSlot(TlsContextPtr context) : context_(std::move(context)) {}
  TlsContextPtr get() const {
    std::lock_guard lock(mutex_);
    return context_;
  }
  void set(TlsContextPtr context) {
    std::lock_guard lock(mutex_);
    context_ = std::move(context);
  }

private:
  mutable std::mutex mutex_;
  TlsContextPtr context_;
};

} // namespace scrub::proxy::tls
