// TcpConn: a client TCP connection to 127.0.0.1 for integration tests. The
// socket is non-blocking and every operation waits with poll() against a
// deadline, so a server that hangs fails the test instead of hanging it.
// Bytes received but not yet consumed stay in buffer(), which the HTTP and
// WebSocket helpers parse from. Owns its fd; closed in the destructor.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

namespace longlink::test {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr Duration kIoTimeout = 5s;  // default for every read

enum class IoStatus { kOk, kEof, kTimeout, kError };
std::ostream& operator<<(std::ostream& os, IoStatus s);

class TcpConn {
 public:
  TcpConn() = default;
  ~TcpConn();
  TcpConn(TcpConn&& other) noexcept;
  TcpConn& operator=(TcpConn&& other) noexcept;
  TcpConn(const TcpConn&) = delete;
  TcpConn& operator=(const TcpConn&) = delete;

  // Connects to 127.0.0.1:port. False on failure (errno text in error()).
  bool Connect(uint16_t port, Duration timeout = kIoTimeout);
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void SetNoDelay();

  // Writes all of `data` (MSG_NOSIGNAL). False on error (EPIPE, ECONNRESET)
  // or if not everything was written before the timeout.
  bool SendAll(std::string_view data, Duration timeout = 20s);
  // One non-blocking attempt; returns bytes written (0 if the socket buffer is
  // full) or -1 on error.
  long TrySend(std::string_view data);

  // Waits for more bytes and appends them to buffer().
  IoStatus Fill(Clock::time_point deadline);
  // Ensures buffer() holds at least n bytes.
  IoStatus FillTo(size_t n, Clock::time_point deadline);
  // Bytes received and not yet consumed; callers erase what they parse.
  std::string& buffer() { return in_; }

  // Reads until `delim` is in the buffer; moves everything up to and
  // including it into `out`.
  IoStatus ReadUntil(std::string_view delim, std::string* out, Duration timeout = kIoTimeout);

  // Waits for the peer to close (EOF or reset). Bytes that arrive meanwhile
  // are appended to buffer(). True if the connection ended in time.
  bool WaitClosed(Duration timeout = kIoTimeout);
  // True if the last read error was ECONNRESET rather than an orderly EOF.
  bool reset() const { return reset_; }

  void ShutdownWrite();
  void Close();
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  bool reset_ = false;
  std::string in_;
  std::string error_;
};

// Milliseconds left until `deadline` (0 if past), for poll().
int MsLeft(Clock::time_point deadline);

// Raises RLIMIT_NOFILE of this process to its hard limit; returns the new
// soft limit.
long RaiseFdLimit();

}  // namespace longlink::test
