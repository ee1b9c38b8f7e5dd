// PROTOCOL.md section 5: recv and read (replies only with an id), cursors,
// redelivery after --ack-timeout, and delivered/read receipts.
#include <string>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

long long MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// Alice (`a`) sends bob `n` messages (cmid prefix + i, body body_of(i)) in
// one write, then waits for their n acks.
template <typename BodyOf>
void SendBatchToBob(ImClient& a, int n, const std::string& cmid_prefix, BodyOf body_of) {
  std::string batch;
  for (int i = 0; i < n; ++i)
    batch +=
        EncodeFrame(op::kText, SendFrame("u:bob", cmid_prefix + std::to_string(i), body_of(i), i));
  REQUIRE(a.ws().SendRaw(batch, 60s));
  for (int i = 0; i < n; ++i) REQUIRE(MustNext(a, 20s).Str("t") == "ack");
}

TEST_CASE("msg: recv and read answer ok only when they carry an id") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  MustSend(a, "u:bob", "c2");
  MustPush(b, "d:alice:bob");
  MustPush(b, "d:alice:bob");
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":1})"));
  REQUIRE(b.Send(R"({"t":"read","conv":"d:alice:bob","seq":1})"));
  LL_EXPECT_NO_FRAME(b, 500ms);
  CheckOk(MustRequest(b, R"({"t":"recv","id":11,"conv":"d:alice:bob","seq":2})", 11), 11);
  CheckOk(MustRequest(b, R"({"t":"read","id":12,"conv":"d:alice:bob","seq":2})", 12), 12);
  LL_EXPECT_NO_FRAME(b, 300ms);
}

TEST_CASE("msg: reading or receiving a group that does not exist or is not yours gets an error") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  CheckError(MustRequest(b, R"({"t":"read","id":1,"conv":"g:nosuch","seq":1})", 1), "not_found", 1);
  CheckError(MustRequest(b, R"({"t":"read","id":2,"conv":"g:team","seq":1})", 2), "forbidden", 2);
  CheckError(MustRequest(b, R"({"t":"recv","id":3,"conv":"g:team","seq":1})", 3), "forbidden", 3);
}

TEST_CASE(
    "msg: an unacknowledged push is pushed again after --ack-timeout, then after twice that") {
  Secrets s;
  Server srv(MsgArgs(s, {"--ack-timeout", "1"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1", R"({"n":1})");
  Json first = MustPush(b, "d:alice:bob");
  auto t0 = Clock::now();
  Json second = MustPush(b, "d:alice:bob", 5s);
  long long d1 = MsSince(t0);
  auto t1 = Clock::now();
  Json third = MustPush(b, "d:alice:bob", 6s);
  long long d2 = MsSince(t1);
  INFO("redelivered after " << d1 << " ms, then after " << d2 << " ms");
  CHECK(d1 >= 700);
  CHECK(d1 <= 2500);
  CHECK(d2 >= 1500);
  CHECK(d2 <= 3500);
  for (const Json* m : {&second, &third})
    CheckMsg(*m, "d:alice:bob", 1, "alice", "phone", "c1", R"({"n":1})");
  CHECK(second.Int("ts") == first.Int("ts"));
  // Once covered by recv, it is not pushed again (the next would come ~4 s later).
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":1})"));
  CheckReceipt(MustNext(a), "d:alice:bob", 1, "bob", "delivered");
  LL_EXPECT_NO_FRAME(b, 5500ms);
}

TEST_CASE("msg: a push covered by recv is not pushed again") {
  Secrets s;
  Server srv(MsgArgs(s, {"--ack-timeout", "1"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  MustSend(a, "u:bob", "c2");
  MustPush(b, "d:alice:bob");
  MustPush(b, "d:alice:bob");
  // A cumulative recv of 2 covers both.
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":2})"));
  LL_EXPECT_NO_FRAME(b, 3000ms);
}

TEST_CASE("msg: a recv covering only part of the pushes leaves the rest to redelivery") {
  Secrets s;
  Server srv(MsgArgs(s, {"--ack-timeout", "1"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  MustSend(a, "u:bob", "c2");
  MustPush(b, "d:alice:bob");
  MustPush(b, "d:alice:bob");
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":1})"));
  Json again = MustPush(b, "d:alice:bob", 4s);
  CHECK(again.Int("seq") == 2);
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":2})"));
  LL_EXPECT_NO_FRAME(b, 3000ms);
}

TEST_CASE("msg: a push after a recv emptied its conversation's list is resent on its own time") {
  // A list emptied by a recv stays with the session until its timer fires
  // (hub.h): a later push into it must still wait one --ack-timeout from
  // its own push, and what the recv covered is never resent.
  Secrets s;
  Server srv(MsgArgs(s, {"--ack-timeout", "1"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  CHECK(MustPush(b, "d:alice:bob").Int("seq") == 1);
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":1})"));
  CheckReceipt(MustNext(a), "d:alice:bob", 1, "bob", "delivered");
  // Past the emptied list's timer (~1 s after the first push), then a push.
  LL_EXPECT_NO_FRAME(b, 600ms);
  MustSend(a, "u:bob", "c2");
  CHECK(MustPush(b, "d:alice:bob").Int("seq") == 2);
  auto t2 = Clock::now();
  Json r = MustPush(b, "d:alice:bob", 5s);
  long long after = MsSince(t2);
  INFO("seq " << r.Int("seq") << " resent " << after << " ms after its push");
  CHECK(r.Int("seq") == 2);
  CHECK(after >= 900);
  CHECK(after <= 1800);
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":2})"));
  CheckReceipt(MustNext(a), "d:alice:bob", 2, "bob", "delivered");
  LL_EXPECT_NO_FRAME(b, 2500ms);
}

