#include "proxy/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace scrub::proxy::tls {
namespace {

struct CtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxOwner = std::unique_ptr<SSL_CTX, CtxDeleter>;

// A file OpenSSL will read: checked first so the message says "cannot read" plainly instead of
// OpenSSL's "system library" wording.
Status readable(const char* key, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return Error{std::string(key) + " " + path + ": cannot read: " + std::strerror(errno)};
  }
  std::fclose(file);
  return Ok{};
}

Status loadCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file,
                             const std::string& key_file) {
  if (auto status = readable("cert_file", cert_file); !status.ok()) {
    return status;
  }
  if (auto status = readable("key_file", key_file); !status.ok()) {
    return status;
  }
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Error{"cert_file " + cert_file + ": not a PEM certificate chain (" +
                 takeOpenSslErrors() + ")"};
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Error{"key_file " + key_file +
                 ": not a PEM private key or it does not match cert_file " + cert_file + " (" +
                 takeOpenSslErrors() + ")"};
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return Error{"key_file " + key_file + " does not match cert_file " + cert_file + " (" +
                 takeOpenSslErrors() + ")"};
  }
  return Ok{};
}

Status loadCaFile(SSL_CTX* ctx, const char* key, const std::string& ca_file) {
  if (auto status = readable(key, ca_file); !status.ok()) {
    return status;
  }
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return Error{std::string(key) + " " + ca_file + ": no PEM CA certificate in it (" +
                 takeOpenSslErrors() + ")"};
  }
  return Ok{};
}

int minVersion(const std::string& text) {
  return text == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
}

// "subject CN=..., serial 1A2B, expires Jan  1 00:00:00 2030 GMT": what an operator compares
// after a reload. Public data only.
std::string describe(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) {
    return "no certificate";
  }
  std::string out = "subject ";
  char name[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  out += name;
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      out += ", serial ";
      out += hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    if (ASN1_TIME_print(bio, X509_get0_notAfter(cert)) == 1) {
      char* data = nullptr;
      const long length = BIO_get_mem_data(bio, &data);
      out += ", expires ";
      out.append(data, static_cast<size_t>(length));
    }
    BIO_free(bio);
  }
  return out;
}

CtxOwner newContext(const SSL_METHOD* method, int min_version) {
  CtxOwner ctx(SSL_CTX_new(method));
  if (!ctx) {
    return ctx;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  // Renegotiation is a DoS vector and nothing here needs it; compression leaks (CRIME).
  // CLEANSE_PLAINTEXT: OpenSSL zeroes its copy of decrypted records once they were read, as we
  // do with every payload buffer we release.
  SSL_CTX_set_options(ctx.get(),
                      SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CLEANSE_PLAINTEXT);
  // Idle connections hold no record buffers.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

} // namespace

std::string takeOpenSslErrors(const char* fallback) {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    char buffer[256];
    if (reason == nullptr) {
      ERR_error_string_n(code, buffer, sizeof buffer);
      reason = buffer;
    }
    if (out.find(reason) == std::string::npos) {
      out += (out.empty() ? "" : "; ") + std::string(reason);
    }
  }
  return out.empty() ? fallback : out;
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

Result<TlsContextPtr> TlsContext::server(const config::TlsServerConfig& config) {
  CtxOwner ctx = newContext(TLS_server_method(), minVersion(config.min_version));
  if (!ctx) {
    return Error{"TLS server context: " + takeOpenSslErrors()};
  }
  if (auto status = loadCertificateAndKey(ctx.get(), config.cert_file, config.key_file);
      !status.ok()) {
    return status.error();
  }
  if (!config.client_ca_file.empty()) {
    if (auto status = loadCaFile(ctx.get(), "client_ca_file", config.client_ca_file);
        !status.ok()) {
      return status.error();
    }
    // The CA names are sent in the CertificateRequest so clients pick the right certificate.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.get(), names);
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  // No session resumption: a resumed session would skip the client-certificate check against a
  // CA that a reload may have changed, and tickets cost a write per connection for nothing.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  static const unsigned char kSessionContext[] = "scrubproxy";
  SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);

  std::shared_ptr<TlsContext> out(new TlsContext(ctx.release(), Role::Server));
  out->description_ = describe(out->ctx_);
  out->verify_peer_ = !config.client_ca_file.empty();
  return TlsContextPtr(std::move(out));
}

Result<TlsContextPtr> TlsContext::client(const config::TlsClientConfig& config,
                                         const std::string& host) {
  CtxOwner ctx = newContext(TLS_client_method(), TLS1_2_VERSION);
  if (!ctx) {
    return Error{"TLS client context: " + takeOpenSslErrors()};
  }
  if (!config.ca_file.empty()) {
    if (auto status = loadCaFile(ctx.get(), "ca_file", config.ca_file); !status.ok()) {
      return status.error();
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return Error{"the system's CA certificates cannot be loaded (" + takeOpenSslErrors() + ")"};
  }
  if (!config.cert_file.empty() || !config.key_file.empty()) {
    if (auto status = loadCertificateAndKey(ctx.get(), config.cert_file, config.key_file);
        !status.ok()) {
      return status.error();
    }
  }
  SSL_CTX_set_verify(ctx.get(), config.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);

  std::shared_ptr<TlsContext> out(new TlsContext(ctx.release(), Role::Client));
  out->server_name_ = config.server_name.empty() ? host : config.server_name;
  out->description_ = config.cert_file.empty() ? "no client certificate" : describe(out->ctx_);
  out->verify_peer_ = !config.insecure_skip_verify;
  return TlsContextPtr(std::move(out));
}

} // namespace scrub::proxy::tls
