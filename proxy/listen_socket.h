#pragma once

// Opens the listening sockets of one listener before any worker starts, so that an address in
// use stops start-up with nothing half-started.
//
// TCP: one socket per worker, each with SO_REUSEPORT set before bind(), so the kernel spreads
// new connections over the workers (libuv 1.44 has no flag for it). With port 0 the first bind
// picks the port and the others join it. Because SO_REUSEPORT would also let us silently share
// a port with another process of the same user, the address is first probed without it: a
// listener already there makes start-up fail with "address already in use".
//
// Unix: one socket, duplicated for every worker. All workers' loops wait on it and whichever
// accepts first takes the connection (SO_REUSEPORT does not apply to unix sockets). A stale
// socket file that nothing answers on is replaced; a live one is "address already in use".

#include <string>
#include <vector>

#include "config/proxy_config.h"
#include "rules/result.h"

namespace scrub::proxy {

struct BoundListener {
  config::Address address; // with the port the kernel chose
  std::vector<int> fds;    // one per worker, bound and listening; owned until taken
  std::string unix_path;   // the socket file to remove at exit (unix only)
};

// Listen backlog: large enough that a burst of connections is queued, not refused (the kernel
// caps it at net.core.somaxconn).
inline constexpr int kListenBacklog = 4096;

Result<BoundListener> bindListener(const config::Address& address, unsigned workers);

// Closes whatever fds are still owned and removes the unix socket file.
void closeListener(BoundListener& listener);

} // namespace scrub::proxy
