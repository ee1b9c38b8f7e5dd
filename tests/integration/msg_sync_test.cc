// PROTOCOL.md section 6: sync (conversations above this device's recv
// cursor, or all of them), pull pages with after/before/limit/more, the
// cursor moved by pull, and the errors of pull.
#include <algorithm>
#include <map>
#include <string>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

// conv -> its entry in a sync reply.
std::map<std::string, Json> ByConv(const Json& sync) {
  std::map<std::string, Json> out;
  for (const Json& c : sync["convs"].items()) out[c.Str("conv")] = c;
  return out;
}

void CheckEntry(const Json& e, int64_t last, int64_t recv, int64_t read) {
  INFO("entry " << e);
  CHECK(e.Int("last") == last);
  CHECK(e.Int("recv") == recv);
  CHECK(e.Int("read") == read);
}

std::string Seqs(const Json& page) {
  std::string out;
  for (const Json& m : page["msgs"].items()) out += (out.empty() ? "" : ",") + m["seq"].raw();
  return out;
}

Json Pull(ImClient& c, const std::string& members) {
  int64_t id = c.NextId();
  Json p = MustRequest(c, R"({"t":"pull","id":)" + std::to_string(id) + "," + members + "}", id);
  INFO("pull " << members << " -> " << p);
  REQUIRE(p.Str("t") == "page");
  return p;
}

TEST_CASE("msg: sync lists the conversations whose last is above this device's recv cursor") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, c;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(c, srv.port(), "carol", "phone");
  for (int i = 1; i <= 3; ++i) MustSend(a, "u:bob", "a" + std::to_string(i));
  MustSend(c, "u:bob", "c1");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  LL_EXPECT_NO_FRAME(b, 300ms);  // no backlog flood
  Json sync = MustRequest(b, R"({"t":"sync","id":2})", 2);
  INFO(sync);
  CHECK(sync.Str("t") == "sync");
  CHECK(sync.Int("id") == 2);
  auto convs = ByConv(sync);
  REQUIRE(convs.size() == 2);
  CheckEntry(convs["d:alice:bob"], 3, 0, 0);
  CheckEntry(convs["d:bob:carol"], 1, 0, 0);
  CheckOk(MustRequest(b, R"({"t":"recv","id":3,"conv":"d:alice:bob","seq":3})", 3), 3);
  Json sync2 = MustRequest(b, R"({"t":"sync","id":4})", 4);
  auto convs2 = ByConv(sync2);
  REQUIRE(convs2.size() == 1);
  CheckEntry(convs2["d:bob:carol"], 1, 0, 0);
}

TEST_CASE("msg: sync with all lists every conversation, groups without messages with last 0") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "empty", {"bob", "carol"}));
  REQUIRE(CreateGroup(srv.port(), "busy", {"alice", "bob"}));
  REQUIRE(CreateGroup(srv.port(), "other", {"alice"}));
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  MustSend(a, "u:bob", "a1");
  MustSend(a, "g:busy", "a2");
  MustSend(a, "g:busy", "a3");
  MustSend(a, "u:carol", "a4");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  CheckOk(MustRequest(b, R"({"t":"recv","id":1,"conv":"d:alice:bob","seq":1})", 1), 1);
  CheckOk(MustRequest(b, R"({"t":"read","id":2,"conv":"d:alice:bob","seq":1})", 2), 2);
  Json sync = MustRequest(b, R"({"t":"sync","id":3,"all":true})", 3);
  INFO(sync);
  auto convs = ByConv(sync);
  CHECK(convs.size() == 3);
  REQUIRE(convs.count("d:alice:bob"));
  REQUIRE(convs.count("g:busy"));
  REQUIRE(convs.count("g:empty"));
  CheckEntry(convs["d:alice:bob"], 1, 1, 1);
  CheckEntry(convs["g:busy"], 2, 0, 0);
  CheckEntry(convs["g:empty"], 0, 0, 0);
  // Without all: only g:busy is above the cursor.
  auto some = ByConv(MustRequest(b, R"({"t":"sync","id":4})", 4));
  CHECK(some.size() == 1);
  CHECK(some.count("g:busy") == 1);
  // A group the user left is no longer one of their conversations.
  CheckOk(MustRequest(b, R"({"t":"leave","id":5,"conv":"g:busy"})", 5), 5);
  auto after_leave = ByConv(MustRequest(b, R"({"t":"sync","id":6,"all":true})", 6));
  CHECK(after_leave.count("g:busy") == 0);
  CHECK(after_leave.size() == 2);
}

