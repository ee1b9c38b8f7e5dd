// PROTOCOL.md section 2 (session) and the /ws subprotocol rule of 1.1, under
// --auth none: hello and welcome, the hello timeout, bad first frames, a
// second hello, replacement of a (user, device) session, several devices.
#include <signal.h>
#include <sys/wait.h>

#include <optional>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

// Sends `first` as the first frame and expects error `code` (with `id`,
// or none when id < 0) then close `close_code`.
void ExpectRejectedHello(uint16_t port, std::string_view first, std::string_view code, int64_t id,
                         int close_code) {
  INFO("first frame: " << first);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(port), c.error());
  REQUIRE(c.Send(first));
  Json e = MustNext(c);
  CheckError(e, code, id);
  CHECK(c.WaitClose() == close_code);
}

TEST_CASE("msg: welcome carries user, device, session, heartbeat_ms, max_body, ts and the id") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  REQUIRE(c.Send(R"({"t":"hello","v":1,"user":"alice","device":"phone","id":77})"));
  Json w = MustNext(c);
  INFO(w);
  CHECK(w.Str("t") == "welcome");
  CHECK(w.Int("id") == 77);
  CHECK(w.Str("user") == "alice");
  CHECK(w.Str("device") == "phone");
  CHECK(w["session"].is_string());
  CHECK(!w.Str("session").empty());
  CHECK(w.Int("heartbeat_ms") == 25000);
  CHECK(w.Int("max_body") == 65536);
  CHECK(PlausibleTs(w["ts"], 10000));
}

TEST_CASE("msg: welcome reflects --heartbeat and --max-body") {
  Secrets s;
  Server srv(MsgArgs(s, {"--heartbeat", "30", "--max-body", "100"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  CHECK(c.welcome().Int("heartbeat_ms") == 30000);
  CHECK(c.welcome().Int("max_body") == 100);
}

TEST_CASE("msg: a hello without id gets a welcome without id") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  REQUIRE(c.Send(R"({"t":"hello","v":1,"user":"alice","device":"phone"})"));
  Json w = MustNext(c);
  CHECK(w.Str("t") == "welcome");
  CHECK(!w.Has("id"));
}

TEST_CASE("msg: device defaults to \"default\"") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  REQUIRE(c.Send(R"({"t":"hello","v":1,"user":"alice","id":1})"));
  Json w = MustNext(c);
  CHECK(w.Str("t") == "welcome");
  CHECK(w.Str("device") == "default");
  // Pushes to that device carry it as `device` too.
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(c, "u:bob", "c1");
  Json m = MustPush(b, "d:alice:bob");
  CHECK(m.Str("device") == "default");
}

TEST_CASE("msg: ids of 64 bytes of the whole grammar are accepted as user and device") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  std::string user = "A.z_0-9@" + std::string(56, 'u');
  std::string device = std::string(63, 'd') + "@";
  REQUIRE(user.size() == 64);
  ImClient c;
  LL_LOGIN(c, srv.port(), user, device);
  CHECK(c.welcome().Str("user") == user);
  CHECK(c.welcome().Str("device") == device);
}

TEST_CASE("msg: no hello within --hello-timeout closes with 4002") {
  Secrets s;
  Server srv(MsgArgs(s, {"--hello-timeout", "1"}));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  auto start = Clock::now();
  CHECK(c.WaitClose(6s) == 4002);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  CHECK(ms >= 800);
  CHECK(ms <= 4000);
}

// The timeout is checked on the shard's tick, which the shortest timeout
// sets: a hello 0.4 s after a 1 s timeout is too late whatever the tick's
// phase (a once-a-second tick let such hellos in 6 times in 10).
TEST_CASE("msg: a hello 0.4 s after --hello-timeout is refused, whenever the connection came") {
  Secrets s;
  Server srv(MsgArgs(s, {"--hello-timeout", "1"}));
  LL_START(srv);
  for (int i = 0; i < 6; i++) {
    INFO("connection " << i);
    std::this_thread::sleep_for(170ms);  // another phase of the tick
    ImClient c;
    REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
    std::this_thread::sleep_for(1400ms);
    c.Send(R"({"t":"hello","v":1,"user":"alice","device":"phone"})");  // may fail: closed
    CHECK(c.WaitClose(5s) == 4002);
  }
}

