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

} // namespace scrub::proxy::tls