TEST_CASE("msg: each unacknowledged push keeps its own redelivery time and backoff") {
  // One list per conversation and one timer per list (hub.h): a push made
  // after an earlier one was backed off is still resent one --ack-timeout
  // after it was made, not when the earlier one is due.
  Secrets s;
  Server srv(MsgArgs(s, {"--ack-timeout", "1"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  CHECK(MustPush(b, "d:alice:bob").Int("seq") == 1);
  auto t1 = Clock::now();
  Json r1 = MustPush(b, "d:alice:bob", 5s);  // seq 1 again at ~1 s; next in ~2 s
  CHECK(r1.Int("seq") == 1);
  long long first = MsSince(t1);
  MustSend(a, "u:bob", "c2");
  CHECK(MustPush(b, "d:alice:bob").Int("seq") == 2);
  auto t2 = Clock::now();
  // Next: seq 2 at ~1 s after its push (before seq 1's ~2 s), then seq 1.
  Json r2 = MustPush(b, "d:alice:bob", 5s);
  long long second = MsSince(t2);
  Json r3 = MustPush(b, "d:alice:bob", 5s);
  long long third = MsSince(t2);
  INFO("seq 1 resent after " << first << " ms; seq 2 after " << second << " ms; then seq "
                             << r3.Int("seq") << " at " << third << " ms");
  CHECK(first >= 700);
  CHECK(first <= 2500);
  CHECK(r2.Int("seq") == 2);
  CHECK(second >= 700);
  CHECK(second <= 1800);
  CHECK(r3.Int("seq") == 1);
  // Covering both stops both.
  REQUIRE(b.Send(R"({"t":"recv","conv":"d:alice:bob","seq":2})"));
  CheckReceipt(MustNext(a), "d:alice:bob", 2, "bob", "delivered");
  LL_EXPECT_NO_FRAME(b, 4500ms);
}

TEST_CASE("msg: bob's recv sends alice a delivered receipt and bob's other devices one too") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b1, b2;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b1, srv.port(), "bob", "phone");
  LL_LOGIN(b2, srv.port(), "bob", "tablet");
  MustSend(a, "u:bob", "c1");
  MustPush(b1, "d:alice:bob");
  MustPush(b2, "d:alice:bob");
  REQUIRE(b1.Send(R"({"t":"recv","conv":"d:alice:bob","seq":1})"));
  Json r = MustNext(a);
  CheckReceipt(r, "d:alice:bob", 1, "bob", "delivered");
  CheckReceipt(MustNext(b2), "d:alice:bob", 1, "bob", "delivered");
  LL_EXPECT_NO_FRAME(b1, 500ms);
}

TEST_CASE("msg: bob's read sends alice a read receipt, not to the connection that moved it") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a1, a2, b1, b2;
  LL_LOGIN(a1, srv.port(), "alice", "phone");
  LL_LOGIN(a2, srv.port(), "alice", "laptop");
  LL_LOGIN(b1, srv.port(), "bob", "phone");
  LL_LOGIN(b2, srv.port(), "bob", "tablet");
  MustSend(a1, "u:bob", "c1");
  MustSend(a1, "u:bob", "c2");
  for (ImClient* c : {&a2, &b1, &b2}) {
    MustPush(*c, "d:alice:bob");
    MustPush(*c, "d:alice:bob");
  }
  REQUIRE(b1.Send(R"({"t":"read","conv":"d:alice:bob","seq":2})"));
  for (ImClient* c : {&a1, &a2, &b2}) CheckReceipt(MustNext(*c), "d:alice:bob", 2, "bob", "read");
  LL_EXPECT_NO_FRAME(b1, 500ms);
  // One receipt frame per receiving connection, in the metrics too.
  CHECK(FetchMetricSum(srv.port(), "receipts_total") == 3);
}