TEST_CASE("msg: a sync after a recv sees the moved cursor") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 5; ++i) MustSend(a, "u:bob", "a" + std::to_string(i));
  LL_LOGIN(b, srv.port(), "bob", "phone");
  // recv, read and sync in one write: the sync reflects both.
  std::string batch = EncodeFrame(op::kText, R"({"t":"recv","conv":"d:alice:bob","seq":4})") +
                      EncodeFrame(op::kText, R"({"t":"read","conv":"d:alice:bob","seq":3})") +
                      EncodeFrame(op::kText, R"({"t":"sync","id":7,"all":true})");
  REQUIRE(b.ws().SendRaw(batch));
  Json sync = MustNext(b);
  INFO(sync);
  CHECK(sync.Int("id") == 7);
  auto convs = ByConv(sync);
  REQUIRE(convs.count("d:alice:bob"));
  CheckEntry(convs["d:alice:bob"], 5, 4, 3);
  // A pull pipelined after a recv, and a sync after the pull.
  batch = EncodeFrame(op::kText, R"({"t":"recv","conv":"d:alice:bob","seq":5})") +
          EncodeFrame(op::kText, R"({"t":"sync","id":8})");
  REQUIRE(b.ws().SendRaw(batch));
  Json sync2 = MustNext(b);
  CHECK(sync2.Int("id") == 8);
  CHECK(sync2["convs"].size() == 0);
}

TEST_CASE("msg: recv and read cursors are kept per device") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  MustSend(a, "u:bob", "a1");
  MustSend(a, "u:bob", "a2");
  ImClient phone, tablet;
  LL_LOGIN(phone, srv.port(), "bob", "phone");
  LL_LOGIN(tablet, srv.port(), "bob", "tablet");
  CheckOk(MustRequest(phone, R"({"t":"recv","id":1,"conv":"d:alice:bob","seq":2})", 1), 1);
  CheckOk(MustRequest(phone, R"({"t":"read","id":2,"conv":"d:alice:bob","seq":1})", 2), 2);
  CHECK(MustRequest(phone, R"({"t":"sync","id":3})", 3)["convs"].size() == 0);
  auto convs = ByConv(MustRequest(tablet, R"({"t":"sync","id":4})", 4));
  REQUIRE(convs.count("d:alice:bob"));
  CheckEntry(convs["d:alice:bob"], 2, 0, 0);
  // And they survive a reconnect of the device.
  phone.Close();
  ImClient phone2;
  LL_LOGIN(phone2, srv.port(), "bob", "phone");
  auto all = ByConv(MustRequest(phone2, R"({"t":"sync","id":5,"all":true})", 5));
  REQUIRE(all.count("d:alice:bob"));
  CheckEntry(all["d:alice:bob"], 2, 2, 1);
}

TEST_CASE("msg: pull returns the limit lowest seqs above after and says whether more remain") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 5; ++i) MustSend(a, "u:bob", "a" + std::to_string(i), std::to_string(i));
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json p1 = Pull(b, R"("conv":"d:alice:bob","after":0,"limit":2)");
  CHECK(p1.Str("conv") == "d:alice:bob");
  CHECK(Seqs(p1) == "1,2");
  CHECK(p1["more"].raw() == "true");
  Json p2 = Pull(b, R"("conv":"d:alice:bob","after":2,"limit":2)");
  CHECK(Seqs(p2) == "3,4");
  CHECK(p2["more"].raw() == "true");
  Json p3 = Pull(b, R"("conv":"d:alice:bob","after":4,"limit":2)");
  CHECK(Seqs(p3) == "5");
  CHECK(p3["more"].raw() == "false");
  Json p4 = Pull(b, R"("conv":"d:alice:bob","after":5)");
  CHECK(Seqs(p4) == "");
  CHECK(p4["msgs"].is_array());
  CHECK(p4["more"].raw() == "false");
  // Far above the last, up to the largest after: nothing, and nothing more.
  for (std::string after : {"6", "9007199254740992", "18446744073709551614",
                            "18446744073709551615"}) {
    Json p = Pull(b, R"("conv":"d:alice:bob","after":)" + after);
    INFO("after " << after << " -> " << p);
    CHECK(Seqs(p) == "");
    CHECK(p["more"].raw() == "false");
    CHECK(!p.Has("first"));
  }
  // after defaults to 0.
  Json p5 = Pull(b, R"("conv":"d:alice:bob","limit":3)");
  CHECK(Seqs(p5) == "1,2,3");
  CHECK(p5["more"].raw() == "true");
  CHECK(!p5.Has("first"));
}

