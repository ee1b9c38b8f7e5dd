// PROTOCOL.md sections 3 and 9 for groups: the /api/groups calls, join and
// leave over the socket, what non-members and unknown groups get, group
// pushes, and history surviving a delete.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

void CheckApiError(const ApiReply& r, int status, std::string_view code) {
  INFO("reply: " << r);
  CHECK(r.status == status);
  CHECK(r.json.Str("error") == code);
  CHECK(r.json["msg"].is_string());
}

std::vector<std::string> Members(const Json& group) {
  std::vector<std::string> out;
  for (const Json& m : group["members"].items()) out.push_back(m.str());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("msg: POST /api/groups creates a group and GET returns it") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ApiReply r = Api(srv.port(), "POST", "/api/groups",
                   R"({"group":"team","members":["alice","bob"],"open":false})");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Str("group") == "team");
  CHECK(r.json.Int("members") == 2);
  CHECK(StartsWith(r.resp.Header("Content-Type"), "application/json"));
  ApiReply g = Api(srv.port(), "GET", "/api/groups/team");
  INFO(g);
  CHECK(g.status == 200);
  CHECK(g.json.Str("group") == "team");
  CHECK(g.json["open"].raw() == "false");
  CHECK(Members(g.json) == std::vector<std::string>{"alice", "bob"});
  ApiReply o =
      Api(srv.port(), "POST", "/api/groups", R"({"group":"lobby","members":[],"open":true})");
  CHECK(o.status == 200);
  CHECK(o.json.Int("members") == 0);
  ApiReply og = Api(srv.port(), "GET", "/api/groups/lobby");
  CHECK(og.json["open"].raw() == "true");
  CHECK(og.json["members"].is_array());
  CHECK(og.json["members"].size() == 0);
}

TEST_CASE("msg: POST /api/groups for an existing group answers 409") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  ApiReply r = Api(srv.port(), "POST", "/api/groups", R"({"group":"team","members":["bob"]})");
  CheckApiError(r, 409, "bad_request");
  ApiReply g = Api(srv.port(), "GET", "/api/groups/team");
  CHECK(Members(g.json) == std::vector<std::string>{"alice"});
}

TEST_CASE("msg: POST /api/groups with a bad body or name answers 400") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  CheckApiError(Api(srv.port(), "POST", "/api/groups", R"({"group":"te am","members":[]})"), 400,
                "bad_request");
  CheckApiError(Api(srv.port(), "POST", "/api/groups", R"({"members":["a"]})"), 400, "bad_request");
  CheckApiError(Api(srv.port(), "POST", "/api/groups", R"({"group":"t","members":["a b"]})"), 400,
                "bad_request");
  CheckApiError(Api(srv.port(), "POST", "/api/groups", R"({"group":"t",)"), 400, "bad_request");
  CHECK(Api(srv.port(), "GET", "/api/groups/t").status == 404);
}

TEST_CASE("msg: POST /api/groups/<g>/members adds and removes members") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ApiReply r =
      Api(srv.port(), "POST", "/api/groups/team/members", R"({"add":["carol"],"remove":["bob"]})");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Int("members") == 2);
  ApiReply g = Api(srv.port(), "GET", "/api/groups/team");
  CHECK(Members(g.json) == std::vector<std::string>{"alice", "carol"});
  // Only add, only remove, and removing a non-member.
  CHECK(Api(srv.port(), "POST", "/api/groups/team/members", R"({"add":["dave"]})")
            .json.Int("members") == 3);
  CHECK(Api(srv.port(), "POST", "/api/groups/team/members", R"({"remove":["zoe","alice"]})")
            .json.Int("members") == 2);
  CheckApiError(Api(srv.port(), "POST", "/api/groups/nosuch/members", R"({"add":["a"]})"), 404,
                "not_found");
  // The membership is live: bob, removed, cannot send; carol can.
  ImClient b, c;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  LL_LOGIN(c, srv.port(), "carol", "phone");
  ExpectSendError(b, "g:team", "b1", "forbidden");
  CHECK(MustSend(c, "g:team", "c1") == 1);
}

