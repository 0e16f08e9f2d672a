#include "proxy/tls/tls_write.h"

#include <memory>

#include "proxy/logging.h"

namespace scrub::proxy::tls {
namespace {

struct Write {
  uv_write_t req{};
  std::string bytes;
};

void onWritten(uv_write_t* req, int) {
  // Errors show up on the connection's next read; UV_ECANCELED comes before the stream's close
  // callback, so the owner never needs to know about this request.
  delete static_cast<Write*>(req->data);
}

} // namespace

int sendPending(TlsSession& session, uv_stream_t* stream) {
  auto write = std::make_unique<Write>();
  if (!session.takeOutput(write->bytes)) {
    return 0;
  }
  uv_buf_t buf = uv_buf_init(write->bytes.data(), static_cast<unsigned>(write->bytes.size()));
  const int sent = uv_try_write(stream, &buf, 1);
  if (sent == static_cast<int>(write->bytes.size())) {
    return 0;
  }
  if (sent < 0 && sent != UV_EAGAIN) {
    return sent;
  }
  const size_t skip = sent > 0 ? static_cast<size_t>(sent) : 0;
  buf = uv_buf_init(write->bytes.data() + skip, static_cast<unsigned>(write->bytes.size() - skip));
  write->req.data = write.get();
  if (const int rc = uv_write(&write->req, stream, &buf, 1, onWritten); rc < 0) {
    return rc;
  }
  write.release(); // freed in onWritten
  return 0;
}

PumpEnd finishRound(TlsSession& session, uv_stream_t* stream, TlsSession::ReadStatus last,
                    bool& established, uint64_t connection_id) {
  const int rc = sendPending(session, stream);
  if (!established && session.handshakeDone()) {
    established = true;
    connLog().info("connection {}: TLS established ({}{})", connection_id, session.description(),
                   session.peerSubject().empty() ? "" : ", client " + session.peerSubject());
  }
  if (session.failed()) {
    return {PumpEnd::Kind::Failed, "TLS: " + session.error(), !established};
  }
  if (last == TlsSession::ReadStatus::Closed) {
    return {PumpEnd::Kind::PeerClosed, "closed by the client (close_notify)"};
  }
  if (rc < 0) {
    return {PumpEnd::Kind::WriteFailed, uv_strerror(rc)};
  }
  return {};
}

} // namespace scrub::proxy::tls
