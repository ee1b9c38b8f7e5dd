// Receiver on bad input: one named case per way a peer can break RFC 6455,
// each checked at every split point (the code must not depend on how the
// bytes arrive), and where the rules let it be decided early, checked to be
// decided from the header alone or from the bytes seen so far.
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "ws/frame_format.h"
#include "ws/receiver.h"

#include "receiver_test_util.h"

namespace longlink::ws {
namespace {

using testing::Bytes;
using testing::Cat;
using testing::CheckEverySplit;
using testing::ClosePayload;
using testing::Feed;
using testing::Masked;
using testing::Raw;
using testing::Text;

constexpr uint16_t k1002 = close_code::kProtocolError;
constexpr uint16_t k1007 = close_code::kInvalidPayload;
constexpr uint16_t k1009 = close_code::kTooBig;

// Feeds only `bytes` (a prefix of something longer) and expects `code` now.
void CheckDecidedEarly(const Bytes& bytes, uint16_t code, size_t max_message = 16 << 20) {
  const testing::Outcome got = Feed(Role::kServer, bytes, {bytes.size()}, max_message);
  CHECK(got.code == code);
  CHECK(got.buffered == 0);
}

TEST_CASE("receiver: rejects reserved bits RSV1, RSV2 and RSV3 with 1002") {
  for (uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    INFO("rsv ", int(rsv));
    CheckEverySplit(Role::kServer, Masked(0x81 | rsv, "x"), {}, k1002);
    CheckEverySplit(Role::kServer, Cat({Masked(0x81, "ok"), Masked(0x89 | rsv, "")}), {Text("ok")},
                    k1002);
  }
}

TEST_CASE("receiver: rejects reserved data opcodes 3 to 7 with 1002") {
  for (uint8_t op = 3; op <= 7; ++op) {
    INFO("opcode ", int(op));
    CheckEverySplit(Role::kServer, Masked(0x80 | op, "x"), {}, k1002);
  }
}

TEST_CASE("receiver: rejects reserved control opcodes 11 to 15 with 1002") {
  for (uint8_t op = 11; op <= 15; ++op) {
    INFO("opcode ", int(op));
    CheckEverySplit(Role::kServer, Masked(0x80 | op, "x"), {}, k1002);
  }
}

TEST_CASE("receiver: rejects unmasked client frame with 1002") {
  CheckEverySplit(Role::kServer, Raw({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}), {}, k1002);
  CheckEverySplit(Role::kServer, Cat({Masked(0x01, "a"), Raw({0x89, 0x00})}), {}, k1002);
}

TEST_CASE("receiver: rejects masked server frame in client role with 1002") {
  const Bytes frame = Raw({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  CheckEverySplit(Role::kClient, frame, {}, k1002);
}

TEST_CASE("receiver: rejects fragmented control frames with 1002") {
  for (uint8_t op : {0x08, 0x09, 0x0A}) {
    INFO("opcode ", int(op));
    CheckEverySplit(Role::kServer, Masked(op, ""), {}, k1002);
  }
}

TEST_CASE("receiver: rejects a control frame with a 126-byte payload with 1002") {
  for (uint8_t op : {0x88, 0x89, 0x8A}) {
    const std::string payload = ClosePayload(1000, std::string(124, 'x'));
    const Bytes frame = Masked(op, payload);
    CheckEverySplit(Role::kServer, frame, {}, k1002);
    CheckDecidedEarly(Bytes(frame.begin(), frame.begin() + 8), k1002);  // header only
  }
}

TEST_CASE("receiver: rejects a close frame with a 1-byte payload with 1002") {
  const Bytes frame = Masked(0x88, "\x03");
  CheckEverySplit(Role::kServer, frame, {}, k1002);
  CheckDecidedEarly(Bytes(frame.begin(), frame.begin() + 6), k1002);  // header only
}

TEST_CASE("receiver: rejects close codes a peer may not send with 1002") {
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    INFO("code ", code);
    CheckEverySplit(Role::kServer, Masked(0x88, ClosePayload(code, "")), {}, k1002);
  }
}

TEST_CASE("receiver: rejects a close reason that is not UTF-8 with 1007") {
  CheckEverySplit(Role::kServer, Masked(0x88, ClosePayload(1000, "bad \xC0\xAF")), {}, k1007);
  CheckEverySplit(Role::kServer, Masked(0x88, ClosePayload(1000, "cut \xE2\x82")), {}, k1007);
}

TEST_CASE("receiver: rejects a continuation with no message open with 1002") {
  CheckEverySplit(Role::kServer, Masked(0x80, "x"), {}, k1002);
  CheckEverySplit(Role::kServer, Masked(0x00, "x"), {}, k1002);
  // After a whole message, nothing is open either.
  CheckEverySplit(Role::kServer, Cat({Masked(0x81, "done"), Masked(0x80, "x")}), {Text("done")},
                  k1002);
}

TEST_CASE("receiver: rejects a new data message during a fragmented one with 1002") {
  for (uint8_t b0 : {0x81, 0x82, 0x01, 0x02}) {
    INFO("first byte ", int(b0));
    CheckEverySplit(Role::kServer, Cat({Masked(0x01, "a"), Masked(0x89, "p"), Masked(b0, "b")}),
                    {testing::Ping("p")}, k1002);
  }
}

TEST_CASE("receiver: rejects a 64-bit length with the top bit set with 1002") {
  const Bytes header = Raw({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4});
  CheckEverySplit(Role::kServer, header, {}, k1002);
  CheckEverySplit(Role::kClient, Raw({0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),
                  {}, k1002);
}

TEST_CASE("receiver: rejects a 2^63-1 length with 1009 from the header, allocating nothing") {
  const Bytes header =
      Raw({0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4});
  CheckEverySplit(Role::kServer, header, {}, k1009);
  // Even as the continuation of a fragmented message with bytes held already.
  Bytes continuation = header;
  continuation[0] = 0x80;
  const Bytes frames = Cat({Masked(0x02, std::string(100, 'a')), continuation});
  CheckEverySplit(Role::kServer, frames, {}, k1009);
}

TEST_CASE("receiver: rejects a single frame over max_message with 1009 from the header") {
  const Bytes frame = Masked(0x82, std::string(1001, 'x'));
  CheckEverySplit(Role::kServer, frame, {}, k1009, 1000);
  CheckDecidedEarly(Bytes(frame.begin(), frame.begin() + 8), k1009, 1000);
  // 16 MiB + 1 against the default limit: the header alone decides.
  CheckDecidedEarly(Raw({0x82, 0xFF, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x01, 1, 2, 3, 4}), k1009);
}

TEST_CASE("receiver: rejects a message of max_message+1 split across fragments with 1009") {
  const Bytes frames = Cat({Masked(0x01, std::string(400, 'a')), Masked(0x89, "p"),
                            Masked(0x00, std::string(600, 'b')), Masked(0x80, "c")});
  CheckEverySplit(Role::kServer, frames, {testing::Ping("p")}, k1009, 1000);
  // Decided at the last fragment's header, before its payload.
  const size_t before_last = frames.size() - (2 + 4 + 1);
  CheckDecidedEarly(Bytes(frames.begin(), frames.begin() + before_last + 6), k1009, 1000);
}

TEST_CASE("receiver: fails invalid UTF-8 in a first fragment before the rest arrives with 1007") {
  const Bytes first = Masked(0x01, "good \xED\xA0\x80 bad");
  const Bytes frames = Cat({first, Masked(0x80, "never read")});
  CheckEverySplit(Role::kServer, frames, {}, k1007);
  CheckDecidedEarly(first, k1007);
  // Within a frame split across reads: the bytes up to the bad one suffice.
  const Bytes frame = Masked(0x81, "good \xF4\x90 and a long tail that has not arrived");
  CheckDecidedEarly(Bytes(frame.begin(), frame.begin() + 6 + 7), k1007);
}

TEST_CASE("receiver: rejects a text message that ends inside a code point with 1007") {
  CheckEverySplit(Role::kServer, Masked(0x81, "euro \xE2\x82"), {}, k1007);
  CheckEverySplit(Role::kServer, Cat({Masked(0x01, "euro "), Masked(0x80, "\xE2\x82")}), {}, k1007);
  CheckEverySplit(Role::kServer, Cat({Masked(0x01, "\xF0\x9F"), Masked(0x80, "\x98")}), {}, k1007);
  // Binary messages are not UTF-8 checked.
  CheckEverySplit(Role::kServer, Masked(0x82, "\xE2\x82"), {testing::Binary("\xE2\x82")},
                  Receiver::kOk);
}

TEST_CASE("receiver: answers kStopped once failed") {
  Receiver rx(Role::kServer);
  testing::Recorder rec;
  Bytes bad = Masked(0xC1, "x");
  REQUIRE(rx.Consume(bad.data(), bad.size(), rec) == k1002);
  Bytes good = Masked(0x81, "x");
  CHECK(rx.Consume(good.data(), good.size(), rec) == Receiver::kStopped);
  CHECK(rec.events.empty());
}

}  // namespace
}  // namespace longlink::ws
