// Server and RunBinary: fork/exec of the real binary with pipes. Everything
// the child needs (argv) is built before fork(), since only async-signal-safe
// calls are allowed between fork() and exec() in a threaded process.
#include "support/server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <doctest/doctest.h>

#ifndef LL_BINARY
#error "LL_BINARY must be defined to the path of the longlink binary"
#endif

namespace longlink::test {
namespace {

// LONGLINK_BINARY in the environment overrides the built binary, to run the
// suite against another build (sanitized, installed, or a mutant).
std::string BinaryPath() {
  const char* env = getenv("LONGLINK_BINARY");
  return env != nullptr && *env != '\0' ? env : LL_BINARY;
}

std::string MakeTempDir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr)
    return {};
  return tmpl;
}

bool HasFlag(const std::vector<std::string>& args, std::string_view flag) {
  for (const auto& a : args) {
    if (a == flag || a.rfind(std::string(flag) + "=", 0) == 0)
      return true;
  }
  return false;
}

std::vector<char*> Argv(std::vector<std::string>& full) {
  std::vector<char*> argv;
  for (auto& s : full) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

// In the child: die with the test process, restore default signal handling.
void ChildCommonSetup() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
}

// Parses the port after "listening on <host>:" in `log`; 0 if absent.
uint16_t ParseListeningPort(const std::string& log) {
  size_t pos = log.find("listening on ");
  if (pos == std::string::npos)
    return 0;
  size_t eol = log.find('\n', pos);
  if (eol == std::string::npos)
    return 0;  // wait for the whole line
  std::string line = log.substr(pos, eol - pos);
  size_t sp = line.find(' ', 13);
  std::string addr = line.substr(13, sp == std::string::npos ? std::string::npos : sp - 13);
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos)
    return 0;
  long port = strtol(addr.c_str() + colon + 1, nullptr, 10);
  return port > 0 && port < 65536 ? uint16_t(port) : 0;
}

}  // namespace

std::vector<std::string> Server::EchoArgs(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--echo", "--threads", "2",     "--auth",
                                   "none",   "--storage", "memory"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

Server::Server(std::vector<std::string> args) : args_(std::move(args)) {}

Server::Server() : args_(EchoArgs()) {}

Server::~Server() {
  // Stop a running server the way operators do, so every test also checks a
  // clean exit (and, in sanitizer builds, no leak or error report at exit).
  if (Signal(SIGTERM)) {
    std::optional<int> st = Wait(10s);
    if (st) {
      CHECK_MESSAGE((WIFEXITED(*st) && WEXITSTATUS(*st) == 0),
                    "server " << DescribeStatus(*st) << " on SIGTERM at teardown; stderr tail:\n"
                              << StderrTail());
    } else {
      CHECK_MESSAGE(false, "server still running 10 s after SIGTERM at teardown");
    }
  }
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    int st = 0;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    status_ = st;
  }
  if (reader_.joinable())
    reader_.join();
  if (!data_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
  }
}

bool Server::Start(Duration timeout) {
  data_dir_ = MakeTempDir("longlink-it-");
  if (data_dir_.empty()) {
    error_ = std::string("mkdtemp: ") + strerror(errno);
    return false;
  }
  std::vector<std::string> full = {BinaryPath()};
  full.insert(full.end(), args_.begin(), args_.end());
  if (!HasFlag(args_, "--listen"))
    full.insert(full.end(), {"--listen", "127.0.0.1:0"});
  if (!HasFlag(args_, "--data-dir"))
    full.insert(full.end(), {"--data-dir", data_dir_});
  std::vector<char*> argv = Argv(full);

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    error_ = std::string("pipe: ") + strerror(errno);
    return false;
  }
  pid_ = fork();
  if (pid_ < 0) {
    error_ = std::string("fork: ") + strerror(errno);
    return false;
  }
  if (pid_ == 0) {
    ChildCommonSetup();
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(pipefd[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipefd[1]);
  int rfd = pipefd[0];
  reader_ = std::thread([this, rfd] { DrainStderr(rfd); });

  auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    port_ = ParseListeningPort(stderr_);
    if (port_ != 0)
      return true;
    if (stderr_eof_) {
      error_ = "server exited before listening; stderr:\n" + stderr_;
      return false;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      port_ = ParseListeningPort(stderr_);
      if (port_ != 0)
        return true;
      error_ = "no 'listening on' line within the timeout; stderr:\n" + stderr_;
      return false;
    }
  }
}

void Server::DrainStderr(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      stderr_eof_ = true;
      cv_.notify_all();
      break;
    }
    stderr_.append(buf, size_t(n));
    cv_.notify_all();
  }
  close(fd);
}

std::string Server::Stderr() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stderr_;
}

std::string Server::StderrTail(size_t n) const {
  std::lock_guard<std::mutex> lock(mu_);
  return stderr_.size() <= n ? stderr_ : "..." + stderr_.substr(stderr_.size() - n);
}

bool Server::WaitForLog(std::string_view needle, Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    return stderr_.find(needle) != std::string::npos || stderr_eof_;
  }) && stderr_.find(needle) != std::string::npos;
}

bool Server::Alive() {
  if (pid_ <= 0 || status_)
    return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

bool Server::Signal(int sig) {
  return pid_ > 0 && !status_ && kill(pid_, sig) == 0;
}

std::optional<int> Server::Wait(Duration timeout) {
  auto deadline = Clock::now() + timeout;
  while (Alive()) {
    if (Clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return status_;
}

std::string DescribeStatus(int st) {
  if (WIFEXITED(st))
    return "exited " + std::to_string(WEXITSTATUS(st));
  if (WIFSIGNALED(st))
    return "killed by signal " + std::to_string(WTERMSIG(st));
  return "status " + std::to_string(st);
}

bool RunResult::exited() const {
  return !timed_out && WIFEXITED(status);
}
int RunResult::exit_code() const {
  return exited() ? WEXITSTATUS(status) : -1;
}

RunResult RunBinary(const std::vector<std::string>& args, Duration timeout) {
  RunResult res;
  std::string cwd = MakeTempDir("longlink-run-");
  std::vector<std::string> full = {BinaryPath()};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(full);
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    return res;
  pid_t pid = fork();
  if (pid == 0) {
    ChildCommonSetup();
    if (chdir(cwd.c_str()) != 0)
      _exit(126);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&res.out, &res.err};
  int open_fds = 2;
  while (open_fds > 0) {
    int r = poll(fds, 2, MsLeft(deadline));
    if (r == 0) {
      res.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (r < 0)
      continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, size_t(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0)
      close(f.fd);
  }
  // The pipes may close before exit (or a child may keep running after
  // closing them): bound the wait too.
  while (waitpid(pid, &res.status, WNOHANG) == 0) {
    if (Clock::now() >= deadline) {
      res.timed_out = true;
      kill(pid, SIGKILL);
      waitpid(pid, &res.status, 0);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  std::error_code ec;
  std::filesystem::remove_all(cwd, ec);
  return res;
}

int CountLines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n')
    ++n;
  return n;
}

}  // namespace longlink::test
