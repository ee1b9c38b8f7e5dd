// PROTOCOL.md section 1.2, the SSE fallback: GET /sse is the hello and the
// event stream (welcome first, one "data: <json>" event per frame, ":" after
// heartbeat_ms of silence), POST /send?session= carries the client's frames
// (202, 404 unknown session, 400 not a JSON object) from any connection, and
// the rest is the WebSocket protocol: pushes both ways, rate limit, limits,
// replacement, slow consumers, the session ending with the stream.
#include <csignal>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "support/http_client.h"
#include "support/im_client.h"
#include "support/jwt.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"
#include "support/sse_client.h"

namespace longlink::test {
namespace {

#define LL_SSE_LOGIN(c, port, user, device) \
  REQUIRE_MESSAGE((c).Login((port), (user), (device)), (c).error())

Json MustNext(SseClient& c, Duration timeout = kIoTimeout) {
  Json j;
  bool ok = c.Next(&j, timeout);
  INFO("stream:\n" << c.Transcript());
  REQUIRE_MESSAGE(ok, c.error());
  return j;
}

Json MustId(SseClient& c, int64_t id, Duration timeout = kIoTimeout) {
  Json j;
  bool ok = c.WaitId(id, &j, timeout);
  INFO("waiting for id " << id << "; stream:\n" << c.Transcript());
  REQUIRE_MESSAGE(ok, c.error());
  return j;
}

Json MustPush(SseClient& c, std::string_view conv, Duration timeout = kIoTimeout) {
  Json j;
  bool ok = c.WaitFor([&](const Json& f) { return f.Str("t") == "msg" && f.Str("conv") == conv; },
                      &j, timeout);
  INFO("waiting for a msg in " << conv << "; stream:\n" << c.Transcript());
  REQUIRE_MESSAGE(ok, c.error());
  return j;
}

// POSTs `frame` (which carries "id":id) and returns the stream's answer.
Json MustRequest(SseClient& c, std::string_view frame, int64_t id) {
  HttpResponse r;
  int status = c.Post(frame, &r);
  INFO("POST " << frame << " -> " << status << " " << r.body);
  REQUIRE(status == 202);
  return MustId(c, id);
}

// The JSON error body of an HTTP answer.
void CheckHttpError(int status, const HttpResponse& r, int want_status, std::string_view code) {
  INFO("answer: " << status << "\n" << r.raw_head << r.body);
  CHECK(status == want_status);
  CHECK(r.Header("Content-Type") == "application/json");
  std::optional<Json> j = Json::Parse(r.body);
  REQUIRE(j.has_value());
  CHECK(j->Str("error") == code);
  CHECK((*j)["msg"].is_string());
}

std::string Ping(int64_t id) { return R"({"t":"ping","id":)" + std::to_string(id) + "}"; }

TEST_CASE("sse: GET /sse answers an event stream whose first event is the welcome") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  SseClient a;
  REQUIRE_MESSAGE(a.Open(srv.port(), "user=alice&device=phone"), a.error());
  CHECK(a.response().status == 200);
  CHECK(a.response().Header("Content-Type") == "text/event-stream");
  CHECK(a.response().Header("Cache-Control") == "no-cache");
  CHECK(!a.response().HasHeader("Content-Length"));
  REQUIRE_MESSAGE(a.ReadWelcome(), a.error());
  const Json& w = a.welcome();
  INFO(w);
  CHECK(w.Str("user") == "alice");
  CHECK(w.Str("device") == "phone");
  CHECK(!w.Str("session").empty());
  CHECK(w.Int("heartbeat_ms") == 25000);
  CHECK(w.Int("max_body") == 65536);
  CHECK(PlausibleTs(w["ts"]));
  CHECK(!w.Has("id"));
  // Without device: "default". Every session has its own id.
  SseClient b;
  LL_SSE_LOGIN(b, srv.port(), "bob", "");
  CHECK(b.welcome().Str("device") == "default");
  CHECK(b.session() != a.session());
  CHECK(a.session().size() >= 32);  // it is the only credential of POST /send
}

TEST_CASE("sse: a frame POSTed to /send is answered 202 and its reply comes on the stream") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  HttpResponse r;
  CHECK(a.Post(SendFrame("u:bob", "c1", R"({"text":"hi"})", 7), &r) == 202);
  CHECK(r.body.empty());
  CHECK(r.Header("Content-Length") == "0");
  CheckAck(MustId(a, 7), 7, "d:alice:bob", 1, "c1");
  // A repeat of the cmid answers the first ack with dup.
  Json dup = MustRequest(a, SendFrame("u:bob", "c1", "2", 8), 8);
  CHECK(dup.Int("seq") == 1);
  CHECK(dup["dup"].raw() == "true");
  // ping -> pong; a second hello -> bad_request, the session stays.
  Json pong = MustRequest(a, Ping(9), 9);
  CHECK(pong.Str("t") == "pong");
  CHECK(PlausibleTs(pong["ts"]));
  CheckError(MustRequest(a, R"({"t":"hello","v":1,"user":"alice","id":10})", 10), "bad_request",
             10);
  // A JSON object that is not a valid frame: 202, and the error on the stream.
  CheckError(MustRequest(a, R"({"t":"nope","id":11})", 11), "bad_request", 11);
  Json sync = MustRequest(a, R"({"t":"sync","id":12})", 12);
  CHECK(sync.Str("t") == "sync");
  REQUIRE(sync["convs"].size() == 1);
  CHECK(sync["convs"][0].Str("conv") == "d:alice:bob");
}