TEST_CASE("msg: pull with after moves this device's recv cursor up to after") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 5; ++i) MustSend(a, "u:bob", "a" + std::to_string(i));
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Pull(b, R"("conv":"d:alice:bob","after":3,"limit":1)");
  auto convs = ByConv(MustRequest(b, R"({"t":"sync","id":1})", 1));
  REQUIRE(convs.count("d:alice:bob"));
  CheckEntry(convs["d:alice:bob"], 5, 3, 0);
  // A lower after does not move it back.
  Pull(b, R"("conv":"d:alice:bob","after":1,"limit":1)");
  convs = ByConv(MustRequest(b, R"({"t":"sync","id":2})", 2));
  CheckEntry(convs["d:alice:bob"], 5, 3, 0);
  // A pull with before does not move it.
  Pull(b, R"("conv":"d:alice:bob","before":6,"limit":1)");
  convs = ByConv(MustRequest(b, R"({"t":"sync","id":3})", 3));
  CheckEntry(convs["d:alice:bob"], 5, 3, 0);
  Pull(b, R"("conv":"d:alice:bob","after":5)");
  CHECK(MustRequest(b, R"({"t":"sync","id":4})", 4)["convs"].size() == 0);
}

TEST_CASE("msg: pull with before returns the highest seqs below it in ascending order") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 5; ++i) MustSend(a, "u:bob", "a" + std::to_string(i));
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json p1 = Pull(b, R"("conv":"d:alice:bob","before":5,"limit":2)");
  CHECK(Seqs(p1) == "3,4");
  CHECK(p1["more"].raw() == "true");
  Json p2 = Pull(b, R"("conv":"d:alice:bob","before":3,"limit":5)");
  CHECK(Seqs(p2) == "1,2");
  CHECK(p2["more"].raw() == "false");
  Json p3 = Pull(b, R"("conv":"d:alice:bob","before":100,"limit":3)");
  CHECK(Seqs(p3) == "3,4,5");
  CHECK(p3["more"].raw() == "true");
  Json p4 = Pull(b, R"("conv":"d:alice:bob","before":1)");
  CHECK(Seqs(p4) == "");
  CHECK(p4["more"].raw() == "false");
}

TEST_CASE("msg: pull with both after and before gets bad_request") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  MustSend(a, "u:bob", "a1");
  CheckError(MustRequest(a, R"({"t":"pull","id":3,"conv":"d:alice:bob","after":0,"before":2})", 3),
             "bad_request", 3);
}