TEST_CASE("msg: DELETE /api/groups/<g> answers {} and the group is gone") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  ApiReply d = Api(srv.port(), "DELETE", "/api/groups/team");
  INFO(d);
  CHECK(d.status == 200);
  CHECK(d.json.is_object());
  CHECK(d.json.size() == 0);
  CheckApiError(Api(srv.port(), "GET", "/api/groups/team"), 404, "not_found");
  CheckApiError(Api(srv.port(), "DELETE", "/api/groups/team"), 404, "not_found");
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  ExpectSendError(a, "g:team", "a1", "not_found");
}

TEST_CASE("msg: the API answers 401 without or with a wrong key before any other check") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  struct Call {
    const char* method;
    const char* target;
    const char* body;
  };
  const Call calls[] = {
      {"POST", "/api/groups", R"({"group":"x","members":[]})"},
      {"POST", "/api/groups", "{not json"},
      {"GET", "/api/groups/team", ""},
      {"GET", "/api/groups/nosuch", ""},
      {"DELETE", "/api/groups/team", ""},
      {"POST", "/api/groups/team/members", R"({"add":["bob"]})"},
      {"POST", "/api/publish", R"({"to":"u:bob","cmid":"c1","body":1})"},
      {"GET", "/api/history?conv=g:team", ""},
      {"GET", "/api/presence?users=alice", ""},
      {"PUT", "/api/publish", ""},
      {"GET", "/api/nosuch", ""},
  };
  for (const Call& c : calls) {
    for (std::string_view key : {std::string_view(), std::string_view("wrong-key")}) {
      INFO(c.method << " " << c.target << " key '" << key << "'");
      ApiReply r = Api(srv.port(), c.method, c.target, c.body, key);
      CheckApiError(r, 401, "unauthorized");
    }
  }
  // Nothing changed.
  ApiReply g = Api(srv.port(), "GET", "/api/groups/team");
  CHECK(g.status == 200);
  CHECK(Members(g.json) == std::vector<std::string>{"alice"});
  CHECK(Api(srv.port(), "GET", "/api/groups/x").status == 404);
}

TEST_CASE("msg: without an API key configured the API answers 401") {
  Secrets s;
  Server srv({"--auth", "none", "--storage", "memory", "--threads", "1"});
  LL_START(srv);
  CheckApiError(Api(srv.port(), "POST", "/api/groups", R"({"group":"x","members":[]})"), 401,
                "unauthorized");
  CheckApiError(Api(srv.port(), "GET", "/api/groups/x", "", ""), 401, "unauthorized");
}

TEST_CASE("msg: sending to a group the user is not a member of gets forbidden") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient c, b;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json e = MustRequest(c, SendFrame("g:team", "c1", "1", 4), 4);
  CheckError(e, "forbidden", 4);
  LL_EXPECT_NO_FRAME(b, 500ms);
  CHECK(MustSend(b, "g:team", "b1") == 1);
}

TEST_CASE("msg: sending to a group that does not exist gets not_found") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  CheckError(MustRequest(a, SendFrame("g:nosuch", "c1", "1", 4), 4), "not_found", 4);
}

TEST_CASE("msg: joining an open group answers ok and makes the user a member") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "lobby", {"alice"}, /*open=*/true));
  ImClient a, c;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(c, srv.port(), "carol", "phone");
  ExpectSendError(c, "g:lobby", "c0", "forbidden");
  CheckOk(MustRequest(c, R"({"t":"join","id":5,"conv":"g:lobby"})", 5), 5);
  Json g = Api(srv.port(), "GET", "/api/groups/lobby").json;
  CHECK(Members(g) == std::vector<std::string>{"alice", "carol"});
  CHECK(MustSend(c, "g:lobby", "c1") == 1);
  Json m = MustPush(a, "g:lobby");
  CheckMsg(m, "g:lobby", 1, "carol", "phone", "c1", R"({"text":"hi"})");
}

TEST_CASE("msg: joining a group that is not open gets forbidden") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  CheckError(MustRequest(c, R"({"t":"join","id":5,"conv":"g:team"})", 5), "forbidden", 5);
  CHECK(Members(Api(srv.port(), "GET", "/api/groups/team").json) ==
        std::vector<std::string>{"alice"});
}

TEST_CASE("msg: joining a group that does not exist gets not_found") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  CheckError(MustRequest(c, R"({"t":"join","id":5,"conv":"g:nosuch"})", 5), "not_found", 5);
}

