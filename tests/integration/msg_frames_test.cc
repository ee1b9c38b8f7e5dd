// PROTOCOL.md sections 1.1 and 7 on frames after the hello: ids, unknown
// types, bad JSON, binary frames, required members, the id grammar, ping.
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

// Sends `frame` and expects error bad_request (with `id`, none when id < 0),
// then checks the connection still answers a ping.
void ExpectBadRequest(ImClient& c, std::string_view frame, int64_t id) {
  INFO("frame: " << frame);
  REQUIRE(c.Send(frame));
  Json e = MustNext(c);
  CheckError(e, "bad_request", id);
  int64_t ping = c.NextId();
  Json p = MustRequest(c, "{\"t\":\"ping\",\"id\":" + std::to_string(ping) + "}", ping);
  CHECK(p.Str("t") == "pong");
}

TEST_CASE("msg: a request's id is echoed on its reply") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  for (const char* id : {"0", "1", "12345", "9007199254740992"}) {
    INFO("id " << id);
    REQUIRE(c.Send(std::string(R"({"t":"ping","id":)") + id + "}"));
    Json p = MustNext(c);
    CHECK(p.Str("t") == "pong");
    CHECK(p["id"].raw() == id);
  }
  // Also on an error reply.
  REQUIRE(c.Send(R"({"t":"send","id":31,"to":"g:nosuch","cmid":"c1","body":1})"));
  CheckError(MustNext(c), "not_found", 31);
}

TEST_CASE("msg: an id that is not an integer in 0..2^53 gets bad_request without id") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  for (const char* id : {"1.5", "-1", "\"x\"", "9007199254740993", "true", "null", "[1]", "{}",
                         "18446744073709551616"}) {
    ExpectBadRequest(c, std::string(R"({"t":"ping","id":)") + id + "}", -1);
  }
}

TEST_CASE("msg: a send with a bad id stores nothing") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ExpectBadRequest(a, R"({"t":"send","id":-1,"to":"u:bob","cmid":"c1","body":1})", -1);
  LL_EXPECT_NO_FRAME(b, 500ms);
  // The cmid was not used: sending it now is a first send, seq 1.
  Json ack = SendMsg(a, "u:bob", "c1", "2");
  CheckAck(ack, ack.Int("id"), "d:alice:bob", 1, "c1");
}

TEST_CASE("msg: an unknown t gets bad_request and the connection stays") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  ExpectBadRequest(c, R"({"t":"dance","id":5})", 5);
  ExpectBadRequest(c, R"({"t":"dance"})", -1);
  ExpectBadRequest(c, R"({"t":"welcome","id":6})", 6);
}

TEST_CASE("msg: a frame that is not a JSON object after hello gets bad_request and stays") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  ExpectBadRequest(c, "not json", -1);
  ExpectBadRequest(c, R"({"t":"ping","id":5)", -1);
  ExpectBadRequest(c, "", -1);
  ExpectBadRequest(c, R"([{"t":"ping","id":5}])", -1);
  ExpectBadRequest(c, R"("ping")", -1);
  ExpectBadRequest(c, R"({"id":5})", 5);
  ExpectBadRequest(c, R"({"t":5,"id":6})", 6);
}

TEST_CASE("msg: unknown members of a frame are ignored") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  Json p = MustRequest(c, R"({"t":"ping","id":5,"extra":{"x":[1,2]},"z":null})", 5);
  CHECK(p.Str("t") == "pong");
  Json a =
      MustRequest(c, R"({"t":"send","id":6,"to":"u:bob","cmid":"c1","body":1,"prio":"high"})", 6);
  CheckAck(a, 6, "d:alice:bob", 1, "c1");
}

TEST_CASE("msg: a binary frame on /ws closes with 1003") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  REQUIRE(c.SendBinary(R"({"t":"ping","id":1})"));
  CHECK(c.WaitClose() == 1003);
}

TEST_CASE("msg: the first fragment of a binary message closes with 1003, before the rest") {
  // A binary frame is refused as soon as its header is read: the server does
  // not wait for (or buffer) the rest of a fragmented binary message.
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  for (bool after_hello : {true, false}) {
    INFO("after hello: " << after_hello);
    ImClient c;
    if (after_hello) {
      LL_LOGIN(c, srv.port(), "alice", "phone");
    } else {
      REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
    }
    REQUIRE(c.ws().SendRaw(EncodeFrame(op::kBinary, R"({"t":)", /*fin=*/false)));
    CHECK(c.WaitClose(2s) == 1003);
  }
}

TEST_CASE("msg: a binary frame before hello closes with 1003") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  REQUIRE_MESSAGE(c.Connect(srv.port()), c.error());
  REQUIRE(c.SendBinary(R"({"t":"hello","v":1,"user":"alice"})"));
  CHECK(c.WaitClose() == 1003);
}