// "Same semantics as WebSocket": a pull POSTed right after a send (its 202
// comes before the send is stored) sees the send, on the log too.
TEST_CASE("sse: a pull POSTed right after a send sees it, under --fsync always") {
  Secrets s;
  Server srv(MsgArgs(s, {"--storage", "disk", "--fsync", "always"}));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 10; i++) {
    INFO("round " << i);
    HttpResponse r;
    REQUIRE(a.Post(SendFrame("u:bob", "c" + std::to_string(i), "1", 100 + i), &r) == 202);
    REQUIRE(a.Post(R"({"t":"pull","id":)" + std::to_string(200 + i) +
                       R"(,"conv":"d:alice:bob","after":0,"limit":1000})",
                   &r) == 202);
    Json ack = MustId(a, 100 + i);
    Json page = MustId(a, 200 + i);
    INFO(ack << "\n" << page);
    REQUIRE(ack.Str("t") == "ack");
    auto msgs = page["msgs"].items();
    REQUIRE(msgs.size() == size_t(i));
    CHECK(msgs.back().Int("seq") == ack.Int("seq"));
  }
}

TEST_CASE("sse: messages flow between an SSE session and a WebSocket session") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "laptop");
  // SSE -> WebSocket.
  CheckAck(MustRequest(a, SendFrame("u:bob", "c1", R"({"text":"from sse"})", 1), 1), 1,
           "d:alice:bob", 1, "c1");
  CheckMsg(MustPush(b, "d:alice:bob"), "d:alice:bob", 1, "alice", "phone", "c1",
           R"({"text":"from sse"})");
  // WebSocket -> SSE.
  CHECK(MustSend(b, "u:alice", "c2", R"({"text":"from ws"})") == 2);
  CheckMsg(MustPush(a, "d:alice:bob"), "d:alice:bob", 2, "bob", "laptop", "c2",
           R"({"text":"from ws"})");
  // recv and read from SSE reach the WebSocket as receipts.
  REQUIRE(a.Post(R"({"t":"recv","conv":"d:alice:bob","seq":2})") == 202);
  CheckReceipt(MustType(b, "receipt"), "d:alice:bob", 2, "alice", "delivered");
  REQUIRE(a.Post(R"({"t":"read","conv":"d:alice:bob","seq":2})") == 202);
  CheckReceipt(MustType(b, "receipt"), "d:alice:bob", 2, "alice", "read");
  // Groups too.
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  MustSend(b, "g:team", "c3", "[1,2]");
  CheckMsg(MustPush(a, "g:team"), "g:team", 1, "bob", "laptop", "c3", "[1,2]");
}

