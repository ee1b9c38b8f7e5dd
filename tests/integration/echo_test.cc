// The /echo endpoint: every text or binary message comes back unchanged with
// the same opcode, whatever its size, fragmentation or batching.
#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/server.h"
#include "support/ws_client.h"

namespace longlink::test {
namespace {

TEST_CASE("echo: returns text and binary messages of 0 to 65536 bytes unchanged") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  // Around each length-encoding boundary (7-bit, 16-bit, 64-bit).
  for (size_t n : {0, 1, 2, 124, 125, 126, 127, 1000, 65535, 65536}) {
    INFO("size " << n);
    CHECK_MESSAGE(ws.Echo(op::kText, TextPayload(n, uint32_t(n))), ws.error());
    CHECK_MESSAGE(ws.Echo(op::kBinary, RandomBytes(n)), ws.error());
  }
}

TEST_CASE("echo: returns a 1 MiB message unchanged") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  CHECK_MESSAGE(ws.Echo(op::kBinary, RandomBytes(1 << 20), 10s), ws.error());
  CHECK_MESSAGE(ws.Echo(op::kText, TextPayload(1 << 20), 10s), ws.error());
}

TEST_CASE("echo: returns a 16 MiB message unchanged") {
  Server srv;  // default --max-message is 16MiB = 16777216 bytes
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  std::string payload = RandomBytes(16777216);
  CHECK_MESSAGE(ws.Echo(op::kBinary, payload, 20s), ws.error());
  // And the connection is still usable afterwards.
  CHECK_MESSAGE(ws.Echo(op::kText, "after"), ws.error());
}

TEST_CASE("echo: returns multi-byte UTF-8 text unchanged") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  // 2-, 3- and 4-byte sequences, U+FFFF, and the highest code point U+10FFFF.
  CHECK_MESSAGE(ws.Echo(op::kText,
                        "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E \xEF\xBF\xBF "
                        "\xF4\x8F\xBF\xBF"),
                ws.error());
  CHECK_MESSAGE(ws.Echo(op::kText, std::string(3000, 'x') + "\xE2\x82\xAC"), ws.error());
}

TEST_CASE("echo: reassembles a fragmented message with pings between fragments") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  std::string ping2 = TextPayload(125, 2);
  // The euro sign (E2 82 AC) is split across two fragments: UTF-8 is
  // validated over the message, not per frame.
  std::string bytes = EncodeFrame(op::kText, "Hel", false) + EncodeFrame(op::kPing, "p1") +
                      EncodeFrame(op::kCont, "lo \xE2", false) +
                      EncodeFrame(op::kCont, "\x82\xAC wor", false) +
                      EncodeFrame(op::kPing, ping2) + EncodeFrame(op::kCont, "ld", true);
  REQUIRE(ws.SendRaw(bytes));
  std::vector<Frame> controls;
  Message m;
  REQUIRE_MESSAGE(ws.ReadMessage(&m, kIoTimeout, &controls) == IoStatus::kOk, ws.error());
  CHECK(m.opcode == op::kText);
  CHECK(m.data == "Hello \xE2\x82\xAC world");
  REQUIRE(controls.size() == 2);
  CHECK(controls[0].opcode == op::kPong);
  CHECK(controls[0].payload == "p1");
  CHECK(controls[1].opcode == op::kPong);
  CHECK(controls[1].payload == ping2);
}

TEST_CASE("echo: reassembles a binary message sent as many fragments") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  std::string whole = RandomBytes(100000);
  std::string bytes;
  // Fragments of 0, 1, 7, 125, 126, ... bytes, including empty ones.
  size_t sizes[] = {0, 1, 7, 125, 126, 65536, 0};
  size_t off = 0;
  bytes += EncodeFrame(op::kBinary, "", false);
  for (size_t n : sizes) {
    bytes += EncodeFrame(op::kCont, whole.substr(off, n), false);
    off += n;
  }
  bytes += EncodeFrame(op::kCont, whole.substr(off), true);
  REQUIRE(ws.SendRaw(bytes));
  Message m;
  REQUIRE_MESSAGE(ws.ReadMessage(&m) == IoStatus::kOk, ws.error());
  CHECK(m.opcode == op::kBinary);
  CHECK(m.data == whole);
}

TEST_CASE("echo: answers a ping with a pong carrying the same payload") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  for (std::string payload : {std::string(), std::string("x"), RandomBytes(125)}) {
    REQUIRE(ws.Send(op::kPing, payload));
    Frame f;
    REQUIRE_MESSAGE(ws.ReadFrame(&f) == IoStatus::kOk, ws.error());
    CHECK(f.opcode == op::kPong);
    CHECK(f.payload == payload);
  }
}

TEST_CASE("echo: ignores an unsolicited pong") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  REQUIRE(ws.Send(op::kPong, "unasked"));
  // The next frame is the echo, not an answer to the pong.
  CHECK_MESSAGE(ws.Echo(op::kText, "after pong"), ws.error());
}

