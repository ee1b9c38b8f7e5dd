// PROTOCOL.md section 9: /api/publish (direct and group, dedup, device
// "api"), /api/history, and the API's HTTP errors (400, 404, 405 with
// Allow, 413).
#include <cctype>
#include <string>

#include <doctest/doctest.h>

#include "support/im_client.h"
#include "support/msg_checks.h"
#include "support/msg_env.h"
#include "support/server.h"

namespace longlink::test {
namespace {

void CheckApiError(const ApiReply& r, int status, std::string_view code) {
  INFO("reply: " << r);
  CHECK(r.status == status);
  CHECK(r.json.Str("error") == code);
  CHECK(r.json["msg"].is_string());
}

ApiReply Publish(uint16_t port, std::string_view body) {
  return Api(port, "POST", "/api/publish", body);
}

TEST_CASE("msg: POST /api/publish to u:bob from system lands in d:bob:system with device api") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ApiReply r = Publish(srv.port(), R"({"to":"u:bob","from":"system","cmid":"p1","body":{"x":1}})");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Str("conv") == "d:bob:system");
  CHECK(r.json.Int("seq") == 1);
  CHECK(PlausibleTs(r.json["ts"]));
  CHECK((!r.json.Has("dup") || r.json["dup"].raw() == "false"));
  Json m = MustPush(b, "d:bob:system");
  CheckMsg(m, "d:bob:system", 1, "system", "api", "p1", R"({"x":1})");
  CHECK(m.Int("ts") == r.json.Int("ts"));
}

TEST_CASE("msg: POST /api/publish with a repeated cmid answers the first reply with dup true") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ApiReply first = Publish(srv.port(), R"({"to":"u:bob","from":"system","cmid":"p1","body":1})");
  REQUIRE(first.status == 200);
  MustPush(b, "d:bob:system");
  ApiReply again = Publish(srv.port(), R"({"to":"u:carol","from":"system","cmid":"p1","body":2})");
  INFO(again);
  CHECK(again.status == 200);
  CHECK(again.json.Str("conv") == "d:bob:system");
  CHECK(again.json.Int("seq") == 1);
  CHECK(again.json.Int("ts") == first.json.Int("ts"));
  CHECK(again.json["dup"].raw() == "true");
  LL_EXPECT_NO_FRAME(b, 500ms);
  // Another `from` with the same cmid is a new message.
  ApiReply other = Publish(srv.port(), R"({"to":"u:bob","from":"billing","cmid":"p1","body":3})");
  CHECK(other.status == 200);
  CHECK(other.json.Str("conv") == "d:billing:bob");
  CHECK(other.json.Int("seq") == 1);
}

TEST_CASE("msg: POST /api/publish without from publishes from system") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ApiReply r = Publish(srv.port(), R"({"to":"u:bob","cmid":"p1","body":"hello"})");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Str("conv") == "d:bob:system");
  ImClient b;
  LL_LOGIN(b, srv.port(), "bob", "phone");
  Json page = MustRequest(b, R"({"t":"pull","id":1,"conv":"d:bob:system"})", 1);
  REQUIRE(page["msgs"].size() == 1);
  CheckMsg(page["msgs"][0], "d:bob:system", 1, "system", "api", "p1", R"("hello")", false);
}

TEST_CASE("msg: POST /api/publish from a user pushes to both users' devices") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ApiReply r = Publish(srv.port(), R"({"to":"u:bob","from":"alice","cmid":"p1","body":[1]})");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Str("conv") == "d:alice:bob");
  CheckMsg(MustPush(b, "d:alice:bob"), "d:alice:bob", 1, "alice", "api", "p1", "[1]");
  CheckMsg(MustPush(a, "d:alice:bob"), "d:alice:bob", 1, "alice", "api", "p1", "[1]");
  // The cmid is alice's: her own send with it is a dup.
  Json dup = SendMsg(a, "u:bob", "p1", "[2]");
  CHECK(dup["dup"].raw() == "true");
  CHECK(dup.Int("seq") == 1);
}

TEST_CASE("msg: POST /api/publish to a group pushes to its members, from need not be a member") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice", "bob"}));
  ImClient a, b;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  LL_LOGIN(b, srv.port(), "bob", "phone");
  ApiReply r = Publish(srv.port(), R"({"to":"g:team","from":"deploybot","cmid":"p1","body":"v2"})");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Str("conv") == "g:team");
  CHECK(r.json.Int("seq") == 1);
  CheckMsg(MustPush(a, "g:team"), "g:team", 1, "deploybot", "api", "p1", R"("v2")");
  CheckMsg(MustPush(b, "g:team"), "g:team", 1, "deploybot", "api", "p1", R"("v2")");
  CHECK(MustSend(a, "g:team", "a1") == 2);
}

