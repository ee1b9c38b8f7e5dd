// CommandParser on well-formed frames: every type with all its members,
// defaults, body raw text, unescaping, repeated and unknown members, and the
// two buffer paths (in place with padding, copied when there is none).
#include "proto/command.h"

#include <string>

#include <doctest/doctest.h>

#include "command_test_util.h"

namespace longlink::proto {
namespace {

using testing::Harness;

TEST_CASE("command: parses a hello with every member") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"hello","id":7,"v":1,"token":"aaa.bbb.ccc","user":"alice",)"
                  R"("device":"phone"})")
              .ok());
  CHECK(h.cmd.type == CommandType::kHello);
  CHECK(h.cmd.has_id);
  CHECK(h.cmd.id == 7);
  CHECK(h.cmd.hello.v == MemberState::kValid);
  CHECK(h.cmd.hello.token == MemberState::kValid);
  CHECK(h.cmd.hello.token_value == "aaa.bbb.ccc");
  CHECK(h.cmd.hello.user == MemberState::kValid);
  CHECK(h.cmd.hello.user_value == "alice");
  CHECK(h.cmd.hello.device == MemberState::kValid);
  CHECK(h.cmd.hello.device_value == "phone");
}

TEST_CASE("command: hello device defaults to \"default\" and absent members are kAbsent") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"hello","v":1})").ok());
  CHECK_FALSE(h.cmd.has_id);
  CHECK(h.cmd.hello.device == MemberState::kAbsent);
  CHECK(h.cmd.hello.device_value == "default");
  CHECK(h.cmd.hello.user == MemberState::kAbsent);
  CHECK(h.cmd.hello.token == MemberState::kAbsent);
}

TEST_CASE("command: hello members of the wrong type or grammar parse as kInvalid") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"hello","v":2,"token":5,"user":"bad user","device":"a:b"})").ok());
  CHECK(h.cmd.hello.v == MemberState::kInvalid);
  CHECK(h.cmd.hello.token == MemberState::kInvalid);
  CHECK(h.cmd.hello.user == MemberState::kInvalid);
  CHECK(h.cmd.hello.device == MemberState::kInvalid);
  for (const char* v : {R"("1")", "1.0", "-1", "0", "true", "null", "[1]"}) {
    REQUIRE(h.Parse(std::string(R"({"t":"hello","v":)") + v + "}").ok());
    CHECK_MESSAGE(h.cmd.hello.v == MemberState::kInvalid, v);
  }
  REQUIRE(h.Parse(R"({"t":"hello","v":1,"user":null,"device":null})").ok());
  CHECK(h.cmd.hello.user == MemberState::kInvalid);
  CHECK(h.cmd.hello.device == MemberState::kInvalid);
}

TEST_CASE("command: CheckHello answers bad_request for v and device, then unauthorized") {
  Harness h;
  auto check = [&](const char* json, HelloAuth auth) {
    REQUIRE(h.Parse(json).ok());
    return CheckHello(h.cmd.hello, auth);
  };
  CHECK(check(R"({"t":"hello","v":1,"user":"alice"})", HelloAuth::kUserName).ok());
  CHECK(check(R"({"t":"hello","v":1,"token":"x"})", HelloAuth::kToken).ok());
  // Under jwt a bad `user` is ignored; under none a bad token is.
  CHECK(check(R"({"t":"hello","v":1,"token":"x","user":"no such"})", HelloAuth::kToken).ok());
  CHECK(check(R"({"t":"hello","v":1,"token":7,"user":"bob"})", HelloAuth::kUserName).ok());

  ParseStatus st = check(R"({"t":"hello","v":2,"user":"alice"})", HelloAuth::kUserName);
  CHECK(st.code == ErrorCode::kBadRequest);
  CHECK(testing::MsgHas(st, "v"));
  st = check(R"({"t":"hello","user":"alice"})", HelloAuth::kUserName);
  CHECK(st.code == ErrorCode::kBadRequest);
  st = check(R"({"t":"hello","v":1,"user":"alice","device":""})", HelloAuth::kUserName);
  CHECK(st.code == ErrorCode::kBadRequest);
  CHECK(testing::MsgHas(st, "device"));
  // v and device are judged before the user.
  st = check(R"({"t":"hello","v":3})", HelloAuth::kUserName);
  CHECK(st.code == ErrorCode::kBadRequest);

  st = check(R"({"t":"hello","v":1})", HelloAuth::kUserName);
  CHECK(st.code == ErrorCode::kUnauthorized);
  st = check(R"({"t":"hello","v":1,"user":"a b"})", HelloAuth::kUserName);
  CHECK(st.code == ErrorCode::kUnauthorized);
  st = check(R"({"t":"hello","v":1,"user":"alice"})", HelloAuth::kToken);
  CHECK(st.code == ErrorCode::kUnauthorized);
  st = check(R"({"t":"hello","v":1,"token":null})", HelloAuth::kToken);
  CHECK(st.code == ErrorCode::kUnauthorized);
}

