#pragma once

// Sends the ciphertext a TlsSession produced on a uv stream: what the kernel takes at once
// (uv_try_write, which also lets a close_notify or an alert out before an immediate uv_close),
// the rest with a uv_write that owns its copy until its callback. Writes stay in order: libuv
// refuses uv_try_write while earlier writes are queued.

#include <uv.h>

#include <string>

#include "proxy/tls/tls_session.h"

namespace scrub::proxy::tls {

// Takes everything `session` has for the peer and sends it. 0, or a negative UV error (the
// connection is then broken; the caller closes it).
int sendPending(TlsSession& session, uv_stream_t* stream);

// How a connection stands after a round of reading what `session` decrypted.
struct PumpEnd {
  enum class Kind : uint8_t {
    Open,        // carry on
    Failed,      // the TLS session failed (handshake or record): `why` says how
    PeerClosed,  // the peer sent close_notify
    WriteFailed, // sending the session's output failed
  };
  Kind kind = Kind::Open;
  std::string why;        // for the connection's close log line
  bool handshake = false; // Failed: before the handshake completed (a client refused)
};

// The end of every TLS read round, for line and HTTP connections alike: sends what the session
// has for the peer (handshake messages, the alert that says why it failed), logs the
// established handshake once (`established` remembers), and says whether the connection must
// close. `last` is the status of the round's last read.
PumpEnd finishRound(TlsSession& session, uv_stream_t* stream, TlsSession::ReadStatus last,
                    bool& established, uint64_t connection_id);

} // namespace scrub::proxy::tls
