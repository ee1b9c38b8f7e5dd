// Process lifecycle: heartbeat pings and timeouts, graceful shutdown on
// SIGTERM/SIGINT, and the command line (--version, --help, bad flags).
#include <signal.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/msg_env.h"
#include "support/server.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

TEST_CASE("lifecycle: an idle connection is pinged after --heartbeat") {
  Server srv(Server::EchoArgs({"--heartbeat", "1"}));
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  auto start = Clock::now();
  Frame f;
  REQUIRE_MESSAGE(ws.ReadFrame(&f, 4s) == IoStatus::kOk, ws.error());
  auto elapsed = Clock::now() - start;
  CHECK(f.opcode == op::kPing);
  CHECK(elapsed >= 800ms);
  CHECK(elapsed <= 2500ms);
}

TEST_CASE("lifecycle: a connection silent for twice --heartbeat is closed with 1001") {
  Server srv(Server::EchoArgs({"--heartbeat", "1"}));
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  auto start = Clock::now();
  int pings = 0;
  Frame f;
  for (;;) {
    REQUIRE_MESSAGE(ws.ReadFrame(&f, 6s) == IoStatus::kOk, ws.error());
    if (f.opcode != op::kPing)
      break;
    ++pings;  // never answered
  }
  auto elapsed = Clock::now() - start;
  CHECK(f.opcode == op::kClose);
  CHECK(f.CloseCode() == 1001);
  CHECK(pings >= 1);
  CHECK(elapsed >= 1800ms);
  CHECK(elapsed <= 4000ms);
  CHECK(ws.conn().WaitClosed(5s));
}

TEST_CASE("lifecycle: answering pings keeps a connection alive past twice --heartbeat") {
  Server srv(Server::EchoArgs({"--heartbeat", "1"}));
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  auto end = Clock::now() + 4500ms;
  int pings = 0;
  while (Clock::now() < end) {
    Frame f;
    IoStatus s = ws.ReadFrame(&f, Duration(MsLeft(end)));
    if (s == IoStatus::kTimeout)
      break;
    REQUIRE_MESSAGE(s == IoStatus::kOk, s << " " << ws.error());
    REQUIRE_MESSAGE(f.opcode == op::kPing,
                    "unexpected opcode " << int(f.opcode) << " code " << f.CloseCode());
    ++pings;
    REQUIRE(ws.Send(op::kPong, f.payload));
  }
  CHECK(pings >= 2);
  CHECK_MESSAGE(ws.Echo(op::kText, "alive"), ws.error());
}

// Opens three connections, sends `sig`, and expects close 1001 on each and
// exit status 0 within 5 s.
void ShutdownWithOpenConnections(int sig) {
  Server srv;
  LL_START(srv);
  std::vector<std::unique_ptr<WsClient>> conns;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(std::make_unique<WsClient>());
    REQUIRE_MESSAGE(conns.back()->Connect(srv.port()), conns.back()->error());
    REQUIRE_MESSAGE(conns.back()->Echo(op::kText, "up"), conns.back()->error());
  }
  auto start = Clock::now();
  REQUIRE(srv.Signal(sig));
  for (auto& ws : conns) {
    CHECK(ws->ReadCloseCode(5s) == 1001);
    ws->SendClose(1001);  // a well-behaved client answers...
    CHECK(ws->conn().WaitClosed(5s));
    ws->conn().Close();  // ...and closes on EOF
  }
  std::optional<int> st = srv.Wait(5s);
  REQUIRE_MESSAGE(st.has_value(), "still running 5 s after the signal");
  CHECK(DescribeStatus(*st) == "exited 0");
  CHECK(Clock::now() - start < 5s);
}

TEST_CASE("lifecycle: SIGTERM closes open connections with 1001 and exits 0") {
  ShutdownWithOpenConnections(SIGTERM);
}

TEST_CASE("lifecycle: SIGINT closes open connections with 1001 and exits 0") {
  ShutdownWithOpenConnections(SIGINT);
}

TEST_CASE("lifecycle: SIGTERM exits even when a client never answers the close") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  REQUIRE(srv.Signal(SIGTERM));
  std::optional<int> st = srv.Wait(5s);
  REQUIRE_MESSAGE(st.has_value(), "still running 5 s after SIGTERM");
  CHECK(DescribeStatus(*st) == "exited 0");
  CHECK(ws.ReadCloseCode(1s) == 1001);
}

TEST_CASE("lifecycle: SIGTERM on an idle server exits 0 at once") {
  Server srv;
  LL_START(srv);
  REQUIRE(srv.Signal(SIGTERM));
  std::optional<int> st = srv.Wait(3s);
  REQUIRE(st.has_value());
  CHECK(DescribeStatus(*st) == "exited 0");
}

TEST_CASE("lifecycle: the listening line reports the shard count") {
  Server srv({"--echo", "--threads", "3", "--auth", "none", "--storage", "memory"});
  LL_START(srv);
  std::string log = srv.Stderr();
  size_t pos = log.find("listening on 127.0.0.1:" + std::to_string(srv.port()));
  REQUIRE(pos != std::string::npos);
  std::string line = log.substr(pos, log.find('\n', pos) - pos);
  CHECK(line.find("shards=3") != std::string::npos);
  CHECK(log.find(" info ") != std::string::npos);
}

TEST_CASE("cli: --version prints to stdout and exits 0") {
  RunResult r = RunBinary({"--version"});
  CHECK(r.exit_code() == 0);
  CHECK(!r.out.empty());
  CHECK(r.out.find("0.1.0") != std::string::npos);
}

