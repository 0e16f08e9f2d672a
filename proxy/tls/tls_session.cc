#include "proxy/tls/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <climits>

namespace scrub::proxy::tls {
namespace {

bool isIpLiteral(const std::string& host) {
  unsigned char addr[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 ||
         inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

} // namespace

TlsSession::TlsSession(TlsContextPtr context) : context_(std::move(context)) {
  ssl_ = SSL_new(context_->native());
  network_in_ = BIO_new(BIO_s_mem());
  network_out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || network_in_ == nullptr || network_out_ == nullptr) {
    BIO_free(network_in_);
    BIO_free(network_out_);
    network_in_ = network_out_ = nullptr;
    failed_ = true;
    error_ = "cannot create a TLS session: " + takeOpenSslErrors("out of memory");
    return;
  }
  // An empty memory BIO means "no data yet", not end of file.
  BIO_set_mem_eof_return(network_in_, -1);
  SSL_set_bio(ssl_, network_in_, network_out_);
  if (context_->role() == TlsContext::Role::Server) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  const std::string& name = context_->serverName();
  if (isIpLiteral(name)) {
    // SNI carries host names only; an IP literal is checked against the IP SANs.
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str());
  } else if (!name.empty()) {
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());
  }
}

TlsSession::~TlsSession() {
  SSL_free(ssl_); // frees both BIOs
}

void TlsSession::start() {
  if (!failed_ && !handshake_done_) {
    handshake();
  }
}

void TlsSession::feed(std::string_view ciphertext) {
  if (failed_ || ciphertext.empty()) {
    return;
  }
  // A memory BIO takes everything (it grows); the caller bounds what it reads per call.
  BIO_write(network_in_, ciphertext.data(), static_cast<int>(ciphertext.size()));
  if (!handshake_done_) {
    handshake();
  }
}

void TlsSession::handshake() {
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    handshake_done_ = true;
    return;
  }
  const int error = SSL_get_error(ssl_, rc);
  if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
    fail(error);
  }
}

void TlsSession::fail(int ssl_error) {
  failed_ = true;
  std::string reason =
      takeOpenSslErrors(ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN
                            ? "unexpected end of the TLS stream"
                            : "TLS protocol error");
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    reason += ": " + std::string(X509_verify_cert_error_string(verify));
  }
  error_ = std::move(reason);
}

TlsSession::ReadResult TlsSession::read(std::span<char> out) {
  if (failed_) {
    return {ReadStatus::Failed};
  }
  if (peer_closed_) {
    return {ReadStatus::Closed};
  }
  if (!handshake_done_) {
    return {ReadStatus::WantMore};
  }
  ERR_clear_error();
  size_t n = 0;
  const int want = static_cast<int>(std::min<size_t>(out.size(), INT_MAX));
  const int rc = SSL_read_ex(ssl_, out.data(), static_cast<size_t>(want), &n);
  if (rc == 1) {
    return {ReadStatus::Data, n};
  }
  const int error = SSL_get_error(ssl_, rc);
  switch (error) {
  case SSL_ERROR_WANT_READ:
  case SSL_ERROR_WANT_WRITE:
    return {ReadStatus::WantMore};
  case SSL_ERROR_ZERO_RETURN:
    peer_closed_ = true;
    return {ReadStatus::Closed};
  default:
    fail(error);
    return {ReadStatus::Failed};
  }
}

bool TlsSession::write(std::string_view plaintext) {
  if (failed_ || !handshake_done_) {
    if (error_.empty()) {
      error_ = "TLS handshake not finished";
    }
    return false;
  }
  while (!plaintext.empty()) {
    ERR_clear_error();
    size_t written = 0;
    // Into a memory BIO a write completes whole; the loop is for the INT_MAX-free API's sake.
    if (SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &written) != 1) {
      fail(SSL_get_error(ssl_, 0));
      return false;
    }
    plaintext.remove_prefix(written);
  }
  return true;
}

void TlsSession::close() {
  if (!failed_ && handshake_done_) {
    ERR_clear_error();
    SSL_shutdown(ssl_); // queues close_notify; we do not wait for the peer's
  }
}

bool TlsSession::hasOutput() const {
  return network_out_ != nullptr && BIO_ctrl_pending(network_out_) > 0;
}

bool TlsSession::takeOutput(std::string& out) {
  const size_t pending = network_out_ != nullptr ? BIO_ctrl_pending(network_out_) : 0;
  if (pending == 0) {
    return false;
  }
  const size_t at = out.size();
  out.resize(at + pending);
  const int got = BIO_read(network_out_, out.data() + at, static_cast<int>(pending));
  out.resize(at + static_cast<size_t>(std::max(got, 0)));
  return got > 0;
}

std::string TlsSession::description() const {
  if (!handshake_done_) {
    return "handshake not finished";
  }
  return std::string(SSL_get_version(ssl_)) + " " +
         SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_));
}

std::string TlsSession::peerSubject() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) {
    return {};
  }
  char name[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  return name;
}

} // namespace scrub::proxy::tls