TEST_CASE("command: parses a send with every member") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"send","id":1,"to":"u:bob","cmid":"c-7f3a","body":{"text":"hi"},)"
                  R"("ephemeral":false})")
              .ok());
  CHECK(h.cmd.type == CommandType::kSend);
  CHECK(h.cmd.id == 1);
  CHECK(h.cmd.to.kind == DestKind::kUser);
  CHECK(h.cmd.to.name == "bob");
  CHECK(h.cmd.cmid == "c-7f3a");
  CHECK(h.cmd.body == R"({"text":"hi"})");
  CHECK_FALSE(h.cmd.ephemeral);

  REQUIRE(h.Parse(R"({"ephemeral":true,"body":null,"cmid":"x","to":"g:team","t":"send"})").ok());
  CHECK(h.cmd.to.kind == DestKind::kGroup);
  CHECK(h.cmd.to.name == "team");
  CHECK(h.cmd.body == "null");
  CHECK(h.cmd.ephemeral);
  CHECK_FALSE(h.cmd.has_id);
}

TEST_CASE("command: send body keeps its raw text for every JSON type") {
  Harness h;
  struct Case {
    const char* body;
    const char* raw;
  };
  const Case cases[] = {
      {R"({"text":"hi"})", R"({"text":"hi"})"},
      {R"([1,2,3])", R"([1,2,3])"},
      {R"("hello")", R"("hello")"},
      {R"("")", R"("")"},
      {R"("esc \" \\ \n \u00e9")", R"("esc \" \\ \n \u00e9")"},
      {"42", "42"},
      {"-0.5e+10", "-0.5e+10"},
      {"123456789012345678901234567890", "123456789012345678901234567890"},
      {"null", "null"},
      {"true", "true"},
      {"false", "false"},
      {"{}", "{}"},
      {"[]", "[]"},
      {R"({ "a" : [ 1 , { "b" : null } ] ,  "c":"x y" })",
       R"({ "a" : [ 1 , { "b" : null } ] ,  "c":"x y" })"},
      {"[[[[]]],{\"k\":{\"k\":[true,false]}}]", "[[[[]]],{\"k\":{\"k\":[true,false]}}]"},
      {"{\"caf\xc3\xa9\":\"\xe2\x98\x83\"}", "{\"caf\xc3\xa9\":\"\xe2\x98\x83\"}"},
  };
  for (const Case& c : cases) {
    // Body in the middle, at the end, and surrounded by whitespace of every kind.
    for (const std::string& json :
         {std::string(R"({"t":"send","to":"u:b","cmid":"c","body":)") + c.body + "}",
          std::string(R"({"t":"send","body":)") + c.body + R"(,"to":"u:b","cmid":"c"})",
          std::string("{\"t\":\"send\",\"to\":\"u:b\",\"cmid\":\"c\",\"body\" : \n\t ") + c.body +
              " \r\n\t }",
          std::string("{\"t\":\"send\",\"body\":\t") + c.body +
              "\n , \"to\":\"u:b\",\"cmid\":\"c\"}"}) {
      REQUIRE_MESSAGE(h.Parse(json).ok(), json);
      CHECK_MESSAGE(h.cmd.body == c.raw, json);
      REQUIRE_MESSAGE(h.ParseExact(json).ok(), json);
      CHECK_MESSAGE(h.cmd.body == c.raw, json);
    }
  }
}