TEST_CASE("msg: pull clamps limit to 1..1000 and defaults it to 100") {
  Secrets s;
  Server srv(MsgArgs(s, {"--rate", "100000"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  constexpr int kN = 1005;
  std::string batch;
  for (int i = 0; i < kN; ++i)
    batch += EncodeFrame(op::kText, SendFrame("u:bob", "m" + std::to_string(i), "1", 10 + i));
  REQUIRE(a.ws().SendRaw(batch));
  for (int i = 0; i < kN; ++i) {
    Json ack = MustNext(a, 20s);
    REQUIRE(ack.Str("t") == "ack");
  }
  Json p0 = Pull(a, R"("conv":"d:alice:bob","before":2000,"limit":0)");
  CHECK(Seqs(p0) == std::to_string(kN));
  Json p1 = Pull(a, R"("conv":"d:alice:bob","before":2000,"limit":5000)");
  REQUIRE(p1["msgs"].size() == 1000);
  CHECK(p1["msgs"][0].Int("seq") == kN - 999);
  CHECK(p1["more"].raw() == "true");
  Json p2 = Pull(a, R"("conv":"d:alice:bob","before":2000)");
  REQUIRE(p2["msgs"].size() == 100);
  CHECK(p2["msgs"][0].Int("seq") == kN - 99);
  Json p3 = Pull(a, R"("conv":"d:alice:bob","after":0,"limit":0)");
  CHECK(Seqs(p3) == "1");
  Json p4 = Pull(a, R"("conv":"d:alice:bob","after":0,"limit":5000)");
  CHECK(p4["msgs"].size() == 1000);
  CHECK(p4["more"].raw() == "true");
  Json p5 = Pull(a, R"("conv":"d:alice:bob","after":1000,"limit":5000)");
  CHECK(Seqs(p5) == "1001,1002,1003,1004,1005");
  CHECK(p5["more"].raw() == "false");
}

TEST_CASE("msg: page items carry the members of the msg push except t") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "laptop");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  for (std::string to : {"u:bob", "g:team"}) {
    std::string body = R"({ "k" : [1, "\u00e9"] })";
    MustSend(a, to, "m-" + to.substr(0, 1), body);
    std::string conv = to == "u:bob" ? "d:alice:bob" : "g:team";
    Json push = MustPush(b, conv);
    Json page = Pull(b, R"("conv":")" + conv + R"(")");
    REQUIRE(page["msgs"].size() == 1);
    const Json& item = page["msgs"][0];
    CheckMsg(item, conv, 1, "alice", "laptop", "m-" + to.substr(0, 1), body, /*is_push=*/false);
    for (const auto& [key, value] : push.members()) {
      if (key == "t")
        continue;
      INFO("member " << key);
      CHECK(item[key].raw() == value.raw());
    }
  }
}

TEST_CASE(
    "msg: pulling a group the user is not a member of gets forbidden, an unknown one not_found") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  MustSend(a, "g:team", "a1");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  CheckError(MustRequest(b, R"({"t":"pull","id":1,"conv":"g:team"})", 1), "forbidden", 1);
  CheckError(MustRequest(b, R"({"t":"pull","id":2,"conv":"g:nosuch"})", 2), "not_found", 2);
  CheckError(MustRequest(b, R"({"t":"pull","id":3,"conv":"g:team","before":5})", 3), "forbidden",
             3);
}

TEST_CASE("msg: pulling someone else's direct conversation gets an error and no messages") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, c;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  MustSend(a, "u:bob", "secret");
  LL_LOGIN(c, srv.port(), "carol", "phone");
  Json r = MustRequest(c, R"({"t":"pull","id":1,"conv":"d:alice:bob"})", 1);
  INFO(r);
  CHECK(r.Str("t") == "error");
  CHECK((r.Str("code") == "forbidden" || r.Str("code") == "not_found"));
  CheckError(MustRequest(c, R"({"t":"pull","id":2,"conv":"x:alice"})", 2), "bad_request", 2);
}

TEST_CASE("msg: pulling a direct conversation without messages returns an empty page") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  Json p = Pull(a, R"("conv":"d:alice:bob")");
  CHECK(p.Str("conv") == "d:alice:bob");
  CHECK(p["msgs"].is_array());
  CHECK(p["msgs"].size() == 0);
  CHECK(p["more"].raw() == "false");
}

TEST_CASE("msg: a pull and a sync pipelined right after sends see the sent messages") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  std::string batch = EncodeFrame(op::kText, SendFrame("u:bob", "c1", "1", 1)) +
                      EncodeFrame(op::kText, SendFrame("g:team", "c2", "2", 2)) +
                      EncodeFrame(op::kText, SendFrame("u:bob", "c3", "3", 3)) +
                      EncodeFrame(op::kText, R"({"t":"pull","id":4,"conv":"d:alice:bob"})") +
                      EncodeFrame(op::kText, R"({"t":"pull","id":5,"conv":"g:team"})") +
                      EncodeFrame(op::kText, R"({"t":"sync","id":6,"all":true})");
  REQUIRE(a.ws().SendRaw(batch));
  Json p1, p2, sync;
  REQUIRE_MESSAGE(a.WaitId(4, &p1), a.error());
  REQUIRE_MESSAGE(a.WaitId(5, &p2), a.error());
  REQUIRE_MESSAGE(a.WaitId(6, &sync), a.error());
  INFO(p1 << "\n" << p2 << "\n" << sync);
  CHECK(Seqs(p1) == "1,2");
  CHECK(Seqs(p2) == "1");
  auto convs = ByConv(sync);
  CHECK(convs["d:alice:bob"].Int("last") == 2);
  CHECK(convs["g:team"].Int("last") == 1);
}

