#include "net/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/bytes.h"

namespace longlink::net {

Result<ListenAddress> ParseListenAddress(std::string_view s) {
  ListenAddress out;
  std::string_view host, port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return Status::Invalid("expected [HOST]:PORT");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return Status::Invalid("expected HOST:PORT");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  auto p = ParseUint(port, 65535);
  if (!p) return Status::Invalid("bad port '" + std::string(port) + "'");
  out.port = int(*p);
  out.host = host.empty() ? "0.0.0.0" : std::string(host);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_str = std::to_string(out.port);
  int rc = getaddrinfo(out.host.c_str(), port_str.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    return Status::Invalid("cannot resolve host '" + out.host + "': " + gai_strerror(rc));
  }
  std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  freeaddrinfo(res);
  return out;
}

static void SetPort(ListenAddress* a, int port) {
  if (a->addr.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&a->addr)->sin6_port = htons(uint16_t(port));
  } else {
    reinterpret_cast<sockaddr_in*>(&a->addr)->sin_port = htons(uint16_t(port));
  }
  a->port = port;
}

Result<std::vector<int>> OpenListeners(ListenAddress* addr, int count, int backlog) {
  std::vector<int> fds;
  auto fail = [&](const char* what) -> Status {
    int e = errno;
    for (int fd : fds) ::close(fd);
    return Status::Error(-e, std::string(what) + " " + FormatAddress(*addr) + ": " +
                                 std::strerror(e));
  };
  if (addr->port != 0) {
    // SO_REUSEPORT would let this process share the port with another
    // listener of the same user (a second longlink, or anything else), and
    // the kernel would split the connections between them. A bind without
    // it fails if anyone listens there: then this process refuses to start.
    int fd = ::socket(addr->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // TIME_WAIT is fine
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr->addr), addr->len);
    int e = errno;
    ::close(fd);
    if (rc != 0) {
      errno = e;
      return fail("bind");
    }
  }
  for (int i = 0; i < count; i++) {
    int fd = ::socket(addr->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("socket");
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      fds.push_back(fd);
      return fail("SO_REUSEPORT on");
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr->addr), addr->len) != 0) {
      fds.push_back(fd);
      return fail("bind");
    }
    if (addr->port == 0) {
      sockaddr_storage got{};
      socklen_t len = sizeof(got);
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len);
      int port = got.ss_family == AF_INET6
                     ? ntohs(reinterpret_cast<sockaddr_in6*>(&got)->sin6_port)
                     : ntohs(reinterpret_cast<sockaddr_in*>(&got)->sin_port);
      SetPort(addr, port);
    }
    if (::listen(fd, backlog) != 0) {
      fds.push_back(fd);
      return fail("listen on");
    }
    fds.push_back(fd);
  }
  return fds;
}

std::string FormatAddress(const ListenAddress& addr) {
  bool v6 = addr.host.find(':') != std::string::npos;
  return (v6 ? "[" + addr.host + "]" : addr.host) + ":" + std::to_string(addr.port);
}

}  // namespace longlink::net
