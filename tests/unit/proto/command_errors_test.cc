// CommandParser on bad frames: not JSON, not an object, bad ids, unknown or
// missing `t`, each missing required member, members of the wrong type or
// grammar, too much nesting, bodies over max_body. Every bad frame is
// bad_request (too_large for the body) and says whether the error carries id.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "proto/command.h"

#include "command_test_util.h"

namespace longlink::proto {
namespace {

using testing::Harness;
using testing::MsgHas;

// Parses `json` both ways; both must fail alike. Returns the status.
ParseStatus Fail(Harness& h, const std::string& json) {
  const ParseStatus exact = h.ParseExact(json);
  const bool exact_has_id = h.cmd.has_id;
  const ParseStatus st = h.Parse(json);
  CHECK_MESSAGE(!st.ok(), json);
  CHECK_MESSAGE(exact.code == st.code, json);
  CHECK_MESSAGE(std::string(exact.msg) == st.msg, json);
  CHECK_MESSAGE(exact_has_id == h.cmd.has_id, json);
  return st;
}

TEST_CASE("command errors: text that is not JSON is bad_request without id") {
  Harness h;
  for (const char* json :
       {"", " ", "hello", "{", "}", "{\"t\":\"ping\"", "{\"t\":\"ping\",", "{\"t\"", "{\"t\":}",
        "{t:\"ping\"}", "{'t':'ping'}", "{\"t\":\"ping\",}", "{\"t\":\"ping\" \"id\":1}",
        "{\"t\":\"ping\"}}", "{\"t\":\"ping\"} x", "{\"t\":\"ping\"}{}",
        "{\"t\":\"ping\",\"id\":1]", "\xef\xbb\xbf{\"t\":\"ping\"}"}) {
    const ParseStatus st = Fail(h, json);
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, json);
    CHECK_FALSE(h.cmd.has_id);
  }
}

TEST_CASE("command errors: JSON that is not an object is bad_request") {
  Harness h;
  for (const char* json : {"[]", "[{\"t\":\"ping\"}]", "\"ping\"", "1", "null", "true"}) {
    const ParseStatus st = Fail(h, json);
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, json);
    CHECK_MESSAGE(MsgHas(st, "object"), json);
    CHECK_FALSE(h.cmd.has_id);
  }
}

TEST_CASE("command errors: truncated frames are bad_request at every cut") {
  Harness h;
  const std::string full =
      R"({"t":"send","id":12,"to":"u:bob","cmid":"c1","body":{"a":[1,2,{"b":"x\"y"}],"n":null}})";
  for (size_t cut = 0; cut < full.size(); ++cut) {
    const ParseStatus st = Fail(h, full.substr(0, cut));
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, cut);
    CHECK_FALSE(h.cmd.has_id);
  }
  CHECK(h.Parse(full).ok());
}

TEST_CASE("command errors: invalid JSON hidden in an unknown member or the body is caught") {
  Harness h;
  for (const char* json : {R"({"t":"ping","x":[1,2,}})",
                           R"({"t":"ping","x":{]})",
                           R"({"t":"ping","x":[}})",
                           R"({"t":"ping","x":tru})",
                           R"({"t":"ping","x":nul})",
                           R"({"t":"ping","x":True})",
                           R"({"t":"ping","x":01})",
                           R"({"t":"ping","x":1.})",
                           R"({"t":"ping","x":.5})",
                           R"({"t":"ping","x":1e})",
                           R"({"t":"ping","x":-})",
                           R"({"t":"ping","x":+1})",
                           R"({"t":"ping","x":0x10})",
                           R"({"t":"ping","x":NaN})",
                           R"({"t":"ping","x":"\x"})",
                           R"({"t":"ping","x":"\u12"})",
                           R"({"t":"ping","x":[1 2]})",
                           R"({"t":"ping","x":{"a" 1}})",
                           R"({"t":"ping","x":{"a":1,}})",
                           R"({"t":"ping","x":{1:2}})",
                           R"({"t":"send","to":"u:b","cmid":"c","body":[1,]})",
                           R"({"t":"send","to":"u:b","cmid":"c","body":{"a":}})",
                           R"({"t":"send","to":"u:b","cmid":"c","body":tru})",
                           R"({"t":"send","to":"u:b","cmid":"c","body":"\q"})",
                           R"({"t":"send","to":"u:b","cmid":"c","body":[1}})",
                           "{\"t\":\"ping\",\"x\":\"a\x01\"}",
                           "{\"t\":\"ping\",\"x\":\"\xff\"}",
                           "{\"t\":\"ping\",\"x\":\"\xc0\xaf\"}",
                           "{\"t\":\"ping\",\"x\":\"\xed\xa0\x80\"}"}) {
    const ParseStatus st = Fail(h, json);
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, json);
    CHECK_MESSAGE(MsgHas(st, "JSON"), json);
  }
}

