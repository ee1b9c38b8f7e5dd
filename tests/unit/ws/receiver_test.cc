// Receiver on valid input: the RFC 6455 5.7 examples as literal bytes, in
// both roles, fed whole, split at every point and byte by byte; fragmented
// messages with control frames between the fragments; zero-copy delivery;
// what is held between reads; close frames; a handler that stops.
#include "ws/receiver.h"

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "ws/frame_format.h"

#include "receiver_test_util.h"

namespace longlink::ws {
namespace {

using testing::Binary;
using testing::Bytes;
using testing::Cat;
using testing::CheckEverySplit;
using testing::ClosePayload;
using testing::Feed;
using testing::Frame;
using testing::Masked;
using testing::Raw;
using testing::Text;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = char(i * 7 + (i >> 8));
  }
  return s;
}

TEST_CASE("receiver: RFC 6455 single-frame unmasked text in client role") {
  const Bytes frame = Raw({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  CheckEverySplit(Role::kClient, frame, {Text("Hello")}, Receiver::kOk);
}

TEST_CASE("receiver: RFC 6455 single-frame masked text in server role") {
  const Bytes frame = Raw({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  CheckEverySplit(Role::kServer, frame, {Text("Hello")}, Receiver::kOk);
}

TEST_CASE("receiver: RFC 6455 fragmented unmasked text in client role") {
  const Bytes frames = Raw({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f});
  CheckEverySplit(Role::kClient, frames, {Text("Hello")}, Receiver::kOk);
}

TEST_CASE("receiver: RFC 6455 fragmented text masked in server role") {
  // "Hel" and "lo" masked by hand with the RFC's key 37 fa 21 3d.
  const Bytes frames = Raw({0x01, 0x83, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d,  //
                            0x80, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x5b, 0x95});
  CheckEverySplit(Role::kServer, frames, {Text("Hello")}, Receiver::kOk);
}

TEST_CASE("receiver: RFC 6455 unmasked ping in client role") {
  const Bytes frame = Raw({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  CheckEverySplit(Role::kClient, frame, {testing::Ping("Hello")}, Receiver::kOk);
}

TEST_CASE("receiver: RFC 6455 masked pong in server role") {
  const Bytes frame = Raw({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  CheckEverySplit(Role::kServer, frame, {testing::Pong("Hello")}, Receiver::kOk);
}

TEST_CASE("receiver: RFC 6455 256-byte binary with a 16-bit length in both roles") {
  const std::string payload = Pattern(256);
  Bytes unmasked = Raw({0x82, 0x7E, 0x01, 0x00});
  unmasked.insert(unmasked.end(), payload.begin(), payload.end());
  CheckEverySplit(Role::kClient, unmasked, {Binary(payload)}, Receiver::kOk);

  Bytes masked = Raw({0x82, 0xFE, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d});
  for (size_t i = 0; i < payload.size(); ++i) {
    masked.push_back(uint8_t(payload[i]) ^ testing::kRfcKey[i % 4]);
  }
  CheckEverySplit(Role::kServer, masked, {Binary(payload)}, Receiver::kOk);
}

TEST_CASE("receiver: RFC 6455 64 KiB binary with a 64-bit length in both roles") {
  const std::string payload = Pattern(65536);
  Bytes unmasked = Raw({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00});
  unmasked.insert(unmasked.end(), payload.begin(), payload.end());
  CheckEverySplit(Role::kClient, unmasked, {Binary(payload)}, Receiver::kOk);

  Bytes masked =
      Raw({0x82, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d});
  for (size_t i = 0; i < payload.size(); ++i) {
    masked.push_back(uint8_t(payload[i]) ^ testing::kRfcKey[i % 4]);
  }
  CheckEverySplit(Role::kServer, masked, {Binary(payload)}, Receiver::kOk);
}

TEST_CASE("receiver: accepts non-minimal length encodings") {
  const Bytes frames = Cat({Masked(0x81, "abc", 2), Masked(0x82, "defg", 8), Masked(0x89, "p", 2),
                            Masked(0x81, std::string(200, 'x'), 8)});
  CheckEverySplit(Role::kServer, frames,
                  {Text("abc"), Binary("defg"), testing::Ping("p"), Text(std::string(200, 'x'))},
                  Receiver::kOk);
}

TEST_CASE("receiver: text in 3 fragments with ping and pong between, at every split point") {
  // "ö" (C3 B6) is cut between the first two fragments, "€" (E2 82 AC)
  // between the last two: UTF-8 state must carry across fragments.
  const Bytes frames = Cat({
      Masked(0x01, "Hel\xC3"),          // text, not FIN
      Masked(0x89, "are you there"),    // ping
      Masked(0x00, "\xB6, w\xE2\x82"),  // continuation, not FIN
      Masked(0x8A, "yes"),              // pong
      Masked(0x80, "\xAC!"),            // continuation, FIN
      Masked(0x81, "next"),
  });
  const std::vector<testing::Event> want = {testing::Ping("are you there"), testing::Pong("yes"),
                                            Text("Hel\xC3\xB6, w\xE2\x82\xAC!"), Text("next")};
  CheckEverySplit(Role::kServer, frames, want, Receiver::kOk);
  // And in three pieces, at every pair of points.
  for (size_t i = 0; i <= frames.size(); ++i) {
    for (size_t j = i; j <= frames.size(); ++j) {
      const testing::Outcome got = Feed(Role::kServer, frames, {i, j - i});
      INFO("pieces ", i, " ", j - i);
      REQUIRE(got.code == Receiver::kOk);
      REQUIRE(got.events == want);
      REQUIRE(got.buffered == 0);
    }
  }
}

TEST_CASE("receiver: delivers a frame that sits in one read without copying") {
  const Bytes frames = Cat({Masked(0x81, "one"), Masked(0x82, Pattern(3000)), Masked(0x81, "")});
  const testing::Outcome got = Feed(Role::kServer, frames, {frames.size()});
  REQUIRE(got.code == Receiver::kOk);
  CHECK(got.events.size() == 3);
  CHECK(got.in_place == 2);  // the empty one has no bytes to point at
  CHECK(got.buffered == 0);
}

TEST_CASE("receiver: holds a split header and a split payload, and frees them on delivery") {
  Receiver rx(Role::kServer);
  testing::Recorder rec;
  Bytes frame = Masked(0x82, Pattern(1000));  // 4-byte header + 4-byte key
  REQUIRE(rx.Consume(frame.data(), 3, rec) == Receiver::kOk);
  CHECK(rx.buffered() == 3);
  REQUIRE(rx.Consume(frame.data() + 3, 5 + 100, rec) == Receiver::kOk);
  CHECK(rx.buffered() == 100);
  REQUIRE(rx.Consume(frame.data() + 108, frame.size() - 108, rec) == Receiver::kOk);
  CHECK(rx.buffered() == 0);
  REQUIRE(rec.events.size() == 1);
  CHECK(rec.events[0] == Binary(Pattern(1000)));
}

TEST_CASE("receiver: a split control frame does not disturb a buffered fragmented message") {
  Receiver rx(Role::kServer);
  testing::Recorder rec;
  Bytes frames = Cat({Masked(0x01, "first "), Masked(0x89, "ping!"), Masked(0x80, "second")});
  const size_t first = 2 + 4 + 6;
  REQUIRE(rx.Consume(frames.data(), first + 4, rec) == Receiver::kOk);
  CHECK(rx.buffered() == 6 + 4);  // the message so far and part of the ping header
  REQUIRE(rx.Consume(frames.data() + first + 4, 4, rec) == Receiver::kOk);
  CHECK(rx.buffered() == 6 + 2);  // ... and two bytes of the ping's payload
  REQUIRE(rx.Consume(frames.data() + first + 8, frames.size() - first - 8, rec) == Receiver::kOk);
  CHECK(rx.buffered() == 0);
  CHECK(rec.events == std::vector<testing::Event>{testing::Ping("ping!"), Text("first second")});
}

TEST_CASE("receiver: empty data and control frames, alone and in a fragmented message") {
  const Bytes frames =
      Cat({Masked(0x81, ""), Masked(0x82, ""), Masked(0x89, ""), Masked(0x01, ""), Masked(0x8A, ""),
           Masked(0x00, ""), Masked(0x80, ""), Masked(0x02, ""), Masked(0x80, "x")});
  CheckEverySplit(
      Role::kServer, frames,
      {Text(""), Binary(""), testing::Ping(""), testing::Pong(""), Text(""), Binary("x")},
      Receiver::kOk);
}

TEST_CASE("receiver: close frame with a code and reason is delivered and ends the stream") {
  const Bytes frames =
      Cat({Masked(0x81, "hi"), Masked(0x88, ClosePayload(1000, "bye \xE2\x82\xAC")),
           Masked(0x81, "ignored")});
  CheckEverySplit(Role::kServer, frames, {Text("hi"), testing::Close(1000, "bye \xE2\x82\xAC")},
                  Receiver::kStopped);
}

TEST_CASE("receiver: empty close payload is delivered as 1005") {
  CheckEverySplit(Role::kServer, Masked(0x88, ""), {testing::Close(1005, "")}, Receiver::kStopped);
  CheckEverySplit(Role::kClient, Raw({0x88, 0x00}), {testing::Close(1005, "")}, Receiver::kStopped);
}

TEST_CASE("receiver: accepts every close code a peer may send") {
  for (uint16_t code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999}) {
    CheckEverySplit(Role::kServer, Masked(0x88, ClosePayload(code, "r")),
                    {testing::Close(code, "r")}, Receiver::kStopped);
  }
}

TEST_CASE("receiver: a handler returning false stops Consume at once") {
  const Bytes frames = Cat({Masked(0x81, "a"), Masked(0x89, "b"), Masked(0x81, "c")});
  Receiver rx(Role::kServer);
  testing::Recorder rec;
  rec.stop_at = 1;  // the ping
  Bytes copy = frames;
  CHECK(rx.Consume(copy.data(), copy.size(), rec) == Receiver::kStopped);
  CHECK(rec.events == std::vector<testing::Event>{Text("a"), testing::Ping("b")});
  CHECK(rx.Consume(copy.data(), copy.size(), rec) == Receiver::kStopped);
  CHECK(rec.events.size() == 2);
}

TEST_CASE("receiver: a stop while a message is buffered frees the buffer") {
  Bytes frames = Cat({Masked(0x02, Pattern(5000)), Masked(0x89, "stop")});
  Receiver rx(Role::kServer);
  testing::Recorder rec;
  rec.stop_at = 0;
  REQUIRE(rx.Consume(frames.data(), frames.size(), rec) == Receiver::kStopped);
  CHECK(rx.buffered() == 0);
}

TEST_CASE("receiver: a message of exactly max_message is accepted, whole or fragmented") {
  const std::string payload = Pattern(1000);
  CheckEverySplit(Role::kServer, Masked(0x82, payload), {Binary(payload)}, Receiver::kOk, 1000);
  const Bytes frames = Cat(
      {Masked(0x02, payload.substr(0, 600)), Masked(0x89, "p"), Masked(0x80, payload.substr(600))});
  CheckEverySplit(Role::kServer, frames, {testing::Ping("p"), Binary(payload)}, Receiver::kOk,
                  1000);
}

}  // namespace
}  // namespace longlink::ws
