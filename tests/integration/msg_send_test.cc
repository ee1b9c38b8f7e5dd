// PROTOCOL.md sections 3-5 for direct messages: acks, conversation names,
// pushes (to the recipient and the sender's other devices), bodies kept byte
// for byte, cmid deduplication, sequences, max_body and ephemeral messages.
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

TEST_CASE("msg: a direct message is acked with seq 1 and pushed to the recipient") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "laptop");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  REQUIRE(a.Send(R"({"t":"send","id":1,"to":"u:bob","cmid":"c-7f3a","body":{"text":"hi"}})"));
  Json ack = MustNext(a);
  CheckAck(ack, 1, "d:alice:bob", 1, "c-7f3a");
  Json m = MustNext(b);
  CheckMsg(m, "d:alice:bob", 1, "alice", "laptop", "c-7f3a", R"({"text":"hi"})");
  CHECK(!m.Has("id"));
  CHECK(!m.Has("ephemeral"));
  CHECK(m.Int("ts") == ack.Int("ts"));
}

TEST_CASE("msg: a direct conversation is named by its two user ids in byte order") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient zed, amy;
  LL_LOGIN(zed, srv.port(), "Zed", "phone");
  LL_LOGIN(amy, srv.port(), "amy", "phone");
  Json a1 = SendMsg(zed, "u:amy", "z1");
  CheckAck(a1, a1.Int("id"), "d:Zed:amy", 1, "z1");
  CHECK(MustPush(amy, "d:Zed:amy").Int("seq") == 1);
  Json a2 = SendMsg(amy, "u:Zed", "a1");
  CheckAck(a2, a2.Int("id"), "d:Zed:amy", 2, "a1");
  CHECK(MustPush(zed, "d:Zed:amy").Int("seq") == 2);
  ImClient bob;
  LL_LOGIN(bob, srv.port(), "bob", "phone");
  Json a3 = SendMsg(bob, "u:alice", "b1");
  CheckAck(a3, a3.Int("id"), "d:alice:bob", 1, "b1");
}

TEST_CASE("msg: a message to yourself goes to d:alice:alice and to your other devices") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient phone, laptop;
  LL_LOGIN(phone, srv.port(), "alice", "phone");
  LL_LOGIN(laptop, srv.port(), "alice", "laptop");
  Json ack = SendMsg(phone, "u:alice", "note1", R"("remember milk")");
  CheckAck(ack, ack.Int("id"), "d:alice:alice", 1, "note1");
  Json m = MustPush(laptop, "d:alice:alice");
  CheckMsg(m, "d:alice:alice", 1, "alice", "phone", "note1", R"("remember milk")");
  LL_EXPECT_NO_FRAME(phone, 500ms);
  LL_EXPECT_NO_FRAME(laptop, 100ms);
}

TEST_CASE("msg: the pushed body is byte-identical to the sent body") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  const std::vector<std::string> bodies = {
      R"({ "text" : "h\u00e9llo w\u00f6rld \ud83d\ude00" , "n":[1, 2,3], "e":{} })",
      "{\"raw\":\"h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\",\"esc\":\"\\\"\\\\\\/\\n\\t\"}",
      R"([1,"two",{"three":3},null,true,[ ]])",
      R"("a string with \"quotes\" and \\ and \u0041")",
      "-12.5e3",
      "12345678901234567890123456789",
      "0.1000",
      "null",
      "true",
      "{}",
      "[]",
      R"("")",
  };
  int64_t seq = 0;
  for (const std::string& body : bodies) {
    INFO("body " << body);
    std::string cmid = "b" + std::to_string(seq);
    REQUIRE(MustSend(a, "u:bob", cmid, body) == ++seq);
    Json m = MustPush(b, "d:alice:bob");
    CheckMsg(m, "d:alice:bob", seq, "alice", "phone", cmid, body);
  }
  // The stored copies are identical too.
  Json page =
      MustRequest(b, R"({"t":"pull","id":50,"conv":"d:alice:bob","after":0,"limit":100})", 50);
  REQUIRE(page["msgs"].size() == bodies.size());
  for (size_t i = 0; i < bodies.size(); ++i) CHECK(page["msgs"][i]["body"].raw() == bodies[i]);
}