TEST_CASE("command errors: a bad id is bad_request without id") {
  Harness h;
  for (const char* id : {"9007199254740993", "18446744073709551616", "-1", "1.5", "1.0", "1e2",
                         "\"1\"", "null", "true", "[1]", "{}", "-9007199254740992"}) {
    const ParseStatus st = Fail(h, std::string(R"({"t":"ping","id":)") + id + "}");
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, id);
    CHECK_MESSAGE(MsgHas(st, "id"), id);
    CHECK_MESSAGE(!h.cmd.has_id, id);
  }
  // A bad id wins over every other problem: the error never carries it.
  const ParseStatus st = Fail(h, R"({"t":"nope","id":-3})");
  CHECK(MsgHas(st, "id"));
  CHECK_FALSE(h.cmd.has_id);
}

TEST_CASE("command errors: a missing, non-string or unknown t is bad_request with id") {
  Harness h;
  ParseStatus st = Fail(h, R"({"id":4})");
  CHECK(st.code == ErrorCode::kBadRequest);
  CHECK(MsgHas(st, "t"));
  CHECK(h.cmd.has_id);
  CHECK(h.cmd.id == 4);
  st = Fail(h, R"({})");
  CHECK(st.code == ErrorCode::kBadRequest);
  CHECK_FALSE(h.cmd.has_id);
  for (const char* t : {"1", "null", "[\"ping\"]", "{}", "true"}) {
    st = Fail(h, std::string(R"({"id":4,"t":)") + t + "}");
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, t);
    CHECK(h.cmd.has_id);
  }
  for (const char* t :
       {"", "PING", "pong", "welcome", "msg", "error", "ack", "ping ", "hello2", "receipt"}) {
    st = Fail(h, std::string(R"({"id":4,"t":")") + t + "\"}");
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, t);
    CHECK_MESSAGE(MsgHas(st, "unknown"), t);
    CHECK(h.cmd.has_id);
    CHECK(h.cmd.id == 4);
  }
}

TEST_CASE("command errors: each missing required member is named") {
  Harness h;
  struct Case {
    const char* json;
    const char* member;
  };
  const Case cases[] = {
      {R"({"t":"send","id":1,"cmid":"c","body":1})", "to"},
      {R"({"t":"send","id":1,"to":"u:b","body":1})", "cmid"},
      {R"({"t":"send","id":1,"to":"u:b","cmid":"c"})", "body"},
      {R"({"t":"recv","id":1,"seq":1})", "conv"},
      {R"({"t":"recv","id":1,"conv":"g:a"})", "seq"},
      {R"({"t":"read","id":1,"seq":1})", "conv"},
      {R"({"t":"read","id":1,"conv":"g:a"})", "seq"},
      {R"({"t":"pull","id":1,"after":1})", "conv"},
      {R"({"t":"presence","id":1})", "users"},
      {R"({"t":"watch","id":1})", "users"},
      {R"({"t":"join","id":1})", "conv"},
      {R"({"t":"leave","id":1})", "conv"},
  };
  for (const Case& c : cases) {
    const ParseStatus st = Fail(h, c.json);
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, c.json);
    CHECK_MESSAGE(MsgHas(st, "missing"), c.json);
    CHECK_MESSAGE(MsgHas(st, c.member), c.json);
    CHECK_MESSAGE(h.cmd.has_id, c.json);
    CHECK(h.cmd.id == 1);
  }
}