// The conversations of a first send live on whichever shard owns them; try
// several peers so that some of them are owned by another shard than
// alice's connection.
// On the log a send is answered (and seen by pulls) only once synced; the
// pull and the sync behind it must wait for it (section 1.1), while the
// recv between them does not hold the sends back.
TEST_CASE("msg: on the log too, a pull or sync pipelined after sends sees them, after their acks") {
  Secrets s;
  std::string fsync;
  SUBCASE("--fsync always") { fsync = "always"; }
  SUBCASE("--fsync never") { fsync = "never"; }
  Server srv(MsgArgs(s, {"--storage", "disk", "--fsync", fsync}));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int round = 0; round < 10; round++) {
    INFO("round " << round);
    int64_t base = 100 * round;
    std::string batch;
    for (int i = 1; i <= 5; i++) {
      std::string to = i % 2 ? "u:bob" : "g:team";
      batch += EncodeFrame(op::kText, SendFrame(to, "r" + std::to_string(round) + "-" +
                                                        std::to_string(i),
                                                std::to_string(i), base + i));
    }
    batch += EncodeFrame(op::kText, R"({"t":"recv","conv":"d:alice:bob","seq":1})");
    batch += EncodeFrame(op::kText, R"({"t":"pull","id":)" + std::to_string(base + 6) +
                                        R"(,"conv":"d:alice:bob","after":0,"limit":1000})");
    batch += EncodeFrame(op::kText, R"({"t":"sync","id":)" + std::to_string(base + 7) +
                                        R"(,"all":true})");
    REQUIRE(a.ws().SendRaw(batch));
    std::vector<int64_t> order;
    std::map<int64_t, Json> got;
    while (order.size() < 7) {
      Json f;
      REQUIRE_MESSAGE(a.Next(&f), a.error());
      if (!f.Has("id")) continue;  // pushes to alice's other conversations: none here
      order.push_back(f.Int("id"));
      got[f.Int("id")] = f;
    }
    // The pull and the sync come after every ack: they wait for them.
    CHECK(std::find(order.begin(), order.end(), base + 6) - order.begin() >= 5);
    CHECK(std::find(order.begin(), order.end(), base + 7) - order.begin() >= 5);
    int64_t direct_last = 0, group_last = 0;
    for (int i = 1; i <= 5; i++) {
      const Json& ack = got[base + i];
      REQUIRE(ack.Str("t") == "ack");
      (i % 2 ? direct_last : group_last) = ack.Int("seq");
    }
    const Json& page = got[base + 6];
    REQUIRE(page.Str("t") == "page");
    auto msgs = page["msgs"].items();
    REQUIRE(msgs.size() == size_t(direct_last));
    CHECK(msgs.back().Int("seq") == direct_last);
    auto convs = ByConv(got[base + 7]);
    CHECK(convs["d:alice:bob"].Int("last") == direct_last);
    CHECK(convs["g:team"].Int("last") == group_last);
  }
}

// Held frames that are answered at once when released (a forbidden send, a
// dup) answer their sends while the held queue is being worked through.
TEST_CASE("msg: frames held behind a send are all answered in order, errors and dups among them") {
  Secrets s;
  Server srv(MsgArgs(s, {"--storage", "disk", "--fsync", "always", "--threads", "1"}));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "secret", {"bob"}));
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  REQUIRE(MustSend(a, "u:bob", "c1", "1") == 1);
  for (int round = 0; round < 5; round++) {
    INFO("round " << round);
    const int64_t b = 100 * (round + 1);
    const std::string cmid = "n" + std::to_string(round);
    std::string batch = EncodeFrame(op::kText, SendFrame("u:bob", cmid, "2", b + 1)) +
                        EncodeFrame(op::kText, R"({"t":"pull","id":)" + std::to_string(b + 2) +
                                                   R"(,"conv":"d:alice:bob","after":0})") +
                        EncodeFrame(op::kText, SendFrame("g:secret", cmid + "s", "3", b + 3)) +
                        EncodeFrame(op::kText, SendFrame("u:bob", "c1", "4", b + 4)) +
                        EncodeFrame(op::kText, SendFrame("u:bob", cmid + "x", "5", b + 5)) +
                        EncodeFrame(op::kText, R"({"t":"pull","id":)" + std::to_string(b + 6) +
                                                   R"(,"conv":"d:alice:bob","after":0})") +
                        EncodeFrame(op::kText, R"({"t":"sync","id":)" + std::to_string(b + 7) +
                                                   R"(,"all":true})") +
                        EncodeFrame(op::kText, R"({"t":"ping","id":)" + std::to_string(b + 8) + "}");
    REQUIRE(a.ws().SendRaw(batch));
    std::map<int64_t, Json> got;
    for (int64_t id = b + 1; id <= b + 8; id++) {
      Json f;
      REQUIRE_MESSAGE(a.WaitId(id, &f), a.error());
      got[id] = f;
    }
    const int64_t seq1 = got[b + 1].Int("seq"), seq5 = got[b + 5].Int("seq");
    CHECK(got[b + 1].Str("t") == "ack");
    CHECK(got[b + 2]["msgs"].items().back().Int("seq") == seq1);
    CheckError(got[b + 3], "forbidden", b + 3);
    CHECK(got[b + 4].Int("seq") == 1);
    CHECK(got[b + 4]["dup"].raw() == "true");
    CHECK(seq5 == seq1 + 1);
    CHECK(got[b + 6]["msgs"].items().back().Int("seq") == seq5);
    CHECK(ByConv(got[b + 7])["d:alice:bob"].Int("last") == seq5);
    CHECK(got[b + 8].Str("t") == "pong");
  }
}

