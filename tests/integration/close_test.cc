// Closing handshakes and protocol errors on /echo: the server answers each
// error with a close frame carrying the right code, then closes TCP, and the
// rest of the server (another connection, the process) is unaffected.
#include <string>

#include <doctest/doctest.h>

#include "support/server.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

// Reads the next frame and returns its close code, or a kNoClose* value
// (any other frame counts as a bad frame; its opcode is in the message).
int NextCloseCode(WsClient& ws) {
  Frame f;
  IoStatus s = ws.ReadFrame(&f);
  if (s == IoStatus::kEof)
    return kNoCloseEof;
  if (s == IoStatus::kTimeout)
    return kNoCloseTimeout;
  if (s != IoStatus::kOk) {
    MESSAGE("bad frame: " << ws.error());
    return kNoCloseBadFrame;
  }
  if (f.opcode != op::kClose) {
    MESSAGE("expected a close frame, got opcode " << int(f.opcode) << " with " << f.payload.size()
                                                  << " bytes");
    return kNoCloseBadFrame;
  }
  return f.CloseCode();
}

// A fresh connection sends `bytes`; the server must answer close `code`
// and close TCP. Then `bystander` must still echo and the process live.
void ExpectFailure(Server& srv, WsClient& bystander, const std::string& bytes, int code) {
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  REQUIRE(ws.SendRaw(bytes));
  CHECK(NextCloseCode(ws) == code);
  CHECK_MESSAGE(ws.ExpectEof(), ws.error());
  CHECK(srv.Alive());
  CHECK_MESSAGE(bystander.Echo(op::kText, "bystander"), bystander.error());
}

// Server + a bystander connection opened before anything goes wrong.
struct Fixture {
  Server srv;
  WsClient bystander;
};

#define LL_FIXTURE(fx) \
  Fixture fx;          \
  LL_START(fx.srv);    \
  REQUIRE_MESSAGE(fx.bystander.Connect(fx.srv.port()), fx.bystander.error())

TEST_CASE("close: a client close 1000 is answered with close 1000 and TCP close") {
  LL_FIXTURE(fx);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(fx.srv.port()), ws.error());
  REQUIRE(ws.SendClose(1000, "bye"));
  CHECK(NextCloseCode(ws) == 1000);
  CHECK_MESSAGE(ws.ExpectEof(), ws.error());
  CHECK_MESSAGE(fx.bystander.Echo(op::kText, "bystander"), fx.bystander.error());
}

TEST_CASE("close: a close with an empty payload is answered with an empty close or 1000") {
  LL_FIXTURE(fx);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(fx.srv.port()), ws.error());
  REQUIRE(ws.Send(op::kClose, ""));
  int code = NextCloseCode(ws);
  CHECK((code == 1005 || code == 1000));  // 1005: the reply had no payload
  CHECK_MESSAGE(ws.ExpectEof(), ws.error());
}

TEST_CASE("close: a valid application close code 4000 is answered with a close") {
  LL_FIXTURE(fx);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(fx.srv.port()), ws.error());
  REQUIRE(ws.SendClose(4000, "app"));
  int code = NextCloseCode(ws);
  CHECK(code >= 1000);  // a close frame, whatever code it echoes
  CHECK(code != 1002);
  CHECK_MESSAGE(ws.ExpectEof(), ws.error());
}

TEST_CASE("close: frames after a client close are not echoed") {
  LL_FIXTURE(fx);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(fx.srv.port()), ws.error());
  REQUIRE(
      ws.SendRaw(EncodeFrame(op::kClose, ClosePayload(1000)) + EncodeFrame(op::kText, "too late")));
  CHECK(NextCloseCode(ws) == 1000);
  CHECK_MESSAGE(ws.ExpectEof(), ws.error());
}

