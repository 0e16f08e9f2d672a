#pragma once

// One TLS connection over memory BIOs, with no I/O of its own: the owner feeds it the
// ciphertext it read from the socket, takes plaintext out, hands it plaintext to encrypt, and
// sends whatever ciphertext it produced (handshake messages, records, alerts) with uv_write.
// All OpenSSL; nothing hand-rolled. Single-threaded, like the connection that owns it.
//
//   feed(ciphertext) -> read(plaintext space)...  ;  write(plaintext) -> takeOutput()
//
// Plaintext never stays in the session: read() decrypts straight into the caller's buffer.
// (OpenSSL's own record buffers are released when idle: SSL_MODE_RELEASE_BUFFERS.)

#include <openssl/ssl.h>

#include <span>
#include <string>
#include <string_view>

#include "proxy/tls/tls_context.h"

namespace scrub::proxy::tls {

class TlsSession {
public:
  // A server session takes the listener's context; a client session verifies the peer as its
  // context says (SNI and host name from context.serverName()).
  explicit TlsSession(TlsContextPtr context);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Starts the handshake (a client's ClientHello lands in the output). A server needs not call
  // it: the first feed() does.
  void start();

  // Ciphertext from the peer. Advances the handshake when it is not done yet.
  void feed(std::string_view ciphertext);

  enum class ReadStatus : uint8_t {
    Data,     // `n` plaintext bytes were written to the buffer
    WantMore, // nothing to read until more ciphertext is fed
    Closed,   // the peer sent close_notify
    Failed,   // a protocol or verification error: see error()
  };
  struct ReadResult {
    ReadStatus status;
    size_t n = 0;
  };
  // Decrypts into `out`. Call until it returns something other than Data.
  ReadResult read(std::span<char> out);

  // Encrypts `plaintext` into the output. False (see error()) when the session cannot send:
  // before the handshake finished, or after a failure.
  bool write(std::string_view plaintext);

  // Queues close_notify.
  void close();

  // Appends the ciphertext waiting to be sent to `out`; true when there was some.
  bool takeOutput(std::string& out);
  bool hasOutput() const;

  bool handshakeDone() const { return handshake_done_; }
  bool failed() const { return failed_; }
  // Why it failed: OpenSSL's reason, and for a certificate that did not verify, the verify
  // result ("certificate verify failed: unable to get local issuer certificate").
  const std::string& error() const { return error_; }
  // After the handshake: "TLSv1.3 TLS_AES_256_GCM_SHA384".
  std::string description() const;
  // The peer certificate's subject, or empty.
  std::string peerSubject() const;

private:
  void handshake();
  void fail(int ssl_error);

  TlsContextPtr context_;
  SSL* ssl_ = nullptr;
  BIO* network_in_ = nullptr;  // ciphertext from the peer (owned by ssl_)
  BIO* network_out_ = nullptr; // ciphertext for the peer (owned by ssl_)
  bool handshake_done_ = false;
  bool failed_ = false;
  bool peer_closed_ = false;
  std::string error_;
};

} // namespace scrub::proxy::tls