TEST_CASE("msg: a message is pushed to the sender's other devices but not the sending connection") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient phone, laptop, bob1, bob2;
  LL_LOGIN(phone, srv.port(), "alice", "phone");
  LL_LOGIN(laptop, srv.port(), "alice", "laptop");
  LL_LOGIN(bob1, srv.port(), "bob", "phone");
  LL_LOGIN(bob2, srv.port(), "bob", "tablet");
  Json ack = SendMsg(phone, "u:bob", "c1", R"({"text":"hi"})");
  CheckAck(ack, ack.Int("id"), "d:alice:bob", 1, "c1");
  for (ImClient* c : {&laptop, &bob1, &bob2}) {
    Json m = MustPush(*c, "d:alice:bob");
    CheckMsg(m, "d:alice:bob", 1, "alice", "phone", "c1", R"({"text":"hi"})");
  }
  LL_EXPECT_NO_FRAME(phone, 700ms);
  LL_EXPECT_NO_FRAME(laptop, 50ms);
}

TEST_CASE(
    "msg: a repeated cmid is acked as a dup with the first conv, seq and ts and pushes nothing") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json first = MustRequest(a, SendFrame("u:bob", "c-1", R"({"text":"hi"})", 1), 1);
  CheckAck(first, 1, "d:alice:bob", 1, "c-1");
  MustPush(b, "d:alice:bob");
  Json again = MustRequest(a, SendFrame("u:bob", "c-1", R"({"text":"hi"})", 2), 2);
  INFO("dup ack: " << again);
  CHECK(again.Str("t") == "ack");
  CHECK(again.Int("id") == 2);
  CHECK(again.Str("conv") == "d:alice:bob");
  CHECK(again.Int("seq") == 1);
  CHECK(again.Int("ts") == first.Int("ts"));
  CHECK(again.Str("cmid") == "c-1");
  CHECK(again["dup"].raw() == "true");
  // And without an id: still the dup ack, without id.
  REQUIRE(a.Send(SendFrame("u:bob", "c-1", R"({"text":"hi"})")));
  Json third = MustNext(a);
  CHECK(third.Str("t") == "ack");
  CHECK(!third.Has("id"));
  CHECK(third["dup"].raw() == "true");
  CHECK(third.Int("seq") == 1);
  LL_EXPECT_NO_FRAME(b, 700ms);
  // Nothing was stored: the next message is seq 2 and the history holds two.
  CHECK(MustSend(a, "u:bob", "c-2") == 2);
  Json page = MustRequest(b, R"({"t":"pull","id":9,"conv":"d:alice:bob"})", 9);
  CHECK(page["msgs"].size() == 2);
}

TEST_CASE("msg: a repeated cmid with another to and body is still a dup of the first") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b, c;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  LL_LOGIN(c, srv.port(), "carol", "phone");
  Json first = MustRequest(a, SendFrame("u:bob", "c-1", "1", 1), 1);
  CheckAck(first, 1, "d:alice:bob", 1, "c-1");
  MustPush(b, "d:alice:bob");
  Json again = MustRequest(a, SendFrame("u:carol", "c-1", R"({"other":true})", 2), 2);
  INFO("dup ack: " << again);
  CHECK(again.Str("t") == "ack");
  CHECK(again.Int("id") == 2);
  CHECK(again.Str("conv") == "d:alice:bob");
  CHECK(again.Int("seq") == 1);
  CHECK(again.Int("ts") == first.Int("ts"));
  CHECK(again["dup"].raw() == "true");
  LL_EXPECT_NO_FRAME(c, 700ms);
  LL_EXPECT_NO_FRAME(b, 50ms);
  // carol's conversation with alice has no message: sync does not list it.
  Json sync = MustRequest(c, R"({"t":"sync","id":3,"all":true})", 3);
  CHECK(sync["convs"].is_array());
  CHECK(sync["convs"].size() == 0);
}