TEST_CASE("msg: join and leave without an id are answered too, ok or error without id") {
  // PROTOCOL.md 5 exempts only recv, read and watch from replying when
  // they carry no id.
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "lobby", {"alice"}, /*open=*/true));
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  ImClient c;
  LL_LOGIN(c, srv.port(), "carol", "phone");
  auto next_reply = [&](std::string_view frame) {
    REQUIRE(c.Send(std::string(frame)));
    Json j = MustNext(c);
    INFO(frame << " -> " << j);
    CHECK(!j.Has("id"));
    return j;
  };
  CHECK(next_reply(R"({"t":"join","conv":"g:lobby"})").Str("t") == "ok");
  CHECK(Members(Api(srv.port(), "GET", "/api/groups/lobby").json) ==
        std::vector<std::string>{"alice", "carol"});
  CHECK(next_reply(R"({"t":"join","conv":"g:lobby"})").Str("t") == "ok");  // already one
  CheckError(next_reply(R"({"t":"join","conv":"g:team"})"), "forbidden", -1);
  CheckError(next_reply(R"({"t":"join","conv":"g:nosuch"})"), "not_found", -1);
  // "leave any group ... leaving when not one: ok", a group that does not
  // exist included.
  CHECK(next_reply(R"({"t":"leave","conv":"g:nosuch"})").Str("t") == "ok");
  CHECK(next_reply(R"({"t":"leave","conv":"g:lobby"})").Str("t") == "ok");
  CHECK(next_reply(R"({"t":"leave","conv":"g:lobby"})").Str("t") == "ok");  // not one now
  CHECK(Members(Api(srv.port(), "GET", "/api/groups/lobby").json) ==
        std::vector<std::string>{"alice"});
  // recv and read stay silent without an id, errors included.
  REQUIRE(c.Send(R"({"t":"recv","conv":"g:nosuch","seq":1})"));
  REQUIRE(c.Send(R"({"t":"read","conv":"g:team","seq":1})"));
  LL_EXPECT_NO_FRAME(c, 300ms);
}

TEST_CASE("msg: joining a group when already a member answers ok") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));  // closed, but alice is a member
  REQUIRE(CreateGroup(srv.port(), "lobby", {"alice"}, true));
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  CheckOk(MustRequest(a, R"({"t":"join","id":5,"conv":"g:team"})", 5), 5);
  CheckOk(MustRequest(a, R"({"t":"join","id":6,"conv":"g:lobby"})", 6), 6);
  CHECK(Members(Api(srv.port(), "GET", "/api/groups/lobby").json) ==
        std::vector<std::string>{"alice"});
}

TEST_CASE("msg: leaving a group answers ok and ends membership, and leaving again answers ok") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  CheckOk(MustRequest(b, R"({"t":"leave","id":6,"conv":"g:team"})", 6), 6);
  CHECK(Members(Api(srv.port(), "GET", "/api/groups/team").json) ==
        std::vector<std::string>{"alice"});
  CheckOk(MustRequest(b, R"({"t":"leave","id":7,"conv":"g:team"})", 7), 7);
  ExpectSendError(b, "g:team", "b1", "forbidden");
  CHECK(MustSend(a, "g:team", "a1") == 1);
  LL_EXPECT_NO_FRAME(b, 500ms);
}

