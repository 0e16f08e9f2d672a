#include "proxy/listen_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace scrub::proxy {
namespace {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
};

Result<SockAddr> resolve(const config::Address& address) {
  SockAddr out;
  const std::string host = address.host == "localhost" ? "127.0.0.1" : address.host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    out.length = sizeof(sockaddr_in);
    out.family = AF_INET;
    return out;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    out.length = sizeof(sockaddr_in6);
    out.family = AF_INET6;
    return out;
  }
  return Error{"cannot listen on " + address.url() + ": not an IP address"};
}

std::string failure(const config::Address& address, int err) {
  std::string why = std::strerror(err);
  for (auto& c : why) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return "cannot listen on " + address.url() + ": " + why;
}

// Opens a TCP socket for `addr`; with reuse_port, SO_REUSEPORT is set before bind().
Result<int> openTcp(const config::Address& address, const SockAddr& addr, bool reuse_port,
                    bool listen_now) {
  const int fd = ::socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return Error{failure(address, errno)};
  }
  const int one = 1;
  // SO_REUSEADDR: a restart does not wait for old connections in TIME_WAIT. It never lets two
  // listeners share a port; SO_REUSEPORT (set on our own sockets only) does.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    const int err = errno;
    ::close(fd);
    return Error{failure(address, err)};
  }
  if (addr.family == AF_INET6) {
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0 ||
      (listen_now && ::listen(fd, kListenBacklog) != 0)) {
    const int err = errno;
    ::close(fd);
    return Error{failure(address, err)};
  }
  return fd;
}

Result<BoundListener> bindTcp(const config::Address& address, unsigned workers) {
  auto resolved = resolve(address);
  if (!resolved.ok()) {
    return resolved.error();
  }
  SockAddr addr = *resolved;
  BoundListener bound;
  bound.address = address;
  if (address.port != 0) {
    // The probe: without SO_REUSEPORT, bind() fails if anything listens here already, also
    // another process that set SO_REUSEPORT itself.
    auto probe = openTcp(address, addr, /*reuse_port=*/false, /*listen_now=*/false);
    if (!probe.ok()) {
      return probe.error();
    }
    ::close(*probe);
  }
  for (unsigned i = 0; i < workers; ++i) {
    auto fd = openTcp(bound.address, addr, /*reuse_port=*/true, /*listen_now=*/true);
    if (!fd.ok()) {
      closeListener(bound);
      return fd.error();
    }
    bound.fds.push_back(*fd);
    if (i == 0 && address.port == 0) {
      // Everyone else binds the port the kernel gave the first socket.
      sockaddr_storage actual{};
      socklen_t length = sizeof actual;
      ::getsockname(*fd, reinterpret_cast<sockaddr*>(&actual), &length);
      const uint16_t port = addr.family == AF_INET6
                                ? ntohs(reinterpret_cast<sockaddr_in6*>(&actual)->sin6_port)
                                : ntohs(reinterpret_cast<sockaddr_in*>(&actual)->sin_port);
      bound.address.port = port;
      if (addr.family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(&addr.storage)->sin6_port = htons(port);
      } else {
        reinterpret_cast<sockaddr_in*>(&addr.storage)->sin_port = htons(port);
      }
    }
  }
  return bound;
}

Result<BoundListener> bindUnix(const config::Address& address, unsigned workers) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, address.path.c_str(), address.path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return Error{failure(address, errno)};
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    if (err == EADDRINUSE) {
      // Is anyone answering there? If not, the file is left over from a process that died.
      const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<const sockaddr*>(&addr),
                                                sizeof addr) == 0;
      const int probe_err = errno;
      if (probe >= 0) {
        ::close(probe);
      }
      if (!live && probe_err == ECONNREFUSED && ::unlink(address.path.c_str()) == 0 &&
          ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
        err = 0;
      }
    }
    if (err != 0) {
      ::close(fd);
      return Error{failure(address, err)};
    }
  }
  BoundListener bound;
  bound.address = address;
  bound.unix_path = address.path;
  if (::listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(address.path.c_str());
    return Error{failure(address, err)};
  }
  bound.fds.push_back(fd);
  for (unsigned i = 1; i < workers; ++i) {
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      const int err = errno;
      closeListener(bound);
      return Error{failure(address, err)};
    }
    bound.fds.push_back(copy);
  }
  return bound;
}

} // namespace

Result<BoundListener> bindListener(const config::Address& address, unsigned workers) {
  if (address.kind == config::Address::Kind::Unix) {
    return bindUnix(address, workers);
  }
  return bindTcp(address, workers);
}

void closeListener(BoundListener& listener) {
  for (const int fd : listener.fds) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  listener.fds.clear();
  if (!listener.unix_path.empty()) {
    ::unlink(listener.unix_path.c_str());
    listener.unix_path.clear();
  }
}

} // namespace scrub::proxy