// Section 4: "whatever `to` and `body` the repeat carries": a `to` that
// names no conversation, or a body over max_body, in a repeat of a stored
// cmid still gets the first ack; in a new cmid (or an ephemeral send) they
// are errors, and the cmid stays free.
TEST_CASE("msg: a repeated cmid with a malformed to or a body over max_body is still a dup") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-body", "100", "--threads", "2"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  const std::string over = "\"" + std::string(99, 'x') + "\"";  // 101 bytes
  Json first = MustRequest(a, SendFrame("u:bob", "c-1", "1", 1), 1);
  CheckAck(first, 1, "d:alice:bob", 1, "c-1");
  auto check_dup = [&](const Json& again, int64_t id) {
    INFO("dup ack: " << again);
    CHECK(again.Str("t") == "ack");
    CHECK(again.Int("id") == id);
    CHECK(again.Str("conv") == "d:alice:bob");
    CHECK(again.Int("seq") == 1);
    CHECK(again.Int("ts") == first.Int("ts"));
    CHECK(again["dup"].raw() == "true");
  };
  check_dup(MustRequest(a, SendFrame("u:bob", "c-1", over, 2), 2), 2);
  check_dup(MustRequest(a, SendFrame("x:nope", "c-1", "1", 3), 3), 3);
  check_dup(MustRequest(a, R"({"t":"send","id":4,"to":17,"cmid":"c-1","body":1})", 4), 4);
  // A repeat pipelined right behind the first, while it is being stored.
  REQUIRE(a.Send(SendFrame("u:bob", "c-2", "2", 5)));
  REQUIRE(a.Send(SendFrame("u:bob", "c-2", over, 6)));
  Json ack5, ack6;
  REQUIRE_MESSAGE(a.WaitId(5, &ack5), a.error());
  REQUIRE_MESSAGE(a.WaitId(6, &ack6), a.error());
  CheckAck(ack5, 5, "d:alice:bob", 2, "c-2");
  CHECK(ack6.Int("seq") == 2);
  CHECK(ack6["dup"].raw() == "true");
  // New cmids: the errors, and nothing remembered.
  CheckError(MustRequest(a, SendFrame("u:bob", "c-3", over, 7), 7), "too_large", 7);
  CheckError(MustRequest(a, SendFrame("x:nope", "c-4", "1", 8), 8), "bad_request", 8);
  CheckError(MustRequest(a, R"({"t":"send","id":9,"to":"u:bob","cmid":"c-1","ephemeral":true,"body":)" +
                                over + "}",
                         9),
             "too_large", 9);
  CheckAck(MustRequest(a, SendFrame("u:bob", "c-3", "3", 10), 10), 10, "d:alice:bob", 3, "c-3");
  CheckAck(MustRequest(a, SendFrame("u:bob", "c-4", "4", 11), 11), 11, "d:alice:bob", 4, "c-4");
  for (int64_t seq = 1; seq <= 4; seq++) CHECK(MustPush(b, "d:alice:bob").Int("seq") == seq);
  LL_EXPECT_NO_FRAME(b, 300ms);
}