TEST_CASE("msg: POST /api/publish to a group that does not exist answers 404") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  CheckApiError(Publish(srv.port(), R"({"to":"g:nosuch","cmid":"p1","body":1})"), 404, "not_found");
}

TEST_CASE("msg: POST /api/publish without a valid cmid, to or from answers 400") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  CheckApiError(Publish(srv.port(), R"({"to":"u:bob","body":1})"), 400, "bad_request");
  CheckApiError(Publish(srv.port(), R"({"to":"u:bob","cmid":"p 1","body":1})"), 400, "bad_request");
  CheckApiError(Publish(srv.port(), R"({"to":"u:bob","from":"a b","cmid":"p1","body":1})"), 400,
                "bad_request");
  CheckApiError(Publish(srv.port(), R"({"to":"bob","cmid":"p1","body":1})"), 400, "bad_request");
  CheckApiError(Publish(srv.port(), R"({"cmid":"p1","body":1})"), 400, "bad_request");
  CheckApiError(Publish(srv.port(), R"({"to":"u:bob","cmid":"p1")"), 400, "bad_request");
  CheckApiError(Publish(srv.port(), "[]"), 400, "bad_request");
}

TEST_CASE("msg: POST /api/publish with a body over --max-body answers 413 too_large") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-body", "100"}));
  LL_START(srv);
  std::string over = "\"" + std::string(99, 'x') + "\"";
  CheckApiError(Publish(srv.port(), R"({"to":"u:bob","cmid":"p1","body":)" + over + "}"), 413,
                "too_large");
  std::string fits = "\"" + std::string(98, 'x') + "\"";
  CHECK(Publish(srv.port(), R"({"to":"u:bob","cmid":"p1","body":)" + fits + "}").status == 200);
}

TEST_CASE("msg: an API request over --max-message answers 413 too_large") {
  Secrets s;
  Server srv(MsgArgs(s, {"--max-message", "2000"}));
  LL_START(srv);
  std::string big = R"({"to":"u:bob","cmid":"p1","body":")" + std::string(3000, 'x') + "\"}";
  ApiReply r = Publish(srv.port(), big);
  INFO(r);
  CHECK(r.status == 413);
}

TEST_CASE("msg: an API request over the size limit without the key answers 401, with it 413") {
  // PROTOCOL.md 9: 401 comes before any other check, the size's included,
  // whether the size is declared (Content-Length) or not.
  Secrets s;
  Server srv(MsgArgs(s, {"--max-message", "2000"}));
  LL_START(srv);
  std::string big = R"({"to":"u:bob","cmid":"p1","body":")" + std::string(3000, 'x') + "\"}";
  CheckApiError(Api(srv.port(), "POST", "/api/publish", big, ""), 401, "unauthorized");
  CheckApiError(Api(srv.port(), "POST", "/api/publish", big, "wrong"), 401, "unauthorized");
  CheckApiError(Api(srv.port(), "POST", "/api/publish", big), 413, "too_large");
  // Not an API path: the size is all that counts.
  ApiReply r = Api(srv.port(), "POST", "/healthz", big, "");
  INFO(r);
  CHECK(r.status == 413);
}

TEST_CASE("msg: GET /api/history with a negative limit clamps it to 1, as a pull does") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 3; ++i) MustSend(a, "u:bob", "n" + std::to_string(i), std::to_string(i));
  for (std::string_view limit : {"-1", "0", "-99999"}) {
    ApiReply r = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=0&limit=" +
                                            std::string(limit));
    INFO("limit=" << limit << ": " << r);
    CHECK(r.status == 200);
    CHECK(r.json["msgs"].size() == 1);
    CHECK(r.json["more"].raw() == "true");
  }
  CheckApiError(Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&limit=-"), 400,
                "bad_request");
  CheckApiError(Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&limit=1.5"), 400,
                "bad_request");
}