TEST_CASE("msg: a send without to, cmid or body gets bad_request") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c, b;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ExpectBadRequest(c, R"({"t":"send","id":1,"cmid":"c1","body":1})", 1);
  ExpectBadRequest(c, R"({"t":"send","id":2,"to":"u:bob","body":1})", 2);
  ExpectBadRequest(c, R"({"t":"send","id":3,"to":"u:bob","cmid":"c1"})", 3);
  LL_EXPECT_NO_FRAME(b, 300ms);
}

TEST_CASE("msg: recv and read without conv or seq get bad_request") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  MustSend(c, "u:bob", "c1");
  ExpectBadRequest(c, R"({"t":"recv","id":1,"seq":1})", 1);
  ExpectBadRequest(c, R"({"t":"recv","id":2,"conv":"d:alice:bob"})", 2);
  ExpectBadRequest(c, R"({"t":"read","id":3,"seq":1})", 3);
  ExpectBadRequest(c, R"({"t":"read","id":4,"conv":"d:alice:bob"})", 4);
}

TEST_CASE(
    "msg: pull, presence, watch, join and leave without their required member get bad_request") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  ExpectBadRequest(c, R"({"t":"pull","id":1,"after":0})", 1);
  ExpectBadRequest(c, R"({"t":"presence","id":2})", 2);
  ExpectBadRequest(c, R"({"t":"watch","id":3})", 3);
  ExpectBadRequest(c, R"({"t":"join","id":4})", 4);
  ExpectBadRequest(c, R"({"t":"leave","id":5})", 5);
}

TEST_CASE("msg: ids outside the grammar in a frame get bad_request") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  ExpectBadRequest(c, R"({"t":"send","id":1,"to":"u:bo b","cmid":"c1","body":1})", 1);
  ExpectBadRequest(c, SendFrame("u:bob", std::string(65, 'c'), "1", 2), 2);
  ExpectBadRequest(c, R"({"t":"send","id":3,"to":"u:bob","cmid":"c/1","body":1})", 3);
  ExpectBadRequest(c, R"({"t":"send","id":4,"to":"u:bob","cmid":"","body":1})", 4);
  ExpectBadRequest(c, R"({"t":"send","id":5,"to":"bob","cmid":"c1","body":1})", 5);
  ExpectBadRequest(c, R"({"t":"send","id":6,"to":"x:bob","cmid":"c1","body":1})", 6);
  ExpectBadRequest(c, R"({"t":"send","id":7,"to":"g:te am","cmid":"c1","body":1})", 7);
  ExpectBadRequest(c, R"({"t":"send","id":8,"to":"u:","cmid":"c1","body":1})", 8);
  ExpectBadRequest(c, R"({"t":"join","id":9,"conv":"g:a!b"})", 9);
  ExpectBadRequest(c, R"({"t":"presence","id":10,"users":["bo b"]})", 10);
  // And a valid cmid of 64 bytes is accepted.
  Json a = SendMsg(c, "u:bob", std::string(64, 'c'), "1");
  CheckAck(a, a.Int("id"), "d:alice:bob", 1, std::string(64, 'c'));
}

TEST_CASE("msg: ping gets pong with the same id and ts") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  REQUIRE(c.Send(R"({"t":"ping","id":9})"));
  Json p = MustNext(c);
  CHECK(p.Str("t") == "pong");
  CHECK(p.Int("id") == 9);
  CHECK(PlausibleTs(p["ts"], 10000));
}

TEST_CASE("msg: invalid UTF-8 in a text frame on /ws closes with 1007") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  REQUIRE(c.Send("{\"t\":\"ping\",\"id\":1,\"x\":\"\xC3\x28\"}"));
  CHECK(c.WaitClose() == 1007);
}

TEST_CASE(
    "msg: a silent /ws session is pinged after --heartbeat and closed with 1001 after twice that") {
  Secrets s;
  Server srv(MsgArgs(s, {"--heartbeat", "1"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  CHECK(c.welcome().Int("heartbeat_ms") == 1000);
  auto start = Clock::now();
  Frame f;
  REQUIRE(c.ws().ReadFrame(&f, 4s) == IoStatus::kOk);
  CHECK(f.opcode == op::kPing);
  auto pinged = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  CHECK(pinged >= 500);
  CHECK(c.ws().ReadCloseCode(5s) == 1001);
  auto closed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  CHECK(closed >= 1500);
  CHECK(closed <= 4500);
}

TEST_CASE("msg: protocol pings keep a /ws session alive past twice --heartbeat") {
  Secrets s;
  Server srv(MsgArgs(s, {"--heartbeat", "1"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  auto start = Clock::now();
  int id = 1;
  while (Clock::now() - start < 3500ms) {
    // Nothing is read in between, so the server's WebSocket pings go
    // unanswered: only these data frames keep the session alive.
    REQUIRE(c.ws().SendText(R"({"t":"ping","id":)" + std::to_string(id) + "}"));
    std::this_thread::sleep_for(400ms);
    ++id;
  }
  Json p = MustRequest(c, R"({"t":"ping","id":999})", 999);
  CHECK(p.Str("t") == "pong");
  CHECK(!c.closed());
}

}  // namespace
}  // namespace longlink::test