// At most 1,024 frames wait behind unanswered sends; the ones past that are
// answered `overloaded` at once and the rest, in order, once the send is
// durable. Everything here arrives in one read, before the send's fsync can
// even start (it starts when the loop turn ends).
TEST_CASE("msg: frames past 1024 held behind a send are answered overloaded, the rest in order") {
  Secrets s;
  Server srv(MsgArgs(s, {"--storage", "disk", "--fsync", "always", "--threads", "1", "--rate",
                         "100000"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  constexpr int kFrames = 1100;  // the send, a sync and 1,098 pings
  std::string batch = EncodeFrame(op::kText, SendFrame("u:bob", "h1", "1", 1)) +
                      EncodeFrame(op::kText, R"({"t":"sync","id":2})");
  for (int id = 3; id <= kFrames; id++) {
    batch += EncodeFrame(op::kText, R"({"t":"ping","id":)" + std::to_string(id) + "}");
  }
  REQUIRE(a.ws().SendRaw(batch));
  std::vector<int64_t> order;
  std::map<int64_t, Json> got;
  while (got.size() < size_t(kFrames)) {
    Json f;
    REQUIRE_MESSAGE(a.Next(&f), a.error());
    if (!f.Has("id")) continue;
    REQUIRE(got.count(f.Int("id")) == 0);
    order.push_back(f.Int("id"));
    got[f.Int("id")] = f;
  }
  // Held: the sync (id 2) and the pings up to id 1025; overloaded: the rest.
  for (int64_t id = 1026; id <= kFrames; id++) CheckError(got[id], "overloaded", id);
  CHECK(got[1].Str("t") == "ack");
  CHECK(got[2].Str("t") == "sync");
  for (int64_t id = 3; id <= 1025; id++) {
    INFO("id " << id << ": " << got[id]);
    CHECK(got[id].Str("t") == "pong");
  }
  // The overloaded answers come first (at once), then the ack, then the
  // held frames in the order they were sent.
  std::vector<int64_t> answered;
  for (int64_t id : order) {
    if (id <= 1025) answered.push_back(id);
  }
  REQUIRE(answered.size() == 1025);
  CHECK(answered[0] == 1);
  CHECK(std::is_sorted(answered.begin(), answered.end()));
  CHECK(std::find(order.begin(), order.end(), 1) > std::find(order.begin(), order.end(), 1026));
  // The connection carries on: the queue is empty again.
  Json sync = MustRequest(a, R"({"t":"sync","id":5000})", 5000);
  CHECK(ByConv(sync)["d:alice:bob"].Int("last") == 1);
}

TEST_CASE("msg: a sync pipelined right after the first send to a peer lists the new conversation") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 0; i < 6; ++i) {
    std::string peer = "peer" + std::to_string(i);
    int64_t send_id = 10 * i + 1, sync_id = 10 * i + 2;
    REQUIRE(a.ws().SendRaw(
        EncodeFrame(op::kText, SendFrame("u:" + peer, "c" + std::to_string(i), "1", send_id)) +
        EncodeFrame(op::kText,
                    R"({"t":"sync","id":)" + std::to_string(sync_id) + R"(,"all":true})")));
    Json ack, sync;
    REQUIRE_MESSAGE(a.WaitId(send_id, &ack), a.error());
    REQUIRE_MESSAGE(a.WaitId(sync_id, &sync), a.error());
    INFO("ack " << ack << ", then sync " << sync);
    CHECK(ack.Str("t") == "ack");
    auto convs = ByConv(sync);
    CHECK(convs.count("d:alice:" + peer) == 1);
    CHECK(convs.size() == size_t(i + 1));
  }
}

TEST_CASE("msg: a send pipelined after a join or a leave sees the new membership") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  for (int i = 0; i < 4; ++i) {
    std::string g = "lobby" + std::to_string(i);
    REQUIRE(CreateGroup(srv.port(), g, {"alice"}, /*open=*/true));
    int64_t id = 10 * i;
    std::string batch = EncodeFrame(op::kText, R"({"t":"join","id":)" + std::to_string(id + 1) +
                                                   R"(,"conv":"g:)" + g + R"("})") +
                        EncodeFrame(op::kText, SendFrame("g:" + g, "c1-" + g, "1", id + 2)) +
                        EncodeFrame(op::kText, R"({"t":"leave","id":)" + std::to_string(id + 3) +
                                                   R"(,"conv":"g:)" + g + R"("})") +
                        EncodeFrame(op::kText, SendFrame("g:" + g, "c2-" + g, "2", id + 4));
    REQUIRE(c.ws().SendRaw(batch));
    Json r1, r2, r3, r4;
    REQUIRE_MESSAGE(c.WaitId(id + 1, &r1), c.error());
    REQUIRE_MESSAGE(c.WaitId(id + 2, &r2), c.error());
    REQUIRE_MESSAGE(c.WaitId(id + 3, &r3), c.error());
    REQUIRE_MESSAGE(c.WaitId(id + 4, &r4), c.error());
    CheckOk(r1, id + 1);
    CheckAck(r2, id + 2, "g:" + g, 1, "c1-" + g);
    CheckOk(r3, id + 3);
    CheckError(r4, "forbidden", id + 4);
  }
}