TEST_CASE("sse: a body with line breaks still arrives as one data line") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  SseClient b;
  LL_SSE_LOGIN(b, srv.port(), "bob", "phone");
  MustSend(a, "u:bob", "c1", "{\r\n  \"text\": \"two\\nlines\"\n}");
  Json m = MustPush(b, "d:alice:bob");  // SseClient fails on a block of two lines
  CHECK(m["body"].Str("text") == "two\nlines");
  CHECK(m["body"].size() == 1);
  // An ephemeral push, shared as it is, too.
  int64_t id = a.NextId();
  std::string eph = R"({"t":"send","id":)" + std::to_string(id) +
                    ",\"to\":\"u:bob\",\"cmid\":\"e1\",\"ephemeral\":true,\"body\":[\n1\n]}";
  Json ack = MustRequest(a, eph, id);
  CHECK(ack.Int("seq") == 0);
  Json e = MustPush(b, "d:alice:bob");
  CHECK(e["ephemeral"].raw() == "true");
  CHECK(e["body"].size() == 1);
}

TEST_CASE("sse: POST /send for an unknown session is 404") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "4"}));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  std::string real = a.session();
  std::string forged = real;
  forged.back() = forged.back() == '0' ? '1' : '0';  // the random part guessed wrong
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  for (std::string id : {std::string("nope"), std::string(""), std::string("0-1-abc"),
                         std::string("3-1-abc"), std::string("ff-1-abc"), std::string("-1"),
                         std::string("x-1-abc"), forged}) {
    INFO("session: " << id);
    REQUIRE(c.Send(PostBytes(id, Ping(1))));
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
    CheckHttpError(r.status, r, 404, "not_found");
  }
  // No session member at all.
  REQUIRE(c.Send(Request("POST", "/send", "Content-Length: 2\r\n", "{}")));
  HttpResponse r;
  REQUIRE(c.ReadResponse(&r));
  CheckHttpError(r.status, r, 404, "not_found");
  // The connection was kept throughout, and the real session is untouched.
  REQUIRE(c.Send(PostBytes(real, Ping(2))));
  REQUIRE(c.ReadResponse(&r));
  CHECK(r.status == 202);
  CHECK(MustId(a, 2).Str("t") == "pong");
  LL_EXPECT_NO_FRAME(a, 300ms);
}

TEST_CASE("sse: POST /send with a body that is not a JSON object is 400") {
  // One shard: every POST is handled where it lands. Four: most are
  // forwarded to the stream's shard.
  for (const char* threads : {"1", "4"}) {
    INFO("--threads " << threads);
    Secrets s;
    Server srv(MsgArgs(s, {"--threads", threads}));
    LL_START(srv);
    SseClient a;
    LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
    for (std::string body : {"", "[1]", "\"x\"", "42", "null", "not json", "{\"t\":",
                             "{\"t\":\"ping\",\"id\":1} x", "{\"t\":\"ping\",\"id\":1}}"}) {
      INFO("body: " << body);
      HttpResponse r;
      int status = a.Post(body, &r);
      CheckHttpError(status, r, 400, "bad_request");
      // And on fresh connections, which the kernel spreads over the shards.
      for (int i = 0; i < 4; ++i) {
        HttpClient c;
        REQUIRE(c.Connect(srv.port()));
        REQUIRE(c.Send(PostBytes(a.session(), body, true)));
        REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
        CheckHttpError(r.status, r, 400, "bad_request");
      }
    }
    // Nothing came on the stream for them; the session goes on.
    LL_EXPECT_NO_FRAME(a, 300ms);
    CHECK(MustRequest(a, Ping(5), 5).Str("t") == "pong");
  }
}