TEST_CASE("msg: no receipt is sent when the cursor does not move") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  MustSend(a, "u:bob", "c2");
  CheckOk(MustRequest(b, R"({"t":"recv","id":1,"conv":"d:alice:bob","seq":2})", 1), 1);
  CheckReceipt(MustType(a, "receipt"), "d:alice:bob", 2, "bob", "delivered");
  CheckOk(MustRequest(b, R"({"t":"recv","id":2,"conv":"d:alice:bob","seq":1})", 2), 2);
  CheckOk(MustRequest(b, R"({"t":"recv","id":3,"conv":"d:alice:bob","seq":2})", 3), 3);
  LL_EXPECT_NO_FRAME(a, 700ms);
  // The cursor stayed at 2: sync (all) says so.
  Json sync = MustRequest(b, R"({"t":"sync","id":4,"all":true})", 4);
  REQUIRE(sync["convs"].size() == 1);
  CHECK(sync["convs"][0].Int("recv") == 2);
  // read cursor: the same.
  CheckOk(MustRequest(b, R"({"t":"read","id":5,"conv":"d:alice:bob","seq":2})", 5), 5);
  CheckReceipt(MustType(a, "receipt"), "d:alice:bob", 2, "bob", "read");
  CheckOk(MustRequest(b, R"({"t":"read","id":6,"conv":"d:alice:bob","seq":1})", 6), 6);
  LL_EXPECT_NO_FRAME(a, 700ms);
  CHECK(FetchMetricSum(srv.port(), "receipts_total") == 2);
}

TEST_CASE("msg: a recv above the conversation's last counts as its last") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  MustSend(a, "u:bob", "c2");
  CheckOk(MustRequest(b, R"({"t":"recv","id":1,"conv":"d:alice:bob","seq":99})", 1), 1);
  CheckReceipt(MustType(a, "receipt"), "d:alice:bob", 2, "bob", "delivered");
  Json sync = MustRequest(b, R"({"t":"sync","id":2,"all":true})", 2);
  REQUIRE(sync["convs"].size() == 1);
  CHECK(sync["convs"][0].Int("recv") == 2);
  // A third message is above the cursor again: a plain sync lists it.
  MustSend(a, "u:bob", "c3");
  Json sync2 = MustRequest(b, R"({"t":"sync","id":3})", 3);
  REQUIRE(sync2["convs"].size() == 1);
  CHECK(sync2["convs"][0].Int("last") == 3);
  CHECK(sync2["convs"][0].Int("recv") == 2);
}

TEST_CASE("msg: a pull with after moves the recv cursor and sends a delivered receipt") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 4; ++i) MustSend(a, "u:bob", "c" + std::to_string(i));
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json page = MustRequest(b, R"({"t":"pull","id":1,"conv":"d:alice:bob","after":3,"limit":10})", 1);
  CHECK(page["msgs"].size() == 1);
  CheckReceipt(MustType(a, "receipt"), "d:alice:bob", 3, "bob", "delivered");
}

TEST_CASE("msg: receipts in a group reach all members up to --receipt-group-limit") {
  Secrets s;
  Server srv(MsgArgs(s, {"--receipt-group-limit", "2"}));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "pair", {"alice", "bob"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "g:pair", "c1");
  MustPush(b, "g:pair");
  REQUIRE(b.Send(R"({"t":"read","conv":"g:pair","seq":1})"));
  CheckReceipt(MustNext(a), "g:pair", 1, "bob", "read");
}

TEST_CASE("msg: groups above --receipt-group-limit get no receipts") {
  Secrets s;
  Server srv(MsgArgs(s, {"--receipt-group-limit", "2"}));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "trio", {"alice", "bob", "carol"}));
  ImClient a, b, c;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  LL_LOGIN(c, srv.port(), "carol", "phone");
  MustSend(a, "g:trio", "c1");
  MustPush(b, "g:trio");
  MustPush(c, "g:trio");
  REQUIRE(b.Send(R"({"t":"recv","conv":"g:trio","seq":1})"));
  REQUIRE(b.Send(R"({"t":"read","conv":"g:trio","seq":1})"));
  LL_EXPECT_NO_FRAME(a, 1000ms);
  LL_EXPECT_NO_FRAME(c, 10ms);
  // The cursors moved all the same.
  Json sync = MustRequest(b, R"({"t":"sync","id":2,"all":true})", 2);
  REQUIRE(sync["convs"].size() == 1);
  CHECK(sync["convs"][0].Int("recv") == 1);
  CHECK(sync["convs"][0].Int("read") == 1);
}

