// PROTOCOL.md section 7 limits on /ws: the per-connection token bucket
// (rate_limited, then 4029 for abuse), --max-conns (503) and --max-message
// (1009).
#include <set>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

std::string Pings(int first_id, int n) {
  std::string batch;
  for (int i = 0; i < n; ++i)
    batch += EncodeFrame(op::kText, R"({"t":"ping","id":)" + std::to_string(first_id + i) + "}");
  return batch;
}

TEST_CASE("msg: frames over --rate get rate_limited with an integer retry_ms") {
  Secrets s;
  Server srv(MsgArgs(s, {"--rate", "5"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  std::this_thread::sleep_for(500ms);  // let the bucket refill after the hello
  REQUIRE(c.ws().SendRaw(Pings(1, 18)));
  int pongs = 0, limited = 0;
  for (int i = 0; i < 18; ++i) {
    Json f = MustNext(c);
    INFO(f);
    if (f.Str("t") == "pong") {
      ++pongs;
    } else {
      CHECK(f.Str("t") == "error");
      CHECK(f.Str("code") == "rate_limited");
      CHECK(f["retry_ms"].is_int());
      CHECK(f.Int("retry_ms") > 0);
      CHECK(f.Int("retry_ms") <= 1000);
      ++limited;
    }
  }
  INFO("pongs " << pongs << ", rate_limited " << limited);
  CHECK(pongs >= 9);   // the burst: twice the rate
  CHECK(pongs <= 12);  // plus what refilled meanwhile
  CHECK(limited >= 6);
  CHECK(!c.closed());
  // After a wait the bucket has tokens again.
  std::this_thread::sleep_for(1500ms);
  CHECK(MustRequest(c, R"({"t":"ping","id":100})", 100).Str("t") == "pong");
}

// PROTOCOL.md 1.1: the reply or error to a request carries its id, so a
// client knows which request to retry.
TEST_CASE("msg: a rate_limited error carries the id of the dropped request") {
  Secrets s;
  Server srv(MsgArgs(s, {"--rate", "5"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  std::this_thread::sleep_for(500ms);
  REQUIRE(c.ws().SendRaw(Pings(1, 14)));
  std::set<int64_t> ids;
  for (int i = 0; i < 14; ++i) {
    Json f = MustNext(c);
    INFO(f);
    CHECK(f.Has("id"));
    ids.insert(f.Int("id"));
  }
  CHECK(ids.size() == 14);  // every ping answered once, by pong or error
}

TEST_CASE(
    "msg: a connection with more than four times --rate frames dropped within 2 s gets 4029") {
  Secrets s;
  Server srv(MsgArgs(s, {"--rate", "5"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  REQUIRE(c.ws().SendRaw(Pings(1, 45)));  // ~10 pass, ~35 dropped > 20
  CHECK(c.WaitClose(5s) == 4029);
}

TEST_CASE("msg: a connection with at most four times --rate frames dropped stays open") {
  Secrets s;
  Server srv(MsgArgs(s, {"--rate", "5"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  std::this_thread::sleep_for(500ms);
  REQUIRE(c.ws().SendRaw(Pings(1, 24)));  // ~10 pass, ~14 dropped <= 20
  for (int i = 0; i < 24; ++i) MustNext(c);
  std::this_thread::sleep_for(2500ms);
  CHECK(!c.closed());
  CHECK(MustRequest(c, R"({"t":"ping","id":100})", 100).Str("t") == "pong");
}

TEST_CASE("msg: over --max-conns a new upgrade is answered 503 overloaded") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-conns", "2"}));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ImClient c;
  CHECK(!c.Connect(srv.port()));
  INFO(c.ws().response().raw_head << c.ws().response().body);
  CHECK(c.ws().response().status == 503);
  // The two sessions are unharmed.
  CHECK(MustRequest(a, R"({"t":"ping","id":1})", 1).Str("t") == "pong");
  // Once one leaves, a new upgrade is accepted again.
  b.Close();
  bool ok = false;
  for (int i = 0; i < 30 && !ok; ++i) {
    ImClient d;
    ok = d.Login(srv.port(), "carol", "phone");
    if (!ok)
      std::this_thread::sleep_for(100ms);
  }
  CHECK(ok);
}

TEST_CASE("msg: the 503 for --max-conns carries the overloaded error") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-conns", "1"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/ws", &r, UpgradeHeaders(NewKey())));
  INFO(r.raw_head << r.body);
  CHECK(r.status == 503);
  CHECK(r.body.find("overloaded") != std::string::npos);
}

TEST_CASE("msg: a WebSocket message over --max-message closes with 1009") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-message", "1000"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "alice", "phone");
  REQUIRE(c.Send(SendFrame("u:bob", "c1", "\"" + std::string(1200, 'x') + "\"", 1)));
  CHECK(c.WaitClose() == 1009);
}

}  // namespace
}  // namespace longlink::test