TEST_CASE("msg: GET /api/history reads integers of any length as a pull does") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 3; ++i) MustSend(a, "u:bob", "h" + std::to_string(i), std::to_string(i));
  // Past every seq, up to and beyond 2^64: an empty page with nothing more.
  for (std::string after : {"18446744073709551615", "18446744073709551616",
                            "99999999999999999999999999"}) {
    ApiReply r = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=" + after);
    INFO("after=" << after << ": " << r);
    REQUIRE(r.status == 200);
    CHECK(r.json["msgs"].size() == 0);
    CHECK(r.json["more"].raw() == "false");
  }
  // A huge before is the top; a huge limit is clamped to 1000.
  ApiReply b = Api(srv.port(), "GET",
                   "/api/history?conv=d:alice:bob&before=123456789012345678901234&limit="
                   "123456789012345678901234");
  INFO(b);
  REQUIRE(b.status == 200);
  CHECK(b.json["msgs"].size() == 3);
  CHECK(b.json["more"].raw() == "false");
  CheckApiError(Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=1e3"), 400,
                "bad_request");
  CheckApiError(Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=-1"), 400,
                "bad_request");
}

TEST_CASE("msg: GET /api/history returns the page object with t page and no id") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  ImClient a;
  LL_LOGIN(a, srv.port(), "alice", "phone");
  for (int i = 1; i <= 3; ++i) MustSend(a, "u:bob", "a" + std::to_string(i), std::to_string(i));
  ApiReply r = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=0&limit=2");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Str("t") == "page");
  CHECK(!r.json.Has("id"));
  CHECK(r.json.Str("conv") == "d:alice:bob");
  REQUIRE(r.json["msgs"].size() == 2);
  CheckMsg(r.json["msgs"][0], "d:alice:bob", 1, "alice", "phone", "a1", "1", false);
  CheckMsg(r.json["msgs"][1], "d:alice:bob", 2, "alice", "phone", "a2", "2", false);
  CHECK(r.json["more"].raw() == "true");
  ApiReply b = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&before=3&limit=5");
  INFO(b);
  REQUIRE(b.json["msgs"].size() == 2);
  CHECK(b.json["msgs"][0].Int("seq") == 1);
  CHECK(b.json["more"].raw() == "false");
  ApiReply all = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob");
  CHECK(all.json["msgs"].size() == 3);
  // History does not move anyone's cursor.
  Json sync = MustRequest(a, R"({"t":"sync","id":1,"all":true})", 1);
  REQUIRE(sync["convs"].size() == 1);
  CHECK(sync["convs"][0].Int("recv") == 0);
}

TEST_CASE(
    "msg: GET /api/history of an unknown group answers 404, of an empty direct an empty page") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  CheckApiError(Api(srv.port(), "GET", "/api/history?conv=g:nosuch"), 404, "not_found");
  ApiReply r = Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=0&limit=100");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json.Str("t") == "page");
  CHECK(r.json["msgs"].is_array());
  CHECK(r.json["msgs"].size() == 0);
  CHECK(r.json["more"].raw() == "false");
  CheckApiError(Api(srv.port(), "GET", "/api/history?conv=d:alice:bob&after=1&before=3"), 400,
                "bad_request");
  CheckApiError(Api(srv.port(), "GET", "/api/history"), 400, "bad_request");
}

TEST_CASE("msg: a group call that answers 404 leaves the group unknown to history") {
  // A get, delete or members call on a group that never existed must not
  // make it look like one (an empty page instead of 404).
  Secrets s;
  Server srv(MsgArgs(s, {"--threads", "2"}));
  LL_START(srv);
  for (std::string_view name : {"zq1", "zq2", "zq3"}) {
    std::string g(name);
    CheckApiError(Api(srv.port(), "GET", "/api/history?conv=g:" + g), 404, "not_found");
    if (name == "zq1") CheckApiError(Api(srv.port(), "GET", "/api/groups/" + g), 404, "not_found");
    if (name == "zq2") {
      CheckApiError(Api(srv.port(), "DELETE", "/api/groups/" + g), 404, "not_found");
    }
    if (name == "zq3") {
      CheckApiError(Api(srv.port(), "POST", "/api/groups/" + g + "/members", R"({"add":["a"]})"),
                    404, "not_found");
    }
    CheckApiError(Api(srv.port(), "GET", "/api/history?conv=g:" + g), 404, "not_found");
  }
  // Created afterwards, it is an ordinary group.
  REQUIRE(CreateGroup(srv.port(), "zq1", {"alice"}));
  ApiReply r = Api(srv.port(), "GET", "/api/history?conv=g:zq1");
  INFO(r);
  CHECK(r.status == 200);
  CHECK(r.json["msgs"].size() == 0);
}