TEST_CASE("command: body points into the input on the no-copy path") {
  Harness h;
  const std::string json = R"({"t":"send","to":"u:b","cmid":"c","body":{"x":[1, 2]}})";
  REQUIRE(h.Parse(json).ok());
  const char* buf = h.buffer().data();
  CHECK(h.cmd.body.data() == buf + json.find("{\"x\""));
  CHECK(h.cmd.body == R"({"x":[1, 2]})");
  // Copied: the view is into the parser's padded buffer, not the caller's.
  REQUIRE(h.ParseExact(json).ok());
  CHECK(h.cmd.body == R"({"x":[1, 2]})");
  CHECK((h.cmd.body.data() < h.exact() || h.cmd.body.data() >= h.exact() + json.size()));
}

TEST_CASE("command: copy path and no-copy path agree, also at sizes around the padding") {
  Harness h;
  for (size_t pad = 0; pad < 200; pad += 7) {
    const std::string json =
        R"({"t":"send","id":3,"to":"u:bob","cmid":"c1","body":")" + std::string(pad, 'x') + R"("})";
    REQUIRE(h.Parse(json).ok());
    const std::string in_place(h.cmd.body);
    REQUIRE(h.ParseExact(json).ok());
    CHECK(std::string(h.cmd.body) == in_place);
    CHECK(h.cmd.cmid == "c1");
    CHECK(h.cmd.id == 3);
  }
}

TEST_CASE("command: a frame of several MiB parses, and small frames still parse after it") {
  Harness h;
  const std::string big_body = "\"" + std::string(3 << 20, 'z') + "\"";
  const std::string big = R"({"t":"send","id":1,"to":"u:b","cmid":"c","body":)" + big_body + "}";
  const std::string small = R"({"t":"send","id":2,"to":"u:b","cmid":"c","body":[1]})";
  for (int round = 0; round < 2; ++round) {
    REQUIRE(h.Parse(big).ok());
    CHECK(h.cmd.body == big_body);
    REQUIRE(h.Parse(small).ok());
    CHECK(h.cmd.body == "[1]");
    REQUIRE(h.ParseExact(big).ok());
    CHECK(h.cmd.body == big_body);
    REQUIRE(h.ParseExact(small).ok());
    CHECK(h.cmd.body == "[1]");
    CHECK(h.cmd.id == 2);
  }
}

TEST_CASE("command: parses recv and read") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"recv","conv":"d:alice:bob","seq":17})").ok());
  CHECK(h.cmd.type == CommandType::kRecv);
  CHECK(h.cmd.conv == "d:alice:bob");
  CHECK(h.cmd.conv_id.kind == ConvKind::kDirect);
  CHECK(h.cmd.conv_id.a == "alice");
  CHECK(h.cmd.conv_id.b == "bob");
  CHECK(h.cmd.seq == 17);
  REQUIRE(h.Parse(R"({"t":"read","id":4,"conv":"g:team","seq":0})").ok());
  CHECK(h.cmd.type == CommandType::kRead);
  CHECK(h.cmd.id == 4);
  CHECK(h.cmd.conv_id.kind == ConvKind::kGroup);
  CHECK(h.cmd.conv_id.a == "team");
  CHECK(h.cmd.seq == 0);
}

TEST_CASE("command: a seq beyond 64 bits saturates rather than failing") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"recv","conv":"g:a","seq":18446744073709551615})").ok());
  CHECK(h.cmd.seq == UINT64_MAX);
  REQUIRE(h.Parse(R"({"t":"recv","conv":"g:a","seq":99999999999999999999999999})").ok());
  CHECK(h.cmd.seq == UINT64_MAX);
  REQUIRE(h.Parse(R"({"t":"recv","conv":"g:a","seq":-0})").ok());
  CHECK(h.cmd.seq == 0);
}

TEST_CASE("command: parses sync with and without all") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"sync","id":2})").ok());
  CHECK(h.cmd.type == CommandType::kSync);
  CHECK_FALSE(h.cmd.all);
  REQUIRE(h.Parse(R"({"t":"sync","id":2,"all":true})").ok());
  CHECK(h.cmd.all);
  REQUIRE(h.Parse(R"({"t":"sync","all":false})").ok());
  CHECK_FALSE(h.cmd.all);
}