TEST_CASE("msg: a member removed through the API gets no more pushes and cannot pull") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "g:team", "c1");
  MustPush(b, "g:team");
  REQUIRE(Api(srv.port(), "POST", "/api/groups/team/members", R"({"remove":["bob"]})").status ==
          200);
  MustSend(a, "g:team", "c2");
  LL_EXPECT_NO_FRAME(b, 700ms);
  CheckError(MustRequest(b, R"({"t":"pull","id":1,"conv":"g:team"})", 1), "forbidden", 1);
  auto convs = ByConv(MustRequest(b, R"({"t":"sync","id":2,"all":true})", 2));
  CHECK(convs.count("g:team") == 0);
  // Added back: pushes resume and the history is readable again.
  REQUIRE(Api(srv.port(), "POST", "/api/groups/team/members", R"({"add":["bob"]})").status == 200);
  MustSend(a, "g:team", "c3");
  CHECK(MustPush(b, "g:team").Int("seq") == 3);
  CHECK(Seqs(Pull(b, R"("conv":"g:team")")) == "1,2,3");
}

// Several peers, so that some conversations are owned by another shard
// than bob's connection.
TEST_CASE(
    "msg: a sync pipelined after recv and read sees the moved cursors of every conversation") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  constexpr int kPeers = 6;
  for (int i = 0; i < kPeers; ++i) {
    ImClient p;
    LL_LOGIN(p, srv.port(), "peer" + std::to_string(i), "phone");
    MustSend(p, "u:bob", "c1");
    MustSend(p, "u:bob", "c2");
    MustSend(p, "u:bob", "c3");
  }
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  for (int i = 0; i < kPeers; ++i) {
    std::string conv = "d:bob:peer" + std::to_string(i);
    int64_t sync_id = 100 + i;
    REQUIRE(
        b.ws().SendRaw(EncodeFrame(op::kText, R"({"t":"recv","conv":")" + conv + R"(","seq":2})") +
                       EncodeFrame(op::kText, R"({"t":"read","conv":")" + conv + R"(","seq":1})") +
                       EncodeFrame(op::kText, R"({"t":"sync","id":)" + std::to_string(sync_id) +
                                                  R"(,"all":true})")));
    Json sync;
    REQUIRE_MESSAGE(b.WaitId(sync_id, &sync), b.error());
    INFO("after recv/read of " << conv << ": " << sync);
    auto convs = ByConv(sync);
    REQUIRE(convs.count(conv) == 1);
    CheckEntry(convs[conv], 3, 2, 1);
    // A pull with after moves the recv cursor before the next sync too.
    REQUIRE(b.ws().SendRaw(
        EncodeFrame(op::kText, R"({"t":"pull","conv":")" + conv + R"(","after":3})") +
        EncodeFrame(op::kText,
                    R"({"t":"sync","id":)" + std::to_string(sync_id + 50) + R"(,"all":true})")));
    Json sync2;
    REQUIRE_MESSAGE(b.WaitId(sync_id + 50, &sync2), b.error());
    INFO("after pull of " << conv << ": " << sync2);
    auto convs2 = ByConv(sync2);
    REQUIRE(convs2.count(conv) == 1);
    CheckEntry(convs2[conv], 3, 3, 1);
  }
}