TEST_CASE("sse: a silent stream gets a comment line after heartbeat_ms") {
  Secrets s;
  Server srv(MsgArgs(s, {"--heartbeat", "1"}));
  LL_START(srv);
  SseClient a;
  auto t0 = Clock::now();
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  CHECK(a.welcome().Int("heartbeat_ms") == 1000);
  CHECK(a.comments() == 0);
  // Comments only: no event in 2.6 s, and a ":" block in each second.
  LL_EXPECT_NO_FRAME(a, 2600ms);
  CHECK(a.comments() >= 2);
  CHECK(a.comments() <= 3);
  CHECK(a.last_comment() - t0 >= 1800ms);
  // Output resets the silence: right after a pong, no comment for a while.
  CHECK(MustRequest(a, Ping(1), 1).Str("t") == "pong");
  int before = a.comments();
  LL_EXPECT_NO_FRAME(a, 700ms);
  CHECK(a.comments() == before);
  // The session lives on without any POST (only the stream counts).
  CHECK(MustRequest(a, Ping(2), 2).Str("t") == "pong");
}

TEST_CASE("sse: a hello that names no valid user is 401, a bad device or v 400 (--auth jwt)") {
  Secrets s;
  Server srv(JwtArgs(s));
  LL_START(srv);
  std::string good = MintToken(kJwtSecret, "alice");
  struct Case {
    std::string query;
    int status;
    const char* code;
  };
  std::vector<Case> cases = {
      {"device=phone", 401, "unauthorized"},
      {"token=&device=phone", 401, "unauthorized"},
      {"token=abc.def.ghi", 401, "unauthorized"},
      {"token=" + MintToken("another-secret", "alice"), 401, "unauthorized"},
      {"token=" + MintToken(kJwtSecret, "alice", -3600), 401, "unauthorized"},
      {"token=" + MintToken(kJwtSecret, "bad user"), 401, "unauthorized"},
      {"user=alice&device=phone", 401, "unauthorized"},
      {"token=" + good + "&device=bad%20device", 400, "bad_request"},
      {"token=" + good + "&device=", 400, "bad_request"},
      {"token=" + good + "&v=2", 400, "bad_request"},
  };
  for (const Case& k : cases) {
    INFO("query: " << k.query);
    SseClient c;
    REQUIRE_MESSAGE(c.Open(srv.port(), k.query), c.error());
    CheckHttpError(c.response().status, c.response(), k.status, k.code);
  }
  // A valid token names the user by its sub; `user` is ignored.
  SseClient a;
  REQUIRE_MESSAGE(a.Open(srv.port(), "user=mallory&v=1&device=tab&token=" + good), a.error());
  REQUIRE_MESSAGE(a.ReadWelcome(), a.error());
  CHECK(a.welcome().Str("user") == "alice");
  CHECK(a.welcome().Str("device") == "tab");
}

TEST_CASE("sse: under --auth none the query names the user, percent-decoded") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  const std::vector<std::string> refused = {"device=phone", "user=&device=phone", "user=a%20b",
                                             "user=" + std::string(65, 'u')};
  for (const std::string& q : refused) {
    INFO("query: " << q);
    SseClient c;
    REQUIRE_MESSAGE(c.Open(srv.port(), q), c.error());
    CheckHttpError(c.response().status, c.response(), 401, "unauthorized");
  }
  SseClient a;
  REQUIRE_MESSAGE(a.Open(srv.port(), "user=al%40ice&device=my.phone"), a.error());
  REQUIRE_MESSAGE(a.ReadWelcome(), a.error());
  CHECK(a.welcome().Str("user") == "al@ice");
  CHECK(a.welcome().Str("device") == "my.phone");
  // After a refused hello the connection serves other requests (keep-alive).
  SseClient c;
  REQUIRE(c.Open(srv.port(), "device=phone"));
  CHECK(c.response().status == 401);
  REQUIRE(c.stream().SendAll(Request("GET", "/healthz")));
  std::string head;
  REQUIRE(c.stream().ReadUntil("\r\n\r\n", &head) == IoStatus::kOk);
  CHECK(StartsWith(head, "HTTP/1.1 200"));
}