TEST_CASE("command: parses pull with after, before and limit") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"pull","id":3,"conv":"d:alice:bob","after":17,"limit":50})").ok());
  CHECK(h.cmd.type == CommandType::kPull);
  CHECK(h.cmd.conv == "d:alice:bob");
  CHECK(h.cmd.has_after);
  CHECK(h.cmd.after == 17);
  CHECK_FALSE(h.cmd.has_before);
  CHECK(h.cmd.limit == 50);
  REQUIRE(h.Parse(R"({"t":"pull","conv":"g:x","before":40})").ok());
  CHECK_FALSE(h.cmd.has_after);
  CHECK(h.cmd.has_before);
  CHECK(h.cmd.before == 40);
  CHECK(h.cmd.limit == 100);
  REQUIRE(h.Parse(R"({"t":"pull","conv":"g:x"})").ok());
  CHECK_FALSE(h.cmd.has_after);
  CHECK_FALSE(h.cmd.has_before);
  CHECK(h.cmd.limit == kDefaultPullLimit);
}

TEST_CASE("command: pull limit is clamped to 1..1000") {
  Harness h;
  const std::pair<const char*, uint32_t> cases[] = {
      {"0", 1},
      {"1", 1},
      {"-5", 1},
      {"-99999999999999999999999", 1},
      {"999", 999},
      {"1000", 1000},
      {"1001", 1000},
      {"5000", 1000},
      {"99999999999999999999999", 1000},
  };
  for (const auto& [text, want] : cases) {
    REQUIRE(h.Parse(std::string(R"({"t":"pull","conv":"g:x","limit":)") + text + "}").ok());
    CHECK_MESSAGE(h.cmd.limit == want, text);
  }
}

TEST_CASE("command: parses join and leave of a group") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"join","id":5,"conv":"g:lobby"})").ok());
  CHECK(h.cmd.type == CommandType::kJoin);
  CHECK(h.cmd.conv == "g:lobby");
  CHECK(h.cmd.conv_id.a == "lobby");
  REQUIRE(h.Parse(R"({"t":"leave","id":6,"conv":"g:lobby"})").ok());
  CHECK(h.cmd.type == CommandType::kLeave);
  CHECK(h.cmd.id == 6);
}

TEST_CASE("command: parses presence and watch user lists") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"presence","id":4,"users":["bob","carol"]})").ok());
  CHECK(h.cmd.type == CommandType::kPresence);
  REQUIRE(h.cmd.users.size() == 2);
  CHECK(h.cmd.users[0] == "bob");
  CHECK(h.cmd.users[1] == "carol");
  REQUIRE(h.Parse(R"({"t":"watch","users":[]})").ok());
  CHECK(h.cmd.type == CommandType::kWatch);
  CHECK(h.cmd.users.empty());
  REQUIRE(h.Parse(R"({"t":"watch","users":["a","a","b"]})").ok());
  CHECK(h.cmd.users.size() == 3);
}

TEST_CASE("command: accepts 1000 users and rejects 1001") {
  Harness h;
  std::string json = R"({"t":"presence","users":[)";
  for (int i = 0; i < 1000; ++i) {
    json += (i ? ",\"u" : "\"u") + std::to_string(i) + "\"";
  }
  REQUIRE(h.Parse(json + "]}").ok());
  CHECK(h.cmd.users.size() == 1000);
  CHECK(h.cmd.users[999] == "u999");
  const ParseStatus st = h.Parse(json + ",\"one-more\"]}");
  CHECK(st.code == ErrorCode::kBadRequest);
  CHECK(testing::MsgHas(st, "users"));
}

TEST_CASE("command: parses ping, with and without id") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"ping","id":9})").ok());
  CHECK(h.cmd.type == CommandType::kPing);
  CHECK(h.cmd.id == 9);
  REQUIRE(h.Parse(R"({"t":"ping"})").ok());
  CHECK_FALSE(h.cmd.has_id);
}