TEST_CASE("msg: a push not confirmed before a disconnect is found by sync after the reconnect") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  {
    ImClient b;
    LL_LOGIN(b, srv.port(), "bob", "phone");
    MustSend(a, "u:bob", "c1");
    MustPush(b, "d:alice:bob");
    b.Close();
  }
  MustSend(a, "u:bob", "c2");
  ImClient b2;
  LL_LOGIN(b2, srv.port(), "bob", "phone");
  LL_EXPECT_NO_FRAME(b2, 1000ms);  // no backlog pushed at a reconnecting device
  Json sync = MustRequest(b2, R"({"t":"sync","id":1})", 1);
  INFO(sync);
  REQUIRE(sync["convs"].size() == 1);
  CHECK(sync["convs"][0].Str("conv") == "d:alice:bob");
  CHECK(sync["convs"][0].Int("last") == 2);
  CHECK(sync["convs"][0].Int("recv") == 0);
}

TEST_CASE(
    "msg: pushes queued behind a reader that lags arrive whole and in order, small and large "
    "mixed") {
  // Bob does not read while alice sends: his pushes pile up in the server's
  // queue (tiny frames copied, larger ones shared, each with the WebSocket
  // header built into the shared frame) and leave in batches that gather
  // the small ones into one write. Every body must come out byte for byte.
  Secrets s;
  Server srv(MsgArgs(s, {"--max-outbuf", "64MiB", "--rate", "100000"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  constexpr int kN = 600;
  auto body_of = [](int i) {
    // 3 sizes: under 256 B, over the 2 KiB gather limit, and 126..65535 B
    // (a 4-byte WebSocket header), with content that differs per message.
    size_t len = i % 3 == 0 ? 20 : i % 3 == 1 ? 5000 : 300;
    std::string t(len, char('a' + i % 26));
    t += std::to_string(i);
    return "\"" + t + "\"";
  };
  SendBatchToBob(a, kN, "q", body_of);
  for (int i = 0; i < kN; ++i) {
    Json m = MustPush(b, "d:alice:bob", 20s);
    INFO("push " << i);
    CHECK(m.Int("seq") == i + 1);
    CHECK(m.Str("cmid") == "q" + std::to_string(i));
    CHECK(m["body"].raw() == body_of(i));
  }
}

TEST_CASE("msg: a recipient that does not read is closed with 4008 and loses nothing") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-outbuf", "256KiB", "--rate", "100000"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  constexpr int kN = 250;
  const std::string body = "\"" + std::string(60000, 'x') + "\"";
  SendBatchToBob(a, kN, "c", [&](int) { return body; });
  // bob reads now: whatever was queued, then close 4008.
  CHECK(b.WaitClose(20s) == 4008);
  size_t pushed = b.kept().size();
  CHECK(pushed < size_t(kN));
  int64_t prev = 0;
  for (const Json& m : b.kept()) {
    CHECK(m.Int("seq") == prev + 1);
    prev = m.Int("seq");
  }
  // Back again: everything is there.
  ImClient b2;
  LL_LOGIN(b2, srv.port(), "bob", "phone");
  int64_t id = b2.NextId();
  Json page = MustRequest(b2,
                          R"({"t":"pull","id":)" + std::to_string(id) +
                              R"(,"conv":"d:alice:bob","after":0,"limit":1000})",
                          id, 20s);
  REQUIRE(page["msgs"].size() == size_t(kN));
  for (int i = 0; i < kN; ++i) CHECK(page["msgs"][size_t(i)].Int("seq") == i + 1);
}

TEST_CASE("msg: a pull with after covering a push stops its redelivery") {
  Secrets s;
  Server srv(MsgArgs(s, {"--ack-timeout", "1"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1");
  MustPush(b, "d:alice:bob");
  // after 1: confirms seq 1 as a recv would.
  Json page = MustRequest(b, R"({"t":"pull","id":1,"conv":"d:alice:bob","after":1})", 1);
  CHECK(page["msgs"].size() == 0);
  LL_EXPECT_NO_FRAME(b, 3000ms);
}

TEST_CASE("msg: an unacknowledged group push is pushed again after --ack-timeout") {
  Secrets s;
  Server srv(MsgArgs(s, {"--ack-timeout", "1"}));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "g:team", "c1", "7");
  MustPush(b, "g:team");
  auto t0 = Clock::now();
  Json again = MustPush(b, "g:team", 4s);
  long long d = MsSince(t0);
  CHECK(d >= 700);
  CHECK(d <= 2500);
  CheckMsg(again, "g:team", 1, "alice", "phone", "c1", "7");
  REQUIRE(b.Send(R"({"t":"recv","conv":"g:team","seq":1})"));
  CheckReceipt(MustNext(a), "g:team", 1, "bob", "delivered");
  LL_EXPECT_NO_FRAME(b, 2500ms);
}

}  // namespace
}  // namespace longlink::test