// A repeat that arrives while the first send is being stored waits for it
// and is answered after it: the first ack, then the dup.
TEST_CASE("msg: on the log, a repeat pipelined behind its first send is answered after it") {
  Secrets s;
  Server srv(MsgArgs(s, {"--storage", "disk", "--fsync", "always", "--threads", "2"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 20; i++) {
    INFO("round " << i);
    const std::string cmid = "r-" + std::to_string(i);
    REQUIRE(a.ws().SendRaw(EncodeFrame(op::kText, SendFrame("u:bob", cmid, "1", 2 * i)) +
                           EncodeFrame(op::kText, SendFrame("u:bob", cmid, "2", 2 * i + 1))));
    Json first, second;
    REQUIRE_MESSAGE(a.Next(&first), a.error());
    REQUIRE_MESSAGE(a.Next(&second), a.error());
    INFO(first << "\n" << second);
    CHECK(first.Int("id") == 2 * i);
    CHECK_FALSE(first.Has("dup"));
    CHECK(second.Int("id") == 2 * i + 1);
    CHECK(second["dup"].raw() == "true");
    CHECK(second.Int("seq") == first.Int("seq"));
  }
}

TEST_CASE("msg: a repeated cmid from another device of the same user is a dup") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient phone, laptop, b;
  LL_LOGIN(phone, srv.port(), "alice", "phone");
  LL_LOGIN(laptop, srv.port(), "alice", "laptop");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json first = MustRequest(phone, SendFrame("u:bob", "c-1", "1", 1), 1);
  CheckAck(first, 1, "d:alice:bob", 1, "c-1");
  MustPush(b, "d:alice:bob");
  MustPush(laptop, "d:alice:bob");
  Json again = MustRequest(laptop, SendFrame("u:bob", "c-1", "1", 7), 7);
  INFO("dup ack: " << again);
  CHECK(again.Str("t") == "ack");
  CHECK(again.Int("id") == 7);
  CHECK(again.Int("seq") == 1);
  CHECK(again.Int("ts") == first.Int("ts"));
  CHECK(again["dup"].raw() == "true");
  LL_EXPECT_NO_FRAME(b, 700ms);
  LL_EXPECT_NO_FRAME(phone, 50ms);
}

TEST_CASE("msg: a repeated cmid of a group message is a dup and pushes nothing") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json first = MustRequest(a, SendFrame("g:team", "g-1", "1", 1), 1);
  CheckAck(first, 1, "g:team", 1, "g-1");
  MustPush(b, "g:team");
  Json again = MustRequest(a, SendFrame("u:bob", "g-1", "2", 2), 2);
  INFO(again);
  CHECK(again.Str("conv") == "g:team");
  CHECK(again.Int("seq") == 1);
  CHECK(again.Int("ts") == first.Int("ts"));
  CHECK(again["dup"].raw() == "true");
  LL_EXPECT_NO_FRAME(b, 700ms);
}

// The conversations of the peers are spread over the shards; the cmid
// belongs to the sender whatever shard owns each conversation.
TEST_CASE("msg: one cmid sent pipelined to several conversations makes exactly one message") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  constexpr int kPeers = 8;
  std::string batch;
  for (int i = 0; i < kPeers; ++i)
    batch += EncodeFrame(op::kText,
                         SendFrame("u:peer" + std::to_string(i), "same", std::to_string(i), i + 1));
  REQUIRE(a.ws().SendRaw(batch));
  int firsts = 0;
  std::string conv;
  int64_t seq = -1, ts = -1;
  for (int i = 0; i < kPeers; ++i) {
    Json ack;
    REQUIRE_MESSAGE(a.WaitId(i + 1, &ack), a.error());
    INFO(ack);
    REQUIRE(ack.Str("t") == "ack");
    if (ack["dup"].raw() != "true") {
      ++firsts;
      CHECK(i == 0);  // frames are handled in order: the first send is the original
    }
    if (conv.empty()) {
      conv = ack.Str("conv");
      seq = ack.Int("seq");
      ts = ack.Int("ts");
    }
    CHECK(ack.Str("conv") == conv);
    CHECK(ack.Int("seq") == seq);
    CHECK(ack.Int("ts") == ts);
  }
  CHECK(firsts == 1);
  CHECK(conv == "d:alice:peer0");
  // Only that one conversation exists.
  Json sync = MustRequest(a, R"({"t":"sync","id":99,"all":true})", 99);
  INFO(sync);
  CHECK(sync["convs"].size() == 1);
}