TEST_CASE("command: id accepts 0 and 2^53") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"ping","id":0})").ok());
  CHECK(h.cmd.has_id);
  CHECK(h.cmd.id == 0);
  REQUIRE(h.Parse(R"({"t":"ping","id":9007199254740992})").ok());
  CHECK(h.cmd.id == 9007199254740992ull);
  REQUIRE(h.Parse(R"({"t":"ping","id":-0})").ok());
  CHECK(h.cmd.id == 0);
}

TEST_CASE("command: unknown members are ignored whatever their type") {
  Harness h;
  REQUIRE(h.Parse(R"({"x":{"y":[1,{"z":null}]},"t":"ping","w":"s","n":-1.5e3,"b":false})").ok());
  CHECK(h.cmd.type == CommandType::kPing);
  // Members of other types are unknown to this one.
  REQUIRE(h.Parse(R"({"t":"ping","seq":"x","to":5,"users":7,"body":1,"conv":[]})").ok());
}

TEST_CASE("command: strings are unescaped, keys included") {
  Harness h;
  REQUIRE(h.Parse(R"({"\u0074":"p\u0069ng"})").ok());
  CHECK(h.cmd.type == CommandType::kPing);
  REQUIRE(h.Parse(R"({"t":"send","to":"u:\u0062ob","cmid":"c\/1","body":1})").code ==
          ErrorCode::kBadRequest);  // "c/1" is not a valid id
  REQUIRE(h.Parse(R"({"t":"send","to":"u:\u0062ob","cmid":"\u0063","body":1})").ok());
  CHECK(h.cmd.to.name == "bob");
  CHECK(h.cmd.cmid == "c");
  REQUIRE(h.Parse(R"({"t":"hello","v":1,"user":"\u0061lice"})").ok());
  CHECK(h.cmd.hello.user_value == "alice");
}

TEST_CASE("command: a repeated member counts once, the last one") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"send","t":"ping"})").ok());
  CHECK(h.cmd.type == CommandType::kPing);
  REQUIRE(h.Parse(R"({"t":"presence","users":["a","b"],"users":["c"]})").ok());
  REQUIRE(h.cmd.users.size() == 1);
  CHECK(h.cmd.users[0] == "c");
  REQUIRE(h.Parse(R"({"t":"ping","id":"x","id":3})").ok());
  CHECK(h.cmd.id == 3);
}

TEST_CASE("command: a parser reused for many frames keeps nothing from the last one") {
  Harness h;
  REQUIRE(h.Parse(R"({"t":"presence","id":1,"users":["a","b"]})").ok());
  REQUIRE(h.Parse(R"({"t":"watch"})").code == ErrorCode::kBadRequest);
  CHECK(h.cmd.users.empty());
  CHECK_FALSE(h.cmd.has_id);
  REQUIRE(h.Parse(R"({"t":"pull","conv":"g:x","after":5,"limit":7})").ok());
  REQUIRE(h.Parse(R"({"t":"pull","conv":"g:x"})").ok());
  CHECK_FALSE(h.cmd.has_after);
  CHECK(h.cmd.limit == 100);
  for (int i = 0; i < 1000; ++i) {
    const std::string json = R"({"t":"read","id":)" + std::to_string(i) + R"(,"conv":"g:c)" +
                             std::to_string(i % 10) + R"(","seq":)" + std::to_string(i * 3) + "}";
    REQUIRE(h.Parse(json).ok());
    CHECK(h.cmd.id == uint64_t(i));
    CHECK(h.cmd.seq == uint64_t(i * 3));
  }
}

TEST_CASE("command: whitespace around the frame is allowed") {
  Harness h;
  CHECK(h.Parse(" \t\r\n{ \"t\" : \"ping\" , \"id\" : 1 } \n").ok());
  CHECK(h.cmd.id == 1);
}

TEST_CASE("command: CommandTypeName names every type") {
  CHECK(std::string(CommandTypeName(CommandType::kHello)) == "hello");
  CHECK(std::string(CommandTypeName(CommandType::kPresence)) == "presence");
  CHECK(std::string(CommandTypeName(CommandType::kPing)) == "ping");
}

}  // namespace
}  // namespace longlink::proto