TEST_CASE("command errors: members of the wrong type or grammar are named") {
  Harness h;
  struct Case {
    const char* json;
    const char* member;
  };
  const Case cases[] = {
      {R"({"t":"send","to":5,"cmid":"c","body":1})", "to"},
      {R"({"t":"send","to":"bob","cmid":"c","body":1})", "to"},
      {R"({"t":"send","to":"u:","cmid":"c","body":1})", "to"},
      {R"({"t":"send","to":"d:a:b","cmid":"c","body":1})", "to"},
      {R"({"t":"send","to":"u:bad id","cmid":"c","body":1})", "to"},
      {R"({"t":"send","to":null,"cmid":"c","body":1})", "to"},
      {R"({"t":"send","to":"u:b","cmid":7,"body":1})", "cmid"},
      {R"({"t":"send","to":"u:b","cmid":"","body":1})", "cmid"},
      {R"({"t":"send","to":"u:b","cmid":"c:1","body":1})", "cmid"},
      {R"({"t":"send","to":"u:b","cmid":"c","body":1,"ephemeral":"yes"})", "ephemeral"},
      {R"({"t":"send","to":"u:b","cmid":"c","body":1,"ephemeral":1})", "ephemeral"},
      {R"({"t":"send","to":"u:b","cmid":"c","body":1,"ephemeral":null})", "ephemeral"},
      {R"({"t":"recv","conv":"g:a","seq":"1"})", "seq"},
      {R"({"t":"recv","conv":"g:a","seq":-1})", "seq"},
      {R"({"t":"recv","conv":"g:a","seq":1.5})", "seq"},
      {R"({"t":"recv","conv":"g:a","seq":null})", "seq"},
      {R"({"t":"read","conv":"g:a","seq":[1]})", "seq"},
      {R"({"t":"recv","conv":"d:bob:alice","seq":1})", "conv"},
      {R"({"t":"recv","conv":"u:bob","seq":1})", "conv"},
      {R"({"t":"recv","conv":1,"seq":1})", "conv"},
      {R"({"t":"read","conv":"g:","seq":1})", "conv"},
      {R"({"t":"pull","conv":"g:a","after":-1})", "after"},
      {R"({"t":"pull","conv":"g:a","after":"1"})", "after"},
      {R"({"t":"pull","conv":"g:a","before":2.5})", "before"},
      {R"({"t":"pull","conv":"g:a","after":1,"before":9})", "after and before"},
      {R"({"t":"pull","conv":"g:a","after":0,"before":0})", "after and before"},
      {R"({"t":"pull","conv":"g:a","limit":"10"})", "limit"},
      {R"({"t":"pull","conv":"g:a","limit":10.5})", "limit"},
      {R"({"t":"pull","conv":"g:a","limit":null})", "limit"},
      {R"({"t":"pull","conv":"x","limit":1})", "conv"},
      {R"({"t":"sync","all":1})", "all"},
      {R"({"t":"sync","all":"true"})", "all"},
      {R"({"t":"join","conv":"d:a:b"})", "conv"},
      {R"({"t":"leave","conv":"lobby"})", "conv"},
      {R"({"t":"join","conv":"g:bad name"})", "conv"},
      {R"({"t":"presence","users":"bob"})", "users"},
      {R"({"t":"presence","users":{"bob":1}})", "users"},
      {R"({"t":"presence","users":[1]})", "users"},
      {R"({"t":"presence","users":["bob",null]})", "users"},
      {R"({"t":"watch","users":["bad id"]})", "users"},
      {R"({"t":"watch","users":[""]})", "users"},
      {R"({"t":"watch","users":[["bob"]]})", "users"},
  };
  for (const Case& c : cases) {
    const ParseStatus st = Fail(h, c.json);
    CHECK_MESSAGE(st.code == ErrorCode::kBadRequest, c.json);
    CHECK_MESSAGE(MsgHas(st, c.member), c.json, " -> ", st.msg);
  }
}

