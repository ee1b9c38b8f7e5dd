// Server: runs the real longlink binary (LL_BINARY, or $LONGLINK_BINARY when
// set) for one integration test. It adds `--listen 127.0.0.1:0` (unless the
// test passes its own --listen) and a fresh temporary `--data-dir`, captures
// stderr through a pipe drained by a background thread (so the server never
// blocks on a full pipe), and learns the port from the "listening on
// 127.0.0.1:<port>" log line. The destructor stops a still-running server
// with SIGTERM and checks (doctest CHECK) that it exits 0 within 10 s, else
// kills it with SIGKILL; then it removes the data directory. Declare clients
// after the Server so they close first. The child also gets
// PR_SET_PDEATHSIG, so a crashed test leaves no server behind.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/tcp_conn.h"

namespace longlink::test {

class Server {
 public:
  // `args` come after the binary name; --listen and --data-dir are added
  // when absent.
  explicit Server(std::vector<std::string> args);
  // The echo configuration: EchoArgs().
  Server();
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // `--echo --threads 2 --auth none --storage memory`, plus `extra`.
  static std::vector<std::string> EchoArgs(std::vector<std::string> extra = {});

  // Starts the process and waits for the listening line. False (with the
  // reason in error()) if it exits or does not log the line in time.
  bool Start(Duration timeout = 10s);

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& error() const { return error_; }
  // Everything the server wrote to stderr so far; Tail: the last `n` bytes.
  std::string Stderr() const;
  std::string StderrTail(size_t n = 4000) const;
  // Waits until stderr contains `needle`.
  bool WaitForLog(std::string_view needle, Duration timeout = kIoTimeout) const;

  // True while the process has not exited (reaps it if it has).
  bool Alive();
  bool Signal(int sig);
  // Waits for exit; returns the waitpid status, or nullopt on timeout.
  std::optional<int> Wait(Duration timeout);

 private:
  void DrainStderr(int fd);

  std::vector<std::string> args_;
  std::string data_dir_;
  std::string error_;
  pid_t pid_ = -1;
  std::optional<int> status_;  // set once reaped
  uint16_t port_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string stderr_;       // guarded by mu_
  bool stderr_eof_ = false;  // guarded by mu_
};

// "exited 0", "exited 3", "killed by signal 9".
std::string DescribeStatus(int wait_status);

// Runs LL_BINARY with `args` in a temporary working directory, stdin from
// /dev/null, and captures stdout and stderr. Killed with SIGKILL after
// `timeout`.
struct RunResult {
  int status = -1;  // waitpid status
  bool timed_out = false;
  std::string out, err;
  bool exited() const;
  int exit_code() const;  // -1 unless it exited normally
};
RunResult RunBinary(const std::vector<std::string>& args, Duration timeout = 5s);

// Number of lines in `s` ("a\n" is 1, "a\nb" is 2, "" is 0).
int CountLines(std::string_view s);

}  // namespace longlink::test

// Attaches the tail of the server's stderr to every later failing assertion
// in the scope (lazily: only formatted when an assertion fails).
#define LL_SERVER_INFO(srv) INFO("server stderr (tail):\n" << (srv).StderrTail())

// Starts `srv` or fails the test with its stderr, then attaches its stderr to
// later failures in the scope.
#define LL_START(srv)                            \
  REQUIRE_MESSAGE((srv).Start(), (srv).error()); \
  LL_SERVER_INFO(srv)
