// TcpConn implementation: non-blocking socket + poll() with deadlines.
#include "support/tcp_conn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace longlink::test {

std::ostream& operator<<(std::ostream& os, IoStatus s) {
  switch (s) {
    case IoStatus::kOk:
      return os << "ok";
    case IoStatus::kEof:
      return os << "eof";
    case IoStatus::kTimeout:
      return os << "timeout";
    case IoStatus::kError:
      return os << "error";
  }
  return os << "?";
}

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? int(left.count()) : 0;
}

long RaiseFdLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return -1;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return long(rl.rlim_cur);
}

TcpConn::~TcpConn() {
  Close();
}

TcpConn::TcpConn(TcpConn&& other) noexcept
    : fd_(other.fd_),
      reset_(other.reset_),
      in_(std::move(other.in_)),
      error_(std::move(other.error_)) {
  other.fd_ = -1;
}

TcpConn& TcpConn::operator=(TcpConn&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    reset_ = other.reset_;
    in_ = std::move(other.in_);
    error_ = std::move(other.error_);
    other.fd_ = -1;
  }
  return *this;
}

bool TcpConn::Connect(uint16_t port, Duration timeout) {
  Close();
  in_.clear();
  reset_ = false;
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + strerror(errno);
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) {
      error_ = std::string("connect: ") + strerror(errno);
      Close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    int n = poll(&p, 1, int(timeout.count()));
    int err = 0;
    socklen_t len = sizeof(err);
    if (n <= 0 || getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      error_ = n <= 0 ? "connect: timeout" : std::string("connect: ") + strerror(err);
      Close();
      return false;
    }
  }
  return true;
}

void TcpConn::SetNoDelay() {
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

long TcpConn::TrySend(std::string_view data) {
  ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
  if (n >= 0)
    return long(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return 0;
  error_ = std::string("send: ") + strerror(errno);
  return -1;
}

bool TcpConn::SendAll(std::string_view data, Duration timeout) {
  if (fd_ < 0)
    return false;
  auto deadline = Clock::now() + timeout;
  while (!data.empty()) {
    long n = TrySend(data);
    if (n < 0)
      return false;
    data.remove_prefix(size_t(n));
    if (data.empty())
      break;
    pollfd p{fd_, POLLOUT, 0};
    int r = poll(&p, 1, MsLeft(deadline));
    if (r == 0) {
      error_ = "send: timeout";
      return false;
    }
    if (r < 0 && errno != EINTR)
      return false;
  }
  return true;
}

IoStatus TcpConn::Fill(Clock::time_point deadline) {
  if (fd_ < 0)
    return IoStatus::kError;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      in_.append(buf, size_t(n));
      return IoStatus::kOk;
    }
    if (n == 0)
      return IoStatus::kEof;
    if (errno == ECONNRESET) {
      reset_ = true;
      return IoStatus::kEof;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      error_ = std::string("recv: ") + strerror(errno);
      return IoStatus::kError;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, MsLeft(deadline));
    if (r == 0)
      return IoStatus::kTimeout;
    if (r < 0 && errno != EINTR)
      return IoStatus::kError;
  }
}

IoStatus TcpConn::FillTo(size_t n, Clock::time_point deadline) {
  while (in_.size() < n) {
    IoStatus s = Fill(deadline);
    if (s != IoStatus::kOk)
      return s;
  }
  return IoStatus::kOk;
}

IoStatus TcpConn::ReadUntil(std::string_view delim, std::string* out, Duration timeout) {
  auto deadline = Clock::now() + timeout;
  size_t from = 0;
  for (;;) {
    size_t pos = in_.find(delim, from);
    if (pos != std::string::npos) {
      out->assign(in_, 0, pos + delim.size());
      in_.erase(0, pos + delim.size());
      return IoStatus::kOk;
    }
    from = in_.size() >= delim.size() ? in_.size() - delim.size() + 1 : 0;
    IoStatus s = Fill(deadline);
    if (s != IoStatus::kOk)
      return s;
  }
}

bool TcpConn::WaitClosed(Duration timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    IoStatus s = Fill(deadline);
    if (s == IoStatus::kEof)
      return true;
    if (s != IoStatus::kOk)
      return false;
  }
}

void TcpConn::ShutdownWrite() {
  if (fd_ >= 0)
    shutdown(fd_, SHUT_WR);
}

void TcpConn::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace longlink::test