TEST_CASE("msg: a hello in time is not closed by --hello-timeout") {
  Secrets s;
  Server srv(MsgArgs(s, {"--hello-timeout", "1"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  LL_EXPECT_NO_FRAME(c, 2000ms);
  Json p = MustRequest(c, R"({"t":"ping","id":5})", 5);
  CHECK(p.Str("t") == "pong");
}

TEST_CASE("msg: a first frame other than hello gets unauthorized and close 4001") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ExpectRejectedHello(srv.port(), R"({"t":"ping","id":3})", "unauthorized", 3, 4001);
  ExpectRejectedHello(srv.port(), R"({"t":"send","to":"u:bob","cmid":"c1","body":1})",
                      "unauthorized", -1, 4001);
}

TEST_CASE("msg: a first frame that is not JSON gets unauthorized and close 4001") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ExpectRejectedHello(srv.port(), "hello alice", "unauthorized", -1, 4001);
  ExpectRejectedHello(srv.port(), R"({"t":"hello","v":1,"user":"alice")", "unauthorized", -1, 4001);
  ExpectRejectedHello(srv.port(), R"(["hello"])", "unauthorized", -1, 4001);
}

TEST_CASE("msg: hello with v other than 1 gets bad_request and close 4001") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ExpectRejectedHello(srv.port(), R"({"t":"hello","v":2,"user":"alice","id":4})", "bad_request", 4,
                      4001);
  ExpectRejectedHello(srv.port(), R"({"t":"hello","v":0,"user":"alice"})", "bad_request", -1, 4001);
}

TEST_CASE("msg: hello with an invalid device gets bad_request and close 4001") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ExpectRejectedHello(srv.port(),
                      R"({"t":"hello","v":1,"user":"alice","device":"my phone","id":6})",
                      "bad_request", 6, 4001);
  ExpectRejectedHello(srv.port(), HelloFrame("alice", std::string(65, 'd')), "bad_request", -1,
                      4001);
  ExpectRejectedHello(srv.port(), R"({"t":"hello","v":1,"user":"alice","device":""})",
                      "bad_request", -1, 4001);
  ExpectRejectedHello(srv.port(), R"({"t":"hello","v":1,"user":"alice","device":"a/b"})",
                      "bad_request", -1, 4001);
}

TEST_CASE("msg: hello without user under --auth none gets unauthorized and close 4001") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ExpectRejectedHello(srv.port(), R"({"t":"hello","v":1,"device":"phone","id":8})", "unauthorized",
                      8, 4001);
}

TEST_CASE("msg: hello with a user outside the id grammar gets unauthorized and close 4001") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ExpectRejectedHello(srv.port(), HelloFrame("al ice", "phone"), "unauthorized", -1, 4001);
  ExpectRejectedHello(srv.port(), HelloFrame("", "phone"), "unauthorized", -1, 4001);
  ExpectRejectedHello(srv.port(), HelloFrame(std::string(65, 'a'), "phone"), "unauthorized", -1,
                      4001);
  ExpectRejectedHello(srv.port(), HelloFrame("al:ice", "phone"), "unauthorized", -1, 4001);
  ExpectRejectedHello(srv.port(), R"({"t":"hello","v":1,"user":42})", "unauthorized", -1, 4001);
}

TEST_CASE("msg: a second hello gets bad_request and the session stays") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  Json e = MustRequest(c, R"({"t":"hello","v":1,"user":"mallory","device":"x","id":2})", 2);
  CheckError(e, "bad_request", 2);
  Json p = MustRequest(c, R"({"t":"ping","id":3})", 3);
  CHECK(p.Str("t") == "pong");
  // Still alice on phone: a message to alice arrives here.
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(b, "u:alice", "c1");
  Json m = MustPush(c, "d:alice:bob");
  CHECK(m.Str("from") == "bob");
}

TEST_CASE("msg: a new session for the same user and device closes the old one with 4009") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient old_conn;
  LL_LOGIN(old_conn, srv.port(), "alice", "phone");
  ImClient new_conn;
  LL_LOGIN(new_conn, srv.port(), "alice", "phone");
  CHECK(old_conn.WaitClose() == 4009);
  Json p = MustRequest(new_conn, R"({"t":"ping","id":3})", 3);
  CHECK(p.Str("t") == "pong");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(b, "u:alice", "c1");
  MustPush(new_conn, "d:alice:bob");
  Json pr = MustRequest(b, R"({"t":"presence","id":4,"users":["alice"]})", 4);
  CHECK(pr["users"]["alice"]["online"].raw() == "true");
  CHECK(pr["users"]["alice"].Int("devices") == 1);
}