TEST_CASE("msg: a group message is pushed to every online member device in seq order") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob", "carol"}));
  ImClient a1, a2, b1, b2, c1, outsider;
  LL_LOGIN(a1, srv.port(), "alice", "phone");
  LL_LOGIN(a2, srv.port(), "alice", "laptop");
  LL_LOGIN(b1, srv.port(), "bob", "phone");
  LL_LOGIN(b2, srv.port(), "bob", "laptop");
  LL_LOGIN(c1, srv.port(), "carol", "phone");
  LL_LOGIN(outsider, srv.port(), "dave", "phone");
  constexpr int kN = 20;
  for (int i = 0; i < kN; ++i) {
    ImClient& sender = i % 3 == 0 ? a1 : i % 3 == 1 ? b1 : c1;
    REQUIRE(sender.Send(SendFrame("g:team", "m" + std::to_string(i), std::to_string(i), 500 + i)));
    Json ack;
    REQUIRE_MESSAGE(sender.WaitId(500 + i, &ack), sender.error());
    CheckAck(ack, 500 + i, "g:team", i + 1, "m" + std::to_string(i));
  }
  struct Expect {
    ImClient* c;
    const char* name;
    int skip;  // messages this connection sent itself (i % 3), -1: none
  };
  for (Expect e : {Expect{&a1, "a1", 0}, Expect{&a2, "a2", -1}, Expect{&b1, "b1", 1},
                   Expect{&b2, "b2", -1}, Expect{&c1, "c1", 2}}) {
    std::string name = e.name;
    INFO("connection " << name);
    for (int i = 0; i < kN; ++i) {
      if (i % 3 == e.skip)
        continue;
      Json m = MustPush(*e.c, "g:team");
      const char* from = i % 3 == 0 ? "alice" : i % 3 == 1 ? "bob" : "carol";
      CheckMsg(m, "g:team", i + 1, from, "phone", "m" + std::to_string(i), std::to_string(i));
    }
    LL_EXPECT_NO_FRAME(*e.c, 200ms);
  }
  LL_EXPECT_NO_FRAME(outsider, 200ms);
}

// One read of a big burst fans out to more than the shard's flush budget
// (8 MiB, net::ShardOptions): the output is written while the read is still
// being handled (Shard::FlushIfDue) and must stay complete and in order, on
// the members' connections and on the sender's own (acks interleaved with
// the flushes of the others).
void CheckBurst(int threads) {
  INFO("threads " << threads);
  Secrets s;
  // Members never send recv here: no redelivery during a slow (sanitizer) run.
  Server srv(MsgArgs(s, {"--threads", std::to_string(threads), "--ack-timeout", "3600"}));
  LL_START(srv);
  const int kMembers = 120 * threads, kN = 400;
  std::vector<std::string> names;
  for (int i = 0; i < kMembers; ++i) names.push_back("m" + std::to_string(i));
  REQUIRE(CreateGroup(srv.port(), "burst", names));
  std::vector<std::unique_ptr<ImClient>> members;
  for (int i = 0; i < kMembers; ++i) {
    members.push_back(std::make_unique<ImClient>());
    LL_LOGIN(*members.back(), srv.port(), names[size_t(i)], "phone");
  }
  // ~560 bytes a push to ~120 members a shard: 190 KiB written at once make
  // 26 MiB of output a shard, and any 64 KiB of them already 9 MiB.
  const std::string body = "\"" + std::string(400, 'x') + "\"";
  std::string batch;
  for (int k = 0; k < kN; ++k)
    batch += EncodeFrame(op::kText, SendFrame("g:burst", "b" + std::to_string(k), body, 100 + k));
  ImClient& sender = *members[0];
  REQUIRE(sender.ws().SendRaw(batch, 60s));
  for (int k = 0; k < kN; ++k) {
    Json ack;
    REQUIRE_MESSAGE(sender.WaitId(100 + k, &ack), sender.error());
    CHECK(ack.Str("t") == "ack");
    CHECK(ack.Int("seq") == k + 1);
  }
  // Read the members in turn, a push each, rather than one member to the
  // end: a socket left unread for long sits at a zero window, and the
  // kernel's zero-window probes back off exponentially (a TSan client
  // reading 240 members one by one left later ones unread for a minute, and
  // `ss` showed their pushes waiting in the server's send queue under a
  // persist timer), which would time the kernel, not the server.
  for (int k = 0; k < kN; ++k) {
    for (int i = 1; i < kMembers; ++i) {
      INFO("member " << i);
      Json m = MustPush(*members[size_t(i)], "g:burst");
      REQUIRE(m.Int("seq") == k + 1);
      REQUIRE(m.Str("cmid") == "b" + std::to_string(k));
    }
  }
  LL_EXPECT_NO_FRAME(*members[1], 200ms);
  // The burst did go over the budget (else this tests only the turn's end).
  CHECK(FetchMetricSum(srv.port(), "early_flushes_total") > 0);
}

TEST_CASE("msg: a group burst bigger than the flush budget reaches every member in order") {
  // One shard: the pushes are built and queued in the sender's read; two:
  // half of them arrive through the mailbox.
  CheckBurst(1);
  CheckBurst(2);
}