TEST_CASE("sse: the session ends when the stream closes") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "4"}));
  LL_START(srv);
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  CheckOk(MustRequest(b, R"({"t":"watch","id":2,"users":["alice"]})", 2), 2);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  Json up = MustType(b, "presence");
  CHECK(up.Str("user") == "alice");
  CHECK(up["online"].raw() == "true");
  std::string session = a.session();
  a.Close();
  Json down = MustType(b, "presence");
  CHECK(down.Str("user") == "alice");
  CHECK(down["online"].raw() == "false");
  Json p = MustRequest(b, R"({"t":"presence","id":3,"users":["alice"]})", 3);
  CHECK(p["users"]["alice"]["online"].raw() == "false");
  // Its id is gone: POSTs for it are 404, from any connection.
  for (int i = 0; i < 8; ++i) {
    HttpClient c;
    REQUIRE(c.Connect(srv.port()));
    REQUIRE(c.Send(PostBytes(session, Ping(1), true)));
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
    CheckHttpError(r.status, r, 404, "not_found");
  }
  // A message sent meanwhile waits for a sync: nothing is pushed anywhere.
  MustSend(b, "u:alice", "c1");
  SseClient a2;
  LL_SSE_LOGIN(a2, srv.port(), "alice", "phone");
  Json sync = MustRequest(a2, R"({"t":"sync","id":4})", 4);
  REQUIRE(sync["convs"].size() == 1);
  CHECK(sync["convs"][0].Int("last") == 1);
}

TEST_CASE("sse: POST /send works from any connection on any shard") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "4"}));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  // 24 connections: the kernel spreads them over the 4 shards, so most reach
  // a shard other than the stream's and their frame is forwarded.
  constexpr int kConns = 24;
  for (int i = 0; i < kConns; ++i) {
    HttpClient c;
    REQUIRE(c.Connect(srv.port()));
    REQUIRE(c.Send(PostBytes(a.session(), SendFrame("u:bob", "c" + std::to_string(i), "1", i))));
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
    INFO("connection " << i << ": " << r.raw_head << r.body);
    CHECK(r.status == 202);
    CHECK(r.body.empty());
    // Answered only once the frame is taken: its ack comes, in order.
    Json ack = MustId(a, i);
    CheckAck(ack, i, "d:alice:bob", i + 1, "c" + std::to_string(i));
  }
  CHECK(FetchMetricSum(srv.port(), "sse_posts_forwarded_total") > 0);
  CHECK(FetchMetricSum(srv.port(), "sse_posts_total") == kConns);
  for (int i = 0; i < kConns; ++i) CHECK(MustPush(b, "d:alice:bob").Int("seq") == i + 1);
}

