// Server frame builders: the exact bytes of every frame for fixed inputs
// (member order as in PROTOCOL.md's examples), id present and absent, string
// escaping, verbatim bodies, and the error-code catalogue.
#include "proto/reply.h"

#include <string>

#include <doctest/doctest.h>
#include <simdjson.h>

#include "proto/errors.h"

namespace longlink::proto {
namespace {

std::string Escaped(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST_CASE("reply: error code names match the protocol's catalogue") {
  CHECK(std::string(ErrorCodeName(ErrorCode::kBadRequest)) == "bad_request");
  CHECK(std::string(ErrorCodeName(ErrorCode::kUnauthorized)) == "unauthorized");
  CHECK(std::string(ErrorCodeName(ErrorCode::kForbidden)) == "forbidden");
  CHECK(std::string(ErrorCodeName(ErrorCode::kNotFound)) == "not_found");
  CHECK(std::string(ErrorCodeName(ErrorCode::kTooLarge)) == "too_large");
  CHECK(std::string(ErrorCodeName(ErrorCode::kRateLimited)) == "rate_limited");
  CHECK(std::string(ErrorCodeName(ErrorCode::kOverloaded)) == "overloaded");
  CHECK(std::string(ErrorCodeName(ErrorCode::kInternal)) == "internal");
  CHECK(std::string(ErrorCodeName(ErrorCode::kOk)) == "ok");
}

TEST_CASE("reply: JSON strings escape quotes, backslashes and control characters") {
  CHECK(Escaped("") == R"("")");
  CHECK(Escaped("plain") == R"("plain")");
  CHECK(Escaped("a\"b\\c") == R"("a\"b\\c")");
  CHECK(Escaped("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  CHECK(Escaped(std::string("\0\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
  CHECK(Escaped("\x7f/") == "\"\x7f/\"");
  CHECK(Escaped("caf\xc3\xa9 \xe2\x98\x83") == "\"caf\xc3\xa9 \xe2\x98\x83\"");
  CHECK(Escaped("\"\"") == R"("\"\"")");
  CHECK(Escaped("end\\") == R"("end\\")");
}

TEST_CASE("reply: integers cover the full range") {
  std::string s;
  AppendUint(&s, 0);
  s += ' ';
  AppendUint(&s, UINT64_MAX);
  s += ' ';
  AppendInt(&s, INT64_MIN);
  s += ' ';
  AppendInt(&s, -1);
  CHECK(s == "0 18446744073709551615 -9223372036854775808 -1");
}

TEST_CASE("reply: welcome") {
  std::string s;
  AppendWelcome(&s, 1, {"alice", "phone", "s-1", 25000, 65536, 1763800000123});
  CHECK(s == R"({"t":"welcome","id":1,"user":"alice","device":"phone","session":"s-1",)"
             R"("heartbeat_ms":25000,"max_body":65536,"ts":1763800000123})");
  s.clear();
  AppendWelcome(&s, std::nullopt, {"alice", "default", "x\"y", 1, 2, 3});
  CHECK(s == R"({"t":"welcome","user":"alice","device":"default","session":"x\"y",)"
             R"("heartbeat_ms":1,"max_body":2,"ts":3})");
}

TEST_CASE("reply: ack, duplicate ack and ephemeral ack") {
  std::string s;
  AppendAck(&s, 1, {"d:alice:bob", 17, 1763800000123, "c-7f3a", false});
  CHECK(s ==
        R"({"t":"ack","id":1,"conv":"d:alice:bob","seq":17,"ts":1763800000123,"cmid":"c-7f3a"})");
  s.clear();
  AppendAck(&s, 2, {"d:alice:bob", 17, 1763800000123, "c-7f3a", true});
  CHECK(s == R"({"t":"ack","id":2,"conv":"d:alice:bob","seq":17,"ts":1763800000123,)"
             R"("cmid":"c-7f3a","dup":true})");
  s.clear();
  AppendAck(&s, std::nullopt, {"g:team", 0, 5, "typing-1", false});
  CHECK(s == R"({"t":"ack","conv":"g:team","seq":0,"ts":5,"cmid":"typing-1"})");
}

TEST_CASE("reply: msg push with the body inserted verbatim") {
  std::string s;
  const Message m{"d:alice:bob",         17, "alice", "laptop", 1763800000123, "c-7f3a",
                  R"({ "text" : "hi" })"};
  AppendMsg(&s, m);
  CHECK(s == R"({"t":"msg","conv":"d:alice:bob","seq":17,"from":"alice","device":"laptop",)"
             R"("ts":1763800000123,"cmid":"c-7f3a","body":{ "text" : "hi" }})");
  s.clear();
  AppendMsg(&s, {"g:team", 1, "system", "api", 2, "p1", "null"});
  CHECK(s == R"({"t":"msg","conv":"g:team","seq":1,"from":"system","device":"api","ts":2,)"
             R"("cmid":"p1","body":null})");
}

TEST_CASE("reply: ephemeral msg has no seq and says ephemeral") {
  std::string s;
  AppendEphemeralMsg(&s, {"d:alice:bob", 99, "alice", "phone", 7, "t1", R"({"typing":true})"});
  CHECK(s == R"({"t":"msg","conv":"d:alice:bob","ephemeral":true,"from":"alice",)"
             R"("device":"phone","ts":7,"cmid":"t1","body":{"typing":true}})");
}

TEST_CASE("reply: page with items, more and first") {
  std::string s;
  BeginPage(&s, 3, "d:alice:bob");
  AddPageItem(&s, {"d:alice:bob", 18, "alice", "phone", 10, "c1", R"("a")"});
  AddPageItem(&s, {"d:alice:bob", 19, "bob", "default", 11, "c2", "[1,2]"});
  EndPage(&s, true, std::nullopt);
  CHECK(s == R"({"t":"page","id":3,"conv":"d:alice:bob","msgs":[)"
             R"({"conv":"d:alice:bob","seq":18,"from":"alice","device":"phone","ts":10,)"
             R"("cmid":"c1","body":"a"},)"
             R"({"conv":"d:alice:bob","seq":19,"from":"bob","device":"default","ts":11,)"
             R"("cmid":"c2","body":[1,2]}],"more":true})");
  s.clear();
  BeginPage(&s, std::nullopt, "g:x");
  EndPage(&s, false, std::nullopt);
  CHECK(s == R"({"t":"page","conv":"g:x","msgs":[],"more":false})");
  s.clear();
  BeginPage(&s, 4, "g:x");
  AddPageItem(&s, {"g:x", 50, "a", "d", 1, "m", "0"});
  EndPage(&s, false, 50);
  CHECK(s == R"({"t":"page","id":4,"conv":"g:x","msgs":[{"conv":"g:x","seq":50,"from":"a",)"
             R"("device":"d","ts":1,"cmid":"m","body":0}],"more":false,"first":50})");
}

TEST_CASE("reply: sync lists conversations") {
  std::string s;
  BeginSync(&s, 2);
  AddSyncEntry(&s, {"d:alice:bob", 42, 17, 15});
  AddSyncEntry(&s, {"g:team", 0, 0, 0});
  EndSync(&s);
  CHECK(s == R"({"t":"sync","id":2,"convs":[{"conv":"d:alice:bob","last":42,"recv":17,)"
             R"("read":15},{"conv":"g:team","last":0,"recv":0,"read":0}]})");
  s.clear();
  BeginSync(&s, std::nullopt);
  EndSync(&s);
  CHECK(s == R"({"t":"sync","convs":[]})");
}

TEST_CASE("reply: error with and without id") {
  std::string s;
  AppendError(&s, 1, ErrorCode::kForbidden, "not a member of g:team");
  CHECK(s == R"({"t":"error","id":1,"code":"forbidden","msg":"not a member of g:team"})");
  s.clear();
  AppendError(&s, std::nullopt, ErrorCode::kBadRequest, "id must be \"int\"");
  CHECK(s == R"({"t":"error","code":"bad_request","msg":"id must be \"int\""})");
  s.clear();
  AppendError(&s, 0, ErrorCode::kTooLarge, "");
  CHECK(s == R"({"t":"error","id":0,"code":"too_large","msg":""})");
}

TEST_CASE("reply: rate_limited error carries an integer retry_ms") {
  std::string s;
  AppendRateLimited(&s, 8, 250);
  CHECK(s == R"({"t":"error","id":8,"code":"rate_limited","msg":"rate limit exceeded",)"
             R"("retry_ms":250})");
  s.clear();
  AppendRateLimited(&s, std::nullopt, 0);
  CHECK(s == R"({"t":"error","code":"rate_limited","msg":"rate limit exceeded","retry_ms":0})");
}

TEST_CASE("reply: ok and pong") {
  std::string s;
  AppendOk(&s, 5);
  CHECK(s == R"({"t":"ok","id":5})");
  s.clear();
  AppendOk(&s, std::nullopt);
  CHECK(s == R"({"t":"ok"})");
  s.clear();
  AppendPong(&s, 9, 1763800000123);
  CHECK(s == R"({"t":"pong","id":9,"ts":1763800000123})");
  s.clear();
  AppendPong(&s, std::nullopt, 1);
  CHECK(s == R"({"t":"pong","ts":1})");
}

TEST_CASE("reply: receipts of both kinds") {
  std::string s;
  AppendReceipt(&s, "d:alice:bob", 17, "bob", ReceiptKind::kRead);
  CHECK(s == R"({"t":"receipt","conv":"d:alice:bob","seq":17,"user":"bob","kind":"read"})");
  s.clear();
  AppendReceipt(&s, "g:team", 3, "carol", ReceiptKind::kDelivered);
  CHECK(s == R"({"t":"receipt","conv":"g:team","seq":3,"user":"carol","kind":"delivered"})");
}

TEST_CASE("reply: presence reply for online, offline and never-seen users") {
  std::string s;
  BeginPresence(&s, 4);
  AddPresenceOnline(&s, "bob", 2);
  AddPresenceOffline(&s, "carol", 1763800000123);
  AddPresenceOffline(&s, "dave", std::nullopt);
  EndPresence(&s);
  CHECK(s == R"({"t":"presence","id":4,"users":{"bob":{"online":true,"devices":2},)"
             R"("carol":{"online":false,"last_seen":1763800000123},"dave":{"online":false}}})");
  s.clear();
  BeginPresence(&s, std::nullopt);
  EndPresence(&s);
  CHECK(s == R"({"t":"presence","users":{}})");
}

TEST_CASE("reply: presence push") {
  std::string s;
  AppendPresencePush(&s, "bob", false, 1763800000123);
  CHECK(s == R"({"t":"presence","user":"bob","online":false,"ts":1763800000123})");
  s.clear();
  AppendPresencePush(&s, "bob", true, 5);
  CHECK(s == R"({"t":"presence","user":"bob","online":true,"ts":5})");
}

TEST_CASE("reply: builders append to what is already in the buffer") {
  std::string s = "prefix|";
  AppendOk(&s, 1);
  AppendOk(&s, 2);
  CHECK(s == R"(prefix|{"t":"ok","id":1}{"t":"ok","id":2})");
}

TEST_CASE("reply: frames are valid JSON and escaped strings read back unchanged") {
  std::string nasty;
  for (int c = 1; c < 0x80; ++c) {
    nasty.push_back(static_cast<char>(c));
  }
  nasty += "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80";
  nasty.push_back('\0');
  std::string s;
  AppendError(&s, 1, ErrorCode::kInternal, nasty);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(s).get(doc) == simdjson::SUCCESS);
  std::string_view msg;
  REQUIRE(doc["msg"].get(msg) == simdjson::SUCCESS);
  CHECK(msg == nasty);

  s.clear();
  BeginPresence(&s, 1);
  AddPresenceOnline(&s, "a\"b", 1);
  AddPresenceOffline(&s, "c\\d", 2);
  AddPresenceOffline(&s, "e\nf", std::nullopt);
  EndPresence(&s);
  REQUIRE(parser.parse(s).get(doc) == simdjson::SUCCESS);
  int64_t last_seen = 0;
  REQUIRE(doc["users"]["c\\d"]["last_seen"].get(last_seen) == simdjson::SUCCESS);
  CHECK(last_seen == 2);
}

}  // namespace
}  // namespace longlink::proto