// Pushes to several members that do not read: their queues build up and
// leave, a part at a time, in turns that write to many connections at once
// (net::Shard::FlushBatch with --io-uring on, one sendmsg each with off).
// Frames of four sizes (copied or shared, gathered or not, 2- and 4-byte
// WebSocket headers) must reach every member byte for byte and in order.
void CheckLaggingMembers(const std::string& io_uring) {
  INFO("--io-uring " << io_uring);
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "1", "--io-uring", io_uring, "--max-outbuf", "64MiB",
                         "--rate", "100000", "--ack-timeout", "3600"}));
  LL_START(srv);
  const int kMembers = 6, kN = 400;
  std::vector<std::string> names;
  for (int i = 0; i < kMembers; ++i) names.push_back("lag" + std::to_string(i));
  REQUIRE(CreateGroup(srv.port(), "lag", names));
  std::vector<std::unique_ptr<ImClient>> members;
  for (int i = 0; i < kMembers; ++i) {
    members.push_back(std::make_unique<ImClient>());
    LL_LOGIN(*members.back(), srv.port(), names[size_t(i)], "phone");
  }
  auto body_of = [](int k) {
    static const size_t kSizes[] = {20, 5000, 300, 60000};
    std::string t(kSizes[k % 4], char('a' + k % 26));
    t += std::to_string(k);
    return "\"" + t + "\"";
  };
  std::string batch;
  for (int k = 0; k < kN; ++k)
    batch += EncodeFrame(op::kText, SendFrame("g:lag", "l" + std::to_string(k), body_of(k), 100 + k));
  ImClient& sender = *members[0];
  REQUIRE(sender.ws().SendRaw(batch, 60s));
  for (int k = 0; k < kN; ++k) {
    Json ack;
    REQUIRE_MESSAGE(sender.WaitId(100 + k, &ack), sender.error());
    REQUIRE(ack.Int("seq") == k + 1);
  }
  for (int i = 1; i < kMembers; ++i) {
    INFO("member " << i);
    for (int k = 0; k < kN; ++k) {
      Json m = MustPush(*members[size_t(i)], "g:lag", 20s);
      REQUIRE(m.Int("seq") == k + 1);
      REQUIRE(m.Str("cmid") == "l" + std::to_string(k));
      REQUIRE(m["body"].raw() == body_of(k));
    }
  }
  LL_EXPECT_NO_FRAME(*members[1], 200ms);
  uint64_t batches = FetchMetricSum(srv.port(), "write_batches_total");
  if (io_uring == "off") {
    CHECK(batches == 0);
  } else if (srv.Stderr().find("no io_uring") == std::string::npos) {
    CHECK(batches > 0);  // the kernel gave a ring: the batched path ran
  } else {
    MESSAGE("the kernel refused io_uring: sendmsg path only");
  }
}

TEST_CASE("msg: pushes to members that lag arrive whole and in order, with and without io_uring") {
  CheckLaggingMembers("on");
  CheckLaggingMembers("off");
}

TEST_CASE("msg: a deleted group keeps its history and a recreated one continues its seq") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  CHECK(MustSend(a, "g:team", "m1", R"("one")") == 1);
  CHECK(MustSend(a, "g:team", "m2", R"("two")") == 2);
  REQUIRE(Api(srv.port(), "DELETE", "/api/groups/team").status == 200);
  ExpectSendError(a, "g:team", "m3", "not_found");
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "carol"}));
  CHECK(MustSend(a, "g:team", "m4", R"("three")") == 3);
  Json page = MustRequest(a, R"({"t":"pull","id":9,"conv":"g:team"})", 9);
  INFO(page);
  REQUIRE(page["msgs"].size() == 3);
  CHECK(page["msgs"][0]["body"].raw() == R"("one")");
  CHECK(page["msgs"][1]["body"].raw() == R"("two")");
  CHECK(page["msgs"][2]["body"].raw() == R"("three")");
  CHECK(page["msgs"][2].Int("seq") == 3);
  ApiReply h = Api(srv.port(), "GET", "/api/history?conv=g:team&after=0&limit=10");
  CHECK(h.status == 200);
  CHECK(h.json["msgs"].size() == 3);
}

}  // namespace
}  // namespace longlink::test