TEST_CASE("cli: --help documents the options on stdout and exits 0") {
  RunResult r = RunBinary({"--help"});
  CHECK(r.exit_code() == 0);
  for (const char* flag :
       {"--listen", "--threads", "--data-dir", "--max-message", "--echo", "--heartbeat"}) {
    INFO("flag " << flag);
    CHECK(r.out.find(flag) != std::string::npos);
  }
}

// A bad invocation: non-zero exit, at once, with exactly one stderr line.
void ExpectOneLineFailure(const std::vector<std::string>& args) {
  RunResult r = RunBinary(args);
  INFO("stderr: " << r.err);
  INFO("stdout: " << r.out);
  CHECK(!r.timed_out);
  CHECK(r.exited());
  CHECK(r.exit_code() != 0);
  CHECK(CountLines(r.err) == 1);
  CHECK(r.err.back() == '\n');
}

TEST_CASE("cli: an unknown flag exits non-zero with one line on stderr") {
  ExpectOneLineFailure({"--nope", "--storage", "memory"});
}

TEST_CASE("cli: --threads abc exits non-zero with one line on stderr") {
  ExpectOneLineFailure({"--threads", "abc", "--storage", "memory", "--listen", "127.0.0.1:0"});
}

TEST_CASE("cli: --max-message 12XB exits non-zero with one line on stderr") {
  ExpectOneLineFailure({"--max-message", "12XB", "--storage", "memory", "--listen", "127.0.0.1:0"});
}

TEST_CASE("cli: --retention takes N with s, m, h or d, or forever (the default, said)") {
  for (const char* bad : {"soon", "0s", "10", "-1d"}) {
    INFO("--retention " << bad);
    ExpectOneLineFailure({"--retention", bad, "--storage", "memory", "--listen", "127.0.0.1:0"});
  }
  for (const char* good : {"forever", "7d", "36h"}) {
    INFO("--retention " << good);
    Server srv(Server::EchoArgs({"--retention", good}));
    LL_START(srv);
    HttpResponse r;
    REQUIRE(Fetch(srv.port(), "GET", "/readyz", &r));
    CHECK(r.status == 200);
  }
}

// SO_REUSEPORT would let a second server share the port (and the kernel
// split the connections between the two): it is refused instead.
TEST_CASE("cli: a port another server listens on exits non-zero with one line on stderr") {
  Server first(Server::EchoArgs());
  LL_START(first);
  std::string listen = "127.0.0.1:" + std::to_string(first.port());
  ExpectOneLineFailure({"--echo", "--storage", "memory", "--auth", "none", "--listen", listen});
  ExpectOneLineFailure({"--echo", "--storage", "memory", "--auth", "none", "--threads", "2",
                        "--listen", listen});
  RunResult r = RunBinary({"--echo", "--storage", "memory", "--listen", listen});
  CHECK(r.err.find("in use") != std::string::npos);
}

TEST_CASE("cli: --listen without a port exits non-zero with one line on stderr") {
  ExpectOneLineFailure({"--listen", "nohost", "--storage", "memory"});
}

// A secret or key file is a short regular file: a directory, a FIFO (which
// would block the start) or a device that never ends (/dev/zero) is refused
// with one line, before anything is read.
TEST_CASE("cli: a secret or key file that is not a short regular file is refused at once") {
  Secrets d;  // a temporary directory (its two files are not used here)
  const std::string fifo = d.dir() + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  d.Write("big", std::string(70000, 'k'));
  const std::pair<const char*, const char*> cases[] = {{"/dev/zero", "not a regular file"},
                                                       {"/dev/null", "not a regular file"},
                                                       {"", "is a directory"},
                                                       {"fifo", "not a regular file"},
                                                       {"big", "larger than 64 KiB"},
                                                       {"missing", "cannot read"}};
  for (const char* flag : {"--jwt-secret-file", "--api-key-file"}) {
    for (const auto& [name, says] : cases) {
      std::string path = name[0] == '/' ? name : d.dir() + (name[0] ? "/" : "") + name;
      INFO(flag << " " << path);
      RunResult r = RunBinary({flag, path, "--storage", "memory", "--listen", "127.0.0.1:0"});
      INFO("stderr: " << r.err);
      CHECK(!r.timed_out);
      CHECK(r.exited());
      CHECK(r.exit_code() != 0);
      CHECK(CountLines(r.err) == 1);
      CHECK(r.err.find(says) != std::string::npos);
    }
  }
  RunResult t = RunBinary({"token", "--user", "alice", "--jwt-secret-file", fifo});
  CHECK(!t.timed_out);
  CHECK(t.err.find("not a regular file") != std::string::npos);
}

TEST_CASE("cli: bad values of enumerated options exit non-zero with one line on stderr") {
  const char* bad[][2] = {{"--storage", "floppy"},
                          {"--auth", "maybe"},
                          {"--fsync", "sometimes"},
                          {"--log-level", "loud"},
                          {"--heartbeat", "soon"}};
  for (const auto& fv : bad) {
    std::string flag = fv[0], value = fv[1];
    INFO("flag " << flag << " " << value);
    std::vector<std::string> args = {flag, value, "--listen", "127.0.0.1:0"};
    if (flag != "--auth")
      args.insert(args.end(), {"--auth", "none"});
    if (flag != "--storage")
      args.insert(args.end(), {"--storage", "memory"});
    ExpectOneLineFailure(args);
  }
}

}  // namespace
}  // namespace longlink::test