TEST_CASE("sse: pipelined POSTs are answered and handled in order, on every shard") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "4", "--rate", "100000"}));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  constexpr int kConns = 6, kPerConn = 60;
  std::vector<HttpClient> conns(kConns);
  // Every connection writes all its POSTs at once, then reads the answers.
  for (int k = 0; k < kConns; ++k) {
    REQUIRE(conns[k].Connect(srv.port()));
    std::string batch;
    for (int i = 0; i < kPerConn; ++i) {
      int64_t id = k * 1000 + i;
      std::string cmid = std::to_string(k) + "-" + std::to_string(i);
      batch += PostBytes(a.session(), SendFrame("u:bob", cmid, std::to_string(id), id));
    }
    REQUIRE(conns[k].Send(batch));
  }
  for (int k = 0; k < kConns; ++k) {
    for (int i = 0; i < kPerConn; ++i) {
      HttpResponse r;
      REQUIRE_MESSAGE(conns[k].ReadResponse(&r), conns[k].error());
      REQUIRE(r.status == 202);
      REQUIRE(r.body.empty());
    }
  }
  // The acks come in seq order (one conversation), and each connection's
  // sends got increasing seqs: the session took them in the order sent.
  std::map<int64_t, int64_t> last_i;
  const int total = kConns * kPerConn;
  for (int n = 1; n <= total; ++n) {
    Json f = MustNext(a);
    INFO(f);
    REQUIRE(f.Str("t") == "ack");
    CHECK(f.Int("seq") == n);
    int64_t k = f.Int("id") / 1000, i = f.Int("id") % 1000;
    CHECK(i == (last_i.count(k) ? last_i[k] + 1 : 0));
    last_i[k] = i;
  }
  CHECK(last_i.size() == size_t(kConns));
  // bob saw every send once, in seq order, with its body.
  std::map<int64_t, int64_t> bob_last;
  for (int n = 1; n <= total; ++n) {
    Json m = MustPush(b, "d:alice:bob");
    CHECK(m.Int("seq") == n);
    int64_t id = atoll(m["body"].raw().c_str());
    CHECK(id % 1000 == (bob_last.count(id / 1000) ? bob_last[id / 1000] + 1 : 0));
    bob_last[id / 1000] = id % 1000;
  }
}

TEST_CASE("sse: a new session for the same device ends the old stream with 4009") {
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "4"}));
  LL_START(srv);
  SseClient a1;
  LL_SSE_LOGIN(a1, srv.port(), "alice", "phone");
  // Replaced by a WebSocket.
  ImClient w;
  LL_LOGIN(w, srv.port(), "alice", "phone");
  CHECK(a1.WaitEnd() == 4009);
  // A WebSocket replaced by an SSE session.
  SseClient a2;
  LL_SSE_LOGIN(a2, srv.port(), "alice", "phone");
  CHECK(w.WaitClose() == 4009);
  // SSE replaced by SSE; the new one works, the old id is 404.
  SseClient a3;
  LL_SSE_LOGIN(a3, srv.port(), "alice", "phone");
  CHECK(a2.WaitEnd() == 4009);
  CHECK(a2.Post(Ping(1)) == 404);
  CHECK(MustRequest(a3, Ping(2), 2).Str("t") == "pong");
  // Another device is not a replacement.
  SseClient a4;
  LL_SSE_LOGIN(a4, srv.port(), "alice", "laptop");
  LL_EXPECT_NO_FRAME(a3, 300ms);
}

TEST_CASE("sse: frames over --rate are answered rate_limited and abuse ends the stream with 4029") {
  Secrets s;
  Server srv(MsgArgs(s, {"--rate", "2"}));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  // Burst of 4, then drops.
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  std::string batch;
  for (int i = 1; i <= 6; ++i) batch += PostBytes(a.session(), Ping(i));
  REQUIRE(c.Send(batch));
  for (int i = 1; i <= 6; ++i) {
    HttpResponse r;
    REQUIRE(c.ReadResponse(&r));
    CHECK(r.status == 202);
  }
  for (int i = 1; i <= 4; ++i) CHECK(MustId(a, i).Str("t") == "pong");
  for (int i = 5; i <= 6; ++i) {
    Json e = MustId(a, i);
    CheckError(e, "rate_limited", i);
    CHECK(e["retry_ms"].is_int());
  }
  // More than 4 * rate drops within 2 s: the stream ends with 4029.
  batch.clear();
  for (int i = 7; i <= 20; ++i) batch += PostBytes(a.session(), Ping(i));
  REQUIRE(c.Send(batch));
  CHECK(a.WaitEnd() == 4029);
  SseClient a2;
  LL_SSE_LOGIN(a2, srv.port(), "alice", "phone");
}