// Repeated with several users so that old and new connections land on
// different shards: the old session's end must not unregister the new one.
TEST_CASE("msg: after a replacement on another shard the new session keeps receiving") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  ImClient sender;
  LL_LOGIN(sender, srv.port(), "sender", "phone");
  for (int i = 0; i < 6; ++i) {
    std::string user = "user" + std::to_string(i);
    INFO(user);
    ImClient old_conn, new_conn;
    LL_LOGIN(old_conn, srv.port(), user, "phone");
    LL_LOGIN(new_conn, srv.port(), user, "phone");
    CHECK(old_conn.WaitClose() == 4009);
    std::this_thread::sleep_for(200ms);  // let the old session's end run everywhere
    MustSend(sender, "u:" + user, "c" + std::to_string(i));
    Json m = MustPush(new_conn, "d:sender:" + user);
    CHECK(m.Int("seq") == 1);
    Json pr = MustRequest(sender, R"({"t":"presence","id":7,"users":[")" + user + R"("]})", 7);
    CHECK(pr["users"][user]["online"].raw() == "true");
    CHECK(pr["users"][user].Int("devices") == 1);
  }
}

TEST_CASE("msg: two devices of one user are online at once") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient phone, laptop, b;
  LL_LOGIN(phone, srv.port(), "alice", "phone");
  LL_LOGIN(laptop, srv.port(), "alice", "laptop");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(b, "u:alice", "c1");
  CHECK(MustPush(phone, "d:alice:bob").Int("seq") == 1);
  CHECK(MustPush(laptop, "d:alice:bob").Int("seq") == 1);
  Json pr = MustRequest(b, R"({"t":"presence","id":4,"users":["alice"]})", 4);
  CHECK(pr["users"]["alice"].Int("devices") == 2);
  CHECK(!phone.closed());
  CHECK(!laptop.closed());
}

TEST_CASE("msg: the upgrade offering longlink.v1 selects it") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port(), "Sec-WebSocket-Protocol: chat, longlink.v1\r\n"),
                  c.error());
  CHECK(c.ws().response().Header("Sec-WebSocket-Protocol") == "longlink.v1");
  REQUIRE_MESSAGE(c.Hello(HelloFrame("alice", "phone", 1)), c.error());
}

TEST_CASE("msg: the upgrade without Sec-WebSocket-Protocol selects no subprotocol") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  CHECK(!c.ws().response().HasHeader("Sec-WebSocket-Protocol"));
  REQUIRE_MESSAGE(c.Hello(HelloFrame("alice", "phone", 1)), c.error());
}

TEST_CASE("msg: the upgrade offering only other subprotocols is answered 400") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/ws", &r,
                UpgradeHeaders(NewKey()) + "Sec-WebSocket-Protocol: chat, longlink.v2\r\n"));
  CHECK(r.status == 400);
}

// Sessions ending while the server shuts down (the client drops TCP, then
// SIGTERM closes every session with 1001) must not touch freed connections;
// run under ASan (LONGLINK_BINARY) this catches a use-after-free.
TEST_CASE("msg: SIGTERM right after sessions drop their connections exits 0") {
  for (int i = 0; i < 12; ++i) {
    INFO("round " << i);
    Secrets s;
    Server srv(MsgArgs(s));
    LL_START(srv);
    {
      ImClient a, b;
      LL_LOGIN(a, srv.port(), "alice", "phone");
      LL_LOGIN(b, srv.port(), "bob", "phone");
      MustSend(a, "u:bob", "c1");
    }
    REQUIRE(srv.Signal(SIGTERM));
    std::optional<int> st = srv.Wait(10s);
    REQUIRE(st);
    CHECK_MESSAGE((WIFEXITED(*st) && WEXITSTATUS(*st) == 0), DescribeStatus(*st)
                                                                 << "; stderr tail:\n"
                                                                 << srv.StderrTail(1500));
  }
}

}  // namespace
}  // namespace longlink::test