TEST_CASE("msg: the same cmid from two users makes two messages") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json x = SendMsg(a, "u:bob", "same");
  CheckAck(x, x.Int("id"), "d:alice:bob", 1, "same");
  Json y = SendMsg(b, "u:alice", "same");
  CheckAck(y, y.Int("id"), "d:alice:bob", 2, "same");
}

TEST_CASE("msg: a conversation's seqs run 1..N without gaps and each conversation has its own") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  constexpr int kN = 60;
  for (int i = 0; i < kN; ++i)
    REQUIRE(a.Send(SendFrame("u:bob", "m" + std::to_string(i), std::to_string(i), 100 + i)));
  for (int i = 0; i < kN; ++i) {
    Json ack = MustNext(a);
    INFO("ack " << i << ": " << ack);
    CHECK(ack.Str("t") == "ack");
    CHECK(ack.Int("id") == 100 + i);
    CHECK(ack.Int("seq") == i + 1);
  }
  for (int i = 0; i < kN; ++i) {
    Json m = MustNext(b);
    INFO("push " << i << ": " << m);
    CHECK(m.Str("t") == "msg");
    CHECK(m.Int("seq") == i + 1);
    CHECK(m["body"].raw() == std::to_string(i));
  }
  // Another conversation starts at 1.
  CHECK(MustSend(a, "u:carol", "x1") == 1);
  CHECK(MustSend(b, "u:carol", "x1") == 1);
  CHECK(MustSend(a, "u:bob", "last") == kN + 1);
}

TEST_CASE("msg: a body over max_body gets too_large and the connection stays") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-body", "100"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  std::string fits = "\"" + std::string(98, 'x') + "\"";  // exactly 100 bytes
  std::string over = "\"" + std::string(99, 'x') + "\"";  // 101
  REQUIRE(fits.size() == 100);
  Json ok = MustRequest(a, SendFrame("u:bob", "c1", fits, 1), 1);
  CheckAck(ok, 1, "d:alice:bob", 1, "c1");
  Json e = MustRequest(a, SendFrame("u:bob", "c2", over, 2), 2);
  CheckError(e, "too_large", 2);
  // An object body counts its JSON text as sent, spaces included.
  std::string spaced = "{\"a\":" + std::string(92, ' ') + "1}";  // 5 + 92 + 2 = 99
  REQUIRE(spaced.size() == 99);
  Json ok2 = MustRequest(a, SendFrame("u:bob", "c3", spaced, 3), 3);
  CheckAck(ok2, 3, "d:alice:bob", 2, "c3");
  std::string spaced_over = "{\"a\":" + std::string(94, ' ') + "1}";  // 101
  CheckError(MustRequest(a, SendFrame("u:bob", "c4", spaced_over, 4), 4), "too_large", 4);
  Json p = MustRequest(a, R"({"t":"ping","id":5})", 5);
  CHECK(p.Str("t") == "pong");
  CHECK(MustPush(b, "d:alice:bob").Int("seq") == 1);
  CHECK(MustPush(b, "d:alice:bob").Int("seq") == 2);
  LL_EXPECT_NO_FRAME(b, 300ms);
  // The rejected cmid was not remembered.
  Json later = MustRequest(a, SendFrame("u:bob", "c2", "2", 6), 6);
  CheckAck(later, 6, "d:alice:bob", 3, "c2");
}

TEST_CASE(
    "msg: an ephemeral message is acked with seq 0 and pushed without seq to online recipients") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  REQUIRE(a.Send(
      R"({"t":"send","id":1,"to":"u:bob","cmid":"typ-1","body":{"typing":true},"ephemeral":true})"));
  Json ack = MustNext(a);
  INFO("ack " << ack);
  CHECK(ack.Str("t") == "ack");
  CHECK(ack.Int("id") == 1);
  CHECK(ack.Str("conv") == "d:alice:bob");
  CHECK(ack["seq"].raw() == "0");
  CHECK(PlausibleTs(ack["ts"]));
  CHECK(ack.Str("cmid") == "typ-1");
  Json m = MustNext(b);
  INFO("push " << m);
  CHECK(m.Str("t") == "msg");
  CHECK(m.Str("conv") == "d:alice:bob");
  CHECK(!m.Has("seq"));
  CHECK(m["ephemeral"].raw() == "true");
  CHECK(m.Str("from") == "alice");
  CHECK(m.Str("device") == "phone");
  CHECK(m.Str("cmid") == "typ-1");
  CHECK(m["body"].raw() == R"({"typing":true})");
  LL_EXPECT_NO_FRAME(a, 300ms);
}