TEST_CASE("sse: a send body over --max-body is too_large and a POST over --max-message is 413") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-body", "100", "--max-message", "1KiB"}));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  CHECK(a.welcome().Int("max_body") == 100);
  std::string big = "\"" + std::string(200, 'x') + "\"";
  CheckError(MustRequest(a, SendFrame("u:bob", "c1", big, 1), 1), "too_large", 1);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send(PostBytes(a.session(), SendFrame("u:bob", "c2", "\"" + std::string(2000, 'y') +
                                                                      "\"", 2))));
  HttpResponse r;
  REQUIRE(c.ReadResponse(&r));
  CheckHttpError(r.status, r, 413, "too_large");
  // The session is fine.
  CheckAck(MustRequest(a, SendFrame("u:bob", "c3", "3", 3), 3), 3, "d:alice:bob", 1, "c3");
}

TEST_CASE("sse: a stream that is not read is a slow consumer, ended with 4008") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-outbuf", "256KiB", "--rate", "100000"}));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  SseClient b;
  LL_SSE_LOGIN(b, srv.port(), "bob", "phone");
  constexpr int kN = 250;
  const std::string body = "\"" + std::string(60000, 'x') + "\"";
  std::string batch;
  for (int i = 0; i < kN; ++i)
    batch += EncodeFrame(op::kText, SendFrame("u:bob", "c" + std::to_string(i), body, i));
  REQUIRE(a.ws().SendRaw(batch, 60s));
  for (int i = 0; i < kN; ++i) REQUIRE(MustNext(a, 20s).Str("t") == "ack");
  // bob reads now: what was queued, then the close event, then EOF.
  int code = b.WaitEnd(20s);
  INFO(b.error());
  CHECK(code == 4008);
  CHECK(b.kept().size() < size_t(kN));
  int64_t prev = 0;
  for (const Json& m : b.kept()) {
    CHECK(m.Int("seq") == prev + 1);
    prev = m.Int("seq");
  }
  CHECK(FetchMetricSum(srv.port(), "slow_consumer_closes_total") == 1);
}

TEST_CASE("sse: /sse is GET only, /send POST only and --max-conns counts streams") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-conns", "1"}));
  LL_START(srv);
  HttpResponse r;
  REQUIRE(Fetch(srv.port(), "GET", "/send?session=x", &r));
  CHECK(r.status == 405);
  CHECK(r.Header("Allow") == "POST");
  REQUIRE(Fetch(srv.port(), "POST", "/sse?user=alice", &r, "Content-Length: 0\r\n"));
  CHECK(r.status == 405);
  CHECK(r.Header("Allow") == "GET, HEAD");
  // HEAD: the head GET would get, without a body and without a session.
  REQUIRE(Fetch(srv.port(), "HEAD", "/sse?user=alice", &r));
  CHECK(r.status == 200);
  CHECK(r.Header("Content-Type") == "text/event-stream");
  CHECK(r.body.empty());
  REQUIRE(Fetch(srv.port(), "HEAD", "/sse", &r));
  CHECK(r.status == 401);
  CHECK(r.body.empty());
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  SseClient b;
  REQUIRE(b.Open(srv.port(), "user=bob"));
  CheckHttpError(b.response().status, b.response(), 503, "overloaded");
  ImClient w;
  CHECK(!w.Connect(srv.port()));
  // Once the stream is gone its place is free again.
  a.Close();
  bool ok = false;
  for (int i = 0; i < 50 && !ok; ++i) {
    SseClient c;
    ok = c.Login(srv.port(), "carol", "phone");
    if (!ok)
      std::this_thread::sleep_for(50ms);
  }
  CHECK(ok);
}

TEST_CASE("sse: on SIGTERM the stream gets a close event 1001 and ends") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  SseClient a;
  LL_SSE_LOGIN(a, srv.port(), "alice", "phone");
  REQUIRE(srv.Signal(SIGTERM));
  CHECK(a.WaitEnd() == 1001);
  auto st = srv.Wait(10s);
  REQUIRE(st.has_value());
  CHECK(DescribeStatus(*st) == "exited 0");
}

}  // namespace
}  // namespace longlink::test
