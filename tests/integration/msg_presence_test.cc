// PROTOCOL.md section 7: presence queries, watch pushes, ping/pong, and the
// HTTP presence endpoint of section 9.
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/jwt.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

// Checks a presence push.
void CheckPresencePush(const Json& p, std::string_view user, bool online) {
  INFO("presence push: " << p);
  CHECK(p.Str("t") == "presence");
  CHECK(p.Str("user") == user);
  CHECK(p["online"].raw() == (online ? "true" : "false"));
  CHECK(PlausibleTs(p["ts"], 10000));
  CHECK(!p.Has("id"));
}

TEST_CASE("msg: presence of an online user says online and its device count") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b1, b2;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b1, srv.port(), "bob", "phone");
  LL_LOGIN(b2, srv.port(), "bob", "laptop");
  Json p = MustRequest(a, R"({"t":"presence","id":4,"users":["bob","alice"]})", 4);
  INFO(p);
  CHECK(p.Str("t") == "presence");
  CHECK(p.Int("id") == 4);
  CHECK(p["users"]["bob"]["online"].raw() == "true");
  CHECK(p["users"]["bob"].Int("devices") == 2);
  CHECK(p["users"]["alice"]["online"].raw() == "true");
  CHECK(p["users"]["alice"].Int("devices") == 1);
  CHECK(p["users"].size() == 2);
}

TEST_CASE("msg: presence of a user seen before says offline with last_seen") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  {
    ImClient b;
    LL_LOGIN(b, srv.port(), "bob", "phone");
    b.Close();
  }
  int64_t closed_at = UnixMillis();
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  // The disconnect may take a moment to be seen on another shard.
  Json p;
  for (int i = 0; i < 20; ++i) {
    p = MustRequest(a, R"({"t":"presence","id":4,"users":["bob"]})", 4);
    if (p["users"]["bob"].Has("last_seen"))
      break;
    std::this_thread::sleep_for(100ms);
  }
  INFO(p);
  const Json& bob = p["users"]["bob"];
  CHECK(bob["online"].raw() == "false");
  CHECK(PlausibleTs(bob["last_seen"], 10000));
  CHECK(bob.Int("last_seen") <= closed_at + 2000);
}

TEST_CASE("msg: presence of a user never seen says only online false") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  Json p = MustRequest(a, R"({"t":"presence","id":4,"users":["nobody"]})", 4);
  INFO(p);
  const Json& nobody = p["users"]["nobody"];
  CHECK(nobody.is_object());
  CHECK(nobody["online"].raw() == "false");
  CHECK(!nobody.Has("last_seen"));
}

TEST_CASE("msg: watch pushes online on a user's first device and offline when the last leaves") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  CheckOk(MustRequest(a, R"({"t":"watch","id":3,"users":["bob"]})", 3), 3);
  ImClient b1;
  LL_LOGIN(b1, srv.port(), "bob", "phone");
  CheckPresencePush(MustNext(a), "bob", true);
  ImClient b2;
  LL_LOGIN(b2, srv.port(), "bob", "laptop");
  LL_EXPECT_NO_FRAME(a, 700ms);
  b1.Close();
  LL_EXPECT_NO_FRAME(a, 700ms);
  b2.Close();
  CheckPresencePush(MustNext(a), "bob", false);
  // Others are not reported.
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  LL_EXPECT_NO_FRAME(a, 500ms);
}

TEST_CASE("msg: watch sends no initial state and needs no id") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  REQUIRE(a.Send(R"({"t":"watch","users":["bob","carol"]})"));
  LL_EXPECT_NO_FRAME(a, 700ms);
  b.Close();
  CheckPresencePush(MustNext(a), "bob", false);
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  CheckPresencePush(MustNext(a), "carol", true);
}

TEST_CASE("msg: GET /api/presence answers the presence reply without id") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ApiReply r = Api(srv.port(), "GET", "/api/presence?users=bob,nobody");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(!r.json.Has("id"));
  CHECK(r.json["users"]["bob"]["online"].raw() == "true");
  CHECK(r.json["users"]["bob"].Int("devices") == 1);
  CHECK(r.json["users"]["nobody"]["online"].raw() == "false");
  CHECK(!r.json["users"]["nobody"].Has("last_seen"));
}

// Two devices connecting (then leaving) at the same moment, possibly on
// different shards: the user went from no device to one (and back) once.
TEST_CASE("msg: two devices connecting and leaving at once give one online and one offline push") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  ImClient w;
  LL_LOGIN(w, srv.port(), "watcher", "phone");
  for (int i = 0; i < 4; ++i) {
    std::string user = "bob" + std::to_string(i);
    INFO(user);
    CheckOk(MustRequest(w, R"({"t":"watch","id":1,"users":[")" + user + R"("]})", 1), 1);
    ImClient d1, d2;
    bool ok1 = false, ok2 = false;
    std::thread t1([&] { ok1 = d1.Login(srv.port(), user, "phone"); });
    std::thread t2([&] { ok2 = d2.Login(srv.port(), user, "laptop"); });
    t1.join();
    t2.join();
    REQUIRE(ok1);
    REQUIRE(ok2);
    CheckPresencePush(MustNext(w), user, true);
    LL_EXPECT_NO_FRAME(w, 400ms);
    std::thread c1([&] { d1.Close(); });
    std::thread c2([&] { d2.Close(); });
    c1.join();
    c2.join();
    CheckPresencePush(MustNext(w), user, false);
    LL_EXPECT_NO_FRAME(w, 400ms);
  }
}

}  // namespace
}  // namespace longlink::test