TEST_CASE("echo: returns 10000 messages pipelined in one write in order") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  constexpr int kCount = 10000;
  std::string bytes;
  for (int i = 0; i < kCount; ++i) {
    bytes += EncodeFrame(i % 2 ? op::kBinary : op::kText, "message " + std::to_string(i));
  }
  REQUIRE(ws.SendRaw(bytes));
  int ok = 0;
  for (int i = 0; i < kCount; ++i) {
    Message m;
    IoStatus s = ws.ReadMessage(&m);
    if (s != IoStatus::kOk) {
      FAIL("message " << i << ": " << s << " " << ws.error());
    }
    if (m.opcode == (i % 2 ? op::kBinary : op::kText) && m.data == "message " + std::to_string(i)) {
      ++ok;
    } else if (ok == i) {
      CHECK_MESSAGE(false, "first mismatch at " << i << ": got '" << m.data << "'");
    }
  }
  CHECK(ok == kCount);
}

TEST_CASE("echo: a frame dribbled one byte per write is echoed") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  ws.conn().SetNoDelay();
  std::string payload = TextPayload(300);  // a 16-bit length, so a 8-byte header
  std::string frame = EncodeFrame(op::kText, payload) + EncodeFrame(op::kPing, "pi");
  for (char c : frame) REQUIRE(ws.SendRaw(std::string(1, c)));
  Message m;
  std::vector<Frame> controls;
  REQUIRE_MESSAGE(ws.ReadMessage(&m, kIoTimeout, &controls) == IoStatus::kOk, ws.error());
  CHECK(m.opcode == op::kText);
  CHECK(m.data == payload);
  Frame f;
  if (controls.empty()) {
    REQUIRE_MESSAGE(ws.ReadFrame(&f) == IoStatus::kOk, ws.error());
  } else {
    f = controls[0];
  }
  CHECK(f.opcode == op::kPong);
  CHECK(f.payload == "pi");
}

TEST_CASE("echo: a stream of frames cut at random points is echoed whole") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  ws.conn().SetNoDelay();
  std::mt19937 rng(12345);
  std::vector<std::string> sent;
  std::string stream;
  for (int i = 0; i < 300; ++i) {
    std::string payload = TextPayload(rng() % 400, uint32_t(i));
    sent.push_back(payload);
    if (i % 3 == 0 && payload.size() > 10) {  // every third one in two fragments
      stream += EncodeFrame(op::kText, payload.substr(0, 10), false);
      stream += EncodeFrame(op::kPing, "");
      stream += EncodeFrame(op::kCont, payload.substr(10), true);
    } else {
      stream += EncodeFrame(op::kText, payload);
    }
  }
  // Cuts of 1 to 40 bytes land inside headers, lengths and masking keys.
  for (size_t off = 0; off < stream.size();) {
    size_t n = std::min<size_t>(1 + rng() % 40, stream.size() - off);
    REQUIRE(ws.SendRaw(std::string_view(stream).substr(off, n)));
    off += n;
  }
  for (size_t i = 0; i < sent.size(); ++i) {
    Message m;
    REQUIRE_MESSAGE(ws.ReadMessage(&m) == IoStatus::kOk, "message " << i << ": " << ws.error());
    REQUIRE_MESSAGE(m.data == sent[i], "message " << i << " differs");
  }
}

TEST_CASE("echo: accepts a length in a longer encoding than needed") {
  Server srv;
  LL_START(srv);
  WsClient ws;
  REQUIRE_MESSAGE(ws.Connect(srv.port()), ws.error());
  // 5 bytes announced with the 16-bit and then the 64-bit length form, mask 0.
  std::string f16 = std::string("\x81\xFE\x00\x05\x00\x00\x00\x00", 8) + "abcde";
  std::string f64 =
      std::string("\x82\xFF\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00", 14) + "fghij";
  REQUIRE(ws.SendRaw(f16 + f64));
  Message m;
  REQUIRE_MESSAGE(ws.ReadMessage(&m) == IoStatus::kOk, ws.error());
  CHECK(m.opcode == op::kText);
  CHECK(m.data == "abcde");
  REQUIRE_MESSAGE(ws.ReadMessage(&m) == IoStatus::kOk, ws.error());
  CHECK(m.opcode == op::kBinary);
  CHECK(m.data == "fghij");
}

TEST_CASE("echo: serves 1000 concurrent connections each with its own data") {
  long limit = RaiseFdLimit();
  REQUIRE(limit >= 1100);
  Server srv;
  LL_START(srv);
  constexpr int kConns = 1000;
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < kConns; ++i) {
    auto ws = std::make_unique<WsClient>();
    REQUIRE_MESSAGE(ws->Connect(srv.port()), "connection " << i << ": " << ws->error());
    clients.push_back(std::move(ws));
  }
  // Everyone sends first, then everyone reads: all 1000 are open at once.
  for (int i = 0; i < kConns; ++i) {
    REQUIRE(clients[i]->SendText("connection " + std::to_string(i) + " " + TextPayload(64, i)));
  }
  int ok = 0;
  for (int i = 0; i < kConns; ++i) {
    Message m;
    IoStatus s = clients[i]->ReadMessage(&m);
    if (s == IoStatus::kOk && m.opcode == op::kText &&
        m.data == "connection " + std::to_string(i) + " " + TextPayload(64, i)) {
      ++ok;
    } else if (ok == i) {
      CHECK_MESSAGE(false, "connection " << i << ": " << s << " " << clients[i]->error()
                                         << " data '" << m.data << "'");
    }
  }
  CHECK(ok == kConns);
}

}  // namespace
}  // namespace longlink::test