TEST_CASE("msg: an ephemeral message is not stored and takes no seq") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  // bob is offline: nothing reaches him, now or later.
  Json ack = MustRequest(
      a, R"({"t":"send","id":1,"to":"u:bob","cmid":"typ-1","body":1,"ephemeral":true})", 1);
  CHECK(ack.Str("t") == "ack");
  CHECK(ack["seq"].raw() == "0");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json sync = MustRequest(b, R"({"t":"sync","id":2,"all":true})", 2);
  CHECK(sync["convs"].size() == 0);
  Json page = MustRequest(b, R"({"t":"pull","id":3,"conv":"d:alice:bob"})", 3);
  CHECK(page.Str("t") == "page");
  CHECK(page["msgs"].is_array());
  CHECK(page["msgs"].size() == 0);
  LL_EXPECT_NO_FRAME(b, 500ms);
  CHECK(MustSend(a, "u:bob", "real-1") == 1);
}

TEST_CASE("msg: an ephemeral message is not deduplicated") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  for (int id : {1, 2}) {
    Json ack = MustRequest(a,
                           R"({"t":"send","id":)" + std::to_string(id) +
                               R"(,"to":"u:bob","cmid":"typ","body":1,"ephemeral":true})",
                           id);
    INFO(ack);
    CHECK(ack.Str("t") == "ack");
    CHECK(ack["seq"].raw() == "0");
    CHECK((!ack.Has("dup") || ack["dup"].raw() == "false"));
  }
  CHECK(MustPush(b, "d:alice:bob")["ephemeral"].raw() == "true");
  CHECK(MustPush(b, "d:alice:bob")["ephemeral"].raw() == "true");
  // An ephemeral cmid does not block a stored message with the same cmid.
  Json stored = MustRequest(a, SendFrame("u:bob", "typ", "2", 3), 3);
  CheckAck(stored, 3, "d:alice:bob", 1, "typ");
}

TEST_CASE("msg: an ephemeral message to a group reaches its online members") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob", "carol"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json ack = MustRequest(
      a, R"({"t":"send","id":1,"to":"g:team","cmid":"t1","body":"typing","ephemeral":true})", 1);
  CHECK(ack.Str("conv") == "g:team");
  CHECK(ack["seq"].raw() == "0");
  Json m = MustPush(b, "g:team");
  CHECK(!m.Has("seq"));
  CHECK(m["ephemeral"].raw() == "true");
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  LL_EXPECT_NO_FRAME(c, 500ms);
  CHECK(MustSend(a, "g:team", "real") == 1);
}

// A device is online from its welcome on: a message sent right after it
// must be pushed, whichever shards the two connections landed on.
TEST_CASE("msg: a message sent right after the recipient's welcome is pushed to it") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  int lost = 0;
  for (int i = 0; i < 20; ++i) {
    std::string ua = "a" + std::to_string(i), ub = "b" + std::to_string(i);
    ImClient a, b;
    LL_LOGIN(b, srv.port(), ub, "phone");
    LL_LOGIN(a, srv.port(), ua, "phone");
    MustSend(a, "u:" + ub, "c1");
    Json m;
    if (!b.WaitType("msg", &m, 3s))
      ++lost;
  }
  CHECK_MESSAGE(lost == 0, lost << " of 20 pushes never arrived");
}

}  // namespace
}  // namespace longlink::test