TEST_CASE("msg: a sync pipelined after join or leave sees the membership") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  constexpr int kGroups = 6;
  for (int i = 0; i < kGroups; ++i)
    REQUIRE(CreateGroup(srv.port(), "open" + std::to_string(i), {"alice"}, /*open=*/true));
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  for (int i = 0; i < kGroups; ++i) {
    std::string conv = "g:open" + std::to_string(i);
    REQUIRE(c.ws().SendRaw(EncodeFrame(op::kText, R"({"t":"join","conv":")" + conv + R"("})") +
                           EncodeFrame(op::kText, R"({"t":"sync","id":)" + std::to_string(100 + i) +
                                                      R"(,"all":true})") +
                           EncodeFrame(op::kText, R"({"t":"leave","conv":")" + conv + R"("})") +
                           EncodeFrame(op::kText, R"({"t":"sync","id":)" + std::to_string(200 + i) +
                                                      R"(,"all":true})")));
    Json joined, left;
    REQUIRE_MESSAGE(c.WaitId(100 + i, &joined), c.error());
    REQUIRE_MESSAGE(c.WaitId(200 + i, &left), c.error());
    INFO(conv << ": after join " << joined << ", after leave " << left);
    CHECK(ByConv(joined).count(conv) == 1);
    CHECK(ByConv(left).count(conv) == 0);
  }
}

// Section 8: a join or leave is answered once durable; 1.1: a pull or sync
// after it reflects it. So on the log the pull waits for the answer: no
// reply shows a membership before it is stored (a crash in between would
// undo it).
TEST_CASE("msg: on the log, a pull or sync pipelined after a join or leave is answered after it") {
  Secrets s;
  Server srv(MsgArgs(s, {"--storage", "disk", "--fsync", "always", "--threads", "2"}));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "open", {"alice"}, /*open=*/true));
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  for (int round = 0; round < 5; round++) {
    INFO("round " << round);
    const int64_t b = 10 * round;
    auto frame = [&](const std::string& t, int64_t id, const std::string& extra = "") {
      return EncodeFrame(op::kText, R"({"t":")" + t + R"(","id":)" + std::to_string(b + id) +
                                        extra + "}");
    };
    const std::string conv = R"(,"conv":"g:open")";
    REQUIRE(c.ws().SendRaw(frame("join", 1, conv) + frame("pull", 2, conv) +
                           frame("sync", 3, R"(,"all":true)") + frame("leave", 4, conv) +
                           frame("pull", 5, conv) + frame("sync", 6, R"(,"all":true)")));
    std::vector<Json> got;
    while (got.size() < 6) {
      Json f;
      REQUIRE_MESSAGE(c.Next(&f), c.error());
      if (f.Has("id")) got.push_back(f);
    }
    for (size_t i = 0; i < got.size(); i++) CHECK(got[i].Int("id") == b + int64_t(i) + 1);
    CHECK(got[0].Str("t") == "ok");
    CHECK(got[1].Str("t") == "page");
    CHECK(ByConv(got[2]).count("g:open") == 1);
    CHECK(got[3].Str("t") == "ok");
    CHECK(got[4].Str("t") == "error");
    CHECK(got[4].Str("code") == "forbidden");
    CHECK(ByConv(got[5]).count("g:open") == 0);
  }
}

}  // namespace
}  // namespace longlink::test