TEST_CASE("close: invalid UTF-8 in a text message closes with 1007") {
  LL_FIXTURE(fx);
  const char* bad[] = {
      "\xFF",              // never valid
      "ab\xC3",            // truncated 2-byte sequence at the end
      "\xC0\xAF",          // overlong '/'
      "\xE0\x80\xAF",      // overlong, 3 bytes
      "\xED\xA0\x80",      // UTF-16 surrogate U+D800
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xE2\x82",          // truncated euro sign
      "ok\x80ok",          // stray continuation byte
  };
  for (const char* payload : bad) {
    INFO("payload bytes: " << std::string(payload).size());
    ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kText, payload), 1007);
  }
  // The close says why.
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(fx.srv.port()), ws.error());
  REQUIRE(ws.SendRaw(EncodeFrame(op::kText, "\xFF")));
  Frame f;
  REQUIRE(ws.ReadFrame(&f) == IoStatus::kOk);
  CHECK(f.CloseCode() == 1007);
  CHECK(f.CloseReason() == "invalid UTF-8");
}

TEST_CASE("close: invalid UTF-8 in an unfinished first fragment closes with 1007 at once") {
  LL_FIXTURE(fx);
  // No final fragment ever comes: the server must fail fast, not wait.
  ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kText, "abc\xFF", /*fin=*/false), 1007);
  // Invalid across fragments: C3 then 'A' (not a continuation byte).
  ExpectFailure(fx.srv, fx.bystander,
                EncodeFrame(op::kText, "ab\xC3", false) + EncodeFrame(op::kCont, "A", false), 1007);
}

TEST_CASE("close: an unmasked client frame closes with 1002") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kText, "hello", true, /*mask=*/false), 1002);
}

TEST_CASE("close: a frame with an RSV bit set closes with 1002") {
  LL_FIXTURE(fx);
  for (uint8_t rsv : {0x40, 0x20, 0x10}) {
    INFO("rsv " << int(rsv));
    ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kText, "hello", true, true, rsv), 1002);
  }
}

TEST_CASE("close: a reserved opcode closes with 1002") {
  LL_FIXTURE(fx);
  for (uint8_t opcode : {3, 7, 0xB, 0xF}) {
    INFO("opcode " << int(opcode));
    ExpectFailure(fx.srv, fx.bystander, EncodeFrame(opcode, "x"), 1002);
  }
}

TEST_CASE("close: a fragmented ping closes with 1002") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kPing, "ping", /*fin=*/false), 1002);
}

TEST_CASE("close: a ping of 126 bytes closes with 1002") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kPing, std::string(126, 'p')), 1002);
}

TEST_CASE("close: a continuation without a started message closes with 1002") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kCont, "orphan"), 1002);
}

TEST_CASE("close: a new data frame inside a fragmented message closes with 1002") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander,
                EncodeFrame(op::kText, "first", false) + EncodeFrame(op::kText, "second"), 1002);
}

TEST_CASE("close: a close with an invalid code closes with 1002") {
  LL_FIXTURE(fx);
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    INFO("code " << code);
    ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kClose, ClosePayload(code)), 1002);
  }
}

TEST_CASE("close: a close frame of 126 bytes closes with 1002") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander,
                EncodeFrame(op::kClose, ClosePayload(1000, std::string(124, 'r'))), 1002);
}

TEST_CASE("close: a close with the longest allowed reason is answered with 1000") {
  LL_FIXTURE(fx);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(fx.srv.port()), ws.error());
  REQUIRE(ws.SendClose(1000, std::string(123, 'r')));  // 125 bytes in all
  CHECK(NextCloseCode(ws) == 1000);
  CHECK_MESSAGE(ws.ExpectEof(), ws.error());
}

TEST_CASE("close: a close with a 1-byte payload closes with 1002") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kClose, std::string(1, '\x03')), 1002);
}

TEST_CASE("close: a close reason that is not UTF-8 closes with 1007") {
  LL_FIXTURE(fx);
  ExpectFailure(fx.srv, fx.bystander, EncodeFrame(op::kClose, ClosePayload(1000, "bye\xFF")), 1007);
}

TEST_CASE("close: a 64-bit length with the top bit set closes with 1002") {
  LL_FIXTURE(fx);
  // Masked binary frame, length 0x8000000000000005, key 0, then 5 bytes.
  std::string bytes("\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00", 14);
  ExpectFailure(fx.srv, fx.bystander, bytes + "hello", 1002);
}

}  // namespace
}  // namespace longlink::test