TEST_CASE("command errors: the error keeps a valid id when something else is wrong") {
  Harness h;
  Fail(h, R"({"t":"recv","id":77,"conv":"g:a","seq":"x"})");
  CHECK(h.cmd.has_id);
  CHECK(h.cmd.id == 77);
  Fail(h, R"({"t":"bogus","id":9007199254740992})");
  CHECK(h.cmd.id == 9007199254740992ull);
}

TEST_CASE("command errors: nesting up to kMaxDepth parses, one more level does not") {
  Harness h;
  // The frame object is level 1, the body array level 2, and so on.
  auto frame = [](int levels) {
    return R"({"t":"send","to":"u:b","cmid":"c","body":)" + std::string(levels - 1, '[') +
           std::string(levels - 1, ']') + "}";
  };
  REQUIRE(h.Parse(frame(kMaxDepth)).ok());
  CHECK(h.cmd.body.size() == size_t(2 * (kMaxDepth - 1)));
  const ParseStatus st = Fail(h, frame(kMaxDepth + 1));
  CHECK(st.code == ErrorCode::kBadRequest);
  CHECK(MsgHas(st, "deep"));
  // Deep nesting in an unknown member counts the same, and huge depth is safe.
  const std::string deep =
      R"({"t":"ping","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(Fail(h, deep).code == ErrorCode::kBadRequest);
}

TEST_CASE("command errors: a body over max_body is too_large, checked after bad_request") {
  Harness h(10);
  REQUIRE(h.Parse(R"({"t":"send","id":1,"to":"u:b","cmid":"c","body":"12345678"})").ok());
  CHECK(h.cmd.body.size() == 10);
  ParseStatus st = Fail(h, R"({"t":"send","id":1,"to":"u:b","cmid":"c","body":"123456789"})");
  CHECK(st.code == ErrorCode::kTooLarge);
  CHECK(h.cmd.has_id);
  // The size is of the body's own text, without surrounding whitespace.
  REQUIRE(h.Parse(R"({"t":"send","to":"u:b","cmid":"c","body":   [1,2,3,4]   })").ok());
  st = Fail(h, R"({"t":"send","id":1,"cmid":"c","body":"123456789"})");
  CHECK(st.code == ErrorCode::kBadRequest);
  st = Fail(h, R"({"t":"send","id":1,"to":"u:b","cmid":"c","ephemeral":true,"body":[1,2,3,4,5]})");
  CHECK(st.code == ErrorCode::kTooLarge);
  CHECK_FALSE(st.unless_dup);  // an ephemeral send is not deduplicated
}

// Section 4: a repeat of a stored cmid is a dup "whatever `to` and `body`
// the repeat carries": those two errors come with the cmid, for the hub to
// answer only if the cmid is new. Any other error is final.
TEST_CASE("command errors: a bad to or a body over max_body waits for the cmid's lookup") {
  Harness h(10);
  ParseStatus st = Fail(h, R"({"t":"send","id":1,"to":"u:b","cmid":"c7","body":"123456789"})");
  CHECK(st.code == ErrorCode::kTooLarge);
  CHECK(st.unless_dup);
  CHECK(h.cmd.cmid == "c7");
  for (const char* bad : {R"({"t":"send","to":"x:b","cmid":"c7","body":1})",
                          R"({"t":"send","to":5,"cmid":"c7","body":1})",
                          R"({"t":"send","to":"u:b c","cmid":"c7","body":1})"}) {
    CAPTURE(bad);
    st = Fail(h, bad);
    CHECK(st.code == ErrorCode::kBadRequest);
    CHECK(st.unless_dup);
    CHECK(h.cmd.cmid == "c7");
  }
  for (const char* bad : {R"({"t":"send","to":"x:b","body":1})",
                          R"({"t":"send","to":"x:b","cmid":"c 7","body":1})",
                          R"({"t":"send","to":"x:b","cmid":"c7"})",
                          R"({"t":"send","cmid":"c7","body":1})",
                          R"({"t":"send","to":"u:b","cmid":"c7","body":1,"ephemeral":1})"}) {
    CAPTURE(bad);
    st = Fail(h, bad);
    CHECK(st.code == ErrorCode::kBadRequest);
    CHECK_FALSE(st.unless_dup);
  }
}

}  // namespace
}  // namespace longlink::proto