TEST_CASE("msg: a wrong method on an API path answers 405 with Allow") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  struct Case {
    const char* method;
    const char* target;
    std::vector<std::string> allowed;
  };
  const Case cases[] = {
      {"GET", "/api/publish", {"POST"}},
      {"DELETE", "/api/groups", {"POST"}},
      {"PUT", "/api/groups/team", {"GET", "DELETE"}},
      {"GET", "/api/groups/team/members", {"POST"}},
      {"POST", "/api/history", {"GET"}},
      {"DELETE", "/api/presence", {"GET"}},
  };
  for (const Case& c : cases) {
    std::string what = std::string(c.method) + " " + c.target;
    INFO(what);
    ApiReply r = Api(srv.port(), c.method, c.target, c.method == std::string("GET") ? "" : "{}");
    CheckApiError(r, 405, "bad_request");
    std::string allow = r.resp.Header("Allow");
    INFO("Allow: " << allow);
    for (const std::string& m : c.allowed) CHECK(allow.find(m) != std::string::npos);
  }
}

TEST_CASE("msg: malformed JSON to the API answers 400 bad_request") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  REQUIRE(CreateGroup(srv.port(), "team", {"alice"}));
  CheckApiError(Api(srv.port(), "POST", "/api/groups/team/members", "{\"add\":[\"bob\""), 400,
                "bad_request");
  CheckApiError(Api(srv.port(), "POST", "/api/groups", "not json"), 400, "bad_request");
  CheckApiError(Api(srv.port(), "POST", "/api/publish", ""), 400, "bad_request");
}

TEST_CASE("msg: an unknown API path answers 404") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  CheckApiError(Api(srv.port(), "GET", "/api/nosuch"), 404, "not_found");
}

// RFC 9110 11.1: the authentication scheme is case-insensitive.
TEST_CASE("msg: the API key's Bearer scheme is matched without regard to case, the key is not") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  auto status = [&](const std::string& auth) {
    HttpClient c;
    REQUIRE(c.Connect(srv.port()));
    REQUIRE(c.Send("GET /api/presence?users=bob HTTP/1.1\r\nHost: x\r\nAuthorization: " + auth +
                   "\r\n\r\n"));
    HttpResponse r;
    REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
    return r.status;
  };
  const std::string key(kApiKey);
  CHECK(status("Bearer " + key) == 200);
  CHECK(status("bearer " + key) == 200);
  CHECK(status("BEARER " + key) == 200);
  std::string upper = key;
  for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  CHECK(status("Bearer " + upper) == 401);
  CHECK(status("Basic " + key) == 401);
}

// RFC 9110 10.1.1: a client that asks "Expect: 100-continue" (curl does for
// bodies over 1 KiB) waits for "100 Continue" before sending the body.
TEST_CASE("msg: a POST with Expect: 100-continue is answered 100 Continue, then its response") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  const std::string body = R"({"group":"big","members":["alice","bob"]})";
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send("POST /api/groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                 std::string(kApiKey) + "\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
  std::string interim;
  IoStatus st = c.conn().ReadUntil("\r\n\r\n", &interim, 2s);
  INFO("interim: " << interim);
  REQUIRE(st == IoStatus::kOk);
  CHECK(interim == "HTTP/1.1 100 Continue\r\n\r\n");
  REQUIRE(c.Send(body));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 200);
  CHECK(r.body.find("\"big\"") != std::string::npos);
  // The next request on the connection, body sent at once: no 100 needed.
  REQUIRE(c.Send("GET /api/groups/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                 std::string(kApiKey) + "\r\nExpect: 100-continue\r\n\r\n"));
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 200);
}

// Without the key the answer is 401 whatever the body: given at once, from
// the head, instead of a 100 that would have the client send the body.
TEST_CASE("msg: Expect: 100-continue without the API key gets 401 at once, no 100") {
  Secrets s;
  Server srv(MsgArgs(s));
  LL_START(srv);
  HttpClient c;
  REQUIRE(c.Connect(srv.port()));
  REQUIRE(c.Send("POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                 "Content-Type: application/json\r\nContent-Length: 5000\r\n"
                 "Expect: 100-continue\r\n\r\n"));
  HttpResponse r;
  REQUIRE_MESSAGE(c.ReadResponse(&r), c.error());
  CHECK(r.status == 401);
  CHECK(r.body.find("unauthorized") != std::string::npos);
  CHECK(c.WaitClosed(2s));
}

}  // namespace
}  // namespace longlink::test
