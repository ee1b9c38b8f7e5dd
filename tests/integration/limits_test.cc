// Limits: --max-message (1009), --max-conns (503 overloaded) and
// --max-outbuf (slow consumer, close 4008).
#include <poll.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/server.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

// After a close frame the server must also close TCP.
void ExpectCloseThenEof(WsClient& ws, int code, Duration timeout = kIoTimeout) {
  CHECK(ws.ReadCloseCode(timeout) == code);
  CHECK_MESSAGE(ws.ExpectEof(), ws.error());
}

TEST_CASE("limits: a message over --max-message 1KiB closes with 1009") {
  Server srv(Server::EchoArgs({"--max-message", "1KiB"}));
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  CHECK_MESSAGE(ws.Echo(op::kBinary, RandomBytes(1024)), ws.error());
  REQUIRE(ws.SendBinary(RandomBytes(1025)));
  ExpectCloseThenEof(ws, 1009);
}

TEST_CASE("limits: fragments adding up to more than --max-message close with 1009") {
  Server srv(Server::EchoArgs({"--max-message", "1KiB"}));
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  // 600 + 424 = 1024 is fine...
  REQUIRE(ws.SendRaw(EncodeFrame(op::kText, TextPayload(600), false) +
                     EncodeFrame(op::kCont, TextPayload(424), true)));
  Message m;
  REQUIRE_MESSAGE(ws.ReadMessage(&m) == IoStatus::kOk, ws.error());
  CHECK(m.data.size() == 1024);
  // ...600 + 425 is not, and the last fragment never needs to come.
  REQUIRE(ws.SendRaw(EncodeFrame(op::kText, TextPayload(600), false) +
                     EncodeFrame(op::kCont, TextPayload(425), false)));
  ExpectCloseThenEof(ws, 1009);
}

TEST_CASE("limits: a message of 16 MiB + 1 byte closes with 1009 by default") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  // The server may close as soon as it sees the length, so the send may fail.
  ws.SendRaw(EncodeFrame(op::kBinary, std::string(16777217, 'x')), 20s);
  CHECK(ws.ReadCloseCode(10s) == 1009);
  CHECK(srv.Alive());
  WsClient other;
  REQUIRE_MESSAGE(other.Connect(srv.port()), other.error());
  CHECK_MESSAGE(other.Echo(op::kText, "still here"), other.error());
}

TEST_CASE("limits: the upgrade over --max-conns 5 answers 503 overloaded") {
  Server srv(Server::EchoArgs({"--max-conns", "5"}));
  LL_START(srv);
  std::vector<std::unique_ptr<WsClient>> open;
  for (int i = 0; i < 5; ++i) {
    open.push_back(std::make_unique<WsClient>());
    REQUIRE_MESSAGE(open.back()->Connect(srv.port()),
                    "connection " << i << ": " << open.back()->error());
  }
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send(Request("GET", "/echo", UpgradeHeaders(NewKey()))));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 503);
  INFO("body: " << r.body);
  CHECK(StartsWith(r.body, "{\"error\":\"overloaded\""));
  // The five are unaffected.
  for (auto& ws : open) CHECK_MESSAGE(ws->Echo(op::kText, "ok"), ws->error());
}

TEST_CASE("limits: an upgrade succeeds again once a connection under --max-conns closes") {
  Server srv(Server::EchoArgs({"--max-conns", "5"}));
  LL_START(srv);
  std::vector<std::unique_ptr<WsClient>> open;
  for (int i = 0; i < 5; ++i) {
    open.push_back(std::make_unique<WsClient>());
    REQUIRE_MESSAGE(open.back()->Connect(srv.port()), open.back()->error());
  }
  REQUIRE(open[0]->SendClose(1000));
  CHECK(open[0]->ReadCloseCode() == 1000);
  CHECK(open[0]->ExpectEof());
  // The server may count the close a moment later: retry for up to 3 s.
  auto deadline = Clock::now() + 3s;
  bool ok = false;
  std::string last;
  while (!ok && Clock::now() < deadline) {
    WsClient ws;
    ok = ws.Connect(srv.port());
    last = ws.error();
    if (ok) {
      CHECK_MESSAGE(ws.Echo(op::kText, "again"), ws.error());
    } else {
      std::this_thread::sleep_for(50ms);
    }
  }
  CHECK_MESSAGE(ok, last);
}

TEST_CASE("limits: a slow consumer over --max-outbuf gets close 4008 and others keep working") {
  Server srv(Server::EchoArgs({"--max-outbuf", "1MiB"}));
  LL_START(srv);
  WsClient slow, other;
  REQUIRE_MESSAGE(slow.Connect(srv.port()), slow.error());
  REQUIRE_MESSAGE(other.Connect(srv.port()), other.error());

  // Write ~30 MiB of 64 KiB binary messages and read nothing. Stop early if
  // the server stops reading (no progress for 3 s) or drops the connection.
  std::string frame = EncodeFrame(op::kBinary, RandomBytes(64 * 1024));
  const size_t total = 480 * frame.size();
  size_t sent = 0;
  auto last_progress = Clock::now();
  while (sent < total && Clock::now() - last_progress < 3s) {
    std::string_view rest(frame);
    rest.remove_prefix(sent % frame.size());
    long n = slow.conn().TrySend(rest);
    if (n < 0)
      break;  // reset by the server: fine, it gave up on us
    if (n > 0) {
      sent += size_t(n);
      last_progress = Clock::now();
      continue;
    }
    pollfd p{slow.conn().fd(), POLLOUT, 0};
    poll(&p, 1, 100);
  }
  INFO("slow consumer wrote " << sent << " of " << total << " bytes");

  // While the slow one is stuck, another connection is served normally.
  CHECK_MESSAGE(other.Echo(op::kText, "not blocked"), other.error());

  // Now drain: echoes that were pending, then close 4008, then EOF.
  size_t skipped = 0;
  auto start = Clock::now();
  int code = slow.ReadCloseCode(15s, &skipped);
  INFO("drained " << skipped << " echoed bytes before the close");
  CHECK(code == 4008);
  CHECK(slow.conn().WaitClosed(5s));
  CHECK(Clock::now() - start < 15s);
  CHECK(srv.Alive());
  CHECK_MESSAGE(other.Echo(op::kText, "still fine"), other.error());
}

}  // namespace
}  // namespace longlink::test
